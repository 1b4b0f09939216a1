//===- InlineFunctions.cpp - calls of model-local functions, inlined ------===//
//
// Written from the ONNX IR spec's section on functions: a function is a
// closed graph (its body reads only its formal inputs and its own values),
// formal inputs and outputs bind positionally to the call's (a missing
// optional one is the empty name), and a body attribute with
// `ref_attr_name` takes the call's attribute of that name (absent when the
// call does not set it and the function gives no default).
//
//===----------------------------------------------------------------------===//
#include "InlineFunctions.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/Twine.h"

#include <google/protobuf/unknown_field_set.h>

#include <functional>
#include <map>
#include <optional>

using namespace mrope::onnx::detail;

namespace {

bool isDefaultDomain(const std::string &d) {
  return d.empty() || d == "ai.onnx";
}
std::string normDomain(const std::string &d) {
  return isDefaultDomain(d) ? std::string() : d;
}

bool hasSubgraphs(const ::onnx::NodeProto &n) {
  return llvm::any_of(n.attribute(), [](const ::onnx::AttributeProto &a) {
    return a.has_g() || a.graphs_size() > 0;
  });
}

/// Fields this libonnx's protobuf does not know (a newer IR's, e.g. a
/// function's attribute defaults): where they could change the meaning,
/// the call is kept.
bool hasUnknownFields(const google::protobuf::Message &m) {
  return !m.GetReflection()->GetUnknownFields(m).empty();
}

class Inliner {
public:
  explicit Inliner(::onnx::ModelProto &model) : model(model) {
    for (const auto &o : model.opset_import())
      modelOpsets[normDomain(o.domain())] = o.version();
    for (const auto &f : model.functions()) {
      std::string key = keyOf(f.domain(), f.name());
      if (!functions.try_emplace(key, &f).second)
        ambiguous.insert(key);
    }
    takeNames(model.graph());
  }

  InlinedFunctions run() {
    inlineIn(*model.mutable_graph());
    for (const auto &[domain, version] : addedOpsets) {
      auto *o = model.add_opset_import();
      o->set_domain(domain);
      o->set_version(version);
    }
    dropUncalledFunctions();
    return std::move(result);
  }

private:
  static std::string keyOf(const std::string &domain, const std::string &name) {
    return normDomain(domain) + "\n" + name;
  }

  const ::onnx::FunctionProto *calleeOf(const ::onnx::NodeProto &n) const {
    auto it = functions.find(keyOf(n.domain(), n.op_type()));
    return it == functions.end() ? nullptr : it->second;
  }

  void takeNames(const ::onnx::GraphProto &g) {
    auto take = [&](const std::string &s) {
      if (!s.empty())
        taken.insert(s);
    };
    for (const auto &v : g.input())
      take(v.name());
    for (const auto &v : g.output())
      take(v.name());
    for (const auto &v : g.value_info())
      take(v.name());
    for (const auto &t : g.initializer())
      take(t.name());
    for (const auto &t : g.sparse_initializer())
      take(t.values().name());
    for (const auto &n : g.node()) {
      take(n.name());
      for (const auto &s : n.input())
        take(s);
      for (const auto &s : n.output())
        take(s);
      for (const auto &a : n.attribute()) {
        if (a.has_g())
          takeNames(a.g());
        for (const auto &sub : a.graphs())
          takeNames(sub);
      }
    }
  }

  /// `base`, or `base_2`, `base_3`... : a name no value or node has yet.
  std::string fresh(const std::string &base) {
    std::string name = base;
    for (int k = 2; taken.contains(name); ++k)
      name = base + "_" + std::to_string(k);
    taken.insert(name);
    return name;
  }

