//===- NativeBF16.h - f32 -> bf16 rounding in hardware ---------*- C++ -*-===//
#ifndef MROPE_CONVERSION_ROPETOLOOPS_NATIVEBF16_H
#define MROPE_CONVERSION_ROPETOLOOPS_NATIVEBF16_H

#include "llvm/ADT/StringRef.h"

namespace mrope {

/// A unit attribute on an op enclosing a rope.apply (the fused kernel's
/// functions, set for targets with x86 AVX512_BF16): the loop lowering
/// rounds f32 to bf16 with arith.truncf, which LLVM emits as one
/// VCVTNEPS2BF16 per vector, instead of the inline integer code of
/// emitTruncFromF32 (seven operations per vector). Both round to nearest
/// even and keep NaN a NaN; the instruction also turns subnormal inputs and
/// results (magnitude below 2^-126, about 1.2e-38) into zero.
inline constexpr llvm::StringLiteral kNativeBF16Attr = "mrope.native_bf16";

} // namespace mrope

#endif // MROPE_CONVERSION_ROPETOLOOPS_NATIVEBF16_H
