//===- Layout.cpp - q/k storage order read from memref strides ------------===//
#include "mrope/Conversion/RopeCommon/RopeCommon.h"

#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;

bool mrope::isTokenMajor(MemRefType type) {
  auto [strides, offset] = type.getStridesAndOffset();
  if (strides.size() != 4 || ShapedType::isDynamic(strides[1]))
    return false;
  return ShapedType::isDynamic(strides[2]) || strides[2] > strides[1];
}
