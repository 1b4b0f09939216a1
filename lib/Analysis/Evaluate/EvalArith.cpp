//===- EvalArith.cpp - the evaluator's elementwise ops and reductions
//-------===//
//
// Same-shape unary ops, Cast, binary ops with numpy broadcasting, Where,
// Trilu, CumSum and Reduce*: float32 as ONNX Runtime computes them, int64
// for integers.
//
//===----------------------------------------------------------------------===//
#include "EvalNode.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>

using namespace mlir;
using namespace mrope::eval;
using namespace mrope::eval::detail;
using Kind = Tensor::Kind;

// Same-shape unary ops.
const Tensor *NodeEval::evalUnary() {
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

const Tensor *NodeEval::evalCast() {
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
        t.i[k] = *to == Kind::Bool ? (x->isFloat() ? x->f[k] != 0 : v != 0) : v;
      }
    }
  } else {
    t.f.clear();
    t.i.clear();
  }
  return one(std::move(t));
}

// Elementwise binary ops with numpy broadcasting.
const Tensor *NodeEval::evalBinary() {
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

const Tensor *NodeEval::evalWhere() {
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
const Tensor *NodeEval::evalTrilu() {
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

// CumSum(x, axis) (opset 11 on; `axis` is an input at every opset):
// running sums along one axis, in order (f32 sums as ONNX Runtime adds
// them), `exclusive` leaving out the element itself, `reverse` from the
// end. Exporters count positions with it (cumsum(mask) - 1).
const Tensor *NodeEval::evalCumSum() {
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

const Tensor *NodeEval::evalReduce() {
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
