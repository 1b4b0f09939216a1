//===- Validate.cpp - what libonnx would trust, checked first -------------===//
#include "Validate.h"
#include "Common.h"

#include "mrope/Target/Onnx/OpsetSignatures.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstring>

using namespace mrope::onnx;
using namespace mrope::onnx::detail;

namespace {
using ::onnx::AttributeProto;
using ::onnx::GraphProto;
using ::onnx::ModelProto;
using ::onnx::NodeProto;
using ::onnx::TensorProto;

bool isDefaultDomain(const std::string &d) {
  return d.empty() || d == "ai.onnx";
}

std::string limitText(int64_t v) {
  // Powers of two read better as 2^k.
  if (v > 0 && (v & (v - 1)) == 0)
    return "2^" + std::to_string(63 - __builtin_clzll((unsigned long long)v));
  return std::to_string(v);
}

std::string shapeText(llvm::ArrayRef<int64_t> dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? "x" : "") + std::to_string(dims[i]);
  return s + "]";
}

/// Why `shape` breaks the limits (a negative dim, a dim above maxDim, more
/// than maxElements elements), or "".
std::string dimsProblem(llvm::ArrayRef<int64_t> shape,
                        const ImportOptions &options) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return "negative dimension " + std::to_string(d);
    if (d > options.maxDim)
      return "dimension " + std::to_string(d) + " is above the limit (" +
             limitText(options.maxDim) + ")";
    if (d && n > options.maxElements / d)
      return "shape " + shapeText(shape) + " has more than " +
             limitText(options.maxElements) + " elements (the limit)";
    n *= d;
  }
  return "";
}

/// Bytes one value of a typed field takes once converted to raw_data (what
/// the importer appends per value), 0 for types without a typed field.
int64_t typedBytesPerValue(int32_t dt) {
  switch (dt) {
  case FLOAT:
  case INT32:
  case UINT32:
    return 4;
  case COMPLEX64:
    return 4; // two floats per element, 4 bytes each
  case DOUBLE:
  case INT64:
  case UINT64:
    return 8;
  case COMPLEX128:
    return 8;
  case INT16:
  case UINT16:
  case FLOAT16:
  case BFLOAT16:
    return 2;
  default:
    return 1; // 8-bit types, bool, packed 4-bit: one byte per int32
  }
}

int64_t typedCount(const TensorProto &t) {
  switch (t.data_type()) {
  case FLOAT:
  case COMPLEX64:
    return t.float_data_size();
  case DOUBLE:
  case COMPLEX128:
    return t.double_data_size();
  case INT64:
    return t.int64_data_size();
  case UINT32:
  case UINT64:
    return t.uint64_data_size();
  default:
    return t.int32_data_size();
  }
}

/// Appends the little-endian `T`s of `raw` (whole elements only).
template <typename T>
void appendRaw(const std::string &raw, std::vector<int64_t> &out) {
  for (size_t i = 0; i + sizeof(T) <= raw.size(); i += sizeof(T)) {
    T v;
    std::memcpy(&v, raw.data() + i, sizeof(T));
    out.push_back(v);
  }
}

/// Integer values of a (checked) int32/int64 tensor, or none.
std::optional<std::vector<int64_t>> intValues(const TensorProto &t) {
  if (t.data_location() == TensorProto::EXTERNAL)
    return std::nullopt;
  std::vector<int64_t> out;
  if (t.data_type() == INT64) {
    if (t.has_raw_data())
      appendRaw<int64_t>(t.raw_data(), out);
    else
      out.assign(t.int64_data().begin(), t.int64_data().end());
  } else if (t.data_type() == INT32) {
    if (t.has_raw_data())
      appendRaw<int32_t>(t.raw_data(), out);
    else
      out.assign(t.int32_data().begin(), t.int32_data().end());
  } else {
    return std::nullopt;
  }
  return out;
}

/// One scalar of a (checked) numeric tensor as a double, or none.
std::optional<double> scalarValue(const TensorProto &t) {
  if (t.data_location() == TensorProto::EXTERNAL)
    return std::nullopt;
  if (auto ints = intValues(t))
    return ints->size() == 1 ? std::optional<double>((double)(*ints)[0])
                             : std::nullopt;
  if (t.data_type() == FLOAT) {
    if (t.has_raw_data() && t.raw_data().size() == 4) {
      float v;
      std::memcpy(&v, t.raw_data().data(), 4);
      return v;
    }
    if (!t.has_raw_data() && t.float_data_size() == 1)
      return t.float_data(0);
  }
  if (t.data_type() == DOUBLE) {
    if (t.has_raw_data() && t.raw_data().size() == 8) {
      double v;
      std::memcpy(&v, t.raw_data().data(), 8);
      return v;
    }
    if (!t.has_raw_data() && t.double_data_size() == 1)
      return t.double_data(0);
  }
  return std::nullopt;
}

