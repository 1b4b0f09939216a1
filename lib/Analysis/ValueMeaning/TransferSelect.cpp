//===- TransferSelect.cpp - Slice, Split, Gather*, Concat -----------------===//
//
// Selections along rows, channels and cache rows: which source row and
// which frequency each index holds afterwards.
//
//===----------------------------------------------------------------------===//
#include "Transfer.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace mlir;
using mrope::onnx::NodeOp;

namespace mrope::meaning::transfer {

//===----------------------------------------------------------------------===//
// Selection: Slice, Split, Gather, Concat
//===----------------------------------------------------------------------===//

/// Keeps indices [start, end) step `step` of axis `i`.
static bool sliceAxis(Meaning &m, int64_t i, int64_t start, int64_t end,
                      int64_t step, int64_t dim) {
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
  std::optional<SmallVector<int64_t>> dims = dimsOf(node.getInputs()[0], m);
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

/// A table read at positions `idx`: the result has `axes` (the index's
/// axes in place of the cache row) and the index's source; channels take
/// the index's fixed row, if any.
static Meaning readTable(const Meaning &table, const Meaning &idx,
                         SmallVector<Axis, 4> axes) {
  Meaning r = table;
  r.src = idx.src;
  r.src3D = idx.src3D;
  r.row = idx.row;
  r.slot = idx.slot;
  r.copiedAt = idx.copiedAt;
  r.axes = std::move(axes);
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
  return r;
}

/// The index of a table read as positions (a Range as arange); nullopt
/// when it holds something else.
static std::optional<Meaning> positionsIndex(NodeOp node, unsigned operand,
                                             const Meaning &idx) {
  if (idx.kind == Kind::Iota) {
    std::optional<SmallVector<int64_t>> dims =
        dimsOf(node.getInputs()[operand]);
    return dims ? iotaAsPositions(idx, *dims) : std::nullopt;
  }
  if (idx.kind != Kind::Positions)
    return std::nullopt;
  return idx;
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
    if (idx.kind == Kind::Iota && !positionsIndex(node, 1, idx))
      return noRule(node, "table read by a flat token index");
    std::optional<Meaning> p = positionsIndex(node, 1, idx);
    if (!p)
      return noRule(node, "table read by an index that is not positions");
    SmallVector<Axis, 4> axes(data.axes.begin(), data.axes.end());
    axes.erase(axes.begin() + *axis);
    axes.insert(axes.begin() + *axis, p->axes.begin(), p->axes.end());
    return readTable(data, *p, std::move(axes));
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

/// GatherElements(data, index, axis): out[.., i, ..] = data[.., index[.., i,
/// ..], ..] element by element. A table read at positions when `axis` is
/// the table's cache row: the result takes the index's role on that axis;
/// on every other axis the index must not vary where the table does (the
/// positions broadcast over the channels: [S, 1] expanded to [S, F]).
Meaning gatherElements(NodeOp node, Ins ins) {
  const Meaning &data = *ins[0], &idx = *ins[1];
  if (!data.isTable())
    return noRule(node, "data is not a table");
  std::optional<int64_t> axis =
      normAxis(node.getIntAttr("axis").value_or(0), data.axes.size());
  if (!axis || !isCacheAxis(data, *axis))
    return noRule(node, "gathers along an axis that is not a cache row");
  std::optional<Meaning> p = positionsIndex(node, 1, idx);
  if (!p || p->axes.size() != data.axes.size())
    return noRule(node, "index is not positions of the table's rank");
  SmallVector<Axis, 4> axes;
  for (auto [i, d] : llvm::enumerate(data.axes)) {
    const Axis &x = p->axes[i];
    if (static_cast<int64_t>(i) == *axis) {
      axes.push_back(x);
      continue;
    }
    // Elsewhere out[i] = data[i]: the table's role, where the positions do
    // not vary (or both are the same axis: batch with batch).
    if (x.role == AxisRole::Bcast)
      axes.push_back(d);
    else if (d.role == AxisRole::Bcast || d == x)
      axes.push_back(x);
    else
      return noRule(node, "index varies along an axis of the table");
  }
  return readTable(data, *p, std::move(axes));
}

/// GatherND(data, index) with batch_dims 0 and one coordinate per index
/// ([..., 1]): data's first axis read at the index, the cache-row lookup
/// `cache[pos[..., None]]`. The result has the index's axes (less the last)
/// followed by the table's other axes.
Meaning gatherND(NodeOp node, Ins ins) {
  const Meaning &data = *ins[0], &idx = *ins[1];
  if (!data.isTable())
    return noRule(node, "data is not a table");
  if (node.getIntAttr("batch_dims").value_or(0) != 0)
    return noRule(node, "batch_dims not 0");
  if (data.axes.empty() || !isCacheAxis(data, 0))
    return noRule(node, "first axis is not a cache row");
  std::optional<Meaning> p = positionsIndex(node, 1, idx);
  std::optional<SmallVector<int64_t>> dims =
      p ? dimsOf(node.getInputs()[1], *p) : std::nullopt;
  if (!p || !dims || dims->empty() || dims->back() != 1 ||
      p->axes.size() != dims->size() || p->axes.back().role != AxisRole::Bcast)
    return noRule(node, "index is not positions with one coordinate");
  SmallVector<Axis, 4> axes(p->axes.begin(), p->axes.end() - 1);
  axes.append(data.axes.begin() + 1, data.axes.end());
  return readTable(data, *p, std::move(axes));
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

} // namespace mrope::meaning::transfer
