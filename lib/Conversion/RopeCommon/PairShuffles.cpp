//===- PairShuffles.cpp - GPT-J pair masks shared by CPU and GPU ----------===//
#include "mrope/Conversion/RopeCommon/RopeCommon.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

SmallVector<int64_t> mrope::pairSwapMask(int64_t width) {
  SmallVector<int64_t> mask(width);
  for (int64_t i = 0; i + 1 < width; i += 2) {
    mask[i] = i + 1;
    mask[i + 1] = i;
  }
  return mask;
}

std::pair<Value, Value> mrope::emitPairTables(ImplicitLocOpBuilder &b,
                                              Value cos, Value sin) {
  int64_t w = cast<VectorType>(cos.getType()).getNumElements();
  SmallVector<int64_t> dup(2 * w), signedSin(2 * w);
  for (int64_t i = 0; i < w; ++i) {
    dup[2 * i] = dup[2 * i + 1] = i;
    signedSin[2 * i] = w + i; // lane i of -sin
    signedSin[2 * i + 1] = i; // lane i of sin
  }
  Value cos2 = vector::ShuffleOp::create(b, cos, cos, dup);
  Value sin2 = vector::ShuffleOp::create(b, sin, arith::NegFOp::create(b, sin),
                                         signedSin);
  return {cos2, sin2};
}
