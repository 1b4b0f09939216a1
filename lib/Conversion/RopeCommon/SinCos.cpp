//===- SinCos.cpp - accurate vector sin/cos for RoPE angles ---------------===//
//
// RoPE angles reach 1e5 rad and more (positions times inv_freq[0] = 1), where
// f32 range reduction (and math.sin's polynomial approximation) loses digits.
// Every f32 angle is exact in f64, so reduce there: k = round(x * 2/pi),
// r = x - k * pio2_hi - k * pio2_lo with pio2_hi holding 33 bits (k * pio2_hi
// exact for |k| < 2^20), then Taylor polynomials on |r| <= pi/4 in f64 (error
// below 1e-12) and one rounding to f32. The f64 multiplies and adds carry
// `contract`: on FMA targets they fuse (one rounding instead of two, about a
// third fewer instructions); elsewhere they stay separate (no fma libcall).
//
//===----------------------------------------------------------------------===//
#include "mrope/Conversion/RopeCommon/RopeCommon.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;

namespace {
constexpr double kTwoOverPi = 6.36619772367581382433e-01;
constexpr double kPio2Hi = 1.57079632673412561417e+00; // first 33 bits of pi/2
constexpr double kPio2Lo = 6.07710050650619224932e-11; // pi/2 - kPio2Hi
// Taylor coefficients of sin(r)/r - 1 and cos(r) - 1 in r^2.
constexpr double kSin[] = {-1.0 / 6,     1.0 / 120,       -1.0 / 5040,
                           1.0 / 362880, -1.0 / 39916800, 1.0 / 6227020800.0};
constexpr double kCos[] = {
    -1.0 / 2,       1.0 / 24,        -1.0 / 720,          1.0 / 40320,
    -1.0 / 3628800, 1.0 / 479001600, -1.0 / 87178291200.0};
} // namespace

std::pair<Value, Value> mrope::emitSinCos(ImplicitLocOpBuilder &b, Value angle,
                                          SinCosRounding rounding) {
  // Scalars and vectors of any width: `like` gives the f64/i64 type of the
  // same shape, `splat` a constant of it.
  Type f32Type = angle.getType();
  auto like = [&](Type elem) -> Type {
    if (auto vec = dyn_cast<VectorType>(f32Type))
      return vec.clone(elem);
    return elem;
  };
  Type f64Type = like(b.getF64Type());
  Type i64Type = like(b.getI64Type());
  auto splat = [&](Type type, TypedAttr scalar) -> Value {
    if (auto vec = dyn_cast<VectorType>(type))
      return arith::ConstantOp::create(b, DenseElementsAttr::get(vec, scalar));
    return arith::ConstantOp::create(b, scalar);
  };
  auto cst = [&](double v) -> Value {
    return splat(f64Type, b.getF64FloatAttr(v));
  };
  auto icst = [&](int64_t v) -> Value {
    return splat(i64Type, b.getI64IntegerAttr(v));
  };
  auto contract = arith::FastMathFlags::contract;
  auto mul = [&](Value x, Value y) -> Value {
    return arith::MulFOp::create(b, x, y, contract);
  };
  auto add = [&](Value x, Value y) -> Value {
    return arith::AddFOp::create(b, x, y, contract);
  };
  auto sub = [&](Value x, Value y) -> Value {
    return arith::SubFOp::create(b, x, y, contract);
  };
  // Horner in r^2 over `coeffs`, returning c0 + r2 * (c1 + r2 * (...)).
  auto horner = [&](Value r2, ArrayRef<double> coeffs) -> Value {
    Value acc = cst(coeffs.back());
    for (double c : llvm::reverse(coeffs.drop_back()))
      acc = add(cst(c), mul(r2, acc));
    return acc;
  };

  Value x = arith::ExtFOp::create(b, f64Type, angle);
  Value y = mul(x, cst(kTwoOverPi));
  // (y + 1.5 * 2^52) - 1.5 * 2^52 rounds y to the nearest integer (ties to
  // even) for |y| < 2^51 in round-to-nearest f64 arithmetic, and the low
  // bits of (y + 1.5 * 2^52) hold that integer in two's complement. Plain
  // arith: no roundeven libcall (x86-64 before SSE4.1, NVVM's __nv_rint) and
  // no f64 -> i64 vector conversion (AVX-512DQ only).
  Value magic = cst(6755399441055744.0);
  Value shifted = add(y, magic);
  Value k;
  if (rounding == SinCosRounding::MagicAdd)
    k = sub(shifted, magic);
  else
    k = math::RoundEvenOp::create(b, y);
  Value r = sub(sub(x, mul(k, cst(kPio2Hi))), mul(k, cst(kPio2Lo)));
  Value r2 = mul(r, r);
  Value sinR = add(r, mul(mul(r, r2), horner(r2, kSin)));
  Value cosR = add(cst(1.0), mul(r2, horner(r2, kCos)));

  // Quadrant q = k mod 4 from the low bits: sin = [s, c, -s, -c][q],
  // cos = [c, -s, -c, s][q]. Negation flips the sign bit (bit 63).
  Value bits = arith::BitcastOp::create(b, i64Type, shifted);
  Value zero = icst(0);
  Value swap =
      arith::CmpIOp::create(b, arith::CmpIPredicate::ne,
                            arith::AndIOp::create(b, bits, icst(1)), zero);
  Value sinBase = arith::SelectOp::create(b, swap, cosR, sinR);
  Value cosBase = arith::SelectOp::create(b, swap, sinR, cosR);
  auto signOf = [&](Value v) -> Value { // bit 1 of v moved to bit 63
    return arith::ShLIOp::create(b, arith::AndIOp::create(b, v, icst(2)),
                                 icst(62));
  };
  auto flip = [&](Value v, Value sign) -> Value {
    Value vb = arith::BitcastOp::create(b, i64Type, v);
    return arith::BitcastOp::create(b, f64Type,
                                    arith::XOrIOp::create(b, vb, sign));
  };
  Value sinV = flip(sinBase, signOf(bits));
  Value cosV = flip(cosBase, signOf(arith::AddIOp::create(b, bits, icst(1))));
  return {arith::TruncFOp::create(b, f32Type, sinV),
          arith::TruncFOp::create(b, f32Type, cosV)};
}