  void inlineIn(::onnx::GraphProto &g) {
    // Nothing to do (the common case): the graph is left untouched.
    if (llvm::none_of(g.node(), [&](const ::onnx::NodeProto &n) {
          return calleeOf(n) || hasSubgraphs(n);
        }))
      return;
    google::protobuf::RepeatedPtrField<::onnx::NodeProto> out;
    for (::onnx::NodeProto &n : *g.mutable_node()) {
      if (const ::onnx::FunctionProto *f = calleeOf(n)) {
        std::vector<::onnx::NodeProto> body;
        std::string why;
        // A nested call inlined before the outer one failed does not count.
        int64_t calls = result.calls;
        size_t functionsBefore = result.functions.size();
        if (instantiate(n, *f, body, why, 0)) {
          for (::onnx::NodeProto &b : body)
            *out.Add() = std::move(b);
          continue;
        }
        result.calls = calls;
        result.functions.resize(functionsBefore);
        result.kept.push_back("node '" + n.name() + "' calls function '" +
                              f->name() + "': " + why);
      }
      for (auto &a : *n.mutable_attribute()) {
        if (a.has_g())
          inlineIn(*a.mutable_g());
        for (auto &sub : *a.mutable_graphs())
          inlineIn(sub);
      }
      *out.Add() = std::move(n);
    }
    g.mutable_node()->Swap(&out);
  }

  /// Appends the body of `f` called by `call` to `out`; false with `why`
  /// when the call cannot be inlined exactly (then `out` is to be dropped).
  bool instantiate(const ::onnx::NodeProto &call,
                   const ::onnx::FunctionProto &f,
                   std::vector<::onnx::NodeProto> &out, std::string &why,
                   int depth) {
    if (depth > 32 || llvm::is_contained(stack, &f)) {
      why = "it calls itself";
      return false;
    }
    if (ambiguous.contains(keyOf(f.domain(), f.name()))) {
      why = "several functions of the model have this name";
      return false;
    }
    if (hasUnknownFields(f)) {
      why = "it has fields of a newer ONNX IR than this build reads "
            "(attribute defaults, overloads or value types)";
      return false;
    }
    for (const auto &o : f.opset_import()) {
      std::string d = normDomain(o.domain());
      auto it = modelOpsets.find(d);
      if (it != modelOpsets.end() && it->second != o.version()) {
        why = "its body imports " +
              (d.empty() ? std::string("the default domain") : "'" + d + "'") +
              " at opset " + std::to_string(o.version()) + ", the model at " +
              std::to_string(it->second);
        return false;
      }
    }
    for (const auto &n : f.node())
      if (hasSubgraphs(n)) {
        why = "its body has subgraphs (node '" + n.name() + "', " +
              n.op_type() + ")";
        return false;
      }
    if (call.input_size() > f.input_size() ||
        call.output_size() > f.output_size()) {
      why = "the call has more inputs or outputs than the function";
      return false;
    }
    stack.push_back(&f);
    bool ok = expandBody(call, f, out, why, depth);
    stack.pop_back();
    if (!ok)
      return false;
    ++result.calls;
    for (const auto &o : f.opset_import()) {
      std::string d = normDomain(o.domain());
      if (!modelOpsets.count(d)) {
        modelOpsets[d] = o.version();
        addedOpsets[d] = o.version();
      }
    }
    if (!llvm::is_contained(result.functions, f.name()))
      result.functions.push_back(f.name());
    return true;
  }

