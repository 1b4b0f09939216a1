//===- ApplyTiling.cpp - TilingInterface of rope.apply --------------------===//
//
// The iteration domain of rope.apply is its tokens, [B, S], both parallel.
// A tile is a block of tokens with every head and every channel of every
// rotated tensor:
// - q and k of one op may have different head counts (GQA), so the only
//   dimensions the operands share are B and S;
// - a channel pair is the unit along D and the lowering computes a token's
//   cos/sin once for all heads of q and k, so a tile never splits D or H.
// A result tile (producer fusion) is accepted only when it holds whole heads
// and whole head dims.
//
// No consumer-fusion hooks (getTiledImplementationFromOperandTiles): the
// rotated tensors are the op's DPS inits, and upstream consumer fusion
// refuses a consumer whose init is the tiled loop's result, so only a
// positions tile could ever be fused that way.
//
//===----------------------------------------------------------------------===//
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mrope::rope;

/// Extent `dim` of a ranked shaped value as an OpFoldResult.
static OpFoldResult mixedSize(OpBuilder &b, Location loc, Value value,
                              int64_t dim) {
  if (isa<MemRefType>(value.getType()))
    return memref::getMixedSize(b, loc, value, dim);
  return tensor::getMixedSize(b, loc, value, dim);
}

/// Whether `size` is all of extent `dim` of `value`: a static extent equal to
/// it, or the `tensor.dim` of that extent of `value` or of `alias` (a result
/// and its DPS init have the same shape). Creates no IR.
static bool coversDim(OpFoldResult size, Value value, int64_t dim,
                      Value alias) {
  int64_t extent = cast<ShapedType>(value.getType()).getDimSize(dim);
  if (!ShapedType::isDynamic(extent))
    return isConstantIntValue(size, extent);
  auto sizeValue = dyn_cast_if_present<Value>(size);
  auto dimOp = sizeValue ? sizeValue.getDefiningOp<tensor::DimOp>() : nullptr;
  if (!dimOp || (dimOp.getSource() != value && dimOp.getSource() != alias))
    return false;
  std::optional<int64_t> index = dimOp.getConstantIndex();
  return index && *index == dim;
}

/// Whether a tile (offsets, sizes) of `value` keeps dims `dims` whole.
static bool keepsWhole(Value value, ArrayRef<OpFoldResult> offsets,
                       ArrayRef<OpFoldResult> sizes, ArrayRef<int64_t> dims,
                       Value alias) {
  return llvm::all_of(dims, [&](int64_t d) {
    return isZeroInteger(offsets[d]) && coversDim(sizes[d], value, d, alias);
  });
}

SmallVector<utils::IteratorType> ApplyOp::getLoopIteratorTypes() {
  return {utils::IteratorType::parallel, utils::IteratorType::parallel};
}

SmallVector<Range> ApplyOp::getIterationDomain(OpBuilder &b) {
  Location loc = getLoc();
  // The static extent of any rotated operand, else the first one's dim.
  auto extent = [&](int64_t dim) -> OpFoldResult {
    for (Value input : getInputs()) {
      int64_t n = cast<ShapedType>(input.getType()).getDimSize(dim);
      if (!ShapedType::isDynamic(n))
        return b.getIndexAttr(n);
    }
    return mixedSize(b, loc, getInputs().front(), dim);
  };
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  return {Range{zero, extent(0), one}, Range{zero, extent(2), one}};
}

