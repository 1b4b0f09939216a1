//===- ValueMeaningTransfer.cpp - one transfer function per ONNX op -------===//
//
// transferNode: the meaning of a node's result from its operands'. Every
// op type handled here says exactly what it does to values and axes; any
// other op, or an operand this op cannot say anything about, gives
// Unknown with the reason.
//
//===----------------------------------------------------------------------===//
#include "mrope/Analysis/ValueMeaning.h"

#include "mrope/Analysis/OnnxMatchers.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mrope;
using namespace mrope::meaning;
using onnx::NodeOp;

namespace {

using Ins = ArrayRef<const Meaning *>;
constexpr int64_t kDyn = ShapedType::kDynamic;

/// Static dims of a ranked value (kDynamic for dynamic ones); nullopt when
/// unranked.
std::optional<SmallVector<int64_t>> dimsOf(Value v) {
  auto type = v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
  if (!type)
    return std::nullopt;
  return SmallVector<int64_t>(type.getShape());
}

bool isFloatValue(Value v) {
  auto type = v ? dyn_cast<ShapedType>(v.getType()) : ShapedType();
  return type && isa<FloatType>(type.getElementType());
}
bool isIntValue(Value v) {
  auto type = v ? dyn_cast<ShapedType>(v.getType()) : ShapedType();
  return type && type.getElementType().isInteger();
}

std::optional<int64_t> normAxis(int64_t axis, int64_t rank) {
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis >= rank)
    return std::nullopt;
  return axis;
}

/// Integers of a constant meaning.
std::optional<SmallVector<int64_t>> intsOf(const Meaning &m) {
  if (m.kind != Kind::Const || !m.constant ||
      !m.constant.getElementType().isInteger())
    return std::nullopt;
  SmallVector<int64_t> out;
  for (const APInt &v : m.constant.getValues<APInt>())
    out.push_back(v.getSExtValue());
  return out;
}

/// Integers given by attribute `attr` (older opsets) or by operand `i`.
std::optional<SmallVector<int64_t>> intsArg(NodeOp node, Ins ins, unsigned i,
                                            StringRef attr) {
  if (std::optional<SmallVector<int64_t>> a = node.getIntsAttr(attr))
    return a;
  if (i < ins.size())
    return intsOf(*ins[i]);
  return std::nullopt;
}

bool present(NodeOp node, unsigned i) {
  return i < node.getInputs().size() &&
         !node.getInputs()[i].getDefiningOp<onnx::NoneOp>();
}

/// Kinds whose axes the transfer functions track.
bool hasAxes(const Meaning &m) {
  return m.kind == Kind::Positions || m.kind == Kind::InvFreq || m.isTable();
}

Meaning noRule(NodeOp node, StringRef what) {
  return Meaning::unknown((node.getOpType() + ": " + what).str());
}

/// Removes axis `i` selecting index `sel` of it: a row axis binds the
/// selected row (and its slot) to the channels, or to the tensor.
bool dropAxis(Meaning &m, int64_t i, int64_t sel) {
  Axis &a = m.axes[i];
  switch (a.role) {
  case AxisRole::Bcast:
  case AxisRole::Batch:
  case AxisRole::Seq:
  case AxisRole::Token:
  case AxisRole::CacheRow:
    // Callers only drop those when they have size 1 (or broadcast).
    break;
  case AxisRole::Row: {
    if (sel < 0 || sel >= static_cast<int64_t>(a.rows.size()))
      return false;
    int8_t row = a.rows[sel].row, slot = a.rows[sel].slot;
    int64_t c = m.axisOf(AxisRole::Chan);
    if (c >= 0) {
      for (Channel &ch : m.axes[c].chans)
        if (ch.slot < 0) {
          ch.slot = slot;
          ch.row = row;
        }
    } else {
      m.slot = slot;
      m.row = row;
    }
    break;
  }
  case AxisRole::Chan:
  case AxisRole::Other:
    return false;
  }
  m.axes.erase(m.axes.begin() + i);
  return true;
}

/// The meaning of a Range(0, N) used as positions: its index along its
/// one non-unit axis is a sequence position.
std::optional<Meaning> iotaAsPositions(const Meaning &m,
                                       ArrayRef<int64_t> dims) {
  if (m.kind != Kind::Iota)
    return std::nullopt;
  Meaning p;
  p.kind = Kind::Positions;
  p.src = m.src;
  int64_t nonUnit = 0;
  for (int64_t d : dims) {
    p.axes.push_back(Axis::of(d == 1 ? AxisRole::Bcast : AxisRole::Seq));
    nonUnit += d != 1;
  }
  if (nonUnit != 1)
    return std::nullopt;
  return p;
}

//===----------------------------------------------------------------------===//
// Shapes of values: Reshape, Unsqueeze, Squeeze, Flatten, Expand, Tile,
// Transpose.
//===----------------------------------------------------------------------===//

bool compatible(int64_t a, int64_t b) {
  return a == kDyn || b == kDyn || a == b;
}

