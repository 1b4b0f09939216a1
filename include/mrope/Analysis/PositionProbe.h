//===- PositionProbe.h - what an integer input means to positions -*- C++
//-*-===//
//
// A [B, S] integer graph input that a site's positions are built from is
// either the positions themselves or something they are computed from. The
// one that matters now is packing: `segment_ids` (0 = padding, 1..k = the
// samples packed into a row) from which the graph counts, per token, the
// earlier tokens of its own sample, so positions restart per sample. Which
// one it is is read off what the graph computes, not how it is spelled:
// the in-tree evaluator runs the rows on probe values of the input.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_ANALYSIS_POSITIONPROBE_H
#define MROPE_ANALYSIS_POSITIONPROBE_H

#include "mrope/Analysis/Evaluate.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

namespace mrope {

/// What the positions `rows` ([B, S], or [A, B, S] rows) compute from the
/// [B, S] integer graph input `leaf`.
enum class LeafMeaning {
  Unknown,   ///< the evaluator cannot tell (an op it does not know, ...)
  Positions, ///< every row is the input itself
  Segments,  ///< every row counts the earlier tokens of the same segment id
};

/// Runs `rows` on two probes of `leaf` (batch 1, 8 tokens): positions
/// 3..10, and segments [1, 1, 1, 2, 2, 2, 2, 0] (the padding token is not
/// compared). Unknown unless one probe matches exactly on every row.
/// `shape` (when given) gets the shape `rows` evaluated to on the probe
/// that matched: what the rows are, where shape inference left them
/// untyped (batch 1 and 8 tokens: [A, 1, 8] for A rows [A, B, S]).
LeafMeaning probeLeafMeaning(mlir::Value leaf, mlir::Value rows,
                             llvm::SmallVectorImpl<int64_t> *shape = nullptr);

/// Shapes of the graph inputs for a probe of `tokens` tokens, by what each
/// dynamic dim means, never by its name (exporters write batch_size, s0,
/// n ...; dims with one dim_param are one dim):
///  - past length 0: the past axis of the past KV caches
///    (pastCacheInputs, RopeNeighbours.h);
///  - batch 1: the batch dim of a [B, S] / [A, B, S] `positions` input, the
///    batch axis of a cache where the op reading it says (GroupQueryAttention),
///    and the dim the positions are laid out by when the graph computes
///    them (found by giving each dim a distinct size and reading the
///    positions' shapes back);
///  - `tokens` for every other dynamic dim (a mask over past + new tokens
///    has `tokens` entries, as the past is empty).
void bindProbeInputShapes(eval::Evaluator &ev, onnx::GraphOp graph,
                          int64_t tokens, mlir::Value positions = {});

} // namespace mrope

#endif // MROPE_ANALYSIS_POSITIONPROBE_H
