//===- Evaluate.cpp - evaluate small ONNX subgraphs on concrete tensors ---===//
//
// The tensors, constants and graph inputs; a node goes to NodeEval, one
// method per op family in lib/Analysis/Evaluate/ (EvalNode.h lists them).
// Each reads its operands through get() (with or without their data) and
// returns its results. Anything not handled fails with a reason naming the
// node.
//
//===----------------------------------------------------------------------===//
#include "Evaluate/EvalNode.h"

#include "mrope/Target/Onnx/OpsetSignatures.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Endian.h"

#include <cmath>
#include <functional>
#include <numeric>
#include <optional>

using namespace mlir;
using namespace mrope;
using namespace mrope::eval;
using onnx::NodeOp;
using Kind = Tensor::Kind;

int64_t Tensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

Tensor Tensor::ints(ArrayRef<int64_t> shape, ArrayRef<int64_t> values) {
  Tensor t;
  t.kind = Kind::I64;
  t.shape.assign(shape.begin(), shape.end());
  t.i.assign(values.begin(), values.end());
  return t;
}

Tensor Tensor::floats(ArrayRef<int64_t> shape, ArrayRef<float> values) {
  Tensor t;
  t.kind = Kind::F32;
  t.shape.assign(shape.begin(), shape.end());
  t.f.assign(values.begin(), values.end());
  return t;
}

std::string mrope::eval::describeValue(Value v) {
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    if (auto graph = dyn_cast<onnx::GraphOp>(arg.getOwner()->getParentOp()))
      return "input '" + graph.getInputName(arg.getArgNumber()).str() + "'";
    return "a subgraph input";
  }
  Operation *op = v.getDefiningOp();
  if (auto node = dyn_cast<NodeOp>(op))
    return "node '" + node.getNodeName().str() + "' (" +
           node.getOpType().str() + ")";
  if (auto init = dyn_cast<onnx::InitializerOp>(op))
    return "initializer '" + init.getName().str() + "'";
  return "'" + op->getName().getStringRef().str() + "'";
}

/// The position axis of frequency `i` under M-RoPE `sections`: contiguous
/// (mrope_layout 0), or Qwen3-VL interleaved (1: frequency i goes to axis
/// i % 3 while i < 3 * sections[axis], to axis 0 otherwise).
int64_t mrope::eval::mropeAxisOf(ArrayRef<int64_t> sections, bool interleaved,
                                 int64_t i) {
  if (interleaved) {
    int64_t n = sections.size();
    for (int64_t a = 1; a < n; ++a)
      if (i % n == a && i < n * sections[a])
        return a;
    return 0;
  }
  for (auto [a, count] : llvm::enumerate(sections)) {
    if (i < count)
      return a;
    i -= count;
  }
  return -1;
}

namespace mrope::eval::detail {

SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> s(shape.size(), 1);
  for (int64_t d = (int64_t)shape.size() - 2; d >= 0; --d)
    s[d] = s[d + 1] * shape[d + 1];
  return s;
}

/// Numpy broadcast of two shapes; nullopt when incompatible.
std::optional<SmallVector<int64_t>> broadcast(ArrayRef<int64_t> a,
                                              ArrayRef<int64_t> b) {
  size_t r = std::max(a.size(), b.size());
  SmallVector<int64_t> out(r);
  for (size_t k = 0; k < r; ++k) {
    int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
    int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      return std::nullopt;
    out[k] = da == 1 ? db : da;
  }
  return out;
}

/// For each flat index of `out`, the flat index into a tensor of `in`
/// broadcast to `out`.
std::vector<int64_t> broadcastIndex(ArrayRef<int64_t> in,
                                    ArrayRef<int64_t> out) {
  int64_t n = 1;
  for (int64_t d : out)
    n *= d;
  std::vector<int64_t> idx(n);
  SmallVector<int64_t> inStrides = stridesOf(in);
  size_t off = out.size() - in.size();
  SmallVector<int64_t> pos(out.size(), 0);
  for (int64_t k = 0; k < n; ++k) {
    int64_t src = 0;
    for (size_t d = 0; d < in.size(); ++d)
      if (in[d] != 1)
        src += pos[d + off] * inStrides[d];
    idx[k] = src;
    for (int64_t d = (int64_t)out.size() - 1; d >= 0; --d) {
      if (++pos[d] < out[d])
        break;
      pos[d] = 0;
    }
  }
  return idx;
}

/// Copies element `from` of `src` to element `to` of `dst` (same kind).
void copyElem(const Tensor &src, int64_t from, Tensor &dst, int64_t to) {
  if (src.isFloat())
    dst.f[to] = src.f[from];
  else
    dst.i[to] = src.i[from];
}

Tensor like(const Tensor &src, ArrayRef<int64_t> shape, bool data) {
  Tensor t;
  t.kind = src.kind;
  t.shape.assign(shape.begin(), shape.end());
  t.hasData = data;
  if (data) {
    if (t.isFloat())
      t.f.assign(t.numElements(), 0.f);
    else
      t.i.assign(t.numElements(), 0);
  }
  return t;
}

