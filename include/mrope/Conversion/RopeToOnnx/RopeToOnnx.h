//===- RopeToOnnx.h - rope ops -> standard ONNX nodes -----------*- C++ -*-===//
#ifndef MROPE_CONVERSION_ROPETOONNX_ROPETOONNX_H
#define MROPE_CONVERSION_ROPETOONNX_ROPETOONNX_H

#include "mlir/IR/PatternMatch.h"
#include "mlir/Support/LLVM.h"

namespace mrope {

/// Patterns lowering rope.cos_sin inside an onnx.graph to standard ONNX
/// nodes (Gather, Transpose, Cast, Mul, Cos, Sin) plus two initializers.
/// New nodes are named `<prefix>/...`, new initializers `<prefix>.<what>`.
void populateRopeToOnnxPatterns(mlir::RewritePatternSet &patterns,
                                llvm::StringRef prefix = "mrope");

} // namespace mrope

#endif // MROPE_CONVERSION_ROPETOONNX_ROPETOONNX_H
