//===- RopeCommon.h - code both rope.apply lowerings emit -------*- C++ -*-===//
//
// The CPU (convert-rope-to-loops) and GPU (convert-rope-to-gpu) lowerings
// compute the same cos/sin and rotate the same pairs; what they emit for that
// lives here, once.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_CONVERSION_ROPECOMMON_ROPECOMMON_H
#define MROPE_CONVERSION_ROPECOMMON_ROPECOMMON_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/ADT/SmallVector.h"

namespace mrope {

/// How emitSinCos rounds x * 2/pi to the quadrant count k.
enum class SinCosRounding {
  /// (y + 1.5 * 2^52) - 1.5 * 2^52 in f64: pure arith on every target (no
  /// roundeven libcall on x86-64 without SSE4.1, no __nv_rint on NVVM).
  MagicAdd,
  /// math.roundeven (one vroundpd/frintn where the target has it).
  RoundEven,
};

/// sin and cos of an f32 scalar or vector (any width), each within 1e-7 of
/// the float64 values of the same f32 inputs for |x| < 2^24: the argument is
/// reduced by pi/2 in f64 (Cody-Waite, 33 + 53 bits of pi/2) and the
/// polynomials run in f64. The f64 multiply-adds may contract to FMAs where
/// the target has them (more accurate, never a libcall). Returns {sin, cos}
/// of the type of `angle`.
std::pair<mlir::Value, mlir::Value>
emitSinCos(mlir::ImplicitLocOpBuilder &b, mlir::Value angle,
           SinCosRounding rounding = SinCosRounding::MagicAdd);

/// The shuffle mask that swaps the two lanes of every (even, odd) pair of a
/// `width`-lane vector: GPT-J's rotate-every-two partner of each channel.
llvm::SmallVector<int64_t> pairSwapMask(int64_t width);

/// GPT-J tables from per-frequency cos/sin vectors of w lanes: 2w lanes
/// [c0 c0 c1 c1 ..] and [-s0 s0 -s1 s1 ..], so that a row chunk x rotates as
/// x * cos + pairSwap(x) * sin. Returns {cos, sin}.
std::pair<mlir::Value, mlir::Value>
emitPairTables(mlir::ImplicitLocOpBuilder &b, mlir::Value cos, mlir::Value sin);

/// True when a [B, H, S, D] memref is [B, S, H, D] storage seen through
/// strides (the heads of one token closer in memory than the tokens of one
/// head, e.g. memref.transpose of a [B, S, H * D] buffer). Decided from
/// static strides only; a dynamic head stride means [B, H, S, D].
bool isTokenMajor(mlir::MemRefType type);

} // namespace mrope

#endif // MROPE_CONVERSION_ROPECOMMON_ROPECOMMON_H