/// `src` gathered by flat indices (the result's data).
Tensor gatherFlat(const Tensor &src, ArrayRef<int64_t> shape,
                  ArrayRef<int64_t> flat) {
  Tensor t = like(src, shape, true);
  for (size_t k = 0; k < flat.size(); ++k)
    copyElem(src, flat[k], t, k);
  return t;
}

std::optional<Kind> kindOf(Type elem) {
  if (!elem)
    return std::nullopt;
  if (elem.isF32())
    return Kind::F32;
  if (elem.isInteger(1))
    return Kind::Bool;
  if (isa<IntegerType>(elem))
    return Kind::I64;
  return std::nullopt;
}

std::optional<Kind> kindOfOnnx(int64_t to) {
  switch (to) {
  case 1: // FLOAT
    return Kind::F32;
  case 9: // BOOL
    return Kind::Bool;
  case 2:  // UINT8
  case 3:  // INT8
  case 4:  // UINT16
  case 5:  // INT16
  case 6:  // INT32
  case 7:  // INT64
  case 12: // UINT32
  case 13: // UINT64
    return Kind::I64;
  default:
    return std::nullopt;
  }
}

int64_t normAxis(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

} // namespace mrope::eval::detail

using namespace mrope::eval::detail;

namespace {

/// The tensor of a `Constant` the importer kept as opaque AttributeProto
/// bytes (exporters name such tensors): dims, data_type and int64 / int32 /
/// float data, raw or packed. Enough for the small constants of position
/// and table subgraphs; anything else is not read.
std::optional<Tensor> opaqueConstant(onnx::ProtoAttr proto) {
  if (proto.getKind() != "AttributeProto")
    return std::nullopt;
  // One protobuf field: number, wire type, varint value or bytes.
  struct Reader {
    StringRef rest;
    std::optional<uint64_t> varint() {
      uint64_t v = 0;
      for (unsigned shift = 0; shift < 64 && !rest.empty(); shift += 7) {
        uint8_t c = rest.front();
        rest = rest.drop_front();
        v |= uint64_t(c & 0x7f) << shift;
        if (!(c & 0x80))
          return v;
      }
      return std::nullopt;
    }
    bool next(uint64_t &field, uint64_t &wire, uint64_t &value,
              StringRef &bytes) {
      std::optional<uint64_t> key = varint();
      if (!key)
        return false;
      field = *key >> 3;
      wire = *key & 7;
      if (wire == 0) {
        std::optional<uint64_t> v = varint();
        return v && (value = *v, true);
      }
      uint64_t n = wire == 1 ? 8 : wire == 5 ? 4 : 0;
      if (wire == 2) {
        std::optional<uint64_t> len = varint();
        if (!len)
          return false;
        n = *len;
      }
      if (n == 0 || n > rest.size())
        return wire == 2 && n == 0 && (bytes = StringRef(), true);
      bytes = rest.take_front(n);
      rest = rest.drop_front(n);
      return true;
    }
  };
  uint64_t field = 0, wire = 0, value = 0;
  StringRef bytes, tensor, raw;
  Reader attr{proto.getBytes()};
  while (!attr.rest.empty()) {
    if (!attr.next(field, wire, value, bytes))
      return std::nullopt;
    if (field == 5 && wire == 2) // AttributeProto.t
      tensor = bytes;
  }
  Tensor t;
  int64_t type = 0;
  std::vector<int64_t> packedInts;
  Reader r{tensor};
  while (!r.rest.empty()) {
    if (!r.next(field, wire, value, bytes))
      return std::nullopt;
    auto ints = [&](auto &out) {
      if (wire == 0) {
        out.push_back(int64_t(value));
        return true;
      }
      Reader p{bytes};
      while (!p.rest.empty())
        if (std::optional<uint64_t> v = p.varint())
          out.push_back(int64_t(*v));
        else
          return false;
      return true;
    };
    if ((field == 1 && !ints(t.shape)) ||
        ((field == 5 || field == 7) && !ints(packedInts)) || field == 12 ||
        field == 13) // external data, segments: not read
      return std::nullopt;
    if (field == 2 && wire == 0)
      type = int64_t(value);
    if (field == 4 && wire == 2)
      for (size_t k = 0; k + 4 <= bytes.size(); k += 4)
        t.f.push_back(llvm::bit_cast<float>(
            llvm::support::endian::read32le(bytes.data() + k)));
    if (field == 9 && wire == 2)
      raw = bytes;
  }
  // ONNX data types: 1 float, 6 int32, 7 int64.
  if (type != 1 && type != 6 && type != 7)
    return std::nullopt;
  t.kind = type == 1 ? Kind::F32 : Kind::I64;
  int64_t count = t.numElements();
  size_t width = type == 7 ? 8 : 4;
  if (!raw.empty()) {
    if (raw.size() != size_t(count) * width)
      return std::nullopt;
    for (int64_t k = 0; k < count; ++k) {
      const char *at = raw.data() + k * width;
      if (type == 1)
        t.f.push_back(
            llvm::bit_cast<float>(llvm::support::endian::read32le(at)));
      else if (type == 6)
        t.i.push_back(int32_t(llvm::support::endian::read32le(at)));
      else
        t.i.push_back(int64_t(llvm::support::endian::read64le(at)));
    }
  } else if (type != 1) {
    for (int64_t v : packedInts)
      t.i.push_back(type == 6 ? int64_t(int32_t(v)) : v);
  }
  if ((int64_t)(t.isFloat() ? t.f.size() : t.i.size()) != count)
    return std::nullopt;
  return t;
}

} // namespace

