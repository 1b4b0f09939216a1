//===- RopeToLoops.h - rope.apply -> fused vector loops ---------*- C++ -*-===//
#ifndef MROPE_CONVERSION_ROPETOLOOPS_ROPETOLOOPS_H
#define MROPE_CONVERSION_ROPETOLOOPS_ROPETOLOOPS_H

#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/PatternMatch.h"

namespace mrope {

/// Adds the pattern lowering in-place (memref) rope.apply to loops.
void populateRopeToLoopsPatterns(mlir::RewritePatternSet &patterns);

/// Adds the pattern lowering rope.mrope_index (on tensors) to scalar loops
/// over new buffers; it runs before bufferization.
void populateMRopeIndexToLoopsPatterns(mlir::RewritePatternSet &patterns);

/// How emitSinCos rounds x * 2/pi to the quadrant count k.
enum class SinCosRounding {
  /// math.roundeven (the CPU lowering: one vroundpd/frintn instruction).
  RoundEven,
  /// (y + 1.5 * 2^52) - 1.5 * 2^52 in f64: pure arith, so a GPU kernel
  /// needs no libdevice (math.roundeven becomes a __nv_rint call on NVVM).
  MagicAdd,
};

/// sin and cos of an f32 scalar or vector (any width), each within 1e-7 of
/// the float64 values of the same f32 inputs for |x| < 2^24: the argument is
/// reduced by pi/2 in f64 (Cody-Waite, 33 + 53 bits of pi/2) and the
/// polynomials run in f64. Returns {sin, cos} of the type of `angle`.
std::pair<mlir::Value, mlir::Value>
emitSinCos(mlir::ImplicitLocOpBuilder &b, mlir::Value angle,
           SinCosRounding rounding = SinCosRounding::RoundEven);

} // namespace mrope

#endif // MROPE_CONVERSION_ROPETOLOOPS_ROPETOLOOPS_H