/// Constant values visible in a graph: initializers and Constant outputs of
/// this graph and the graphs around it.
struct ConstScope {
  const ConstScope *parent = nullptr;
  llvm::StringMap<const TensorProto *> values;
  llvm::StringSet<> shadowed; // inputs and non-constant outputs
  const TensorProto *lookup(llvm::StringRef name) const {
    for (const ConstScope *s = this; s; s = s->parent) {
      if (s->shadowed.contains(name))
        return nullptr;
      if (auto it = s->values.find(name); it != s->values.end())
        return it->second;
    }
    return nullptr;
  }
};

/// Throws the one error of a walk.
struct Problem {
  std::string message;
};

class Validator {
public:
  Validator(const ModelProto &model, const ImportOptions &options)
      : options(options) {
    for (const auto &o : model.opset_import()) {
      domains.insert(isDefaultDomain(o.domain()) ? "" : o.domain());
      if (isDefaultDomain(o.domain()))
        opset = o.version();
    }
    for (const auto &f : model.functions())
      domains.insert(isDefaultDomain(f.domain()) ? "" : f.domain());
  }

  void graph(const GraphProto &g, const ConstScope *parent, bool main) {
    ConstScope scope;
    scope.parent = parent;
    std::string label = main ? "graph" : "subgraph '" + g.name() + "'";
    for (const auto &vi : g.input()) {
      scope.shadowed.insert(vi.name());
      declared(vi, label + ": input");
    }
    for (const auto &vi : g.output())
      declared(vi, label + ": output");
    for (const auto &vi : g.value_info())
      declared(vi, label + ": value_info");
    for (const auto &t : g.initializer()) {
      tensor(t, "initializer '" + t.name() + "'");
      // An initializer named like an input is only its default value.
      if (!scope.shadowed.contains(t.name()))
        scope.values[t.name()] = &t;
    }
    for (const auto &st : g.sparse_initializer()) {
      tensor(st.values(), "sparse initializer '" + st.values().name() + "'");
      tensor(st.indices(), "sparse initializer '" + st.values().name() + "'");
      dims(st.dims(), "sparse initializer '" + st.values().name() + "'");
    }
    for (const auto &n : g.node())
      node(n, scope);
  }

private:
  [[noreturn]] void fail(const std::string &msg) { throw Problem{msg}; }

  void dims(const google::protobuf::RepeatedField<int64_t> &ds,
            const std::string &label) {
    llvm::SmallVector<int64_t> shape(ds.begin(), ds.end());
    if (auto p = dimsProblem(shape, options); !p.empty())
      fail(label + ": " + p);
  }

  void declared(const ::onnx::ValueInfoProto &vi, const std::string &label) {
    if (!vi.has_type() || !vi.type().has_tensor_type() ||
        !vi.type().tensor_type().has_shape())
      return;
    llvm::SmallVector<int64_t> shape;
    for (const auto &d : vi.type().tensor_type().shape().dim())
      if (d.has_dim_value()) {
        // Negative dims make the type opaque on import; big ones are refused.
        if (d.dim_value() > options.maxDim)
          fail(label + " '" + vi.name() + "': dimension " +
               std::to_string(d.dim_value()) + " is above the limit (" +
               limitText(options.maxDim) + ")");
        if (d.dim_value() >= 0)
          shape.push_back(d.dim_value());
      }
    if (auto p = dimsProblem(shape, options); !p.empty())
      fail(label + " '" + vi.name() + "': " + p);
  }

  void tensor(const TensorProto &t, const std::string &label) {
    if (auto p = tensorProblem(t, options); !p.empty())
      fail(label + ": " + p);
  }

  const AttributeProto *attribute(const NodeProto &n, llvm::StringRef name) {
    for (const auto &a : n.attribute())
      if (a.name() == name)
        return &a;
    return nullptr;
  }

  void needGraph(const NodeProto &n, llvm::StringRef name) {
    const AttributeProto *a = attribute(n, name);
    if (!a)
      fail(describeNode(n) + ": has no '" + name.str() + "' graph attribute");
    if (a->type() != AttributeProto::GRAPH || !a->has_g())
      fail(describeNode(n) + ": attribute '" + name.str() + "' is not a graph");
  }

