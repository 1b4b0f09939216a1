//===- Rotate.cpp - the rotation both rope.apply lowerings emit -----------===//
#include "mrope/Conversion/RopeCommon/RopeCommon.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

std::pair<Value, Value> mrope::emitRotateHalves(ImplicitLocOpBuilder &b,
                                                Value x1, Value x2, Value cos,
                                                Value sin) {
  Value y1 = arith::SubFOp::create(b, arith::MulFOp::create(b, x1, cos),
                                   arith::MulFOp::create(b, x2, sin));
  Value y2 = arith::AddFOp::create(b, arith::MulFOp::create(b, x2, cos),
                                   arith::MulFOp::create(b, x1, sin));
  return {y1, y2};
}

Value mrope::emitRotatePairs(ImplicitLocOpBuilder &b, Value x, Value cos,
                             Value sin) {
  int64_t width = cast<VectorType>(x.getType()).getNumElements();
  Value xs = vector::ShuffleOp::create(b, x, x, pairSwapMask(width));
  return arith::AddFOp::create(b, arith::MulFOp::create(b, x, cos),
                               arith::MulFOp::create(b, xs, sin));
}

std::pair<Value, Value> mrope::emitTableEntries(ImplicitLocOpBuilder &b,
                                                Value angle, bool neox) {
  auto [sinV, cosV] = emitSinCos(b, angle, SinCosRounding::MagicAdd);
  if (!neox)
    return emitPairTables(b, cosV, sinV);
  return {cosV, sinV};
}
