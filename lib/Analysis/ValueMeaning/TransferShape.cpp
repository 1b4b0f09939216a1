//===- TransferShape.cpp - views and shape arithmetic ---------------------===//
//
// Reshape, Flatten, Unsqueeze, Squeeze, Expand, Tile, Transpose: where each
// axis role goes; Shape, Size, Range, ConstantOfShape and arithmetic on
// shapes: what sizes are known.
//
//===----------------------------------------------------------------------===//
#include "Transfer.h"

#include "mrope/Analysis/OnnxMatchers.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>

using namespace mlir;
using mrope::onnx::NodeOp;

namespace mrope::meaning::transfer {

//===----------------------------------------------------------------------===//
// Shapes of values: Reshape, Unsqueeze, Squeeze, Flatten, Expand, Tile,
// Transpose.
//===----------------------------------------------------------------------===//

static bool compatible(int64_t a, int64_t b) {
  return a == kDyn || b == kDyn || a == b;
}

/// The axes of a reshape from `in` dims to `out` dims (row-major order
/// kept): unit axes come and go; the rest map one to one, or (batch, seq)
/// merge into token, or token splits into (batch, seq).
static std::optional<Meaning> reshapeMeaning(Meaning m, ArrayRef<int64_t> in,
                                             ArrayRef<int64_t> out) {
  if (m.axes.size() != in.size())
    return std::nullopt;
  // Drop the static unit axes of the input.
  SmallVector<int64_t> keptIn;
  for (int64_t i = static_cast<int64_t>(in.size()) - 1; i >= 0; --i)
    if (in[i] == 1 && !dropAxis(m, i, 0))
      return std::nullopt;
  for (int64_t d : in)
    if (d != 1)
      keptIn.push_back(d);
  SmallVector<int64_t> keptOut;
  for (int64_t d : out)
    if (d != 1)
      keptOut.push_back(d);
  SmallVector<Axis> mapped;
  ArrayRef<Axis> axes = m.axes;
  if (keptIn.size() == keptOut.size()) {
    for (auto [a, b] : llvm::zip(keptIn, keptOut))
      if (!compatible(a, b))
        return std::nullopt;
    mapped.assign(axes.begin(), axes.end());
  } else if (keptIn.size() == keptOut.size() + 1) {
    // (batch, seq) -> token, the other axes unchanged. A broadcast batch
    // (values the same for every b) merges the same way.
    size_t p = 0;
    while (p + 1 < axes.size() && !((axes[p].role == AxisRole::Batch ||
                                     axes[p].role == AxisRole::Bcast) &&
                                    axes[p + 1].role == AxisRole::Seq))
      ++p;
    if (p + 1 >= axes.size())
      return std::nullopt;
    for (size_t i = 0; i < keptOut.size(); ++i) {
      size_t j = i < p ? i : i + 1;
      if (i != p && !compatible(keptIn[j], keptOut[i]))
        return std::nullopt;
      mapped.push_back(i == p ? Axis::of(AxisRole::Token) : axes[j]);
    }
  } else if (keptIn.size() + 1 == keptOut.size()) {
    int64_t p = m.axisOf(AxisRole::Token);
    if (p < 0)
      return std::nullopt;
    for (size_t i = 0; i < keptIn.size(); ++i) {
      if (static_cast<int64_t>(i) == p) {
        mapped.push_back(Axis::of(AxisRole::Batch));
        mapped.push_back(Axis::of(AxisRole::Seq));
        continue;
      }
      if (!compatible(keptIn[i], keptOut[mapped.size()]))
        return std::nullopt;
      mapped.push_back(axes[i]);
    }
  } else {
    return std::nullopt;
  }
  m.axes.clear();
  auto it = mapped.begin();
  for (int64_t d : out)
    m.axes.push_back(d == 1 ? Axis::unitAxis() : *it++);
  return m;
}

/// Output dims of a Reshape: its result type, else its constant shape
/// operand (0 copies the input dim, -1 is inferred).
static std::optional<SmallVector<int64_t>> reshapeDims(NodeOp node, Ins ins,
                                                       ArrayRef<int64_t> in) {
  if (std::optional<SmallVector<int64_t>> out = dimsOf(node.getResult(0)))
    return out;
  std::optional<SmallVector<int64_t>> shape = intsOf(*ins[1]);
  if (!shape)
    return std::nullopt;
  for (auto [i, d] : llvm::enumerate(*shape)) {
    if (d == 0 && i < in.size())
      d = in[i];
    else if (d < 0)
      d = kDyn;
  }
  return shape;
}

static Meaning reshapeLike(NodeOp node, const Meaning &m, ArrayRef<int64_t> in,
                           ArrayRef<int64_t> out) {
  if (m.kind == Kind::Iota)
    return m; // the linear index is the linear index in any shape
  if (m.kind == Kind::Const || m.kind == Kind::Shape) {
    Meaning r = m;
    if (m.constant) {
      auto type = RankedTensorType::get(out, m.constant.getElementType());
      if (!type.hasStaticShape() ||
          type.getNumElements() != m.constant.getNumElements())
        return noRule(node, "constant of unknown shape");
      r.constant = r.constant.reshape(type);
    }
    return r;
  }
  if (!hasAxes(m))
    return noRule(node, "operand without tracked axes");
  if (std::optional<Meaning> r = reshapeMeaning(m, in, out))
    return *r;
  return noRule(node, "axes do not map");
}

/// Known elements of a 1D shape tensor (Shape or integer Const); empty
/// when none is known.
static SmallVector<int64_t> knownDims(const Meaning &m) {
  if (m.kind == Kind::Shape)
    return m.shapeDims;
  if (std::optional<SmallVector<int64_t>> v = intsOf(m))
    if (m.constant && cast<ShapedType>(m.constant.getType()).getRank() <= 1)
      return *v;
  return {};
}

/// Shape arithmetic: the result is a shape; the elements that are known
/// through Slice, Gather and Concat of known ones stay known.
Meaning shapeArithmetic(NodeOp node, Ins ins) {
  Meaning r;
  r.kind = Kind::Shape;
  StringRef op = node.getOpType();
  SmallVector<int64_t> in = knownDims(*ins[0]);
  if (op == "Concat") {
    for (const Meaning *m : ins) {
      SmallVector<int64_t> d = knownDims(*m);
      if (d.empty())
        return r;
      r.shapeDims.append(d);
    }
    return r;
  }
  if (in.empty())
    return r;
  if (op == "Gather" && ins.size() > 1) {
    std::optional<SmallVector<int64_t>> at = intsOf(*ins[1]);
    if (!at)
      return r;
    for (int64_t i : *at) {
      int64_t k = i < 0 ? i + static_cast<int64_t>(in.size()) : i;
      if (k < 0 || k >= static_cast<int64_t>(in.size())) {
        r.shapeDims.clear();
        return r;
      }
      r.shapeDims.push_back(in[k]);
    }
    return r;
  }
  if (op == "Slice" && ins.size() >= 3) {
    std::optional<SmallVector<int64_t>> b = intsOf(*ins[1]);
    std::optional<SmallVector<int64_t>> e = intsOf(*ins[2]);
    if (!b || !e || b->size() != 1 || e->size() != 1 || ins.size() > 4)
      return r;
    int64_t n = static_cast<int64_t>(in.size());
    auto clampIdx = [&](int64_t v) {
      return std::clamp<int64_t>(v < 0 ? v + n : v, 0, n);
    };
    for (int64_t k = clampIdx((*b)[0]); k < clampIdx((*e)[0]); ++k)
      r.shapeDims.push_back(in[k]);
    return r;
  }
  if (op == "Cast" || op == "Identity" || op == "Unsqueeze" ||
      op == "Squeeze" || op == "Reshape")
    r.shapeDims = in;
  return r;
}

/// Copies along a new or unit axis: for positions, a unit axis that becomes
/// 3 long at the front of a [3, B, S] tensor is three copies of its row
/// (int or float: Qwen3-Omni's positions are float32).
static bool broadcastAxis(Meaning &m, int64_t i, int64_t to, Value result,
                          int64_t times) {
  Axis &a = m.axes[i];
  if (a.role == AxisRole::Bcast) {
    a.unit = to == 1;
    // (The result's rank is the meaning's: an untyped result has it too.)
    if (m.kind == Kind::Positions && i == 0 && times == 3 && to == 3 &&
        (isIntValue(result) || isFloatValue(result)) && m.axes.size() == 3) {
      a = Axis::of(AxisRole::Row);
      for (int8_t i = 0; i < 3; ++i)
        a.rows.push_back(RowRef{i, m.row});
      m.row = -1;
      if (!m.src3D || !m.copiedAt)
        m.copiedAt = result;
    }
    return true;
  }
  if (a.role == AxisRole::Chan && times > 0) {
    SmallVector<Channel> chans = a.chans;
    for (int64_t t = 1; t < times; ++t)
      a.chans.append(chans);
    return true;
  }
  return times == 1;
}

Meaning expand(NodeOp node, Ins ins) {
  const Meaning &m = *ins[0];
  Value data = node.getInputs()[0];
  std::optional<SmallVector<int64_t>> in = dimsOf(data, m);
  std::optional<SmallVector<int64_t>> out = dimsOf(node.getResult(0));
  SmallVector<int64_t> target = knownDims(*ins[1]);
  if (in && !out && !target.empty()) {
    // An unranked result: numpy broadcast of the input's dims and the
    // shape operand's (its rank is known when its length is).
    size_t rank = std::max(in->size(), target.size());
    out.emplace(rank, kDyn);
    for (size_t i = 0; i < rank; ++i) {
      int64_t d = i < rank - in->size() ? 1 : (*in)[i - (rank - in->size())];
      int64_t t =
          i < rank - target.size() ? 1 : target[i - (rank - target.size())];
      (*out)[i] = t == 1 ? d : t < 0 ? (d == 1 ? kDyn : d) : t;
    }
  }
  if (!in || !out || out->size() < in->size())
    return noRule(node, "unranked");
  // Dims the result type leaves open may be known from the shape operand.
  if (target.size() == out->size())
    for (auto [o, t] : llvm::zip(*out, target))
      if (o == kDyn && t > 1)
        o = t;
  Meaning r = m;
  if (m.kind == Kind::Iota) {
    std::optional<Meaning> p = iotaAsPositions(m, *in);
    if (!p)
      return noRule(node, "Range of more than one axis broadcast");
    r = *p;
  }
  if (m.kind == Kind::Const || m.kind == Kind::Shape)
    return noRule(node, "constant broadcast");
  if (!hasAxes(r) && r.kind != Kind::Positions)
    return noRule(node, "operand without tracked axes");
  size_t lead = out->size() - in->size();
  r.axes.insert(r.axes.begin(), lead, Axis::of(AxisRole::Bcast));
  SmallVector<int64_t> from(lead, 1);
  from.append(*in);
  for (size_t i = 0; i < out->size(); ++i) {
    // A broadcast axis of unknown size holds one value however long it is:
    // expanding it copies that value (a unit axis an untyped view inserted).
    bool unit =
        from[i] == 1 || (from[i] == kDyn && r.axes[i].role == AxisRole::Bcast &&
                         (*out)[i] != kDyn);
    if (!unit || (*out)[i] == 1)
      continue;
    if (!broadcastAxis(r, i, (*out)[i], node.getResult(0), (*out)[i]))
      return noRule(node, "broadcasts an axis that is not unit");
  }
  return r;
}

Meaning tile(NodeOp node, Ins ins) {
  std::optional<SmallVector<int64_t>> repeats = intsOf(*ins[1]);
  std::optional<SmallVector<int64_t>> in = dimsOf(node.getInputs()[0], *ins[0]);
  Meaning r = *ins[0];
  if (!repeats || !in || !hasAxes(r) || repeats->size() != r.axes.size())
    return noRule(node, "repeats not constant or axes not tracked");
  for (auto [i, t] : llvm::enumerate(*repeats)) {
    if (t == 1)
      continue;
    int64_t to = (*in)[i] == kDyn ? kDyn : (*in)[i] * t;
    if (((*in)[i] != 1 && r.axes[i].role != AxisRole::Chan) ||
        !broadcastAxis(r, i, to, node.getResult(0), t))
      return noRule(node, "repeats an axis that is not unit or channels");
  }
  return r;
}

Meaning transpose(NodeOp node, Ins ins) {
  const Meaning &m = *ins[0];
  if (!hasAxes(m))
    return noRule(node, "operand without tracked axes");
  SmallVector<int64_t> perm;
  if (std::optional<SmallVector<int64_t>> p = node.getIntsAttr("perm"))
    perm = *p;
  else
    for (int64_t i = static_cast<int64_t>(m.axes.size()) - 1; i >= 0; --i)
      perm.push_back(i);
  if (perm.size() != m.axes.size())
    return noRule(node, "perm does not match the rank");
  Meaning r = m;
  for (auto [i, p] : llvm::enumerate(perm)) {
    if (p < 0 || p >= static_cast<int64_t>(m.axes.size()))
      return noRule(node, "perm out of range");
    r.axes[i] = m.axes[p];
  }
  return r;
}

Meaning unsqueeze(NodeOp node, Ins ins) {
  std::optional<SmallVector<int64_t>> in = dimsOf(node.getInputs()[0], *ins[0]);
  std::optional<SmallVector<int64_t>> axes = intsArg(node, ins, 1, "axes");
  if (!in || !axes)
    return noRule(node, "axes or rank unknown");
  int64_t rank = static_cast<int64_t>(in->size() + axes->size());
  SmallVector<bool> isNew(rank, false);
  for (int64_t a : *axes) {
    std::optional<int64_t> n = normAxis(a, rank);
    if (!n)
      return noRule(node, "axis out of range");
    isNew[*n] = true;
  }
  SmallVector<int64_t> out;
  auto it = in->begin();
  for (bool n : isNew)
    out.push_back(n ? 1 : *it++);
  if (!hasAxes(*ins[0]))
    return reshapeLike(node, *ins[0], *in, out);
  // New unit axes are broadcast ones.
  Meaning r = *ins[0];
  if (r.axes.size() != in->size())
    return noRule(node, "rank mismatch");
  for (auto [i, n] : llvm::enumerate(isNew))
    if (n)
      r.axes.insert(r.axes.begin() + i, Axis::unitAxis());
  return r;
}

Meaning squeeze(NodeOp node, Ins ins) {
  std::optional<SmallVector<int64_t>> in = dimsOf(node.getInputs()[0], *ins[0]);
  if (!in)
    return noRule(node, "rank unknown");
  std::optional<SmallVector<int64_t>> axes = intsArg(node, ins, 1, "axes");
  SmallVector<int64_t> out;
  SmallVector<bool> drop(in->size(), false);
  if (axes) {
    for (int64_t a : *axes) {
      std::optional<int64_t> n = normAxis(a, in->size());
      if (!n)
        return noRule(node, "axis out of range");
      drop[*n] = true;
    }
  } else {
    // Every unit dim goes: only sound when every dim is known.
    if (llvm::is_contained(*in, kDyn))
      return noRule(node, "no axes, and dims not known");
    for (auto [i, d] : llvm::enumerate(*in))
      drop[i] = d == 1;
  }
  for (auto [i, d] : llvm::enumerate(*in))
    if (!drop[i])
      out.push_back(d);
  if (!hasAxes(*ins[0]))
    return reshapeLike(node, *ins[0], *in, out);
  // A squeezed row axis binds its one row.
  Meaning r = *ins[0];
  if (r.axes.size() != in->size())
    return noRule(node, "rank mismatch");
  for (int64_t i = static_cast<int64_t>(in->size()) - 1; i >= 0; --i)
    if (drop[i] && ((*in)[i] != 1 || !dropAxis(r, i, 0)))
      return noRule(node, "squeezes an axis that is not unit");
  return r;
}

/// Where a Reshape only inserts unit axes into its input x, however the
/// target spells x's dims: a Concat (axis 0) of x's dims in order, each a
/// `Gather(Shape(x), j)` or a `Slice(Shape(x), a, b)` (x seen through value
/// identities), and constant 1s. `isNew` marks the inserted axes of the
/// result. (An exporter's `x.reshape(*x.shape[:a], 1, *x.shape[a:])`;
/// shape inference cannot type its result when x's dims are dynamic.)
std::optional<SmallVector<bool>> insertedUnitAxes(NodeOp node, int64_t inRank) {
  auto producerOf = [](Value v) {
    return match::rootOf(v).getDefiningOp<NodeOp>();
  };
  if (node.getInputs().size() < 2)
    return std::nullopt;
  NodeOp concat = producerOf(node.getInputs()[1]);
  if (!concat || !concat.isOnnx("Concat") ||
      concat.getIntAttr("axis").value_or(0) != 0)
    return std::nullopt;
  Value x = match::rootOf(node.getInputs()[0]);
  auto isShapeOfX = [&](Value v) {
    NodeOp shape = producerOf(v);
    return shape && shape.isOnnx("Shape") && !shape.getOnnxAttr("start") &&
           !shape.getOnnxAttr("end") &&
           match::rootOf(shape.getInputs()[0]) == x;
  };
  SmallVector<bool> isNew;
  int64_t next = 0; // the next dim of x the target must take
  for (Value piece : concat.getInputs()) {
    if (std::optional<SmallVector<int64_t>> c =
            onnx::getConstantInts(match::rootOf(piece))) {
      for (int64_t d : *c) {
        if (d != 1)
          return std::nullopt;
        isNew.push_back(true);
      }
      continue;
    }
    NodeOp part = producerOf(piece);
    if (!part || part.getInputs().size() < 2 ||
        !isShapeOfX(part.getInputs()[0]))
      return std::nullopt;
    int64_t from, to;
    if (part.isOnnx("Gather") && part.getIntAttr("axis").value_or(0) == 0) {
      std::optional<SmallVector<int64_t>> j =
          onnx::getConstantInts(match::rootOf(part.getInputs()[1]));
      if (!j || j->size() != 1)
        return std::nullopt;
      from = (*j)[0] < 0 ? (*j)[0] + inRank : (*j)[0];
      to = from + 1;
    } else if (part.isOnnx("Slice") && part.getInputs().size() >= 3 &&
               (part.getInputs().size() < 4 ||
                onnx::getConstantInts(match::rootOf(part.getInputs()[3])) ==
                    SmallVector<int64_t>{0}) &&
               (part.getInputs().size() < 5 ||
                onnx::getConstantInts(match::rootOf(part.getInputs()[4])) ==
                    SmallVector<int64_t>{1})) {
      std::optional<SmallVector<int64_t>> a =
          onnx::getConstantInts(match::rootOf(part.getInputs()[1]));
      std::optional<SmallVector<int64_t>> b =
          onnx::getConstantInts(match::rootOf(part.getInputs()[2]));
      if (!a || !b || a->size() != 1 || b->size() != 1)
        return std::nullopt;
      auto clamp = [&](int64_t v) {
        return std::clamp<int64_t>(v < 0 ? v + inRank : v, 0, inRank);
      };
      from = clamp((*a)[0]);
      to = clamp((*b)[0]);
    } else {
      return std::nullopt;
    }
    if (from != next || to <= from)
      return std::nullopt;
    isNew.append(to - from, false);
    next = to;
  }
  if (next != inRank)
    return std::nullopt;
  return isNew;
}

Meaning reshape(NodeOp node, Ins ins) {
  const Meaning &m = *ins[0];
  std::optional<SmallVector<int64_t>> in = dimsOf(node.getInputs()[0], m);
  if (!in)
    return noRule(node, "unranked");
  std::optional<SmallVector<int64_t>> out;
  if (node.getOpType() == "Reshape") {
    out = reshapeDims(node, ins, *in);
  } else {
    std::optional<int64_t> axis =
        normAxis(node.getIntAttr("axis").value_or(1), in->size() + 1);
    if (axis) {
      auto prod = [&](size_t b, size_t e) {
        int64_t p = 1;
        for (size_t i = b; i < e; ++i)
          p = ((*in)[i] == kDyn || p == kDyn) ? kDyn : p * (*in)[i];
        return p;
      };
      out = SmallVector<int64_t>{prod(0, *axis), prod(*axis, in->size())};
    }
  }
  if (!out && node.getOpType() == "Reshape" && hasAxes(m) &&
      m.axes.size() == in->size()) {
    // Unit axes inserted by a target that spells the input's own dims.
    if (std::optional<SmallVector<bool>> isNew =
            insertedUnitAxes(node, in->size())) {
      Meaning r = m;
      for (auto [i, n] : llvm::enumerate(*isNew))
        if (n)
          r.axes.insert(r.axes.begin() + i, Axis::unitAxis());
      return r;
    }
  }
  if (!out)
    return noRule(node, "target shape unknown");
  return reshapeLike(node, m, *in, *out);
}

//===----------------------------------------------------------------------===//
// Sizes and index ranges: Shape, Size, Range, ConstantOfShape
//===----------------------------------------------------------------------===//

Meaning shapeOf(NodeOp node) {
  Meaning r;
  r.kind = Kind::Shape;
  std::optional<SmallVector<int64_t>> d = dimsOf(node.getInputs()[0]);
  if (node.getOpType() == "Shape" && d && !node.getOnnxAttr("start") &&
      !node.getOnnxAttr("end"))
    for (int64_t x : *d)
      r.shapeDims.push_back(x == kDyn ? -1 : x);
  return r;
}

Meaning range(NodeOp node, Ins ins) {
  std::optional<SmallVector<int64_t>> start = intsOf(*ins[0]);
  std::optional<SmallVector<int64_t>> delta =
      ins.size() > 2 ? intsOf(*ins[2]) : std::nullopt;
  if (!start || !delta || start->size() != 1 || delta->size() != 1 ||
      (*start)[0] != 0 || (*delta)[0] != 1)
    return noRule(node, "not Range(0, n, 1)");
  Meaning r;
  r.kind = Kind::Iota;
  r.src = node.getResult(0);
  return r;
}

Meaning constantOfShape(NodeOp node) {
  if (std::optional<DenseElementsAttr> v =
          match::constantOf(node.getResult(0), 1 << 16)) {
    Meaning r;
    r.kind = Kind::Const;
    r.constant = *v;
    return r;
  }
  return noRule(node, "shape not constant");
}

Meaning shapeOnly(NodeOp node, Ins ins) {
  auto isShape = [](const Meaning *x) { return x->kind == Kind::Shape; };
  if (llvm::all_of(ins,
                   [](const Meaning *x) {
                     return x->kind == Kind::Shape || x->kind == Kind::Const;
                   }) &&
      llvm::any_of(ins, isShape))
    return **llvm::find_if(ins, isShape);
  return noRule(node, "only shape arithmetic is followed");
}

} // namespace mrope::meaning::transfer

std::optional<int64_t> mrope::meaning::insertedAxisOf(Value v) {
  if (std::optional<int64_t> axis = match::insertedAxis(v))
    return axis;
  auto node = match::rootOf(v).getDefiningOp<NodeOp>();
  if (!node || !node.isOnnx("Reshape") || node.getInputs().size() < 2)
    return std::nullopt;
  // The input's rank from its type or the ops that made it; else the
  // number of dims the target takes one by one (Gather pieces).
  SmallVector<int64_t> ranks;
  if (int64_t r = match::inferRank(node.getInputs()[0]); r >= 0)
    ranks.push_back(r);
  else if (auto concat =
               match::rootOf(node.getInputs()[1]).getDefiningOp<NodeOp>())
    ranks.push_back(static_cast<int64_t>(concat.getInputs().size()) - 1);
  for (int64_t rank : ranks) {
    std::optional<SmallVector<bool>> isNew =
        transfer::insertedUnitAxes(node, rank);
    if (!isNew || llvm::count(*isNew, true) != 1)
      continue;
    return static_cast<int64_t>(llvm::find(*isNew, true) - isNew->begin());
  }
  return std::nullopt;
}
