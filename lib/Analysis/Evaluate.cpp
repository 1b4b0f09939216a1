//===- Evaluate.cpp - evaluate small ONNX subgraphs on concrete tensors ---===//
//
// One function per op family below; each reads its operands through get()
// (with or without their data) and returns its results. Anything not
// handled fails with a reason naming the node.
//
//===----------------------------------------------------------------------===//
#include "mrope/Analysis/Evaluate.h"

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

namespace {

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

/// The fused rotary ops: com.microsoft.RotaryEmbedding (x, position_ids
/// [B, S] or a [1] offset, cos, sin), com.microsoft.MRotaryEmbedding (x,
/// position_ids [3, B, S], cos, sin; frequency i reads row axis(i) of the
/// positions) and RotaryEmbedding-23 (x, cos, sin, position_ids?; without
/// positions the caches are per token, [B, S, F]). x is [B, S, hidden]
/// (heads of `num_heads`, or of 2 * the cache width when 0) or
/// [B, N, S, H]; the first `rotary_embedding_dim` channels of each head
/// (all by default) are rotated, as rotate-half or GPT-J pairs
/// (`interleaved`): out1 = x1 * cos - x2 * sin, out2 = x2 * cos + x1 *
/// sin, in float32 as ONNX Runtime computes them. Fails with a reason.
std::optional<Tensor> rotaryEmbedding(NodeOp op, bool mrope, bool onnx23,
                                      const Tensor &x, const Tensor *pos,
                                      const Tensor &cos, const Tensor &sin,
                                      std::string &why) {
  int64_t rank = x.shape.size();
  int64_t numHeads = op.getIntAttr("num_heads").value_or(0);
  int64_t rotaryDim = op.getIntAttr("rotary_embedding_dim").value_or(0);
  bool gptj = op.getIntAttr("interleaved").value_or(0) != 0;
  if (op.getIntAttr("is_packed_batching").value_or(0) ||
      op.getFloatAttr("scale").value_or(1.0f) != 1.0f) {
    why = "packed batching and scale are not evaluated";
    return std::nullopt;
  }
  if ((rank != 3 && rank != 4) || cos.shape != sin.shape || !x.isFloat() ||
      !cos.isFloat() || !sin.isFloat() || cos.shape.empty()) {
    why = "x is not [B, S, hidden] or [B, N, S, H] floats, or the caches "
          "differ";
    return std::nullopt;
  }
  int64_t batch = x.shape[0], seq = rank == 3 ? x.shape[1] : x.shape[2];
  int64_t width = cos.shape.back(), heads, head;
  if (rank == 4) {
    heads = x.shape[1];
    head = x.shape[3];
  } else {
    head = numHeads > 0 ? x.shape[2] / numHeads : 2 * width;
    heads = head > 0 ? x.shape[2] / head : 0;
  }
  if (rotaryDim == 0)
    rotaryDim = head;
  int64_t half = rotaryDim / 2;
  if (head <= 0 || (rank == 3 && heads * head != x.shape[2]) || rotaryDim % 2 ||
      rotaryDim > head || half > width) {
    why = "heads, head size and rotary dim do not fit x and the caches";
    return std::nullopt;
  }
  // Per-token caches (RotaryEmbedding-23 without position_ids): [B, S, F].
  bool perToken = onnx23 && !pos;
  if (perToken ? cos.shape.size() != 3 || cos.shape[0] != batch ||
                     cos.shape[1] != seq
               : cos.shape.size() != 2) {
    why = "the caches are not [max_position, F] (or [B, S, F] without "
          "position_ids)";
    return std::nullopt;
  }
  SmallVector<int64_t> sections;
  bool interleaved = false;
  if (mrope) {
    if (auto s = op.getIntsAttr("mrope_section"))
      sections = *s;
    interleaved = op.getIntAttr("mrope_layout").value_or(0) == 1;
    int64_t sum = 0;
    for (int64_t v : sections)
      sum += v;
    if (sum != half || !pos || pos->shape.size() != 3 ||
        pos->shape[0] != (int64_t)sections.size() || pos->shape[1] != batch ||
        pos->shape[2] != seq) {
      why = "mrope_section does not sum to rotary_dim / 2, or the positions "
            "are not [sections, B, S]";
      return std::nullopt;
    }
  } else if (pos && !(pos->numElements() == 1 ||
                      (pos->shape.size() == 2 && pos->shape[0] == batch &&
                       pos->shape[1] == seq))) {
    why = "position_ids are not [B, S] or a [1] offset";
    return std::nullopt;
  }
  int64_t rows = perToken ? 0 : cos.shape[0];
  Tensor out = x;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seq; ++s)
      for (int64_t i = 0; i < half; ++i) {
        int64_t at;
        if (perToken) {
          at = (b * seq + s) * width + i;
        } else {
          int64_t axis = mrope ? mropeAxisOf(sections, interleaved, i) : 0;
          int64_t p = !mrope && pos->numElements() == 1
                          ? pos->asInt(0) + s
                          : pos->asInt((axis * batch + b) * seq + s);
          if (p < 0 || p >= rows) {
            why = "position " + std::to_string(p) + " is outside the caches' " +
                  std::to_string(rows) + " rows";
            return std::nullopt;
          }
          at = p * width + i;
        }
        float c = cos.f[at], sn = sin.f[at];
        for (int64_t n = 0; n < heads; ++n) {
          int64_t base = rank == 3 ? (b * seq + s) * heads * head + n * head
                                   : ((b * heads + n) * seq + s) * head;
          int64_t i1 = base + (gptj ? 2 * i : i),
                  i2 = base + (gptj ? 2 * i + 1 : i + half);
          float x1 = x.f[i1], x2 = x.f[i2];
          out.f[i1] = x1 * c - x2 * sn;
          out.f[i2] = x2 * c + x1 * sn;
        }
      }
  return out;
}

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
  uint64_t field, wire, value;
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
  return node(nodeOp, cast<OpResult>(v).getResultNumber(), needData);
}