  /// A constant shape-like operand: int64, every value within [lowest,
  /// maxDim], the product of the positive ones within maxElements.
  void shapeOperand(const NodeProto &n, int index, const ConstScope &scope,
                    llvm::StringRef what, int64_t lowest) {
    if (n.input_size() <= index || n.input(index).empty())
      return;
    const TensorProto *t = scope.lookup(n.input(index));
    if (!t || t->data_location() == TensorProto::EXTERNAL)
      return;
    if (t->data_type() != INT64)
      fail(describeNode(n) + ": " + what.str() + " '" + n.input(index) +
           "' must be int64, got " + dataTypeName(t->data_type()).str());
    auto values = intValues(*t);
    if (!values)
      return;
    int64_t product = 1;
    for (int64_t v : *values) {
      if (v < lowest || v > options.maxDim)
        fail(describeNode(n) + ": " + what.str() + " '" + n.input(index) +
             "' has value " + std::to_string(v) + ", outside [" +
             std::to_string(lowest) + ", " + limitText(options.maxDim) + "]");
      if (v > 0) {
        if (product > options.maxElements / v)
          fail(describeNode(n) + ": " + what.str() + " '" + n.input(index) +
               "' asks for more than " + limitText(options.maxElements) +
               " elements (the limit)");
        product *= v;
      }
    }
  }

  void range(const NodeProto &n, const ConstScope &scope) {
    if (n.input_size() < 3)
      return;
    const TensorProto *ts[3];
    for (int i = 0; i < 3; ++i)
      if (n.input(i).empty() || !(ts[i] = scope.lookup(n.input(i))))
        return;
    std::optional<double> v[3];
    for (int i = 0; i < 3; ++i)
      if (!(v[i] = scalarValue(*ts[i])))
        return;
    double start = *v[0], limit = *v[1], delta = *v[2];
    if (delta == 0)
      fail(describeNode(n) + ": delta is 0");
    double count = std::ceil((limit - start) / delta);
    if (!std::isfinite(count) || count > (double)options.maxElements)
      fail(describeNode(n) + ": asks for more than " +
           limitText(options.maxElements) + " elements (the limit)");
  }

  void node(const NodeProto &n, ConstScope &scope) {
    const std::string &dom = n.domain();
    if (!isDefaultDomain(dom) && !domains.contains(dom))
      fail(describeNode(n) + ": domain '" + dom +
           "' is not in the model's opset_import");
    if (isDefaultDomain(dom) && !domains.contains(""))
      fail(describeNode(n) + ": the default domain is not in the model's "
                             "opset_import");
    for (const auto &a : n.attribute()) {
      std::string label =
          "tensor attribute '" + a.name() + "' of " + describeNode(n);
      if (a.has_t())
        tensor(a.t(), label);
      for (const auto &t : a.tensors())
        tensor(t, label);
      if (a.has_sparse_tensor()) {
        tensor(a.sparse_tensor().values(), label);
        tensor(a.sparse_tensor().indices(), label);
      }
    }
    bool isDefault = isDefaultDomain(dom);
    const std::string &op = n.op_type();
    if (isDefault)
      signature(n);
    if (isDefault) {
      if (op == "Scan" || op == "Loop")
        needGraph(n, "body");
      else if (op == "If") {
        needGraph(n, "then_branch");
        needGraph(n, "else_branch");
      } else if (op == "Reshape")
        shapeOperand(n, 1, scope, "shape", -1);
      else if (op == "Expand")
        shapeOperand(n, 1, scope, "shape", 0);
      else if (op == "ConstantOfShape")
        shapeOperand(n, 0, scope, "shape", 0);
      else if (op == "Tile")
        shapeOperand(n, 1, scope, "repeats", 0);
      else if (op == "Resize")
        shapeOperand(n, 3, scope, "sizes", 0);
      else if (op == "Range")
        range(n, scope);
      else if (op == "OneHot" && n.input_size() > 1) {
        if (const TensorProto *t = scope.lookup(n.input(1)))
          if (auto d = scalarValue(*t))
            if (!(*d >= 0 && *d <= (double)options.maxDim))
              fail(describeNode(n) + ": depth is outside [0, " +
                   limitText(options.maxDim) + "]");
      }
      for (const char *shapeAttr : {"shape", "output_shape"})
        if (const AttributeProto *a = attribute(n, shapeAttr);
            a && a->type() == AttributeProto::INTS) {
          llvm::SmallVector<int64_t> shape(a->ints().begin(), a->ints().end());
          if (auto p = dimsProblem(shape, options); !p.empty())
            fail(describeNode(n) + ": attribute '" + shapeAttr + "': " + p);
        }
    }
    // Subgraphs see this graph's constants.
    for (const auto &a : n.attribute()) {
      if (a.has_g())
        graph(a.g(), &scope, false);
      for (const auto &sg : a.graphs())
        graph(sg, &scope, false);
    }
    // Record what this node defines.
    bool constant = isDefault && op == "Constant" && n.output_size() == 1;
    const AttributeProto *value = constant ? attribute(n, "value") : nullptr;
    for (const std::string &out : n.output()) {
      if (value && value->has_t()) {
        scope.values[out] = &value->t();
        scope.shadowed.erase(out);
      } else {
        scope.shadowed.insert(out);
      }
    }
  }

