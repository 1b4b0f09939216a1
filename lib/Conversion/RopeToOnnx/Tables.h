//===- Tables.h - cos/sin tables as ONNX nodes (internal) -------*- C++ -*-===//
//
// What the rope -> ONNX patterns share: the frequency table of a rope op,
// per-token cos/sin tables gathered by position rows, and the [M, F]
// position-indexed caches ONNX Runtime's fused ops take. Every angle is one
// f32 product f32(p) * inv_freq, as the reference forms it.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_LIB_CONVERSION_ROPETOONNX_TABLES_H
#define MROPE_LIB_CONVERSION_ROPETOONNX_TABLES_H

#include "mrope/Dialect/Onnx/IR/OnnxBuilder.h"
#include "mrope/Dialect/Rope/IR/RopeAttrs.h"

#include "mlir/IR/PatternMatch.h"

#include <optional>
#include <utility>

namespace mrope::rope_to_onnx {

/// The frequency table of a rope op: `invFreq`'s constant contents, or the
/// table recomputed from theta; nullopt when `invFreq` is not constant.
std::optional<llvm::SmallVector<float>> frequencyTable(mlir::Value invFreq,
                                                       rope::SemanticsAttr sem);

/// Per-token cos/sin [B, S, C] of `positions` ([A, B, S], or [B, S] for one
/// axis): channel c rotates by row `rows[c]` at frequency `inv[c]`. Cast to
/// `elem` when it is not f32.
std::pair<mlir::Value, mlir::Value>
emitTokenTables(onnx::OnnxBuilder &emit, mlir::OpBuilder &b,
                mlir::Value positions, llvm::ArrayRef<int64_t> rows,
                llvm::ArrayRef<float> inv, mlir::Type elem);

/// Position-indexed caches [M, F], M = max(max(positions) + 1, S) (ONNX
/// Runtime wants a row per token at least), row p holding
/// cos/sin(f32(p) * inv[i]): what com.microsoft.RotaryEmbedding takes for
/// 1D positions.
std::pair<mlir::Value, mlir::Value>
emitPositionCaches(onnx::OnnxBuilder &emit, mlir::OpBuilder &b,
                   mlir::Value positions, llvm::ArrayRef<float> inv,
                   mlir::Type elem);

/// Replaces `op` by `results`, then erases its frequency table initializer
/// `invFreq` when nothing else reads it (its values now live in the new
/// nodes' initializers).
void replaceDroppingTable(mlir::PatternRewriter &rewriter, mlir::Operation *op,
                          mlir::ValueRange results, mlir::Value invFreq);

} // namespace mrope::rope_to_onnx

#endif // MROPE_LIB_CONVERSION_ROPETOONNX_TABLES_H
