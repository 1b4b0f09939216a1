//===- EvalSelect.cpp - the evaluator's selections
//--------------------------===//
//
// Concat, Slice, Split, ScatterND, Gather and GatherElements.
//
//===----------------------------------------------------------------------===//
#include "EvalNode.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mrope::eval;
using namespace mrope::eval::detail;
using Kind = Tensor::Kind;

const Tensor *NodeEval::evalConcat() {
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

const Tensor *NodeEval::evalSliceSplit() {
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

const Tensor *NodeEval::evalScatterND() {
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

const Tensor *NodeEval::evalGather() {
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
