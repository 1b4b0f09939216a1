//===- TransferCommon.cpp - shared by every transfer function -------------===//
//
// Operands, axes and reasons the op families share (Transfer.h).
//
//===----------------------------------------------------------------------===//
#include "Transfer.h"

#include "mrope/Analysis/OnnxMatchers.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>

using namespace mlir;
using mrope::onnx::NodeOp;

namespace mrope::meaning::transfer {

/// Static dims of a ranked value (kDynamic for dynamic ones); nullopt when
/// unranked.
std::optional<SmallVector<int64_t>> dimsOf(Value v) {
  auto type = v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
  if (!type)
    return std::nullopt;
  return SmallVector<int64_t>(type.getShape());
}

std::optional<SmallVector<int64_t>> dimsOf(Value v, const Meaning &m) {
  std::optional<SmallVector<int64_t>> dims = dimsOf(v);
  if (!hasAxes(m) || m.axes.empty())
    return dims;
  // Shape inference gives up on some spellings (a Split whose sizes pass
  // through a Cast, a Slice whose bounds pass through an Identity): the
  // meaning still knows the rank and the sizes of its channel and row axes.
  if (!dims)
    dims.emplace(m.axes.size(), kDyn);
  if (dims->size() != m.axes.size())
    return dims;
  for (auto [d, a] : llvm::zip(*dims, m.axes)) {
    if (d != kDyn)
      continue;
    if (a.role == AxisRole::Chan)
      d = static_cast<int64_t>(a.chans.size());
    else if (a.role == AxisRole::Bcast && a.unit)
      d = 1;
    else if (a.role == AxisRole::Row)
      d = static_cast<int64_t>(a.rows.size());
  }
  return dims;
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

} // namespace mrope::meaning::transfer
