//===- ApplyOperands.cpp - what both lowerings read from rope.apply -------===//
#include "mrope/Conversion/RopeCommon/RopeCommon.h"

#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mrope;

LogicalResult mrope::checkLowerableApply(rope::ApplyOp op, std::string &why) {
  if (!op.hasBufferSemantics()) {
    why = "it works on tensors; bufferize first";
    return failure();
  }
  for (Value input : op.getInputs()) {
    auto type = cast<MemRefType>(input.getType());
    if (!isa<Float32Type, Float16Type, BFloat16Type>(type.getElementType())) {
      why = "element type must be f32/f16/bf16";
      return failure();
    }
    auto [strides, offset] = type.getStridesAndOffset();
    if (strides.empty() || strides.back() != 1) {
      why = "the channel dim is not contiguous";
      return failure();
    }
  }
  return success();
}

Value mrope::loadPositionF32(ImplicitLocOpBuilder &b, Value positions,
                             int64_t axis, Value bi, Value si) {
  SmallVector<Value> indices;
  if (cast<MemRefType>(positions.getType()).getRank() == 3)
    indices.push_back(arith::ConstantIndexOp::create(b, axis));
  indices.append({bi, si});
  Value p = memref::LoadOp::create(b, positions, indices);
  // f32 positions (Qwen3-Omni) are used as they are; integers are signed.
  if (p.getType().isF32())
    return p;
  return arith::SIToFPOp::create(b, b.getF32Type(), p);
}

SmallVector<float> mrope::invFreqOfEachFreq(rope::SemanticsAttr sem) {
  SmallVector<float> table = sem.computeInvFreq();
  SmallVector<float> result;
  for (int64_t i = 0; i < sem.getNumFreqs(); ++i)
    result.push_back(table[sem.tableIndexOfFreq(i)]);
  return result;
}

bool mrope::tableIndexIsIdentity(rope::SemanticsAttr sem) {
  if (sem.getTableSize() != sem.getNumFreqs())
    return false;
  for (int64_t i = 0; i < sem.getNumFreqs(); ++i)
    if (sem.tableIndexOfFreq(i) != i)
      return false;
  return true;
}
