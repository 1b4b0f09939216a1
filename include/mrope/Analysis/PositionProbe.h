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
LeafMeaning probeLeafMeaning(mlir::Value leaf, mlir::Value rows);

/// Shapes of the graph inputs for a probe of `tokens` tokens: batch 1 (by
/// the dim names, and the batch dim of `positions` whatever its name), past
/// length 0, every other dynamic dim `tokens`.
void bindProbeInputShapes(eval::Evaluator &ev, onnx::GraphOp graph,
                          int64_t tokens, mlir::Value positions = {});

} // namespace mrope

#endif // MROPE_ANALYSIS_POSITIONPROBE_H