FailureOr<TilingResult>
ApplyOp::getTiledImplementation(OpBuilder &b, ArrayRef<OpFoldResult> offsets,
                                ArrayRef<OpFoldResult> sizes) {
  // Tiles are tensor slices; bufferize after tiling.
  if (hasBufferSemantics() || offsets.size() != 2 || sizes.size() != 2)
    return failure();
  Location loc = getLoc();
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  SmallVector<Operation *> slices;
  auto slice = [&](Value source, ArrayRef<OpFoldResult> sliceOffsets,
                   ArrayRef<OpFoldResult> sliceSizes) -> Value {
    SmallVector<OpFoldResult> strides(sliceOffsets.size(), one);
    auto op = tensor::ExtractSliceOp::create(b, loc, source, sliceOffsets,
                                             sliceSizes, strides);
    slices.push_back(op);
    return op;
  };

  SmallVector<Value> operands;
  for (Value input : getInputs())
    operands.push_back(slice(input, {offsets[0], zero, offsets[1], zero},
                             {sizes[0], mixedSize(b, loc, input, 1), sizes[1],
                              mixedSize(b, loc, input, 3)}));
  Value positions = getPositions();
  if (cast<ShapedType>(positions.getType()).getRank() == 2)
    operands.push_back(slice(positions, offsets, sizes));
  else
    operands.push_back(
        slice(positions, {zero, offsets[0], offsets[1]},
              {mixedSize(b, loc, positions, 0), sizes[0], sizes[1]}));
  if (Value invFreq = getInvFreq())
    operands.push_back(invFreq);

  SmallVector<Type> resultTypes;
  for (Value input : ArrayRef<Value>(operands).take_front(getInputs().size()))
    resultTypes.push_back(input.getType());
  // A clone keeps the semantics and any attribute a pass hung on the op.
  Operation *tiled = mlir::clone(b, getOperation(), resultTypes, operands);
  return TilingResult{{tiled}, SmallVector<Value>(tiled->getResults()), slices};
}

LogicalResult ApplyOp::getResultTilePosition(
    OpBuilder &b, unsigned resultNumber, ArrayRef<OpFoldResult> offsets,
    ArrayRef<OpFoldResult> sizes, SmallVector<OpFoldResult> &resultOffsets,
    SmallVector<OpFoldResult> &resultSizes) {
  if (resultNumber >= getNumResults() || offsets.size() != 2)
    return failure();
  Value input = getInputs()[resultNumber];
  OpFoldResult zero = b.getIndexAttr(0);
  resultOffsets = {offsets[0], zero, offsets[1], zero};
  resultSizes = {sizes[0], mixedSize(b, getLoc(), input, 1), sizes[1],
                 mixedSize(b, getLoc(), input, 3)};
  return success();
}

bool ApplyOp::isOpFusableWithConsumerSlice(unsigned resultNumber,
                                           ArrayRef<OpFoldResult> offsets,
                                           ArrayRef<OpFoldResult> sizes) {
  return resultNumber < getNumResults() && offsets.size() == 4 &&
         keepsWhole(getResult(resultNumber), offsets, sizes, {1, 3},
                    getInputs()[resultNumber]);
}

LogicalResult ApplyOp::getIterationDomainTileFromResultTile(
    OpBuilder &, unsigned resultNumber, ArrayRef<OpFoldResult> offsets,
    ArrayRef<OpFoldResult> sizes, SmallVectorImpl<OpFoldResult> &iterOffsets,
    SmallVectorImpl<OpFoldResult> &iterSizes) {
  if (!isOpFusableWithConsumerSlice(resultNumber, offsets, sizes))
    return failure();
  iterOffsets.assign({offsets[0], offsets[2]});
  iterSizes.assign({sizes[0], sizes[2]});
  return success();
}

FailureOr<TilingResult>
ApplyOp::generateResultTileValue(OpBuilder &b, unsigned resultNumber,
                                 ArrayRef<OpFoldResult> offsets,
                                 ArrayRef<OpFoldResult> sizes) {
  SmallVector<OpFoldResult> iterOffsets, iterSizes;
  if (failed(getIterationDomainTileFromResultTile(
          b, resultNumber, offsets, sizes, iterOffsets, iterSizes)))
    return failure();
  FailureOr<TilingResult> tiled =
      getTiledImplementation(b, iterOffsets, iterSizes);
  if (failed(tiled))
    return failure();
  // The tile computes every result; the caller asked for one.
  return TilingResult{tiled->tiledOps,
                      {tiled->tiledValues[resultNumber]},
                      tiled->generatedSlices};
}