  /// The node fits its op's signature at the model's opset (axes and
  /// split as attributes or inputs, arity): libonnx checks only up to
  /// opset 17, and what the analysis reads must mean what the opset says.
  void signature(const NodeProto &n) {
    if (!opset)
      return;
    std::vector<std::string> inputs(n.input().begin(), n.input().end());
    std::string p = opsetSignatureProblem(
        n.op_type(), opset, inputs,
        [&](llvm::StringRef name) { return attribute(n, name) != nullptr; });
    if (!p.empty())
      fail(describeNode(n) + ": " + p);
  }

  const ImportOptions &options;
  llvm::StringSet<> domains;
  /// The default-domain opset version (0 when the model has none).
  int64_t opset = 0;
};

} // namespace

std::string mrope::onnx::detail::describeNode(const NodeProto &node) {
  std::string s = "node '" + node.name() + "' (" + node.op_type();
  if (!node.domain().empty())
    s += ", domain '" + node.domain() + "'";
  return s + ")";
}

llvm::Expected<int64_t>
mrope::onnx::detail::checkOpsetImports(const ModelProto &model,
                                       const ImportOptions &options) {
  auto error = [](const llvm::Twine &msg) {
    return llvm::createStringError(msg);
  };
  if (model.opset_import_size() == 0)
    return error("the model has no opset_import (it must name the ONNX "
                 "opset version it uses)");
  llvm::StringMap<int64_t> seen;
  std::optional<int64_t> version;
  for (const auto &o : model.opset_import()) {
    std::string domain = isDefaultDomain(o.domain()) ? "" : o.domain();
    auto [it, inserted] = seen.try_emplace(domain, o.version());
    if (!inserted)
      return error("opset_import lists " +
                   (domain.empty() ? std::string("the default domain ('' or "
                                                 "'ai.onnx')")
                                   : "domain '" + domain + "'") +
                   " twice (versions " + llvm::Twine(it->second) + " and " +
                   llvm::Twine(o.version()) + ")");
    if (domain.empty())
      version = o.version();
    else if (o.version() <= 0)
      return error("opset_import: domain '" + domain + "' has version " +
                   llvm::Twine(o.version()) + " (must be positive)");
  }
  if (!version)
    return error("opset_import has no entry for the default ONNX domain ''");
  if (*version < options.minOpset || *version > options.maxOpset)
    return error("default-domain opset version " + llvm::Twine(*version) +
                 " is not supported (mrope reads opsets " +
                 llvm::Twine(options.minOpset) + " to " +
                 llvm::Twine(options.maxOpset) + ")");
  return *version;
}

std::string mrope::onnx::detail::tensorProblem(const TensorProto &t,
                                               const ImportOptions &options) {
  int32_t dt = t.data_type();
  bool known = dt == STRING || rawByteSize(dt, 1) > 0;
  if (!known)
    return "unsupported element type " + std::to_string(dt) + " (" +
           dataTypeName(dt).str() + ")";
  llvm::SmallVector<int64_t> shape(t.dims().begin(), t.dims().end());
  if (std::string p = dimsProblem(shape, options); !p.empty())
    return p;
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  if (t.has_data_location() && t.data_location() == TensorProto::EXTERNAL)
    return "";
  if (dt == STRING) {
    if (t.string_data_size() != n)
      return "has " + std::to_string(t.string_data_size()) + " strings for " +
             std::to_string(n) + " elements";
    return "";
  }
  int64_t expected = rawByteSize(dt, n);
  auto sizeText = [&](int64_t bytes) {
    return shapeText(shape) + " of " + dataTypeName(dt).str() + " needs " +
           std::to_string(expected) + " bytes, got " + std::to_string(bytes);
  };
  if (t.has_raw_data()) {
    if ((int64_t)t.raw_data().size() != expected)
      return "raw data size does not match its type: " +
             sizeText(t.raw_data().size());
    return "";
  }
  int64_t count = typedCount(t);
  int64_t bytes = count * typedBytesPerValue(dt);
  if (bytes != expected)
    return "has " + std::to_string(count) +
           " values, which does not match its type: " + sizeText(bytes);
  return "";
}

llvm::Error mrope::onnx::detail::validateModel(const ModelProto &model,
                                               const ImportOptions &options) {
  try {
    Validator v(model, options);
    v.graph(model.graph(), nullptr, /*main=*/true);
  } catch (const Problem &p) {
    return llvm::createStringError(p.message);
  }
  return llvm::Error::success();
}
