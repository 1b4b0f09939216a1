//===- TransferArith.cpp - Cast, products, Cos and Sin --------------------===//
//
// positions x inv_freq is an angle table however the product is spelled;
// Cos/Sin of it are the tables RoPE reads.
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
// Products: Mul, MatMul, Einsum
//===----------------------------------------------------------------------===//

/// Element-wise combination of two axis roles under broadcasting.
static std::optional<Axis> combineAxis(const Axis &a, const Axis &b) {
  if (a.role == AxisRole::Bcast)
    return b;
  if (b.role == AxisRole::Bcast || a == b)
    return a;
  return std::nullopt;
}

/// positions x inv_freq (either order), axes already aligned to the result.
static Meaning product(NodeOp node, Meaning a, Meaning b) {
  if (b.kind == Kind::Positions || b.kind == Kind::Iota)
    std::swap(a, b);
  if (a.kind != Kind::Positions || b.kind != Kind::InvFreq)
    return noRule(node, "not positions times frequencies");
  if (a.axes.size() != b.axes.size())
    return noRule(node, "ranks differ");
  Meaning r = a;
  r.kind = Kind::Angle;
  r.invFreq = b.invFreq;
  // A row axis that lines up with the channels, one position row per
  // channel (convert-rope-to-onnx gathers the rows by a per-channel index):
  // each channel takes its row's slot and source row.
  int64_t perChannelRows = -1;
  for (size_t i = 0; i < a.axes.size(); ++i) {
    if (a.axes[i].role == AxisRole::Row && b.axes[i].role == AxisRole::Chan &&
        a.axes[i].rows.size() == b.axes[i].chans.size() && perChannelRows < 0) {
      r.axes[i] = b.axes[i];
      for (auto [c, ref] : llvm::zip(r.axes[i].chans, a.axes[i].rows)) {
        c.slot = ref.slot;
        c.row = ref.row;
      }
      perChannelRows = static_cast<int64_t>(i);
      continue;
    }
    std::optional<Axis> c = combineAxis(a.axes[i], b.axes[i]);
    if (!c)
      return noRule(node, "axes of positions and frequencies clash");
    r.axes[i] = *c;
  }
  int64_t chan = r.axisOf(AxisRole::Chan);
  if (chan < 0)
    return noRule(node, "no channel axis");
  if (perChannelRows < 0)
    for (Channel &c : r.axes[chan].chans) {
      c.slot = a.slot;
      c.row = a.row;
    }
  r.row = -1;
  r.slot = -1;
  return r;
}

/// `m`'s axes right-aligned to `rank` (new leading axes broadcast).
static std::optional<Meaning>
alignTo(Meaning m, size_t rank, std::optional<SmallVector<int64_t>> dims) {
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
  std::optional<SmallVector<int64_t>> da = dimsOf(node.getInputs()[0], *ins[0]);
  std::optional<SmallVector<int64_t>> db = dimsOf(node.getInputs()[1], *ins[1]);
  // The result's rank is the larger operand rank (right-aligned
  // broadcasting), whether or not shape inference typed it.
  if (!da || !db)
    return noRule(node, "unranked");
  size_t rank = std::max(da->size(), db->size());
  std::optional<Meaning> a = alignTo(*ins[0], rank, da);
  std::optional<Meaning> b = alignTo(*ins[1], rank, db);
  if (!a || !b)
    return noRule(node, "operands without tracked axes");
  return product(node, *a, *b);
}

Meaning matmul(NodeOp node, Ins ins) {
  // With an inner dimension of 1, A @ B is the broadcast product of
  // A[..., i, 0] and B[..., 0, j]: an outer product.
  // The two inner dims are one dim, so one operand known to be 1 there is
  // enough. Dims and ranks come from the meanings where shape inference
  // gave up (positions reshaped by a target it cannot read); the result has
  // the larger rank (the batch dims broadcast).
  std::optional<SmallVector<int64_t>> da = dimsOf(node.getInputs()[0], *ins[0]);
  std::optional<SmallVector<int64_t>> db = dimsOf(node.getInputs()[1], *ins[1]);
  if (!da || !db || da->size() < 2 || db->size() < 2 ||
      (da->back() != 1 && (*db)[db->size() - 2] != 1))
    return noRule(node, "not an outer product (inner dimension not 1)");
  size_t rank = std::max(da->size(), db->size());
  std::optional<Meaning> a = alignTo(*ins[0], rank, da);
  std::optional<Meaning> b = alignTo(*ins[1], rank, db);
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
// Cast, Cos, Sin
//===----------------------------------------------------------------------===//

Meaning castValues(NodeOp node, Ins ins) {
  const Meaning &m = *ins[0];
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

Meaning trig(NodeOp node, Ins ins) {
  const Meaning &m = *ins[0];
  if (m.kind != Kind::Angle)
    return noRule(node, "not of an angle");
  Meaning r = m;
  r.kind = node.getOpType() == "Cos" ? Kind::Cos : Kind::Sin;
  r.table = stripTransparent(node.getInputs()[0]);
  return r;
}

} // namespace mrope::meaning::transfer
