//===- RopeNeighbours.h - what a rotation's operand and result meet -*- C++
//-*-===//
//
// The neighbours a fused kernel can absorb (mrope-compile --fuse norm,cache):
// an RMSNorm over the head dim that produces the rotated operand, and a
// KV-cache write that appends the rotated result to the past along the
// sequence axis. Both are read by meaning, not spelling:
//  - the norm: ORT's SimplifiedLayerNormalization over the last axis, or any
//    subgraph of elementwise ops and reductions over one float value h that
//    the in-tree evaluator shows computes w * h / sqrt(mean(h^2) + eps) on a
//    probe (w the [D] constant it multiplies by, or 1; eps a scalar constant
//    of the subgraph), seen through layout ops that keep D last;
//  - the cache write: a Concat, reached through Transposes (the axis is
//    followed through their permutations), whose last operand is the
//    rotated value and whose axis is its sequence axis.
// And graph inputs by what the graph does with them, never by their names:
// past KV caches (pastCacheInputs), and what get_rope_index reads (the
// token ids, the attention mask, [N, 3] grids).
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_ANALYSIS_ROPENEIGHBOURS_H
#define MROPE_ANALYSIS_ROPENEIGHBOURS_H

#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

#include <optional>

namespace mrope {

/// An RMSNorm over the last (head) axis producing a rotated operand.
struct RmsNormNeighbour {
  onnx::NodeOp output; ///< the node whose result is the normalised value
  mlir::Value input;   ///< h, before the norm
  mlir::Value weight;  ///< the [D] scale, null when there is none
  double eps = 0;
};

/// A Concat appending a rotated result to the past along the sequence axis.
struct CacheWriteNeighbour {
  onnx::NodeOp concat;
  mlir::Value past;
  int64_t axis = 0; ///< in the Concat's layout
};

/// The RMSNorm that produces `x` (a rotated operand), if any. `headDim` and
/// `rank`: what the caller knows of x's shape where the graph left it
/// untyped.
std::optional<RmsNormNeighbour>
findRmsNormBefore(mlir::Value x, int64_t headDim, int64_t rank);

/// The cache write of `y` (a rotation's result), whose sequence axis is
/// `seqAxis` of y's shape, if any.
std::optional<CacheWriteNeighbour> findCacheWriteAfter(mlir::Value y,
                                                       int64_t seqAxis);

/// A graph input that is the past of a KV cache.
struct PastCacheInput {
  mlir::BlockArgument input;
  int64_t axis = 0;       ///< its past-length (sequence) axis
  int64_t batchAxis = -1; ///< its batch axis where an op's signature says
};

/// The graph inputs that are past KV caches, by meaning, in input order:
///  - the first operand of a two-operand Concat (reached through value
///    identities and Transposes, whose permutations the axis follows) that
///    appends a non-constant value of this step along one axis and whose
///    result the graph returns (through the same views): the cache the next
///    step is fed, grown by this step's keys or values;
///  - the past_key / past_value operands of com.microsoft
///    GroupQueryAttention, [batch, kv_heads, past, head_dim] by its
///    signature.
/// An input's name plays no part.
llvm::SmallVector<PastCacheInput> pastCacheInputs(onnx::GraphOp graph);

/// The graph inputs that are token ids, by meaning, in input order: integer
/// [B, S] inputs whose values index rows of a float [V, hidden] constant
/// (the indices of an embedding Gather whose result the graph reads,
/// through Identity, Cast, Reshape, Unsqueeze, Squeeze or Flatten), or the
/// input_ids of com.microsoft EmbedLayerNormalization. A RoPE cos/sin cache
/// gathered by positions has that form too: the caller sets aside the
/// inputs it knows to be positions.
llvm::SmallVector<mlir::BlockArgument> tokenIdsInputs(onnx::GraphOp graph);

/// The graph inputs that are attention masks, by meaning, in input order:
/// rank-2 inputs (integer, bool or float) that reach, through the ops a
/// mask computation is made of (views, casts, Not/And/Or, arithmetic,
/// comparisons with a constant, ReduceSum), one of
///  - a Where whose condition they are and that selects a constant of
///    -1e4 or less (a masked fill of the attention scores), or a Mul by such
///    a constant (the (1 - mask) * min bias), or a Softmax;
///  - CumSum (positions counted over the unpadded tokens);
///  - seqlens_k / total_sequence_length of com.microsoft
///    GroupQueryAttention (after a ReduceSum), the mask operand of
///    com.microsoft Attention / MultiHeadAttention or of ONNX Attention.
/// Under a KV cache its length axis is past + new tokens.
llvm::SmallVector<mlir::BlockArgument> attentionMaskInputs(onnx::GraphOp graph);

/// The graph inputs that are [N, 3] integer grids (t, h, w per image or
/// video), in input order.
llvm::SmallVector<mlir::BlockArgument> gridInputs(onnx::GraphOp graph);

} // namespace mrope

#endif // MROPE_ANALYSIS_ROPENEIGHBOURS_H
