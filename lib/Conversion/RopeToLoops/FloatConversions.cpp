//===- FloatConversions.cpp - f16/bf16 <-> f32 without libcalls -----------===//
//
// LLVM lowers f32 -> bf16 (and f16 <-> f32 on x86 without F16C) to calls of
// __truncsfbf2 / __truncsfhf2 / __extendhfsf2, which a kernel library then
// needs from libgcc or compiler-rt at load time (and old libgcc lacks some).
// Here the conversions are integer code on the same vector lanes: a few
// shifts, adds and selects, round to nearest even, NaN kept as a quiet NaN.
//
//===----------------------------------------------------------------------===//
#include "mrope/Conversion/RopeToLoops/RopeToLoops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;

namespace {
/// Builds integer/float lane arithmetic on vectors shaped like `like`.
struct Lanes {
  ImplicitLocOpBuilder &b;
  VectorType i16, i32, f32;

  Lanes(ImplicitLocOpBuilder &b, VectorType like)
      : b(b), i16(like.clone(b.getI16Type())), i32(like.clone(b.getI32Type())),
        f32(like.clone(b.getF32Type())) {}

  Value c(uint32_t v) {
    return arith::ConstantOp::create(
        b, DenseElementsAttr::get(i32, b.getI32IntegerAttr(v)));
  }
  Value cf(uint32_t bits) { return asF32(c(bits)); }
  Value asF32(Value v) { return arith::BitcastOp::create(b, f32, v); }
  Value asI32(Value v) { return arith::BitcastOp::create(b, i32, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, x, y); }
  Value band(Value x, uint32_t m) { return arith::AndIOp::create(b, x, c(m)); }
  Value bor(Value x, Value y) { return arith::OrIOp::create(b, x, y); }
  Value shl(Value x, uint32_t n) { return arith::ShLIOp::create(b, x, c(n)); }
  Value shr(Value x, uint32_t n) { return arith::ShRUIOp::create(b, x, c(n)); }
  Value cmp(arith::CmpIPredicate p, Value x, uint32_t v) {
    return arith::CmpIOp::create(b, p, x, c(v));
  }
  Value sel(Value cond, Value x, Value y) {
    return arith::SelectOp::create(b, cond, x, y);
  }
};
} // namespace

Value mrope::emitExtToF32(ImplicitLocOpBuilder &b, Value v, bool nativeF16) {
  auto type = cast<VectorType>(v.getType());
  Type elem = type.getElementType();
  if (elem.isF32() || (elem.isF16() && nativeF16))
    return elem.isF32()
               ? v
               : arith::ExtFOp::create(b, type.clone(b.getF32Type()), v);
  Lanes l(b, type);
  Value h =
      arith::ExtUIOp::create(b, l.i32, arith::BitcastOp::create(b, l.i16, v));
  if (elem.isBF16()) // bf16 is the top half of an f32
    return l.asF32(l.shl(h, 16));

  // f16: move exponent and mantissa into place and rebias the exponent
  // (127 - 15); Inf/NaN get the f32 all-ones exponent; zero and subnormals
  // are normalized by one f32 subtraction (exact).
  constexpr uint32_t kExpMask = 0x7c00u << 13;
  Value o = l.shl(l.band(h, 0x7fff), 13);
  Value exp = l.band(o, kExpMask);
  o = l.add(o, l.c((127 - 15) << 23));
  Value infNan = l.add(o, l.c((128 - 16) << 23));
  Value tiny = l.asI32(arith::SubFOp::create(
      b, l.asF32(l.add(o, l.c(1u << 23))), l.cf(113u << 23)));
  o = l.sel(l.cmp(arith::CmpIPredicate::eq, exp, kExpMask), infNan,
            l.sel(l.cmp(arith::CmpIPredicate::eq, exp, 0), tiny, o));
  return l.asF32(l.bor(o, l.shl(l.band(h, 0x8000), 16)));
}

Value mrope::emitTruncFromF32(ImplicitLocOpBuilder &b, Value v, Type elem,
                              bool nativeF16) {
  auto type = cast<VectorType>(v.getType());
  if (elem.isF32())
    return v;
  if (elem.isF16() && nativeF16)
    return arith::TruncFOp::create(b, type.clone(elem), v);
  Lanes l(b, type);
  Value u = l.asI32(v);
  Value result;
  if (elem.isBF16()) {
    // Round to nearest even: add 0x7fff plus the lowest kept bit, a carry
    // into the exponent is the right result (up to infinity). NaN: keep the
    // top bits and set the quiet bit, so no NaN rounds into infinity.
    Value lsb = l.band(l.shr(u, 16), 1);
    Value rounded = l.shr(l.add(l.add(u, l.c(0x7fff)), lsb), 16);
    Value nan = arith::CmpFOp::create(b, arith::CmpFPredicate::UNO, v, v);
    result = l.sel(nan, l.bor(l.shr(u, 16), l.c(0x40)), rounded);
  } else {
    // f16, round to nearest even. |x| >= 65536 (or Inf/NaN): Inf or a quiet
    // NaN. |x| < 2^-14 (f16 subnormal or zero): one f32 addition of
    // 0.5 (2^-1) aligns the mantissa so that the FPU rounds it to the
    // subnormal's 10 bits. Otherwise rebias the exponent and round by
    // adding 0xfff plus the lowest kept bit; a carry gives Inf at 65520.
    Value sign = l.band(u, 0x80000000u);
    Value a = arith::XOrIOp::create(b, u, sign);
    constexpr uint32_t kDenormMagic = ((127 - 15) + (23 - 10) + 1) << 23;
    Value big = l.sel(l.cmp(arith::CmpIPredicate::ugt, a, 255u << 23),
                      l.c(0x7e00), l.c(0x7c00));
    Value tiny =
        l.sub(l.asI32(arith::AddFOp::create(b, l.asF32(a), l.cf(kDenormMagic))),
              l.c(kDenormMagic));
    Value odd = l.band(l.shr(a, 13), 1);
    Value normal = l.shr(
        l.add(l.add(a, l.c(static_cast<uint32_t>((15 - 127) << 23) + 0xfff)),
              odd),
        13);
    Value o = l.sel(
        l.cmp(arith::CmpIPredicate::uge, a, (127 + 16) << 23), big,
        l.sel(l.cmp(arith::CmpIPredicate::ult, a, 113u << 23), tiny, normal));
    result = l.bor(o, l.shr(sign, 16));
  }
  Value bits = arith::TruncIOp::create(b, l.i16, result);
  return arith::BitcastOp::create(b, type.clone(elem), bits);
}
