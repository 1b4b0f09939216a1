//===- RopeToLoops.h - rope.apply -> fused vector loops ---------*- C++ -*-===//
#ifndef MROPE_CONVERSION_ROPETOLOOPS_ROPETOLOOPS_H
#define MROPE_CONVERSION_ROPETOLOOPS_ROPETOLOOPS_H

#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/StringRef.h"

namespace mrope {

/// How the CPU loops are tiled for a target (see docs/lowering.md).
struct RopeToLoopsOptions {
  /// Tokens whose cos/sin are tabulated together before the rotation pass.
  int64_t tokensPerBlock = 32;
  /// f32 lanes per vector operation: the target's vector register width
  /// (4: SSE/NEON, 8: AVX2, 16: AVX-512).
  int64_t vectorWidth = 8;
  /// The target converts f16 <-> f32 in hardware (x86 F16C): use
  /// arith.extf/truncf. Otherwise integer code is emitted inline (LLVM
  /// would call __extendhfsf2/__truncsfhf2 from libgcc/compiler-rt).
  bool nativeF16 = false;
};

/// A unit attribute on an op enclosing a rope.apply (the fused kernel's
/// function): rows that an absorbed RMSNorm writes out of place (the KV-cache
/// slot) are stored non-temporally, aligned to the store's size (the caller
/// guarantees 64-byte aligned rows). Other rows are untouched by it.
inline constexpr llvm::StringLiteral kStreamingOutAttr = "mrope.streaming_out";

/// Adds the pattern lowering in-place (memref) rope.apply to loops.
void populateRopeToLoopsPatterns(mlir::RewritePatternSet &patterns,
                                 const RopeToLoopsOptions &options = {});

/// Adds the pattern lowering rope.mrope_index (on tensors) to scalar loops
/// over new buffers; it runs before bufferization.
void populateMRopeIndexToLoopsPatterns(mlir::RewritePatternSet &patterns);

/// `v` (a vector of f16/bf16/f32) widened to f32. bf16 is always a shift;
/// f16 is inline integer code unless `nativeF16` (then arith.extf).
mlir::Value emitExtToF32(mlir::ImplicitLocOpBuilder &b, mlir::Value v,
                         bool nativeF16);

/// `v` (a vector of f32) rounded to nearest even into `elem` (f16, bf16 or
/// f32) with integer code (bf16 always, f16 unless `nativeF16`); NaN stays
/// NaN (quiet), overflow becomes infinity, f16 subnormals are exact.
mlir::Value emitTruncFromF32(mlir::ImplicitLocOpBuilder &b, mlir::Value v,
                             mlir::Type elem, bool nativeF16);

} // namespace mrope

#endif // MROPE_CONVERSION_ROPETOLOOPS_ROPETOLOOPS_H