/// The axes of a reshape from `in` dims to `out` dims (row-major order
/// kept): unit axes come and go; the rest map one to one, or (batch, seq)
/// merge into token, or token splits into (batch, seq).
std::optional<Meaning> reshapeMeaning(Meaning m, ArrayRef<int64_t> in,
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
    m.axes.push_back(d == 1 ? Axis::of(AxisRole::Bcast) : *it++);
  return m;
}

/// Output dims of a Reshape: its result type, else its constant shape
/// operand (0 copies the input dim, -1 is inferred).
std::optional<SmallVector<int64_t>> reshapeDims(NodeOp node, Ins ins,
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

Meaning reshapeLike(NodeOp node, const Meaning &m, ArrayRef<int64_t> in,
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
SmallVector<int64_t> knownDims(const Meaning &m) {
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
/// 3 long at the front of a [3, B, S] int tensor is three copies of its row.
bool broadcastAxis(Meaning &m, int64_t i, int64_t to, Value result,
                   int64_t times) {
  Axis &a = m.axes[i];
  if (a.role == AxisRole::Bcast) {
    if (m.kind == Kind::Positions && i == 0 && times == 3 && to == 3 &&
        isIntValue(result) && dimsOf(result) && dimsOf(result)->size() == 3) {
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
  std::optional<SmallVector<int64_t>> in = dimsOf(data);
  std::optional<SmallVector<int64_t>> out = dimsOf(node.getResult(0));
  if (!in || !out || out->size() < in->size())
    return noRule(node, "unranked");
  // Dims the result type leaves open may be known from the shape operand.
  SmallVector<int64_t> target = knownDims(*ins[1]);
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
    if (from[i] != 1 || (*out)[i] == 1)
      continue;
    if (!broadcastAxis(r, i, (*out)[i], node.getResult(0), (*out)[i]))
      return noRule(node, "broadcasts an axis that is not unit");
  }
  return r;
}

Meaning tile(NodeOp node, Ins ins) {
  std::optional<SmallVector<int64_t>> repeats = intsOf(*ins[1]);
  std::optional<SmallVector<int64_t>> in = dimsOf(node.getInputs()[0]);
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
  std::optional<SmallVector<int64_t>> in = dimsOf(node.getInputs()[0]);
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
      r.axes.insert(r.axes.begin() + i, Axis::of(AxisRole::Bcast));
  return r;
}

Meaning squeeze(NodeOp node, Ins ins) {
  std::optional<SmallVector<int64_t>> in = dimsOf(node.getInputs()[0]);
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

//===----------------------------------------------------------------------===//
// Selection: Slice, Split, Gather, Concat
//===----------------------------------------------------------------------===//

/// Keeps indices [start, end) step `step` of axis `i`.
bool sliceAxis(Meaning &m, int64_t i, int64_t start, int64_t end, int64_t step,
               int64_t dim) {
  Axis &a = m.axes[i];
  auto pick = [&](auto &list) {
    int64_t n = static_cast<int64_t>(list.size());
    auto clampIdx = [&](int64_t v) {
      if (v < 0)
        v += n;
      return std::clamp<int64_t>(v, step < 0 ? -1 : 0, step < 0 ? n - 1 : n);
    };
    int64_t s = clampIdx(start), e = clampIdx(end);
    std::remove_reference_t<decltype(list)> kept;
    for (int64_t k = s; step > 0 ? k < e : k > e; k += step)
      kept.push_back(list[k]);
    list = kept;
    return true;
  };
  switch (a.role) {
  case AxisRole::Chan:
    return step != 0 && pick(a.chans);
  case AxisRole::Row:
    return step != 0 && pick(a.rows);
  case AxisRole::Bcast:
    return true;
  case AxisRole::CacheRow:
    // cache[:n]: rows still stand for their own positions.
    return start == 0 && step == 1;
  default:
    // The whole axis, nothing else.
    return start == 0 && step == 1 &&
           (end >= std::numeric_limits<int32_t>::max() ||
            (dim != kDyn && end >= dim));
  }
}

Meaning slice(NodeOp node, Ins ins) {
  const Meaning &m = *ins[0];
  if (!hasAxes(m))
    return noRule(node, "operand without tracked axes");
  std::optional<SmallVector<int64_t>> starts = intsArg(node, ins, 1, "starts");
  std::optional<SmallVector<int64_t>> ends = intsArg(node, ins, 2, "ends");
  std::optional<SmallVector<int64_t>> axes =
      present(node, 3) || node.getOnnxAttr("axes")
          ? intsArg(node, ins, 3, "axes")
          : std::optional<SmallVector<int64_t>>(SmallVector<int64_t>{});
  std::optional<SmallVector<int64_t>> steps =
      present(node, 4)
          ? intsArg(node, ins, 4, "steps")
          : std::optional<SmallVector<int64_t>>(SmallVector<int64_t>{});
  std::optional<SmallVector<int64_t>> dims = dimsOf(node.getInputs()[0]);
  if (!starts || !ends || !axes || !steps || !dims ||
      starts->size() != ends->size())
    return noRule(node, "bounds not constant");
  Meaning r = m;
  for (size_t k = 0; k < starts->size(); ++k) {
    int64_t axis = k < axes->size() ? (*axes)[k] : static_cast<int64_t>(k);
    std::optional<int64_t> n = normAxis(axis, r.axes.size());
    int64_t step = k < steps->size() ? (*steps)[k] : 1;
    if (!n || !sliceAxis(r, *n, (*starts)[k], (*ends)[k], step, (*dims)[*n]))
      return noRule(node, "slices an axis it cannot follow");
  }
  return r;
}

Meaning split(NodeOp node, unsigned index, Ins ins) {
  const Meaning &m = *ins[0];
  if (!hasAxes(m))
    return noRule(node, "operand without tracked axes");
  std::optional<int64_t> axis =
      normAxis(node.getIntAttr("axis").value_or(0), m.axes.size());
  if (!axis)
    return noRule(node, "axis out of range");
  const Axis &a = m.axes[*axis];
  int64_t n = a.role == AxisRole::Chan  ? a.chans.size()
              : a.role == AxisRole::Row ? a.rows.size()
                                        : -1;
  if (n < 0)
    return noRule(node, "splits an axis other than channels or rows");
  bool given = present(node, 1) || node.getOnnxAttr("split");
  std::optional<SmallVector<int64_t>> sizes =
      given ? intsArg(node, ins, 1, "split") : std::nullopt;
  if (given && !sizes)
    return noRule(node, "split sizes not constant");
  if (!sizes) {
    // No sizes: equal parts (the last one smaller, opset 18).
    int64_t parts = node->getNumResults();
    int64_t each = (n + parts - 1) / parts;
    sizes.emplace();
    for (int64_t p = 0, left = n; p < parts; ++p, left -= each)
      sizes->push_back(std::min(each, left));
  }
  if (index >= sizes->size())
    return noRule(node, "more outputs than split sizes");
  int64_t start = 0;
  for (unsigned i = 0; i < index; ++i)
    start += (*sizes)[i];
  Meaning r = m;
  if (!sliceAxis(r, *axis, start, start + (*sizes)[index], 1, n))
    return noRule(node, "split out of range");
  return r;
}

/// Whether axis `axis` of table `m` indexes the position a row is computed
/// for: a cache row axis, or the one position axis of a table computed
/// from a Range (inv_freq times arange(M): row m is position m).
bool isCacheAxis(const Meaning &m, int64_t axis) {
  if (m.axes[axis].role == AxisRole::CacheRow)
    return true;
  if (m.axes[axis].role != AxisRole::Seq || m.src3D || m.copiedAt || !m.src)
    return false;
  // Channels bound to position rows were built per token, not per position.
  for (const Axis &a : m.axes)
    for (const Channel &c : a.chans)
      if (c.slot >= 0)
        return false;
  auto range = m.src.getDefiningOp<NodeOp>();
  if (!range || !range.isOnnx("Range"))
    return false;
  for (auto [i, a] : llvm::enumerate(m.axes))
    if (static_cast<int64_t>(i) != axis && a.role != AxisRole::Bcast &&
        a.role != AxisRole::Chan)
      return false;
  return true;
}

/// Gather(data, index, axis) where data is a table with a cache-row axis
/// and index holds positions: the table read at those positions.
Meaning readTable(NodeOp node, const Meaning &table, const Meaning &idx,
                  int64_t axis) {
  Meaning r = table;
  r.src = idx.src;
  r.src3D = idx.src3D;
  r.row = idx.row;
  r.slot = idx.slot;
  r.copiedAt = idx.copiedAt;
  r.axes.erase(r.axes.begin() + axis);
  r.axes.insert(r.axes.begin() + axis, idx.axes.begin(), idx.axes.end());
  // A channel takes the index's fixed row, if any.
  for (Axis &a : r.axes)
    for (Channel &c : a.chans)
      if (c.slot < 0 && idx.slot >= 0) {
        c.slot = idx.slot;
        c.row = idx.row;
      }
  if (r.axisOf(AxisRole::Chan) >= 0) {
    r.row = -1;
    r.slot = -1;
  }
  (void)node;
  return r;
}

Meaning gather(NodeOp node, Ins ins) {
  const Meaning &data = *ins[0], &idx = *ins[1];
  int64_t rank = data.axes.size();
  if (data.kind == Kind::Shape || (data.kind == Kind::Const && !data.constant))
    return data.kind == Kind::Shape ? data : noRule(node, "data");
  if (data.kind == Kind::Const) {
    // Fold a 1D integer constant gathered by constants (shape arithmetic).
    std::optional<SmallVector<int64_t>> values = intsOf(data);
    std::optional<SmallVector<int64_t>> at = intsOf(idx);
    if (!values || !at || !idx.constant ||
        cast<ShapedType>(data.constant.getType()).getRank() != 1)
      return idx.kind == Kind::Shape ? idx : noRule(node, "constant data");
    SmallVector<int64_t> out;
    for (int64_t i : *at) {
      int64_t k = i < 0 ? i + values->size() : i;
      if (k < 0 || k >= static_cast<int64_t>(values->size()))
        return noRule(node, "index out of range");
      out.push_back((*values)[k]);
    }
    Meaning r;
    r.kind = Kind::Const;
    auto type = RankedTensorType::get(
        cast<ShapedType>(idx.constant.getType()).getShape(),
        data.constant.getElementType());
    SmallVector<APInt> bits;
    unsigned width = data.constant.getElementType().getIntOrFloatBitWidth();
    for (int64_t v : out)
      bits.push_back(APInt(width, v, /*isSigned=*/true));
    r.constant = DenseElementsAttr::get(type, bits);
    return r;
  }
  if (!hasAxes(data))
    return noRule(node, "data without tracked axes");
  std::optional<int64_t> axis =
      normAxis(node.getIntAttr("axis").value_or(0), rank);
  if (!axis)
    return noRule(node, "axis out of range");
  const Axis &a = data.axes[*axis];
  // A table read at positions.
  if (isCacheAxis(data, *axis)) {
    Meaning p = idx;
    if (idx.kind == Kind::Iota) {
      std::optional<SmallVector<int64_t>> dims = dimsOf(node.getInputs()[1]);
      std::optional<Meaning> asPos =
          dims ? iotaAsPositions(idx, *dims) : std::nullopt;
      if (!asPos)
        return noRule(node, "table read by a flat token index");
      p = *asPos;
    }
    if (p.kind != Kind::Positions)
      return noRule(node, "table read by an index that is not positions");
    return readTable(node, data, p, *axis);
  }
  // Constant selections along rows, channels or a broadcast axis.
  std::optional<SmallVector<int64_t>> at = intsOf(idx);
  if (!at || !idx.constant)
    return noRule(node, "index is neither positions nor a constant");
  int64_t idxRank = cast<ShapedType>(idx.constant.getType()).getRank();
  Meaning r = data;
  int64_t n = a.role == AxisRole::Chan  ? a.chans.size()
              : a.role == AxisRole::Row ? a.rows.size()
                                        : -1;
  auto norm = [&](int64_t i) { return i < 0 && n > 0 ? i + n : i; };
  if (idxRank == 0) {
    if (a.role == AxisRole::Bcast) {
      r.axes.erase(r.axes.begin() + *axis);
      return r;
    }
    if (a.role != AxisRole::Row || !dropAxis(r, *axis, norm((*at)[0])))
      return noRule(node, "selects one index of an axis it cannot drop");
    return r;
  }
  if (idxRank != 1)
    return noRule(node, "index of rank > 1");
  Axis &out = r.axes[*axis];
  if (a.role == AxisRole::Bcast)
    return r;
  if (a.role != AxisRole::Row && a.role != AxisRole::Chan)
    return noRule(node, "selects along an axis it cannot follow");
  Axis kept = Axis::of(a.role);
  for (int64_t i : *at) {
    int64_t k = norm(i);
    if (k < 0 || k >= n)
      return noRule(node, "index out of range");
    if (a.role == AxisRole::Row)
      kept.rows.push_back(a.rows[k]);
    else
      kept.chans.push_back(a.chans[k]);
  }
  out = kept;
  return r;
}

/// Concat of tables that agree on everything but the concat axis.
Meaning concat(NodeOp node, Ins ins) {
  if (llvm::any_of(ins,
                   [](const Meaning *m) { return m->kind == Kind::Shape; }))
    return llvm::all_of(ins,
                        [](const Meaning *m) {
                          return m->kind == Kind::Shape ||
                                 m->kind == Kind::Const;
                        })
               ? *ins[0]
               : noRule(node, "shape and non-shape");
  const Meaning &first = *ins[0];
  if (first.kind == Kind::Const) {
    // Fold 1D integer constants.
    SmallVector<APInt> all;
    Type elem;
    for (const Meaning *m : ins) {
      if (m->kind != Kind::Const || !m->constant ||
          cast<ShapedType>(m->constant.getType()).getRank() != 1 ||
          !m->constant.getElementType().isInteger())
        return noRule(node, "constants of rank other than 1");
      elem = m->constant.getElementType();
      llvm::append_range(all, m->constant.getValues<APInt>());
    }
    Meaning r;
    r.kind = Kind::Const;
    r.constant = DenseElementsAttr::get(
        RankedTensorType::get({static_cast<int64_t>(all.size())}, elem), all);
    return r;
  }
  if (!hasAxes(first))
    return noRule(node, "operands without tracked axes");
  std::optional<int64_t> axis =
      normAxis(node.getIntAttr("axis").value_or(0), first.axes.size());
  if (!axis)
    return noRule(node, "axis out of range");
  Meaning r = first;
  Axis &at = r.axes[*axis];
  bool rowsLike = first.kind == Kind::Positions &&
                  (at.role == AxisRole::Bcast || at.role == AxisRole::Row);
  if (rowsLike) {
    // Rows stacked: each operand gives its rows (or its one row).
    SmallVector<int8_t> rows;
    for (const Meaning *m : ins) {
      // (The stacked rows get new slots: their index in the result.)
      if (m->kind != Kind::Positions || m->axes.size() != first.axes.size() ||
          m->src != first.src || m->src3D != first.src3D)
        return noRule(node, "rows of different sources");
      const Axis &ax = m->axes[*axis];
      if (ax.role == AxisRole::Row)
        for (RowRef r : ax.rows)
          rows.push_back(r.row);
      else if (ax.role == AxisRole::Bcast)
        rows.push_back(m->row);
      else
        return noRule(node, "stacks an axis that is not rows");
      for (size_t i = 0; i < m->axes.size(); ++i)
        if (i != static_cast<size_t>(*axis) && !(m->axes[i] == first.axes[i]))
          return noRule(node, "operands differ off the concat axis");
    }
    at = Axis::of(AxisRole::Row);
    for (auto [i, r] : llvm::enumerate(rows))
      at.rows.push_back(RowRef{static_cast<int8_t>(i), r});
    r.row = -1;
    r.slot = -1;
    // Rows that are all one row (or all the one 1D tensor) are copies.
    if (llvm::all_equal(rows) && rows.size() > 1 && !r.copiedAt)
      r.copiedAt = node.getResult(0);
    return r;
  }
  if (at.role != AxisRole::Chan)
    return noRule(node, "concatenates an axis other than channels or rows");
  for (const Meaning *m : ins.drop_front()) {
    Meaning other = *m;
    if (other.axes.size() != first.axes.size() ||
        other.axes[*axis].role != AxisRole::Chan)
      return noRule(node, "operands differ");
    Meaning cmp = other;
    cmp.axes[*axis] = first.axes[*axis];
    if (!(cmp == first))
      return noRule(node, "operands differ off the concat axis");
    llvm::append_range(at.chans, other.axes[*axis].chans);
  }
  return r;
}

//===----------------------------------------------------------------------===//
// Products: Mul, MatMul, Einsum
//===----------------------------------------------------------------------===//

/// Element-wise combination of two axis roles under broadcasting.
std::optional<Axis> combineAxis(const Axis &a, const Axis &b) {
  if (a.role == AxisRole::Bcast)
    return b;
  if (b.role == AxisRole::Bcast || a == b)
    return a;
  return std::nullopt;
}

/// positions x inv_freq (either order), axes already aligned to the result.
Meaning product(NodeOp node, Meaning a, Meaning b) {
  if (b.kind == Kind::Positions || b.kind == Kind::Iota)
    std::swap(a, b);
  if (a.kind != Kind::Positions || b.kind != Kind::InvFreq)
    return noRule(node, "not positions times frequencies");
  if (a.axes.size() != b.axes.size())
    return noRule(node, "ranks differ");
  Meaning r = a;
  r.kind = Kind::Angle;
  r.invFreq = b.invFreq;
  for (size_t i = 0; i < a.axes.size(); ++i) {
    std::optional<Axis> c = combineAxis(a.axes[i], b.axes[i]);
    if (!c)
      return noRule(node, "axes of positions and frequencies clash");
    r.axes[i] = *c;
  }
  int64_t chan = r.axisOf(AxisRole::Chan);
  if (chan < 0)
    return noRule(node, "no channel axis");
  for (Channel &c : r.axes[chan].chans) {
    c.slot = a.slot;
    c.row = a.row;
  }
  r.row = -1;
  r.slot = -1;
  return r;
}

/// `m`'s axes right-aligned to `rank` (new leading axes broadcast).
std::optional<Meaning> alignTo(Meaning m, size_t rank,
                               std::optional<SmallVector<int64_t>> dims) {
  if (m.kind == Kind::Iota) {
    std::optional<Meaning> p = dims ? iotaAsPositions(m, *dims) : std::nullopt;
    if (!p)
      return std::nullopt;
    m = *p;
  }
  if (!hasAxes(m) || m.axes.size() > rank)
    return std::nullopt;
  m.axes.insert(m.axes.begin(), rank - m.axes.size(),
                Axis::of(AxisRole::Bcast));
  return m;
}

Meaning mul(NodeOp node, Ins ins) {
  // x * 1 (a constant one, e.g. attention scaling of RoPE caches).
  for (int k = 0; k < 2; ++k)
    if (ins[k]->kind == Kind::Const && ins[k]->constant &&
        ins[k]->constant.isSplat() &&
        isa<FloatType>(ins[k]->constant.getElementType()) &&
        ins[k]->constant.getSplatValue<APFloat>().convertToDouble() == 1.0)
      return *ins[1 - k];
  if (ins[0]->kind == Kind::Shape || ins[1]->kind == Kind::Shape)
    return ins[0]->kind == Kind::Shape ? *ins[0] : *ins[1];
  std::optional<SmallVector<int64_t>> out = dimsOf(node.getResult(0));
  if (!out)
    return noRule(node, "unranked");
  std::optional<Meaning> a =
      alignTo(*ins[0], out->size(), dimsOf(node.getInputs()[0]));
  std::optional<Meaning> b =
      alignTo(*ins[1], out->size(), dimsOf(node.getInputs()[1]));
  if (!a || !b)
    return noRule(node, "operands without tracked axes");
  return product(node, *a, *b);
}

Meaning matmul(NodeOp node, Ins ins) {
  // With an inner dimension of 1, A @ B is the broadcast product of
  // A[..., i, 0] and B[..., 0, j]: an outer product.
  std::optional<SmallVector<int64_t>> da = dimsOf(node.getInputs()[0]);
  std::optional<SmallVector<int64_t>> db = dimsOf(node.getInputs()[1]);
  std::optional<SmallVector<int64_t>> out = dimsOf(node.getResult(0));
  if (!da || !db || !out || da->size() < 2 || db->size() < 2 ||
      (da->back() != 1 && (*db)[db->size() - 2] != 1))
    return noRule(node, "not an outer product (inner dimension not 1)");
  std::optional<Meaning> a = alignTo(*ins[0], out->size(), da);
  std::optional<Meaning> b = alignTo(*ins[1], out->size(), db);
  if (!a || !b)
    return noRule(node, "operands without tracked axes");
  // A's last axis and B's second-to-last (both unit) are summed away.
  int64_t ia = static_cast<int64_t>(a->axes.size()) - 1;
  int64_t ib = static_cast<int64_t>(b->axes.size()) - 2;
  if (!dropAxis(*a, ia, 0) || !dropAxis(*b, ib, 0))
    return noRule(node, "inner axis not unit");
  a->axes.push_back(Axis::of(AxisRole::Bcast));
  b->axes.insert(b->axes.begin() + ib, Axis::of(AxisRole::Bcast));
  return product(node, *a, *b);
}

Meaning einsum(NodeOp node, Ins ins) {
  std::optional<StringRef> eq = node.getStringAttr("equation");
  if (!eq || ins.size() != 2)
    return noRule(node, "not a two-operand equation");
  std::string text;
  for (char c : *eq)
    if (c != ' ')
      text.push_back(c);
  StringRef lhs, rhs;
  std::tie(lhs, rhs) = StringRef(text).split("->");
  auto [t0, t1] = lhs.split(',');
  if (rhs.empty() || t1.empty() || text.find('.') != std::string::npos)
    return noRule(node, "implicit output or ellipsis");
  // Only outer products: every input letter is in the output, once.
  SmallVector<Meaning, 2> aligned;
  for (auto [k, term] : llvm::enumerate(SmallVector<StringRef>{t0, t1})) {
    Meaning m = *ins[k];
    if (m.kind == Kind::Iota) {
      std::optional<SmallVector<int64_t>> d = dimsOf(node.getInputs()[k]);
      std::optional<Meaning> p = d ? iotaAsPositions(m, *d) : std::nullopt;
      if (!p)
        return noRule(node, "Range of more than one axis");
      m = *p;
    }
    if (!hasAxes(m) || m.axes.size() != term.size())
      return noRule(node, "operand without tracked axes");
    Meaning r = m;
    r.axes.assign(rhs.size(), Axis::of(AxisRole::Bcast));
    for (auto [i, c] : llvm::enumerate(term)) {
      size_t at = rhs.find(c);
      if (at == StringRef::npos || term.count(c) != 1)
        return noRule(node, "sums over an index");
      r.axes[at] = m.axes[i];
    }
    aligned.push_back(r);
  }
  return product(node, aligned[0], aligned[1]);
}

//===----------------------------------------------------------------------===//
// Fused RoPE ops: a cache read by an index
//===----------------------------------------------------------------------===//

/// Per-channel M-RoPE slot of `sections` (contiguous or Qwen3-VL
/// interleaved).
SmallVector<int8_t> slotsOf(ArrayRef<int64_t> sections, bool interleaved) {
  SmallVector<int8_t> slots;
  int64_t total = 0;
  for (int64_t s : sections)
    total += s;
  for (int64_t f = 0; f < total; ++f) {
    int8_t slot = 0;
    if (interleaved) {
      for (int64_t a = 1; a < static_cast<int64_t>(sections.size()); ++a)
        if (f % static_cast<int64_t>(sections.size()) == a &&
            f < static_cast<int64_t>(sections.size()) * sections[a])
          slot = static_cast<int8_t>(a);
    } else {
      int64_t acc = 0;
      for (auto [a, s] : llvm::enumerate(sections)) {
        if (f >= acc && f < acc + s)
          slot = static_cast<int8_t>(a);
        acc += s;
      }
    }
    slots.push_back(slot);
  }
  return slots;
}

/// Constant [M, F] cos and sin caches as a per-position table: inv_freq
/// recovered as atan2(sin[1], cos[1]).
std::optional<Meaning> constantCaches(const Meaning &cos, const Meaning &sin) {
  if (cos.kind != Kind::Const || sin.kind != Kind::Const || !cos.constant ||
      !sin.constant || !isa<FloatType>(cos.constant.getElementType()))
    return std::nullopt;
  auto type = cast<ShapedType>(cos.constant.getType());
  if (type.getRank() != 2 || type.getDimSize(0) < 2 ||
      sin.constant.getType() != cos.constant.getType())
    return std::nullopt;
  int64_t f = type.getDimSize(1);
  auto c = cos.constant.getValues<APFloat>();
  auto s = sin.constant.getValues<APFloat>();
  Meaning m;
  m.kind = Kind::Cos;
  Axis chan = Axis::of(AxisRole::Chan);
  for (int64_t i = 0; i < f; ++i) {
    m.invFreq.push_back(
        std::atan2(s[f + i].convertToDouble(), c[f + i].convertToDouble()));
    chan.chans.push_back(Channel{static_cast<int32_t>(i), -1, -1});
  }
  m.axes = {Axis::of(AxisRole::CacheRow), chan};
  return m;
}

Meaning fused(NodeOp node, Ins ins) {
  StringRef type = node.getOpType();
  bool ms = node.getDomain() == "com.microsoft";
  unsigned posAt, cosAt, sinAt;
  bool mrope = false;
  if (ms && (type == "RotaryEmbedding" || type == "MRotaryEmbedding")) {
    posAt = 1, cosAt = 2, sinAt = 3;
    mrope = type == "MRotaryEmbedding";
  } else if (node.isOnnx("RotaryEmbedding")) {
    cosAt = 1, sinAt = 2, posAt = 3;
  } else {
    if (node.getIntAttr("do_rotary").value_or(0) == 0)
      return noRule(node, "no rotary");
    cosAt = 7, sinAt = 8, posAt = 9;
  }
  if (!present(node, cosAt) || !present(node, sinAt))
    return noRule(node, "no caches");
  Meaning cos = *ins[cosAt], sin = *ins[sinAt];
  if (std::optional<Meaning> c = constantCaches(cos, sin)) {
    cos = *c;
    sin = *c;
    sin.kind = Kind::Sin;
  }
  Meaning same = sin;
  same.kind = Kind::Cos;
  if (cos.kind != Kind::Cos || sin.kind != Kind::Sin || !(same == cos))
    return noRule(node, "caches are not cos and sin of one angle table");
  int64_t chan = cos.axisOf(AxisRole::Chan);
  if (chan != static_cast<int64_t>(cos.axes.size()) - 1)
    return noRule(node, "caches without a last channel axis");
  Meaning r = cos;
  r.kind = Kind::Rotated;
  r.axes = {cos.axes[chan]};
  SmallVector<AxisRole> lead;
  for (size_t i = 0; i + 1 < cos.axes.size(); ++i)
    if (cos.axes[i].role != AxisRole::Bcast)
      lead.push_back(isCacheAxis(cos, i) ? AxisRole::CacheRow
                                         : cos.axes[i].role);
  bool hasPos = present(node, posAt);
  // Per-token caches: [B*S, F] read through the flat token index, or
  // [B, S, F] read directly (RotaryEmbedding-23 without position_ids).
  // (A table with one sequence axis and no batch axis is per token too:
  // batch 1.)
  if (lead == SmallVector<AxisRole>{AxisRole::Token} ||
      lead == SmallVector<AxisRole>{AxisRole::Seq}) {
    if (!hasPos || ins[posAt]->kind != Kind::Iota)
      return noRule(node, "per-token caches read by an index that is not the "
                          "flat token index");
    r.perToken = true;
    return r;
  }
  if (lead == SmallVector<AxisRole>{AxisRole::Batch, AxisRole::Seq} &&
      !hasPos) {
    r.perToken = true;
    return r;
  }
  if (lead != SmallVector<AxisRole>{AxisRole::CacheRow} || !hasPos)
    return noRule(node, "caches neither per position nor per token");
  // Per-position caches read at the positions.
  Meaning p = *ins[posAt];
  if (p.kind == Kind::Iota) {
    std::optional<SmallVector<int64_t>> d = dimsOf(node.getInputs()[posAt]);
    std::optional<Meaning> asPos = d ? iotaAsPositions(p, *d) : std::nullopt;
    if (!asPos)
      return noRule(node, "per-position caches read by a flat token index");
    p = *asPos;
  }
  if (p.kind != Kind::Positions)
    return noRule(node, "position_ids are not positions");
  r.src = p.src;
  r.src3D = p.src3D;
  r.copiedAt = p.copiedAt;
  r.row = -1;
  r.slot = -1;
  MutableArrayRef<Channel> chans = r.axes[0].chans;
  if (mrope) {
    if (p.axes.empty() || p.axes[0].role != AxisRole::Row ||
        p.axes[0].rows.size() != 3)
      return noRule(node, "positions without three rows");
    SmallVector<int64_t> sections =
        node.getIntsAttr("mrope_section").value_or(SmallVector<int64_t>{});
    SmallVector<int8_t> slots =
        slotsOf(sections, node.getIntAttr("mrope_layout").value_or(0) == 1);
    if (slots.size() != chans.size())
      return noRule(node, "mrope_section does not cover the channels");
    for (auto [c, s] : llvm::zip(chans, slots)) {
      c.slot = s;
      c.row = p.axes[0].rows[s].row;
    }
    return r;
  }
  if (p.axisOf(AxisRole::Row) >= 0)
    return noRule(node, "1D op fed positions with rows");
  for (Channel &c : chans) {
    c.slot = p.slot;
    c.row = p.row;
  }
  return r;
}

} // namespace

Meaning meaning::transferNode(NodeOp node, unsigned index, Ins ins) {
  StringRef op = node.getOpType();
  bool isStd = node.getDomain().empty() || node.getDomain() == "ai.onnx";
  bool ms = node.getDomain() == "com.microsoft";
  if (ms && (op == "RotaryEmbedding" || op == "MRotaryEmbedding" ||
             op == "GroupQueryAttention"))
    return index == 0 ? fused(node, ins) : noRule(node, "not the output");
  if (!isStd)
    return noRule(node, "no transfer function");
  if (op == "RotaryEmbedding")
    return fused(node, ins);
  if (ins.empty())
    return op == "Constant" ? meaningOfLeaf(node.getResult(0))
                            : noRule(node, "no transfer function");
  const Meaning &m = *ins[0];
  if (op == "Identity")
    return m;
  // Shape arithmetic: sizes of tensors, whatever is done with them.
  auto isShape = [](const Meaning *x) { return x->kind == Kind::Shape; };
  auto isShapeOrConst = [](const Meaning *x) {
    return x->kind == Kind::Shape || x->kind == Kind::Const;
  };
  if (llvm::any_of(ins, isShape) && llvm::all_of(ins, isShapeOrConst) &&
      llvm::is_contained({"Slice", "Gather", "Concat", "Unsqueeze", "Squeeze",
                          "Reshape", "Cast", "Mul", "Add", "Sub", "Div", "Max",
                          "Min", "ReduceProd"},
                         op))
    return shapeArithmetic(node, ins);
  // The linear index is the linear index in any shape.
  if ((op == "Reshape" || op == "Flatten" || op == "Squeeze" ||
       op == "Unsqueeze") &&
      m.kind == Kind::Iota)
    return m;
  if (op == "Cast") {
    // Positions are small integers: exact in f32 (below 2^24); float to
    // float keeps the table it rounds.
    bool toFloat = isFloatValue(node.getResult(0));
    bool fromFloat = isFloatValue(node.getInputs()[0]);
    bool ok =
        m.kind == Kind::Positions || m.kind == Kind::Iota ||
                m.kind == Kind::Shape || m.kind == Kind::Const
            ? (toFloat || isIntValue(node.getResult(0)))
            : (m.isTable() || m.kind == Kind::InvFreq) && toFloat && fromFloat;
    if (m.kind == Kind::Const && m.constant && (toFloat || fromFloat) &&
        node.getResult(0).getType() != node.getInputs()[0].getType())
      return noRule(node, "constant changes type");
    return ok ? m : noRule(node, "not a cast that keeps the values");
  }
  if (op == "Reshape" || op == "Flatten") {
    std::optional<SmallVector<int64_t>> in = dimsOf(node.getInputs()[0]);
    if (!in)
      return noRule(node, "unranked");
    std::optional<SmallVector<int64_t>> out;
    if (op == "Reshape") {
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
    if (!out)
      return noRule(node, "target shape unknown");
    return reshapeLike(node, m, *in, *out);
  }
  if (op == "Unsqueeze")
    return unsqueeze(node, ins);
  if (op == "Squeeze")
    return squeeze(node, ins);
  if (op == "Expand")
    return expand(node, ins);
  if (op == "Tile")
    return tile(node, ins);
  if (op == "Transpose")
    return transpose(node, ins);
  if (op == "Concat")
    return concat(node, ins);
  if (op == "Split")
    return split(node, index, ins);
  if (op == "Slice")
    return slice(node, ins);
  if (op == "Gather")
    return gather(node, ins);
  if (op == "Mul")
    return mul(node, ins);
  if (op == "MatMul")
    return matmul(node, ins);
  if (op == "Einsum")
    return einsum(node, ins);
  if (op == "Cos" || op == "Sin") {
    if (m.kind != Kind::Angle)
      return noRule(node, "not of an angle");
    Meaning r = m;
    r.kind = op == "Cos" ? Kind::Cos : Kind::Sin;
    r.table = stripTransparent(node.getInputs()[0]);
    return r;
  }
  if (op == "Range") {
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
  if (op == "Where") {
    if (ins.size() == 3 && *ins[1] == *ins[2])
      return *ins[1];
    return noRule(node, "branches differ");
  }
  if (op == "Shape" || op == "Size") {
    Meaning r;
    r.kind = Kind::Shape;
    std::optional<SmallVector<int64_t>> d = dimsOf(node.getInputs()[0]);
    if (op == "Shape" && d && !node.getOnnxAttr("start") &&
        !node.getOnnxAttr("end"))
      for (int64_t x : *d)
        r.shapeDims.push_back(x == kDyn ? -1 : x);
    return r;
  }
  if (op == "ConstantOfShape") {
    if (std::optional<DenseElementsAttr> v =
            match::constantOf(node.getResult(0), 1 << 16)) {
      Meaning r;
      r.kind = Kind::Const;
      r.constant = *v;
      return r;
    }
    return noRule(node, "shape not constant");
  }
  if (op == "Add" || op == "Sub" || op == "Div") {
    // Shape arithmetic only.
    if (llvm::all_of(ins,
                     [](const Meaning *x) {
                       return x->kind == Kind::Shape || x->kind == Kind::Const;
                     }) &&
        llvm::any_of(ins,
                     [](const Meaning *x) { return x->kind == Kind::Shape; }))
      return **llvm::find_if(
          ins, [](const Meaning *x) { return x->kind == Kind::Shape; });
    return noRule(node, "only shape arithmetic is followed");
  }
  return noRule(node, "no transfer function");
}
