//===- ModelMutator.cpp - structural edits of an ONNX ModelProto ----------===//
#include "ModelMutator.h"

#include "mrope/Dialect/Onnx/IR/DataType.h"

#include <cstdint>
#include <limits>
#include <vector>

using namespace mrope::fuzz;

namespace {
using ::onnx::AttributeProto;
using ::onnx::GraphProto;
using ::onnx::ModelProto;
using ::onnx::NodeProto;
using ::onnx::TensorProto;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

struct Mutator {
  ModelProto &m;
  std::mt19937_64 &rng;

  size_t pick(size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  }
  template <typename T> const T &choose(const std::vector<T> &v) {
    return v[pick(v.size())];
  }
  bool coin() { return pick(2) == 0; }
  int64_t interesting() {
    static const std::vector<int64_t> values = {
        -5,
        -1,
        0,
        1,
        2,
        3,
        7,
        64,
        1 << 20,
        int64_t(1) << 31,
        int64_t(1) << 40,
        kMax,
        std::numeric_limits<int64_t>::min()};
    return choose(values);
  }

  GraphProto &g() { return *m.mutable_graph(); }
  NodeProto *randomNode() {
    if (g().node_size() == 0)
      return nullptr;
    return g().mutable_node(pick(g().node_size()));
  }
  NodeProto *randomNodeOf(const std::vector<std::string> &ops) {
    std::vector<int> idx;
    for (int i = 0; i < g().node_size(); ++i)
      for (const std::string &op : ops)
        if (g().node(i).op_type() == op)
          idx.push_back(i);
    if (idx.empty())
      return randomNode();
    return g().mutable_node(choose(idx));
  }
  std::vector<std::string> allNames() {
    std::vector<std::string> names;
    for (const auto &i : g().input())
      names.push_back(i.name());
    for (const auto &t : g().initializer())
      names.push_back(t.name());
    for (const auto &n : g().node())
      for (const auto &o : n.output())
        names.push_back(o);
    return names;
  }
  /// A tensor to break: a Constant's value or an initializer.
  TensorProto *randomTensor() {
    std::vector<TensorProto *> ts;
    for (auto &t : *g().mutable_initializer())
      ts.push_back(&t);
    for (auto &n : *g().mutable_node())
      for (auto &a : *n.mutable_attribute())
        if (a.has_t())
          ts.push_back(a.mutable_t());
    if (ts.empty())
      return nullptr;
    return choose(ts);
  }

