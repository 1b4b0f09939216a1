//===- RopeToLoops.h - rope.apply -> fused vector loops ---------*- C++ -*-===//
#ifndef MROPE_CONVERSION_ROPETOLOOPS_ROPETOLOOPS_H
#define MROPE_CONVERSION_ROPETOLOOPS_ROPETOLOOPS_H

#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/PatternMatch.h"

namespace mrope {

/// Adds the pattern lowering in-place (memref) rope.apply to loops.
void populateRopeToLoopsPatterns(mlir::RewritePatternSet &patterns);

/// sin and cos of an f32 vector, each within 1e-7 of the float64 values of
/// the same f32 inputs for |x| < 2^24: the argument is reduced by pi/2 in
/// f64 (Cody-Waite, 33 + 53 bits of pi/2) and the polynomials run in f64.
std::pair<mlir::Value, mlir::Value> emitSinCos(mlir::ImplicitLocOpBuilder &b,
                                               mlir::Value angle);

} // namespace mrope

#endif // MROPE_CONVERSION_ROPETOLOOPS_ROPETOLOOPS_H
