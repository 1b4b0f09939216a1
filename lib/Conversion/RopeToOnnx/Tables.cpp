//===- Tables.cpp - cos/sin tables as ONNX nodes --------------------------===//
#include "Tables.h"

#include "mrope/Dialect/Onnx/IR/DataType.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

using namespace mlir;
using namespace mrope;

std::optional<SmallVector<float>>
rope_to_onnx::frequencyTable(Value invFreq, rope::SemanticsAttr sem) {
  if (!invFreq)
    return sem.computeInvFreq();
  std::optional<DenseElementsAttr> values = onnx::getConstantValue(invFreq);
  if (!values)
    return std::nullopt;
  SmallVector<float> table;
  for (float f : values->getValues<float>())
    table.push_back(f);
  return table;
}

/// cos and sin of an f32 angle tensor, cast to `elem`.
static std::pair<Value, Value> cosSinOf(onnx::OnnxBuilder &emit, OpBuilder &b,
                                        Value angle, Type elem) {
  Value cos = emit.node("Cos", angle.getType(), {angle});
  Value sin = emit.node("Sin", angle.getType(), {angle});
  if (!elem.isF32()) {
    auto type = cast<RankedTensorType>(angle.getType()).clone(elem);
    NamedAttribute to = emit.intAttr("to", onnx::dataTypeFor(elem));
    cos = emit.node("Cast", type, {cos}, {to});
    sin = emit.node("Cast", type, {sin}, {to});
  }
  return {cos, sin};
}

std::pair<Value, Value>
rope_to_onnx::emitTokenTables(onnx::OnnxBuilder &emit, OpBuilder &b,
                              Value positions, ArrayRef<int64_t> rows,
                              ArrayRef<float> inv, Type elem) {
  auto posType = cast<RankedTensorType>(positions.getType());
  Type posElem = posType.getElementType();
  int64_t channels = rows.size();
  int64_t bDim = posType.getDimSize(posType.getRank() - 2);
  int64_t sDim = posType.getDimSize(posType.getRank() - 1);
  if (posType.getRank() == 2) // one axis given as [B, S]: make it [1, B, S]
    positions =
        emit.node("Unsqueeze", RankedTensorType::get({1, bDim, sDim}, posElem),
                  {positions, emit.ints({0}, {1}, "axes")});
  Value rowsInit = emit.ints(rows, {channels}, "rows");
  auto invType = RankedTensorType::get({channels}, b.getF32Type());
  Value invInit =
      emit.constant(DenseElementsAttr::get(invType, inv), "inv_freq");
  Value gathered = emit.node(
      "Gather", RankedTensorType::get({channels, bDim, sDim}, posElem),
      {positions, rowsInit}, {emit.intAttr("axis", 0)});
  Value perToken = emit.node(
      "Transpose", RankedTensorType::get({bDim, sDim, channels}, posElem),
      {gathered}, {b.getNamedAttr("perm", b.getDenseI64ArrayAttr({1, 2, 0}))});
  auto angleType =
      RankedTensorType::get({bDim, sDim, channels}, b.getF32Type());
  // f32 positions (Qwen3-Omni) are used as they are: no Cast.
  Value asFloat = posElem.isF32()
                      ? perToken
                      : emit.node("Cast", angleType, {perToken},
                                  {emit.intAttr("to", onnx::DataType::FLOAT)});
  Value angle = emit.node("Mul", angleType, {asFloat, invInit});
  return cosSinOf(emit, b, angle, elem);
}

std::pair<Value, Value>
rope_to_onnx::emitPositionCaches(onnx::OnnxBuilder &emit, OpBuilder &b,
                                 Value positions, ArrayRef<float> inv,
                                 Type elem) {
  int64_t dyn = ShapedType::kDynamic, numFreqs = inv.size();
  Type i64 = b.getI64Type(), f32 = b.getF32Type();
  auto scalar = RankedTensorType::get({}, i64);
  if (!cast<ShapedType>(positions.getType()).getElementType().isInteger(64))
    positions = emit.node(
        "Cast", cast<RankedTensorType>(positions.getType()).clone(i64),
        {positions}, {emit.intAttr("to", onnx::DataType::INT64)});
  Value maxPos = emit.node("ReduceMax", scalar, {positions},
                           {emit.intAttr("keepdims", 0)});
  // ONNX Runtime's kernels also want at least as many rows as tokens in a
  // sequence, which M-RoPE positions (images advance them by less than their
  // token count) may not reach.
  Value one = emit.ints({1}, {}, "one");
  auto posType = cast<RankedTensorType>(positions.getType());
  Value shape = emit.node(
      "Shape", RankedTensorType::get({posType.getRank()}, i64), {positions});
  Value seqLen =
      emit.node("Gather", scalar, {shape, emit.ints({-1}, {}, "last")},
                {emit.intAttr("axis", 0)});
  Value count = emit.node("Max", scalar,
                          {emit.node("Add", scalar, {maxPos, one}), seqLen});
  Value range = emit.node("Range", RankedTensorType::get({dyn}, i64),
                          {emit.ints({0}, {}, "zero"), count, one});
  Value asFloat = emit.node("Cast", RankedTensorType::get({dyn}, f32), {range},
                            {emit.intAttr("to", onnx::DataType::FLOAT)});
  Value column = emit.node("Unsqueeze", RankedTensorType::get({dyn, 1}, f32),
                           {asFloat, emit.ints({1}, {1}, "axes")});
  auto invType = RankedTensorType::get({numFreqs}, f32);
  Value invInit =
      emit.constant(DenseElementsAttr::get(invType, inv), "inv_freq");
  Value angle = emit.node("Mul", RankedTensorType::get({dyn, numFreqs}, f32),
                          {column, invInit});
  return cosSinOf(emit, b, angle, elem);
}

void rope_to_onnx::replaceDroppingTable(PatternRewriter &rewriter,
                                        Operation *op, ValueRange results,
                                        Value invFreq) {
  rewriter.replaceOp(op, results);
  if (auto init = invFreq ? invFreq.getDefiningOp<onnx::InitializerOp>()
                          : onnx::InitializerOp();
      init && init->use_empty())
    rewriter.eraseOp(init);
}
