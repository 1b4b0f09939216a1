//===- RopeToOnnx.h - rope ops -> ONNX nodes --------------------*- C++ -*-===//
#ifndef MROPE_CONVERSION_ROPETOONNX_ROPETOONNX_H
#define MROPE_CONVERSION_ROPETOONNX_ROPETOONNX_H

#include "mlir/IR/PatternMatch.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/CommandLine.h"

#include <optional>

namespace mrope {

/// Which ONNX ops rope.apply becomes (convert-rope-to-onnx{emit=...},
/// mrope-fix-pipeline{emit=...}, mrope-fix --emit).
enum class EmitMode {
  /// Standard ops only (Gather, Cos, Sin, Mul, Slice, Concat, ...); any
  /// runtime, any opset >= 13.
  Plain,
  /// ONNX Runtime's com.microsoft.RotaryEmbedding: over position caches for
  /// 1D, over merged per-token caches for M-RoPE, 2D and per-section
  /// frequencies.
  Ort,
  /// RotaryEmbedding of opset 23 over merged per-token caches; the model's
  /// opset must be 23 or newer.
  Onnx23,
};
llvm::StringRef emitModeName(EmitMode mode);
std::optional<EmitMode> parseEmitMode(llvm::StringRef name);

/// Patterns lowering rope.cos_sin and rope.mrope_index inside an onnx.graph
/// to standard ONNX nodes, and rope.apply on tensors to the ops `emit`
/// selects. New nodes are named `<prefix>/...`, new initializers
/// `<prefix>.<what>`.
void populateRopeToOnnxPatterns(mlir::RewritePatternSet &patterns,
                                llvm::StringRef prefix = "mrope",
                                EmitMode emit = EmitMode::Plain);

/// Fails, with an error on the first such op, when `emit` is onnx23 and a
/// rope.apply to lower sits in a model older than opset 23.
mlir::LogicalResult checkRopeEmitOpset(mlir::Operation *root, EmitMode emit);

/// The rope.apply pattern alone.
void populateRopeApplyToOnnxPatterns(mlir::RewritePatternSet &patterns,
                                     llvm::StringRef prefix, EmitMode emit);

} // namespace mrope

// Pass options of this type read the spellings above; an unknown one is
// "error: emit must be plain, ort or onnx23, got '<value>'".
namespace llvm::cl {
template <>
bool parser<mrope::EmitMode>::parse(Option &option, StringRef argName,
                                    StringRef arg, mrope::EmitMode &value);
} // namespace llvm::cl

#endif // MROPE_CONVERSION_ROPETOONNX_ROPETOONNX_H