  bool expandBody(const ::onnx::NodeProto &call, const ::onnx::FunctionProto &f,
                  std::vector<::onnx::NodeProto> &out, std::string &why,
                  int depth) {
    std::string prefix = call.name().empty()
                             ? fresh(f.name())
                             : call.name(); // a node name, not a value's
    llvm::StringMap<std::string> rename;
    for (int i = 0; i < f.input_size(); ++i)
      rename[f.input(i)] = i < call.input_size() ? call.input(i) : "";
    llvm::StringMap<std::string> outputs;
    for (int j = 0; j < f.output_size(); ++j)
      outputs[f.output(j)] = j < call.output_size() && !call.output(j).empty()
                                 ? call.output(j)
                                 : fresh(prefix + "/" + f.output(j));
    llvm::StringMap<const ::onnx::AttributeProto *> attrs;
    for (const auto &a : call.attribute())
      attrs[a.name()] = &a;

    for (const ::onnx::NodeProto &n : f.node()) {
      ::onnx::NodeProto copy = n;
      copy.set_name(
          fresh(prefix + "/" + (n.name().empty() ? n.op_type() : n.name())));
      for (std::string &in : *copy.mutable_input()) {
        if (in.empty())
          continue;
        auto it = rename.find(in);
        if (it == rename.end()) {
          why = "node '" + n.name() + "' of its body reads '" + in +
                "', which the function does not define";
          return false;
        }
        in = it->second;
      }
      for (std::string &o : *copy.mutable_output()) {
        if (o.empty())
          continue;
        auto formal = outputs.find(o);
        std::string name =
            formal != outputs.end() ? formal->second : fresh(prefix + "/" + o);
        rename[o] = name;
        o = name;
      }
      google::protobuf::RepeatedPtrField<::onnx::AttributeProto> resolved;
      for (const ::onnx::AttributeProto &a : n.attribute()) {
        if (a.ref_attr_name().empty()) {
          *resolved.Add() = a;
          continue;
        }
        auto it = attrs.find(a.ref_attr_name());
        if (it == attrs.end())
          continue; // neither set nor defaulted: absent
        ::onnx::AttributeProto *r = resolved.Add();
        *r = *it->second;
        r->set_name(a.name());
      }
      copy.mutable_attribute()->Swap(&resolved);
      if (const ::onnx::FunctionProto *g = calleeOf(copy)) {
        if (!instantiate(copy, *g, out, why, depth + 1)) {
          why = "its call of '" + g->name() + "' cannot be inlined: " + why;
          return false;
        }
        continue;
      }
      out.push_back(std::move(copy));
    }
    // A formal output no body node writes passes a formal input through
    // (where the call reads it).
    for (int j = 0; j < f.output_size(); ++j) {
      const std::string &formal = f.output(j);
      if (j >= call.output_size() || call.output(j).empty() ||
          llvm::any_of(f.node(), [&](const ::onnx::NodeProto &n) {
            return llvm::is_contained(n.output(), formal);
          }))
        continue;
      auto it = rename.find(formal);
      if (it == rename.end() || it->second.empty()) {
        why = "its output '" + formal + "' is not computed";
        return false;
      }
      ::onnx::NodeProto id;
      id.set_op_type("Identity");
      id.set_name(fresh(prefix + "/" + formal));
      id.add_input(it->second);
      id.add_output(outputs[formal]);
      out.push_back(std::move(id));
    }
    return true;
  }

  /// Drops the functions nothing calls any more (a kept call keeps its
  /// function and the functions it calls).
  void dropUncalledFunctions() {
    llvm::StringSet<> called;
    std::vector<const ::onnx::FunctionProto *> work;
    std::function<void(const ::onnx::GraphProto &)> scan =
        [&](const ::onnx::GraphProto &g) {
          for (const auto &n : g.node()) {
            if (const ::onnx::FunctionProto *f = calleeOf(n))
              if (called.insert(keyOf(f->domain(), f->name())).second)
                work.push_back(f);
            for (const auto &a : n.attribute()) {
              if (a.has_g())
                scan(a.g());
              for (const auto &sub : a.graphs())
                scan(sub);
            }
          }
        };
    scan(model.graph());
    while (!work.empty()) {
      const ::onnx::FunctionProto *f = work.back();
      work.pop_back();
      for (const auto &n : f->node())
        if (const ::onnx::FunctionProto *g = calleeOf(n))
          if (called.insert(keyOf(g->domain(), g->name())).second)
            work.push_back(g);
    }
    if (result.calls == 0)
      return;
    google::protobuf::RepeatedPtrField<::onnx::FunctionProto> kept;
    for (::onnx::FunctionProto &f : *model.mutable_functions())
      if (called.contains(keyOf(f.domain(), f.name())))
        *kept.Add() = std::move(f);
    functions.clear(); // they pointed into the old list
    model.mutable_functions()->Swap(&kept);
  }

  ::onnx::ModelProto &model;
  std::map<std::string, int64_t> modelOpsets, addedOpsets;
  llvm::StringMap<const ::onnx::FunctionProto *> functions;
  llvm::StringSet<> ambiguous, taken;
  llvm::SmallVector<const ::onnx::FunctionProto *> stack;
  InlinedFunctions result;
};

} // namespace

InlinedFunctions
mrope::onnx::detail::inlineLocalFunctions(::onnx::ModelProto &model) {
  if (model.functions_size() == 0)
    return {};
  return Inliner(model).run();
}