void Evaluator::bind(Value v, Tensor t) { store(v, std::move(t)); }

const Tensor *Evaluator::store(Value v, Tensor t) {
  std::unique_ptr<Tensor> &slot = values[v];
  if (slot)
    *slot = std::move(t); // a shape-only entry gets its data
  else
    slot = std::make_unique<Tensor>(std::move(t));
  return slot.get();
}

void Evaluator::bindInputShape(StringRef name, ArrayRef<int64_t> shape) {
  inputShapes[name] = SmallVector<int64_t>(shape.begin(), shape.end());
}

bool Evaluator::fail(Operation *op, const Twine &msg) {
  if (reason.empty()) {
    std::string where =
        op && op->getNumResults() ? describeValue(op->getResult(0)) : "a value";
    reason = where + ": " + msg.str();
  }
  return false;
}

const Tensor *Evaluator::evaluate(Value v) {
  reason.clear();
  depth = 0;
  return get(v, /*needData=*/true);
}

const Tensor *Evaluator::get(Value v, bool needData) {
  if (!v) {
    fail(nullptr, "a missing operand");
    return nullptr;
  }
  if (auto it = values.find(v); it != values.end())
    if (it->second->hasData || !needData)
      return it->second.get();
  if (++depth > 4096) {
    fail(v.getDefiningOp(), "the subgraph is too deep to evaluate");
    return nullptr;
  }
  llvm::scope_exit leave([&] { --depth; });
  auto type = dyn_cast<RankedTensorType>(v.getType());

  if (auto arg = dyn_cast<BlockArgument>(v)) {
    std::string what = describeValue(v);
    auto graph = dyn_cast<onnx::GraphOp>(arg.getOwner()->getParentOp());
    auto it = graph ? inputShapes.find(graph.getInputName(arg.getArgNumber()))
                    : inputShapes.end();
    std::optional<Kind> kind =
        type ? kindOf(type.getElementType()) : std::nullopt;
    if (needData || it == inputShapes.end() || !kind) {
      if (reason.empty())
        reason = what + ": the probe gives no " +
                 (needData ? "value" : "shape") + " for it";
      return nullptr;
    }
    Tensor t;
    t.kind = *kind;
    t.shape = it->second;
    t.hasData = false;
    return store(v, std::move(t));
  }

  Operation *def = v.getDefiningOp();
  if (isa<onnx::InitializerOp>(def) ||
      (isa<NodeOp>(def) && cast<NodeOp>(def).isOnnx("Constant"))) {
    std::optional<Kind> kind =
        type ? kindOf(type.getElementType()) : std::nullopt;
    if (!needData && type && type.hasStaticShape() && kind) {
      Tensor t;
      t.kind = *kind;
      t.shape.assign(type.getShape().begin(), type.getShape().end());
      t.hasData = false;
      return store(v, std::move(t));
    }
    std::optional<DenseElementsAttr> dense =
        onnx::getConstantValue(v, maxElements);
    if (auto node = dyn_cast<NodeOp>(def); !dense && node)
      if (auto proto =
              dyn_cast_or_null<onnx::ProtoAttr>(node.getOnnxAttr("value")))
        if (std::optional<Tensor> t = opaqueConstant(proto);
            t && t->numElements() <= maxElements)
          return store(v, std::move(*t));
    if (!dense) {
      fail(def, "constant contents cannot be read (or more than " +
                    Twine(maxElements) + " elements)");
      return nullptr;
    }
    auto dt = cast<RankedTensorType>(dense->getType());
    Tensor t;
    t.shape.assign(dt.getShape().begin(), dt.getShape().end());
    Type elem = dt.getElementType();
    if (elem.isF32()) {
      t.kind = Kind::F32;
      for (APFloat x : dense->getValues<APFloat>())
        t.f.push_back(x.convertToFloat());
    } else if (isa<IntegerType>(elem)) {
      t.kind = elem.isInteger(1) ? Kind::Bool : Kind::I64;
      bool isUnsigned = elem.isUnsignedInteger();
      for (APInt x : dense->getValues<APInt>())
        t.i.push_back(elem.isInteger(1) ? (int64_t)x.getBoolValue()
                      : isUnsigned      ? (int64_t)x.getZExtValue()
                                        : x.getSExtValue());
    } else {
      fail(def, "element type is not f32 or an integer");
      return nullptr;
    }
    return store(v, std::move(t));
  }

  auto nodeOp = dyn_cast<NodeOp>(def);
  if (!nodeOp) {
    fail(def, "not an ONNX node");
    return nullptr;
  }
  return NodeEval(*this, nodeOp, cast<OpResult>(v).getResultNumber(), needData)
      .run();
}