const Tensor *Evaluator::node(NodeOp op, unsigned resultIndex, bool needData) {
  StringRef name = op.getOpType();
  bool msRotary = op.getDomain() == "com.microsoft" &&
                  (name == "RotaryEmbedding" || name == "MRotaryEmbedding");
  bool shapeOnly = !needData && op.getDomain() == "com.microsoft" &&
                   name == "SimplifiedLayerNormalization";
  if (!op.getDomain().empty() && !msRotary && !shapeOnly) {
    fail(op, "an op of domain '" + op.getDomain() + "' is not evaluated");
    return nullptr;
  }
  // Operand `k` (null when absent or onnx.none).
  auto input = [&](unsigned k) -> Value {
    if (k >= op->getNumOperands())
      return Value();
    Value x = op->getOperand(k);
    return isa<NoneType>(x.getType()) ? Value() : x;
  };
  auto arg = [&](unsigned k, bool data) -> const Tensor * {
    Value x = input(k);
    if (!x) {
      fail(op, "input " + Twine(k) + " is missing");
      return nullptr;
    }
    return get(x, data);
  };
  auto intList = [&](const Tensor &t) {
    SmallVector<int64_t> out;
    for (int64_t k = 0, n = t.numElements(); k < n; ++k)
      out.push_back(t.asInt(k));
    return out;
  };
  /// `axes` from the attribute or input `index`, as the opset says.
  auto axesOf = [&](unsigned index, StringRef attrName,
                    std::optional<SmallVector<int64_t>> &axes) -> bool {
    if (onnx::isInputAtOpset(name, attrName, opset)) {
      if (!input(index))
        return true;
      const Tensor *t = arg(index, true);
      if (!t)
        return false;
      axes = intList(*t);
      return true;
    }
    axes = op.getIntsAttr(attrName);
    return true;
  };

  SmallVector<Tensor> results;
  auto done = [&]() -> const Tensor * {
    if (results.size() != op->getNumResults()) {
      fail(op, "wrong number of results");
      return nullptr;
    }
    for (auto [k, t] : llvm::enumerate(results)) {
      if (t.hasData && t.numElements() > maxElements) {
        fail(op, "result has more than " + Twine(maxElements) + " elements");
        return nullptr;
      }
      store(op->getResult(k), std::move(t));
    }
    return values[op->getResult(resultIndex)].get();
  };
  auto one = [&](Tensor t) {
    results.push_back(std::move(t));
    return done();
  };

  // Ops whose result 0 has the shape of input 0 (ONNX spec), evaluated for
  // a Shape only: a table that takes its length from an activation of the
  // model (a per-token Range over a layer's output) needs no more.
  if (!needData && resultIndex == 0 &&
      (name == "Softmax" || name == "LogSoftmax" || name == "Relu" ||
       name == "Sigmoid" || name == "Tanh" || name == "Erf" ||
       name == "LayerNormalization" ||
       (op.getDomain() == "com.microsoft" &&
        name == "SimplifiedLayerNormalization"))) {
    const Tensor *x = arg(0, false);
    if (!x)
      return nullptr;
    Tensor t = like(*x, x->shape, false);
    if (op->getNumResults() != 1) {
      store(op->getResult(0), std::move(t));
      return values[op->getResult(0)].get();
    }
    return one(std::move(t));
  }

  // Fused rotary ops: the rotation of x by its caches at its positions.
  if (msRotary || name == "RotaryEmbedding") {
    bool onnx23 = !msRotary;
    unsigned posAt = onnx23 ? 3 : 1, cosAt = onnx23 ? 1 : 2;
    const Tensor *x = arg(0, needData);
    if (!x)
      return nullptr;
    if (!needData || !x->hasData)
      return one(like(*x, x->shape, false));
    const Tensor *cos = arg(cosAt, true);
    const Tensor *sin = cos ? arg(cosAt + 1, true) : nullptr;
    const Tensor *pos = nullptr;
    if (sin && input(posAt))
      pos = arg(posAt, true);
    if (!sin || (input(posAt) && !pos))
      return nullptr;
    if (!onnx23 && !pos) {
      fail(op, "position_ids are missing");
      return nullptr;
    }
    std::string why;
    std::optional<Tensor> out = rotaryEmbedding(
        op, name == "MRotaryEmbedding", onnx23, *x, pos, *cos, *sin, why);
    if (!out) {
      fail(op, why);
      return nullptr;
    }
    return one(std::move(*out));
  }

  // Same-shape unary ops.
  if (name == "Identity" || name == "Neg" || name == "Cos" || name == "Sin" ||
      name == "Sqrt" || name == "Exp" || name == "Reciprocal" ||
      name == "Floor" || name == "Ceil" || name == "Abs") {
    const Tensor *x = arg(0, needData);
    if (!x)
      return nullptr;
    Tensor t = *x;
    if (!needData || !x->hasData) {
      t.hasData = false;
      t.f.clear();
      t.i.clear();
      return one(std::move(t));
    }
    if (name == "Identity")
      return one(std::move(t));
    if (!t.isFloat() && name != "Neg" && name != "Abs") {
      fail(op, "needs a float input");
      return nullptr;
    }
    for (float &e : t.f) {
      if (name == "Neg")
        e = -e;
      else if (name == "Cos")
        e = std::cos(e);
      else if (name == "Sin")
        e = std::sin(e);
      else if (name == "Sqrt")
        e = std::sqrt(e);
      else if (name == "Exp")
        e = std::exp(e);
      else if (name == "Reciprocal")
        e = 1.f / e;
      else if (name == "Floor")
        e = std::floor(e);
      else if (name == "Ceil")
        e = std::ceil(e);
      else if (name == "Abs")
        e = std::fabs(e);
    }
    for (int64_t &e : t.i)
      e = name == "Neg" ? -e : (e < 0 ? -e : e);
    return one(std::move(t));
  }

  if (name == "Cast") {
    const Tensor *x = arg(0, needData);
    if (!x)
      return nullptr;
    std::optional<Kind> to = kindOfOnnx(op.getIntAttr("to").value_or(0));
    if (!to) {
      fail(op, "casts to a type the evaluator does not model (f32, integers "
               "and bool only)");
      return nullptr;
    }
    Tensor t = like(*x, x->shape, needData && x->hasData);
    t.kind = *to;
    if (t.hasData) {
      int64_t n = x->numElements();
      if (*to == Kind::F32) {
        t.f.resize(n);
        t.i.clear();
        for (int64_t k = 0; k < n; ++k)
          t.f[k] = x->isFloat() ? x->f[k] : (float)x->i[k];
      } else {
        t.i.resize(n);
        t.f.clear();
        for (int64_t k = 0; k < n; ++k) {
          int64_t v = x->isFloat() ? (int64_t)x->f[k] : x->i[k];
          t.i[k] =
              *to == Kind::Bool ? (x->isFloat() ? x->f[k] != 0 : v != 0) : v;
        }
      }
    } else {
      t.f.clear();
      t.i.clear();
    }
    return one(std::move(t));
  }

  if (name == "Shape") {
    const Tensor *x = arg(0, false);
    if (!x)
      return nullptr;
    int64_t rank = x->shape.size();
    int64_t start = normAxis(op.getIntAttr("start").value_or(0), rank);
    int64_t end = op.getIntAttr("end").value_or(rank);
    end = normAxis(end, rank);
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, start, rank);
    SmallVector<int64_t> dims(x->shape.begin() + start, x->shape.begin() + end);
    return one(Tensor::ints({(int64_t)dims.size()}, dims));
  }

  // Elementwise binary ops with numpy broadcasting.
  if (name == "Mul" || name == "Add" || name == "Sub" || name == "Div" ||
      name == "Pow" || name == "Equal" || name == "Less" || name == "Greater" ||
      name == "Max" || name == "Min" || name == "Mod" || name == "And" ||
      name == "Or" || name == "Xor") {
    const Tensor *a = arg(0, needData);
    if (!a)
      return nullptr;
    const Tensor *b = arg(1, needData);
    if (!b)
      return nullptr;
    auto shape = broadcast(a->shape, b->shape);
    if (!shape) {
      fail(op, "operand shapes do not broadcast");
      return nullptr;
    }
    bool compare = name == "Equal" || name == "Less" || name == "Greater";
    Tensor t = like(*a, *shape, needData && a->hasData && b->hasData);
    if (compare)
      t.kind = Kind::Bool;
    if (!t.hasData)
      return one(std::move(t));
    if (a->isFloat() != b->isFloat()) {
      fail(op, "operands have different element types");
      return nullptr;
    }
    if (compare) {
      t.f.clear();
      t.i.assign(t.numElements(), 0);
    }
    std::vector<int64_t> ia = broadcastIndex(a->shape, *shape),
                         ib = broadcastIndex(b->shape, *shape);
    for (size_t k = 0; k < ia.size(); ++k) {
      if (a->isFloat()) {
        float x = a->f[ia[k]], y = b->f[ib[k]];
        if (compare) {
          t.i[k] = name == "Equal" ? x == y : name == "Less" ? x < y : x > y;
          continue;
        }
        t.f[k] = name == "Mul"   ? x * y
                 : name == "Add" ? x + y
                 : name == "Sub" ? x - y
                 : name == "Div" ? x / y
                 : name == "Pow" ? std::pow(x, y)
                 : name == "Max" ? std::max(x, y)
                 : name == "Min" ? std::min(x, y)
                                 : std::fmod(x, y);
      } else {
        int64_t x = a->i[ia[k]], y = b->i[ib[k]];
        if (compare) {
          t.i[k] = name == "Equal" ? x == y : name == "Less" ? x < y : x > y;
          continue;
        }
        if (name == "And" || name == "Or" || name == "Xor") {
          bool p = x != 0, q = y != 0;
          t.i[k] = name == "And" ? p && q : name == "Or" ? p || q : p != q;
          continue;
        }
        if ((name == "Div" || name == "Mod") && y == 0) {
          fail(op, "integer division by zero");
          return nullptr;
        }
        if (name == "Pow") {
          fail(op, "integer Pow is not evaluated");
          return nullptr;
        }
        t.i[k] = name == "Mul"   ? x * y
                 : name == "Add" ? x + y
                 : name == "Sub" ? x - y
                 : name == "Div" ? x / y
                 : name == "Max" ? std::max(x, y)
                 : name == "Min" ? std::min(x, y)
                                 : ((x % y) + y) % y; // Mod, fmod = 0
      }
    }
    return one(std::move(t));
  }

  if (name == "Where") {
    const Tensor *c = arg(0, needData);
    const Tensor *x = c ? arg(1, needData) : nullptr;
    const Tensor *y = x ? arg(2, needData) : nullptr;
    if (!y)
      return nullptr;
    auto s1 = broadcast(c->shape, x->shape);
    auto shape = s1 ? broadcast(*s1, y->shape) : std::nullopt;
    if (!shape) {
      fail(op, "operand shapes do not broadcast");
      return nullptr;
    }
    Tensor t =
        like(*x, *shape, needData && c->hasData && x->hasData && y->hasData);
    if (!t.hasData)
      return one(std::move(t));
    std::vector<int64_t> ic = broadcastIndex(c->shape, *shape),
                         ix = broadcastIndex(x->shape, *shape),
                         iy = broadcastIndex(y->shape, *shape);
    for (size_t k = 0; k < ic.size(); ++k) {
      bool cond = c->asInt(ic[k]) != 0;
      copyElem(cond ? *x : *y, cond ? ix[k] : iy[k], t, k);
    }
    return one(std::move(t));
  }

  // Trilu: keeps the lower (upper = 0) or upper triangle of the last two
  // dims, shifted by the optional diagonal `k`.
  if (name == "Trilu") {
    const Tensor *x = arg(0, needData);
    if (!x)
      return nullptr;
    if (x->shape.size() < 2) {
      fail(op, "the input has rank below 2");
      return nullptr;
    }
    int64_t k = 0;
    if (input(1)) {
      const Tensor *kt = arg(1, true);
      if (!kt)
        return nullptr;
      if (kt->numElements() != 1) {
        fail(op, "k must be a scalar");
        return nullptr;
      }
      k = kt->asInt(0);
    }
    bool upper = op.getIntAttr("upper").value_or(1) != 0;
    Tensor t = like(*x, x->shape, needData && x->hasData);
    if (!t.hasData)
      return one(std::move(t));
    int64_t rows = x->shape[x->shape.size() - 2], cols = x->shape.back();
    for (int64_t e = 0, n = t.numElements(); e < n; ++e) {
      int64_t col = e % cols, row = (e / cols) % rows;
      bool keep = upper ? col - row >= k : col - row <= k;
      if (keep)
        copyElem(*x, e, t, e);
    }
    return one(std::move(t));
  }

  if (name == "Range") {
    const Tensor *s = arg(0, true);
    const Tensor *l = s ? arg(1, true) : nullptr;
    const Tensor *d = l ? arg(2, true) : nullptr;
    if (!d)
      return nullptr;
    if (s->numElements() != 1 || l->numElements() != 1 ||
        d->numElements() != 1) {
      fail(op, "start, limit and delta must be scalars");
      return nullptr;
    }
    double start = s->asDouble(0), limit = l->asDouble(0),
           delta = d->asDouble(0);
    if (delta == 0) {
      fail(op, "delta is 0");
      return nullptr;
    }
    double count = std::max(0.0, std::ceil((limit - start) / delta));
    if (count > (double)maxElements) {
      fail(op, "more than " + Twine(maxElements) + " elements");
      return nullptr;
    }
    Tensor t;
    t.kind = s->kind;
    t.shape = {(int64_t)count};
    for (int64_t k = 0; k < (int64_t)count; ++k) {
      if (t.isFloat())
        t.f.push_back((float)(s->f[0] + k * d->f[0]));
      else
        t.i.push_back(s->i[0] + k * d->i[0]);
    }
    return one(std::move(t));
  }

  if (name == "ConstantOfShape") {
    const Tensor *s = arg(0, true);
    if (!s)
      return nullptr;
    SmallVector<int64_t> shape = intList(*s);
    Tensor t;
    t.kind = Kind::F32;
    t.shape = shape;
    float fv = 0;
    int64_t iv = 0;
    if (ElementsAttr value = op.getTensorAttr("value")) {
      auto dense = dyn_cast<DenseElementsAttr>(value);
      std::optional<Kind> kind = kindOf(value.getElementType());
      if (!dense || !kind || dense.getNumElements() != 1) {
        fail(op, "value is not a one-element f32 or integer tensor");
        return nullptr;
      }
      t.kind = *kind;
      if (*kind == Kind::F32)
        fv = (*dense.getValues<APFloat>().begin()).convertToFloat();
      else
        iv = (*dense.getValues<APInt>().begin()).getSExtValue();
    }
    if (t.numElements() > maxElements) {
      fail(op, "more than " + Twine(maxElements) + " elements");
      return nullptr;
    }
    if (t.isFloat())
      t.f.assign(t.numElements(), fv);
    else
      t.i.assign(t.numElements(), iv);
    return one(std::move(t));
  }

  // Views: shape from constants, data moved by index.
  if (name == "Unsqueeze" || name == "Squeeze" || name == "Reshape" ||
      name == "Flatten") {
    const Tensor *x = arg(0, needData);
    if (!x)
      return nullptr;
    int64_t rank = x->shape.size();
    SmallVector<int64_t> shape;
    if (name == "Unsqueeze") {
      std::optional<SmallVector<int64_t>> axes;
      if (!axesOf(1, "axes", axes))
        return nullptr;
      if (!axes) {
        fail(op, "has no axes");
        return nullptr;
      }
      int64_t outRank = rank + axes->size();
      SmallVector<bool> isNew(outRank, false);
      for (int64_t a : *axes) {
        a = normAxis(a, outRank);
        if (a < 0 || a >= outRank) {
          fail(op, "axis out of range");
          return nullptr;
        }
        isNew[a] = true;
      }
      for (int64_t d = 0, k = 0; d < outRank; ++d)
        shape.push_back(isNew[d] ? 1 : x->shape[k++]);
    } else if (name == "Squeeze") {
      std::optional<SmallVector<int64_t>> axes;
      if (!axesOf(1, "axes", axes))
        return nullptr;
      SmallVector<bool> drop(rank, false);
      if (axes) {
        for (int64_t a : *axes) {
          a = normAxis(a, rank);
          if (a < 0 || a >= rank || x->shape[a] != 1) {
            fail(op, "squeezes an axis that is not of size 1");
            return nullptr;
          }
          drop[a] = true;
        }
      } else {
        for (int64_t d = 0; d < rank; ++d)
          drop[d] = x->shape[d] == 1;
      }
      for (int64_t d = 0; d < rank; ++d)
        if (!drop[d])
          shape.push_back(x->shape[d]);
    } else if (name == "Flatten") {
      int64_t axis = normAxis(op.getIntAttr("axis").value_or(1), rank);
      int64_t outer = 1, inner = 1;
      for (int64_t d = 0; d < rank; ++d)
        (d < axis ? outer : inner) *= x->shape[d];
      shape = {outer, inner};
    } else {
      const Tensor *s = arg(1, true);
      if (!s)
        return nullptr;
      bool allowZero = op.getIntAttr("allowzero").value_or(0) != 0;
      SmallVector<int64_t> req = intList(*s);
      int64_t known = 1, infer = -1;
      for (auto [d, v] : llvm::enumerate(req)) {
        if (v == 0 && !allowZero) {
          if ((int64_t)d >= rank) {
            fail(op, "copies a dim the input does not have");
            return nullptr;
          }
          v = x->shape[d];
        }
        if (v == -1) {
          if (infer >= 0) {
            fail(op, "more than one -1 in the shape");
            return nullptr;
          }
          infer = d;
          continue;
        }
        known *= v;
        shape.push_back(v);
      }
      if (infer >= 0) {
        if (known == 0 || x->numElements() % known) {
          fail(op, "cannot infer the -1 dim");
          return nullptr;
        }
        shape.insert(shape.begin() + infer, x->numElements() / known);
      }
    }
    Tensor t = *x;
    t.shape = shape;
    if (t.numElements() != x->numElements()) {
      fail(op, "changes the number of elements");
      return nullptr;
    }
    if (!needData) {
      t.hasData = false;
      t.f.clear();
      t.i.clear();
    }
    return one(std::move(t));
  }

  if (name == "Expand" || name == "Tile") {
    const Tensor *x = arg(0, needData);
    const Tensor *s = x ? arg(1, true) : nullptr;
    if (!s)
      return nullptr;
    SmallVector<int64_t> req = intList(*s);
    SmallVector<int64_t> shape;
    if (name == "Expand") {
      auto b = broadcast(x->shape, req);
      if (!b) {
        fail(op, "shape does not broadcast");
        return nullptr;
      }
      shape = *b;
    } else {
      if (req.size() != x->shape.size()) {
        fail(op, "repeats do not match the rank");
        return nullptr;
      }
      for (auto [d, r] : llvm::zip(x->shape, req))
        shape.push_back(d * r);
    }
    Tensor t = like(*x, shape, needData && x->hasData);
    if (!t.hasData || t.numElements() > maxElements)
      return one(std::move(t));
    if (name == "Expand")
      return one(gatherFlat(*x, shape, broadcastIndex(x->shape, shape)));
    SmallVector<int64_t> inStrides = stridesOf(x->shape);
    SmallVector<int64_t> pos(shape.size(), 0);
    for (int64_t k = 0, n = t.numElements(); k < n; ++k) {
      int64_t src = 0;
      for (size_t d = 0; d < shape.size(); ++d)
        src += (pos[d] % x->shape[d]) * inStrides[d];
      copyElem(*x, src, t, k);
      for (int64_t d = (int64_t)shape.size() - 1; d >= 0; --d) {
        if (++pos[d] < shape[d])
          break;
        pos[d] = 0;
      }
    }
    return one(std::move(t));
  }

  if (name == "Transpose") {
    const Tensor *x = arg(0, needData);
    if (!x)
      return nullptr;
    int64_t rank = x->shape.size();
    SmallVector<int64_t> perm;
    if (auto p = op.getIntsAttr("perm"))
      perm = *p;
    else
      for (int64_t d = rank - 1; d >= 0; --d)
        perm.push_back(d);
    if ((int64_t)perm.size() != rank) {
      fail(op, "perm does not match the rank");
      return nullptr;
    }
    SmallVector<int64_t> shape;
    for (int64_t p : perm)
      shape.push_back(x->shape[p]);
    Tensor t = like(*x, shape, needData && x->hasData);
    if (!t.hasData)
      return one(std::move(t));
    SmallVector<int64_t> inStrides = stridesOf(x->shape);
    SmallVector<int64_t> pos(rank, 0);
    for (int64_t k = 0, n = t.numElements(); k < n; ++k) {
      int64_t src = 0;
      for (int64_t d = 0; d < rank; ++d)
        src += pos[d] * inStrides[perm[d]];
      copyElem(*x, src, t, k);
      for (int64_t d = rank - 1; d >= 0; --d) {
        if (++pos[d] < shape[d])
          break;
        pos[d] = 0;
      }
    }
    return one(std::move(t));
  }

  if (name == "Concat") {
    SmallVector<const Tensor *> parts;
    for (unsigned k = 0; k < op->getNumOperands(); ++k) {
      const Tensor *p = arg(k, needData);
      if (!p)
        return nullptr;
      parts.push_back(p);
    }
    if (parts.empty()) {
      fail(op, "has no inputs");
      return nullptr;
    }
    int64_t rank = parts[0]->shape.size();
    int64_t axis = normAxis(op.getIntAttr("axis").value_or(0), rank);
    SmallVector<int64_t> shape = parts[0]->shape;
    shape[axis] = 0;
    bool data = needData;
    for (const Tensor *p : parts) {
      if ((int64_t)p->shape.size() != rank || p->kind != parts[0]->kind) {
        fail(op, "inputs differ in rank or element type (rank " +
                     Twine(p->shape.size()) + " vs " + Twine(rank) + ")");
        return nullptr;
      }
      for (int64_t d = 0; d < rank; ++d)
        if (d != axis && p->shape[d] != parts[0]->shape[d]) {
          fail(op, "inputs differ off the concat axis");
          return nullptr;
        }
      shape[axis] += p->shape[axis];
      data &= p->hasData;
    }
    Tensor t = like(*parts[0], shape, data);
    if (!data)
      return one(std::move(t));
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d)
      outer *= shape[d];
    for (int64_t d = axis + 1; d < rank; ++d)
      inner *= shape[d];
    int64_t k = 0;
    for (int64_t o = 0; o < outer; ++o)
      for (const Tensor *p : parts) {
        int64_t chunk = p->shape[axis] * inner;
        for (int64_t e = 0; e < chunk; ++e)
          copyElem(*p, o * chunk + e, t, k++);
      }
    return one(std::move(t));
  }

  if (name == "Slice" || name == "Split") {
    const Tensor *x = arg(0, needData);
    if (!x)
      return nullptr;
    int64_t rank = x->shape.size();
    // Both as a list of (axis, start, step, count) per output.
    struct Box {
      SmallVector<int64_t> start, step, count;
    };
    SmallVector<Box> boxes;
    auto full = [&] {
      Box b;
      for (int64_t d : x->shape) {
        b.start.push_back(0);
        b.step.push_back(1);
        b.count.push_back(d);
      }
      return b;
    };
    if (name == "Slice") {
      const Tensor *st = arg(1, true);
      const Tensor *en = st ? arg(2, true) : nullptr;
      if (!en)
        return nullptr;
      SmallVector<int64_t> starts = intList(*st), ends = intList(*en), axes,
                           steps;
      if (input(3)) {
        const Tensor *a = arg(3, true);
        if (!a)
          return nullptr;
        axes = intList(*a);
      } else {
        for (size_t k = 0; k < starts.size(); ++k)
          axes.push_back(k);
      }
      if (input(4)) {
        const Tensor *s = arg(4, true);
        if (!s)
          return nullptr;
        steps = intList(*s);
      } else {
        steps.assign(starts.size(), 1);
      }
      if (ends.size() != starts.size() || axes.size() != starts.size() ||
          steps.size() != starts.size()) {
        fail(op, "starts, ends, axes and steps differ in length");
        return nullptr;
      }
      Box b = full();
      for (size_t k = 0; k < starts.size(); ++k) {
        int64_t a = normAxis(axes[k], rank);
        if (a < 0 || a >= rank || steps[k] == 0) {
          fail(op, "bad axis or step");
          return nullptr;
        }
        int64_t dim = x->shape[a], s = starts[k], e = ends[k], step = steps[k];
        if (s < 0)
          s += dim;
        if (e < 0)
          e += dim;
        int64_t count;
        if (step > 0) {
          s = std::clamp<int64_t>(s, 0, dim);
          e = std::clamp<int64_t>(e, 0, dim);
          count = e > s ? (e - s + step - 1) / step : 0;
        } else {
          s = std::clamp<int64_t>(s, 0, dim - 1);
          e = std::clamp<int64_t>(e, -1, dim - 1);
          count = s > e ? (s - e - step - 1) / -step : 0;
        }
        b.start[a] = s;
        b.step[a] = step;
        b.count[a] = count;
      }
      boxes.push_back(b);
    } else {
      int64_t axis = normAxis(op.getIntAttr("axis").value_or(0), rank);
      if (axis < 0 || axis >= rank) {
        fail(op, "axis out of range");
        return nullptr;
      }
      std::optional<SmallVector<int64_t>> sizes;
      if (!axesOf(1, "split", sizes))
        return nullptr;
      int64_t n = op->getNumResults(), dim = x->shape[axis];
      if (!sizes) {
        // Equal parts (the last one smaller), as num_outputs says.
        int64_t part = (dim + n - 1) / n;
        sizes.emplace();
        for (int64_t k = 0; k < n; ++k)
          sizes->push_back(
              std::max<int64_t>(0, std::min<int64_t>(part, dim - k * part)));
      }
      if ((int64_t)sizes->size() != n ||
          std::accumulate(sizes->begin(), sizes->end(), int64_t(0)) != dim) {
        fail(op, "split sizes do not add up");
        return nullptr;
      }
      int64_t at = 0;
      for (int64_t s : *sizes) {
        Box b = full();
        b.start[axis] = at;
        b.count[axis] = s;
        at += s;
        boxes.push_back(b);
      }
    }
    SmallVector<int64_t> inStrides = stridesOf(x->shape);
    for (const Box &b : boxes) {
      Tensor t = like(*x, b.count, needData && x->hasData);
      if (t.hasData) {
        SmallVector<int64_t> pos(rank, 0);
        for (int64_t k = 0, n = t.numElements(); k < n; ++k) {
          int64_t src = 0;
          for (int64_t d = 0; d < rank; ++d)
            src += (b.start[d] + pos[d] * b.step[d]) * inStrides[d];
          copyElem(*x, src, t, k);
          for (int64_t d = rank - 1; d >= 0; --d) {
            if (++pos[d] < b.count[d])
              break;
            pos[d] = 0;
          }
        }
      }
      results.push_back(std::move(t));
    }
    return done();
  }

  if (name == "ScatterND") {
    const Tensor *x = arg(0, needData);
    const Tensor *idx = x ? arg(1, needData) : nullptr;
    const Tensor *upd = idx ? arg(2, needData) : nullptr;
    if (!upd)
      return nullptr;
    if (op.getStringAttr("reduction").value_or("none") != "none") {
      fail(op, "reductions are not evaluated");
      return nullptr;
    }
    Tensor t = *x;
    if (!needData || !x->hasData || !idx->hasData || !upd->hasData) {
      t.hasData = false;
      t.f.clear();
      t.i.clear();
      return one(std::move(t));
    }
    int64_t rank = x->shape.size();
    int64_t k = idx->shape.empty() ? 0 : idx->shape.back();
    if (k < 1 || k > rank || upd->kind != x->kind) {
      fail(op, "indices or updates do not fit the data");
      return nullptr;
    }
    SmallVector<int64_t> strides = stridesOf(x->shape);
    int64_t slice = 1;
    for (int64_t d = k; d < rank; ++d)
      slice *= x->shape[d];
    int64_t tuples = idx->numElements() / k;
    if (upd->numElements() != tuples * slice) {
      fail(op, "updates do not fit the indices");
      return nullptr;
    }
    for (int64_t j = 0; j < tuples; ++j) {
      int64_t dst = 0;
      for (int64_t d = 0; d < k; ++d) {
        int64_t v = idx->asInt(j * k + d);
        if (v < 0)
          v += x->shape[d];
        if (v < 0 || v >= x->shape[d]) {
          fail(op, "index out of range");
          return nullptr;
        }
        dst += v * strides[d];
      }
      for (int64_t e = 0; e < slice; ++e)
        copyElem(*upd, j * slice + e, t, dst + e);
    }
    return one(std::move(t));
  }

  if (name == "Gather" || name == "GatherElements") {
    const Tensor *x = arg(0, needData);
    const Tensor *idx = x ? arg(1, needData) : nullptr;
    if (!idx)
      return nullptr;
    int64_t rank = x->shape.size();
    int64_t axis = normAxis(op.getIntAttr("axis").value_or(0), rank);
    if (axis < 0 || axis >= rank) {
      fail(op, "axis out of range");
      return nullptr;
    }
    SmallVector<int64_t> shape;
    if (name == "Gather") {
      shape.append(x->shape.begin(), x->shape.begin() + axis);
      shape.append(idx->shape.begin(), idx->shape.end());
      shape.append(x->shape.begin() + axis + 1, x->shape.end());
    } else {
      if ((int64_t)idx->shape.size() != rank) {
        fail(op, "indices rank differs from the data's");
        return nullptr;
      }
      shape = idx->shape;
    }
    Tensor t = like(*x, shape, needData && x->hasData && idx->hasData);
    if (!t.hasData)
      return one(std::move(t));
    int64_t dim = x->shape[axis];
    auto index = [&](int64_t k) -> std::optional<int64_t> {
      int64_t v = idx->asInt(k);
      if (v < 0)
        v += dim;
      if (v < 0 || v >= dim)
        return std::nullopt;
      return v;
    };
    SmallVector<int64_t> inStrides = stridesOf(x->shape);
    if (name == "Gather") {
      int64_t outer = 1, inner = 1, nIdx = idx->numElements();
      for (int64_t d = 0; d < axis; ++d)
        outer *= x->shape[d];
      for (int64_t d = axis + 1; d < rank; ++d)
        inner *= x->shape[d];
      int64_t k = 0;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < nIdx; ++j) {
          std::optional<int64_t> v = index(j);
          if (!v) {
            fail(op, "index out of range");
            return nullptr;
          }
          for (int64_t e = 0; e < inner; ++e)
            copyElem(*x, (o * dim + *v) * inner + e, t, k++);
        }
      return one(std::move(t));
    }
    SmallVector<int64_t> pos(rank, 0);
    for (int64_t k = 0, n = t.numElements(); k < n; ++k) {
      std::optional<int64_t> v = index(k);
      if (!v) {
        fail(op, "index out of range");
        return nullptr;
      }
      int64_t src = 0;
      for (int64_t d = 0; d < rank; ++d)
        src += (d == axis ? *v : pos[d]) * inStrides[d];
      copyElem(*x, src, t, k);
      for (int64_t d = rank - 1; d >= 0; --d) {
        if (++pos[d] < shape[d])
          break;
        pos[d] = 0;
      }
    }
    return one(std::move(t));
  }

  if (name == "MatMul" || name == "Einsum") {
    // Both as einsum over letters; MatMul: "...ik,...kj->...ij" with
    // batch dims broadcast (1D operands promoted as numpy does).
    SmallVector<const Tensor *> ops;
    for (unsigned k = 0; k < op->getNumOperands(); ++k) {
      const Tensor *p = arg(k, needData);
      if (!p)
        return nullptr;
      ops.push_back(p);
    }
    SmallVector<Tensor> expanded; // MatMul's operands, batch dims broadcast
    SmallVector<std::string> terms;
    std::string outTerm;
    SmallVector<SmallVector<int64_t>> shapes;
    for (const Tensor *p : ops)
      shapes.push_back(p->shape);
    if (name == "MatMul") {
      if (ops.size() != 2 || shapes[0].empty() || shapes[1].empty()) {
        fail(op, "needs two operands of rank 1 or more");
        return nullptr;
      }
      bool aVec = shapes[0].size() == 1, bVec = shapes[1].size() == 1;
      SmallVector<int64_t> a = shapes[0], b = shapes[1];
      if (aVec)
        a.insert(a.begin(), 1);
      if (bVec)
        b.push_back(1);
      auto batch = broadcast(ArrayRef<int64_t>(a).drop_back(2),
                             ArrayRef<int64_t>(b).drop_back(2));
      if (!batch || a.back() != b[b.size() - 2]) {
        fail(op, "operand shapes do not multiply");
        return nullptr;
      }
      // Broadcast the batch dims explicitly (copies; the tensors are small).
      std::string bl;
      for (size_t d = 0; d < batch->size(); ++d)
        bl += char('A' + d);
      SmallVector<int64_t> sa(*batch), sb(*batch);
      sa.append({a[a.size() - 2], a.back()});
      sb.append({b[b.size() - 2], b.back()});
      terms = {bl + "ik", bl + "kj"};
      outTerm = bl + (aVec ? "" : "i") + (bVec ? "" : "j");
      shapes = {sa, sb};
      // Reshape/broadcast the operand data to those shapes.
      SmallVector<SmallVector<int64_t>> orig = {a, b};
      if (needData && ops[0]->hasData && ops[1]->hasData) {
        for (int k = 0; k < 2; ++k) {
          Tensor r = *ops[k];
          r.shape = orig[k];
          expanded.push_back(
              gatherFlat(r, shapes[k], broadcastIndex(r.shape, shapes[k])));
        }
      }
      // Evaluate through the generic path below with these operands.
      ops.clear();
      if (!expanded.empty())
        ops = {&expanded[0], &expanded[1]};
    } else {
      std::optional<StringRef> eq = op.getStringAttr("equation");
      if (!eq) {
        fail(op, "has no equation");
        return nullptr;
      }
      std::string e;
      for (char ch : *eq)
        if (ch != ' ')
          e += ch;
      if (e.find('.') != std::string::npos) {
        fail(op, "equations with '...' are not evaluated");
        return nullptr;
      }
      size_t arrow = e.find("->");
      if (arrow == std::string::npos) {
        fail(op, "implicit-output equations are not evaluated");
        return nullptr;
      }
      outTerm = e.substr(arrow + 2);
      for (StringRef term : llvm::split(StringRef(e).take_front(arrow), ','))
        terms.push_back(term.str());
      if (terms.size() != shapes.size()) {
        fail(op, "equation and operands disagree");
        return nullptr;
      }
    }
    // Letter sizes.
    int64_t size[128];
    std::fill(std::begin(size), std::end(size), -1);
    for (auto [term, shape] : llvm::zip(terms, shapes)) {
      if (term.size() != shape.size()) {
        fail(op, "equation and operand ranks disagree");
        return nullptr;
      }
      for (auto [ch, d] : llvm::zip(term, shape)) {
        int64_t &s = size[(unsigned char)ch & 127];
        if (s != -1 && s != d) {
          fail(op, "a letter has two sizes");
          return nullptr;
        }
        s = d;
      }
    }
    SmallVector<int64_t> outShape;
    for (char ch : outTerm) {
      if (size[(unsigned char)ch & 127] < 0) {
        fail(op, "an output letter is not in any input");
        return nullptr;
      }
      outShape.push_back(size[(unsigned char)ch & 127]);
    }
    bool data = needData && !ops.empty() &&
                llvm::all_of(ops, [](const Tensor *p) { return p->hasData; });
    Tensor t;
    t.kind = Kind::F32;
    t.shape = outShape;
    t.hasData = data;
    if (!data)
      return one(std::move(t));
    if (!llvm::all_of(ops, [](const Tensor *p) { return p->isFloat(); })) {
      fail(op, "needs float operands");
      return nullptr;
    }
    std::string letters;
    for (const std::string &term : terms)
      for (char ch : term)
        if (letters.find(ch) == std::string::npos &&
            outTerm.find(ch) == std::string::npos)
          letters += ch;
    std::string all = outTerm + letters;
    SmallVector<int64_t> dims;
    int64_t total = 1;
    for (char ch : all) {
      dims.push_back(size[(unsigned char)ch & 127]);
      total *= dims.back();
    }
    if (total > maxElements * 16) {
      fail(op, "too much work to evaluate");
      return nullptr;
    }
    int64_t outN = t.numElements(), inner = total / std::max<int64_t>(outN, 1);
    t.f.assign(outN, 0.f);
    SmallVector<SmallVector<int64_t>> strideOf; // per operand, per `all` pos
    for (auto [term, shape] : llvm::zip(terms, shapes)) {
      SmallVector<int64_t> st = stridesOf(shape), per(all.size(), 0);
      for (size_t d = 0; d < term.size(); ++d)
        per[all.find(term[d])] += st[d];
      strideOf.push_back(per);
    }
    SmallVector<int64_t> pos(all.size(), 0);
    for (int64_t o = 0; o < outN; ++o) {
      float acc = 0.f;
      for (int64_t r = 0; r < inner; ++r) {
        float prod = 1.f;
        for (size_t k = 0; k < ops.size(); ++k) {
          int64_t src = 0;
          for (size_t d = 0; d < all.size(); ++d)
            src += pos[d] * strideOf[k][d];
          prod = k ? prod * ops[k]->f[src] : ops[k]->f[src];
        }
        acc = r ? acc + prod : prod;
        for (int64_t d = (int64_t)all.size() - 1; d >= (int64_t)outTerm.size();
             --d) {
          if (++pos[d] < dims[d])
            break;
          pos[d] = 0;
        }
      }
      t.f[o] = acc;
      for (int64_t d = (int64_t)outTerm.size() - 1; d >= 0; --d) {
        if (++pos[d] < dims[d])
          break;
        pos[d] = 0;
      }
    }
    return one(std::move(t));
  }

  // CumSum(x, axis) (opset 11 on; `axis` is an input at every opset):
  // running sums along one axis, in order (f32 sums as ONNX Runtime adds
  // them), `exclusive` leaving out the element itself, `reverse` from the
  // end. Exporters count positions with it (cumsum(mask) - 1).
  if (name == "CumSum") {
    if (opset < 11) {
      fail(op, "CumSum does not exist before opset 11");
      return nullptr;
    }
    const Tensor *x = arg(0, needData);
    const Tensor *ax = x ? arg(1, true) : nullptr;
    if (!ax)
      return nullptr;
    int64_t rank = x->shape.size();
    if (ax->numElements() != 1) {
      fail(op, "axis is not one value");
      return nullptr;
    }
    int64_t a = normAxis(ax->asInt(0), rank);
    if (a < 0 || a >= rank) {
      fail(op, "axis out of range");
      return nullptr;
    }
    Tensor t = like(*x, x->shape, needData && x->hasData);
    if (!t.hasData)
      return one(std::move(t));
    if (x->kind == Kind::Bool) {
      fail(op, "CumSum of booleans is not an ONNX op");
      return nullptr;
    }
    bool exclusive = op.getIntAttr("exclusive").value_or(0) != 0;
    bool reverse = op.getIntAttr("reverse").value_or(0) != 0;
    int64_t len = x->shape[a], inner = 1, outer = 1;
    for (int64_t d = a + 1; d < rank; ++d)
      inner *= x->shape[d];
    for (int64_t d = 0; d < a; ++d)
      outer *= x->shape[d];
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in) {
        float accF = 0.f;
        int64_t accI = 0;
        for (int64_t j = 0; j < len; ++j) {
          int64_t k = (o * len + (reverse ? len - 1 - j : j)) * inner + in;
          if (x->isFloat()) {
            if (exclusive)
              t.f[k] = accF;
            accF += x->f[k];
            if (!exclusive)
              t.f[k] = accF;
          } else {
            if (exclusive)
              t.i[k] = accI;
            accI += x->i[k];
            if (!exclusive)
              t.i[k] = accI;
          }
        }
      }
    return one(std::move(t));
  }

  if (name.starts_with("Reduce") &&
      (name == "ReduceMax" || name == "ReduceMin" || name == "ReduceSum" ||
       name == "ReduceMean" || name == "ReduceProd")) {
    const Tensor *x = arg(0, needData);
    if (!x)
      return nullptr;
    int64_t rank = x->shape.size();
    std::optional<SmallVector<int64_t>> axes;
    if (!axesOf(1, "axes", axes))
      return nullptr;
    bool keep = op.getIntAttr("keepdims").value_or(1) != 0;
    SmallVector<bool> reduced(rank, !axes || axes->empty());
    if (axes && axes->empty() &&
        op.getIntAttr("noop_with_empty_axes").value_or(0)) {
      fail(op, "noop_with_empty_axes is not evaluated");
      return nullptr;
    }
    if (axes)
      for (int64_t a : *axes) {
        a = normAxis(a, rank);
        if (a < 0 || a >= rank) {
          fail(op, "axis out of range");
          return nullptr;
        }
        reduced[a] = true;
      }
    SmallVector<int64_t> shape, keptShape;
    for (int64_t d = 0; d < rank; ++d) {
      keptShape.push_back(reduced[d] ? 1 : x->shape[d]);
      if (!reduced[d] || keep)
        shape.push_back(reduced[d] ? 1 : x->shape[d]);
    }
    Tensor t = like(*x, shape, needData && x->hasData);
    if (!t.hasData)
      return one(std::move(t));
    int64_t n = t.numElements();
    SmallVector<int64_t> outStrides = stridesOf(keptShape);
    std::vector<int64_t> count(n, 0);
    SmallVector<int64_t> pos(rank, 0);
    for (int64_t k = 0, e = x->numElements(); k < e; ++k) {
      int64_t dst = 0;
      for (int64_t d = 0; d < rank; ++d)
        if (!reduced[d])
          dst += pos[d] * outStrides[d];
      bool first = count[dst]++ == 0;
      if (x->isFloat()) {
        float v = x->f[k], &acc = t.f[dst];
        acc = first                  ? v
              : name == "ReduceMax"  ? std::max(acc, v)
              : name == "ReduceMin"  ? std::min(acc, v)
              : name == "ReduceProd" ? acc * v
                                     : acc + v;
      } else {
        int64_t v = x->i[k], &acc = t.i[dst];
        acc = first                  ? v
              : name == "ReduceMax"  ? std::max(acc, v)
              : name == "ReduceMin"  ? std::min(acc, v)
              : name == "ReduceProd" ? acc * v
                                     : acc + v;
      }
      for (int64_t d = rank - 1; d >= 0; --d) {
        if (++pos[d] < x->shape[d])
          break;
        pos[d] = 0;
      }
    }
    if (name == "ReduceMean")
      for (int64_t k = 0; k < n; ++k) {
        if (t.isFloat())
          t.f[k] /= (float)count[k];
        else
          t.i[k] /= std::max<int64_t>(count[k], 1);
      }
    return one(std::move(t));
  }

  fail(op, "the evaluator does not know this op");
  return nullptr;
}
