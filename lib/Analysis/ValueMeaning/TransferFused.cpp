//===- TransferFused.cpp - fused RoPE ops ---------------------------------===//
//
// A fused RoPE op reads its cos/sin caches by an index: per position (at
// the positions) or per token (through the flat token index).
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
// Fused RoPE ops: a cache read by an index
//===----------------------------------------------------------------------===//

/// Per-channel M-RoPE slot of `sections` (contiguous or Qwen3-VL
/// interleaved).
static SmallVector<int8_t> slotsOf(ArrayRef<int64_t> sections,
                                   bool interleaved) {
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
static std::optional<Meaning> constantCaches(const Meaning &cos,
                                             const Meaning &sin) {
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

} // namespace mrope::meaning::transfer
