//===- EvalShape.cpp - the evaluator's shapes and views
//---------------------===//
//
// Shape, Range, ConstantOfShape, and the views that move data by index:
// Unsqueeze, Squeeze, Reshape, Flatten, Expand, Tile, Transpose.
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

const Tensor *NodeEval::evalShape() {
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

const Tensor *NodeEval::evalRange() {
  const Tensor *s = arg(0, true);
  const Tensor *l = s ? arg(1, true) : nullptr;
  const Tensor *d = l ? arg(2, true) : nullptr;
  if (!d)
    return nullptr;
  if (s->numElements() != 1 || l->numElements() != 1 || d->numElements() != 1) {
    fail(op, "start, limit and delta must be scalars");
    return nullptr;
  }
  double start = s->asDouble(0), limit = l->asDouble(0), delta = d->asDouble(0);
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

const Tensor *NodeEval::evalConstantOfShape() {
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
const Tensor *NodeEval::evalView() {
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

const Tensor *NodeEval::evalExpandTile() {
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

const Tensor *NodeEval::evalTranspose() {
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
