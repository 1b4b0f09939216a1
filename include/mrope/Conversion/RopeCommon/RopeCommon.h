//===- RopeCommon.h - code both rope.apply lowerings emit -------*- C++ -*-===//
//
// The CPU (convert-rope-to-loops) and GPU (convert-rope-to-gpu) lowerings
// compute the same cos/sin and rotate the same pairs; what they emit for that
// lives here, once.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_CONVERSION_ROPECOMMON_ROPECOMMON_H
#define MROPE_CONVERSION_ROPECOMMON_ROPECOMMON_H

#include "mrope/Dialect/Rope/IR/RopeAttrs.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/ADT/SmallVector.h"

#include <string>

namespace mrope {
namespace rope {
class ApplyOp;
} // namespace rope

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

/// Whether both lowerings can rotate `op` in place: memrefs of f32/f16/bf16
/// with a contiguous channel dim (vector loads and stores). On failure `why`
/// says what is missing.
mlir::LogicalResult checkLowerableApply(rope::ApplyOp op, std::string &why);

/// f32(positions[axis, bi, si]) (positions [A, B, S]; [B, S] for one axis).
mlir::Value loadPositionF32(mlir::ImplicitLocOpBuilder &b,
                            mlir::Value positions, int64_t axis, mlir::Value bi,
                            mlir::Value si);

/// inv_freq of each of the F frequencies: the table recomputed from theta,
/// indexed per section where frequencies restart.
llvm::SmallVector<float> invFreqOfEachFreq(rope::SemanticsAttr sem);

/// Whether frequency i reads entry i of the frequency table (no per-section
/// restart).
bool tableIndexIsIdentity(rope::SemanticsAttr sem);

/// The rotation of one rotate-half (neox) chunk: x1, x2 from the two halves,
/// y1 = x1 c - x2 s, y2 = x2 c + x1 s. Returns {y1, y2}.
std::pair<mlir::Value, mlir::Value>
emitRotateHalves(mlir::ImplicitLocOpBuilder &b, mlir::Value x1, mlir::Value x2,
                 mlir::Value cos, mlir::Value sin);

/// The rotation of one GPT-J chunk over emitPairTables' tables:
/// y = x * cos + pairSwap(x) * sin.
mlir::Value emitRotatePairs(mlir::ImplicitLocOpBuilder &b, mlir::Value x,
                            mlir::Value cos, mlir::Value sin);

/// The cos/sin table entries of f32 `angle` (w lanes): neox cos and sin
/// (w lanes each), gptj emitPairTables' 2w-lane tables. Returns {cos, sin}.
std::pair<mlir::Value, mlir::Value>
emitTableEntries(mlir::ImplicitLocOpBuilder &b, mlir::Value angle, bool neox);

} // namespace mrope

#endif // MROPE_CONVERSION_ROPECOMMON_ROPECOMMON_H