  std::string run() {
    switch (pick(17)) {
    case 0: { // delete a node
      if (g().node_size() == 0)
        return "none";
      int i = pick(g().node_size());
      g().mutable_node()->DeleteSubrange(i, 1);
      return "delete-node";
    }
    case 1: { // duplicate a node
      if (NodeProto *n = randomNode()) {
        NodeProto copy = *n;
        if (coin())
          for (auto &o : *copy.mutable_output())
            o += "_dup";
        *g().add_node() = copy;
      }
      return "duplicate-node";
    }
    case 2: { // rewire an input (may make a cycle)
      NodeProto *n = randomNode();
      auto names = allNames();
      if (!n || n->input_size() == 0 || names.empty())
        return "none";
      *n->mutable_input(pick(n->input_size())) =
          coin() || n->output_size() == 0 ? choose(names) : n->output(0);
      return "rewire-input";
    }
    case 3: { // op type
      static const std::vector<std::string> ops = {"Identity",
                                                   "Expand",
                                                   "Reshape",
                                                   "Constant",
                                                   "Concat",
                                                   "Unsqueeze",
                                                   "Squeeze",
                                                   "Where",
                                                   "Gather",
                                                   "Slice",
                                                   "Mul",
                                                   "Add",
                                                   "Cos",
                                                   "Sin",
                                                   "Range",
                                                   "Scan",
                                                   "Loop",
                                                   "If",
                                                   "ReduceMax",
                                                   "Cast",
                                                   "Shape",
                                                   "Tile",
                                                   "ConstantOfShape",
                                                   "Split",
                                                   "Transpose",
                                                   "MatMul",
                                                   "Neg",
                                                   "Div",
                                                   "Pow",
                                                   "Einsum",
                                                   "CumSum",
                                                   "Equal",
                                                   "Not",
                                                   "Trilu"};
      NodeProto *n = randomNode();
      if (!n)
        return "none";
      n->set_op_type(coin() ? choose(ops) : randomNode()->op_type());
      return "op-type";
    }
    case 4: { // domain
      static const std::vector<std::string> domains = {
          "", "ai.onnx", "com.microsoft", "custom", "ai.onnx.ml"};
      NodeProto *n = randomNodeOf({"Constant", "Concat", "Unsqueeze", "Where",
                                   "Cos", "Sin", "Mul", "Gather"});
      if (!n)
        return "none";
      n->set_domain(choose(domains));
      return "domain";
    }
    case 5: { // an attribute
      NodeProto *n = randomNode();
      if (!n || n->attribute_size() == 0)
        return "none";
      // By index: a repeated message field's elements are separate heap
      // objects, so subtracting their addresses gives no index (it gave -2
      // once: UBSan in RepeatedPtrField::Delete, issue 20's run).
      int at = pick(n->attribute_size());
      AttributeProto &a = *n->mutable_attribute(at);
      switch (pick(4)) {
      case 0:
        n->mutable_attribute()->DeleteSubrange(at, 1);
        return "drop-attribute";
      case 1:
        a.set_i(interesting());
        a.set_type(AttributeProto::INT);
        return "attribute-int";
      case 2:
        a.clear_ints();
        for (size_t k = pick(4); k; --k)
          a.add_ints(interesting());
        a.set_type(AttributeProto::INTS);
        return "attribute-ints";
      default:
        a.set_type((AttributeProto::AttributeType)(pick(14)));
        return "attribute-type";
      }
    }
    case 6: { // Constant / initializer values broken
      TensorProto *t = randomTensor();
      if (!t)
        return "none";
      switch (pick(5)) {
      case 0:
        if (t->has_raw_data()) {
          static const std::vector<size_t> lens = {0, 1, 5, 7, 9};
          size_t len = coin() ? choose(lens) : pick(t->raw_data().size() + 1);
          t->mutable_raw_data()->resize(std::min(len, t->raw_data().size()));
        } else {
          t->clear_int64_data();
          t->clear_float_data();
        }
        return "truncate-data";
      case 1:
        t->set_data_type(pick(mrope::onnx::DataType::FLOAT8E8M0 + 1));
        return "tensor-dtype";
      case 2:
        if (t->dims_size() && coin())
          t->set_dims(pick(t->dims_size()), interesting());
        else
          t->add_dims(interesting());
        return "tensor-dims";
      case 3: { // a huge shape value
        t->clear_raw_data();
        t->clear_int64_data();
        t->clear_dims();
        t->set_data_type(TensorProto::INT64);
        int64_t rank = 1 + pick(3);
        t->add_dims(rank);
        for (int64_t k = 0; k < rank; ++k)
          t->add_int64_data(coin() ? kMax : interesting());
        return "huge-shape";
      }
      default:
        t->set_data_type(TensorProto::INT32);
        return "int32-shape";
      }
    }
    case 7: { // retype a graph input
      if (g().input_size() == 0)
        return "none";
      auto &in = *g().mutable_input(pick(g().input_size()));
      auto *tt = in.mutable_type()->mutable_tensor_type();
      switch (pick(3)) {
      case 0:
        tt->set_elem_type(pick(mrope::onnx::DataType::FLOAT8E8M0 + 1));
        return "input-dtype";
      case 1: {
        auto *shape = tt->mutable_shape();
        if (coin() && shape->dim_size())
          shape->mutable_dim()->RemoveLast();
        else
          shape->add_dim()->set_dim_value(coin() ? interesting() : 1);
        return "input-rank";
      }
      default:
        in.clear_type();
        return "input-untyped";
      }
    }
    case 8: { // opset imports
      switch (pick(4)) {
      case 0:
        m.clear_opset_import();
        return "opset-removed";
      case 1: {
        static const std::vector<int64_t> versions = {
            -5, 0, 1, 7, 11, 12, 13, 14, 17, 18, 21, 23, 26, 27, 1000};
        if (m.opset_import_size() == 0)
          m.add_opset_import();
        m.mutable_opset_import(0)->set_version(choose(versions));
        return "opset-version";
      }
      case 2:
        if (m.opset_import_size() == 0)
          return "none";
        *m.add_opset_import() = m.opset_import(0);
        if (coin())
          m.mutable_opset_import(m.opset_import_size() - 1)
              ->set_domain("ai.onnx");
        return "opset-duplicated";
      default:
        if (m.opset_import_size())
          m.mutable_opset_import(0)->set_domain(coin() ? "custom" : "ai.onnx");
        return "opset-domain";
      }
    }
    case 9: { // external data pointed elsewhere
      if (g().initializer_size() == 0)
        return "none";
      TensorProto &t = *g().mutable_initializer(pick(g().initializer_size()));
      static const std::vector<std::string> locations = {
          "data.bin",
          "../data.bin",
          "/etc/passwd",
          "missing.bin",
          std::string("data\0.bin", 9),
          "sub/../data.bin",
          ".",
          ""};
      t.clear_raw_data();
      t.set_data_location(TensorProto::EXTERNAL);
      t.clear_external_data();
      auto *loc = t.add_external_data();
      loc->set_key("location");
      loc->set_value(choose(locations));
      if (coin()) {
        auto *off = t.add_external_data();
        off->set_key(coin() ? "offset" : "length");
        off->set_value(std::to_string(interesting()));
      }
      return "external-data";
    }
    case 10: { // Scan / Loop / If without its graphs
      static const std::vector<std::string> ops = {"Scan", "Loop", "If"};
      NodeProto *n = randomNode();
      if (!n)
        return "none";
      n->set_op_type(choose(ops));
      n->clear_attribute();
      return "control-flow-without-body";
    }
    case 11: { // an initializer named like a graph input
      if (g().initializer_size() == 0 || g().input_size() == 0)
        return "none";
      g().mutable_initializer(pick(g().initializer_size()))
          ->set_name(g().input(pick(g().input_size())).name());
      return "initializer-named-like-input";
    }
    case 12: { // a value_info with another type
      NodeProto *n = randomNode();
      if (!n || n->output_size() == 0)
        return "none";
      auto *vi = g().add_value_info();
      vi->set_name(n->output(0));
      auto *tt = vi->mutable_type()->mutable_tensor_type();
      tt->set_elem_type(pick(mrope::onnx::DataType::BFLOAT16 + 1));
      if (coin())
        for (size_t k = pick(4); k; --k)
          tt->mutable_shape()->add_dim()->set_dim_value(coin() ? 1
                                                               : interesting());
      return "value-info";
    }
    case 13: { // swap two nodes
      if (g().node_size() < 2)
        return "none";
      g().mutable_node()->SwapElements(pick(g().node_size()),
                                       pick(g().node_size()));
      return "swap-nodes";
    }
    case 14: { // drop or rename a graph output / a node output
      auto names = allNames();
      if (coin() && g().output_size()) {
        if (coin() || names.empty())
          g().mutable_output()->DeleteSubrange(pick(g().output_size()), 1);
        else
          g().mutable_output(pick(g().output_size()))->set_name(choose(names));
        return "graph-output";
      }
      NodeProto *n = randomNode();
      if (!n || n->output_size() == 0)
        return "none";
      *n->mutable_output(pick(n->output_size())) = coin() ? "" : "renamed";
      return "node-output";
    }
    case 15: { // delete an initializer
      if (g().initializer_size() == 0)
        return "none";
      g().mutable_initializer()->DeleteSubrange(pick(g().initializer_size()),
                                                1);
      return "delete-initializer";
    }
    default: { // a node input dropped or added
      NodeProto *n = randomNode();
      if (!n)
        return "none";
      if (n->input_size() && coin())
        n->mutable_input()->RemoveLast();
      else
        n->add_input(coin() || allNames().empty() ? "" : choose(allNames()));
      return "node-arity";
    }
    }
  }
};

} // namespace

std::string mrope::fuzz::mutateModel(ModelProto &model, std::mt19937_64 &rng) {
  Mutator mu{model, rng};
  return mu.run();
}
