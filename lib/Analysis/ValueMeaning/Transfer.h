//===- Transfer.h - shared pieces of the meaning transfer functions -------===//
//
// Private to lib/Analysis: the helpers every transfer function uses and one
// entry point per op family. The families live in one file each:
//
//   TransferCommon.cpp  operands, axes and reasons shared by all families;
//   TransferShape.cpp   views (Reshape, Flatten, Unsqueeze, Squeeze, Expand,
//                       Tile, Transpose) and shape arithmetic (Shape, Size,
//                       Range, ConstantOfShape, Add/Sub/Mul/Div of shapes);
//   TransferSelect.cpp  selections: Slice, Split, Gather, GatherElements,
//                       GatherND, Concat;
//   TransferArith.cpp   values: Cast, Mul, MatMul, Einsum, Cos, Sin;
//   TransferFused.cpp   fused RoPE ops reading a cache by an index.
//
// ValueMeaningTransfer.cpp dispatches a node to its family.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_LIB_ANALYSIS_VALUEMEANING_TRANSFER_H
#define MROPE_LIB_ANALYSIS_VALUEMEANING_TRANSFER_H

#include "mrope/Analysis/ValueMeaning.h"

#include "mlir/IR/BuiltinTypes.h"

#include <optional>

namespace mrope::meaning::transfer {

using Ins = llvm::ArrayRef<const Meaning *>;
constexpr int64_t kDyn = mlir::ShapedType::kDynamic;

//===----------------------------------------------------------------------===//
// Common (TransferCommon.cpp)
//===----------------------------------------------------------------------===//

/// Static dims of a ranked value (kDynamic for dynamic ones); nullopt when
/// unranked.
std::optional<llvm::SmallVector<int64_t>> dimsOf(mlir::Value v);
/// The dims of `v` as far as its type or its meaning `m` tells them: the
/// type's dims, and where the type leaves a dim open (or the value
/// unranked) the size the meaning proves: one index per channel of a
/// channel axis, one per row of a row axis. nullopt when neither gives the
/// rank.
std::optional<llvm::SmallVector<int64_t>> dimsOf(mlir::Value v,
                                                 const Meaning &m);
bool isFloatValue(mlir::Value v);
bool isIntValue(mlir::Value v);
std::optional<int64_t> normAxis(int64_t axis, int64_t rank);
/// Integers of a constant meaning.
std::optional<llvm::SmallVector<int64_t>> intsOf(const Meaning &m);
/// Integers given by attribute `attr` (older opsets) or by operand `i`.
std::optional<llvm::SmallVector<int64_t>>
intsArg(onnx::NodeOp node, Ins ins, unsigned i, llvm::StringRef attr);
/// Whether optional operand `i` is given.
bool present(onnx::NodeOp node, unsigned i);
/// Kinds whose axes the transfer functions track.
bool hasAxes(const Meaning &m);
/// Unknown, with the op type and `what` as the reason.
Meaning noRule(onnx::NodeOp node, llvm::StringRef what);
/// Removes axis `i` selecting index `sel` of it: a row axis binds the
/// selected row (and its slot) to the channels, or to the tensor.
bool dropAxis(Meaning &m, int64_t i, int64_t sel);
/// The meaning of a Range(0, N) used as positions: its index along its one
/// non-unit axis is a sequence position.
std::optional<Meaning> iotaAsPositions(const Meaning &m,
                                       llvm::ArrayRef<int64_t> dims);

//===----------------------------------------------------------------------===//
// Views and shape arithmetic (TransferShape.cpp)
//===----------------------------------------------------------------------===//

/// Reshape and Flatten.
Meaning reshape(onnx::NodeOp node, Ins ins);
/// Where a Reshape only inserts unit axes into its rank-`inRank` input,
/// however its target spells the input's dims: true at each inserted axis
/// of the result; nullopt when it does more.
std::optional<llvm::SmallVector<bool>> insertedUnitAxes(onnx::NodeOp node,
                                                        int64_t inRank);
Meaning unsqueeze(onnx::NodeOp node, Ins ins);
Meaning squeeze(onnx::NodeOp node, Ins ins);
Meaning expand(onnx::NodeOp node, Ins ins);
Meaning tile(onnx::NodeOp node, Ins ins);
Meaning transpose(onnx::NodeOp node, Ins ins);
/// Sizes of tensors, whatever is done with them.
Meaning shapeArithmetic(onnx::NodeOp node, Ins ins);
/// Shape and Size.
Meaning shapeOf(onnx::NodeOp node);
Meaning range(onnx::NodeOp node, Ins ins);
Meaning constantOfShape(onnx::NodeOp node);
/// Add, Sub, Div: shape arithmetic only.
Meaning shapeOnly(onnx::NodeOp node, Ins ins);

//===----------------------------------------------------------------------===//
// Selections (TransferSelect.cpp)
//===----------------------------------------------------------------------===//

Meaning slice(onnx::NodeOp node, Ins ins);
Meaning split(onnx::NodeOp node, unsigned index, Ins ins);
Meaning gather(onnx::NodeOp node, Ins ins);
Meaning gatherElements(onnx::NodeOp node, Ins ins);
Meaning gatherND(onnx::NodeOp node, Ins ins);
Meaning concat(onnx::NodeOp node, Ins ins);
/// Whether axis `axis` of table `m` indexes the position a row is computed
/// for: a cache row axis, or the one position axis of a table computed
/// from a Range (inv_freq times arange(M): row m is position m).
bool isCacheAxis(const Meaning &m, int64_t axis);

//===----------------------------------------------------------------------===//
// Values (TransferArith.cpp)
//===----------------------------------------------------------------------===//

Meaning castValues(onnx::NodeOp node, Ins ins);
Meaning mul(onnx::NodeOp node, Ins ins);
Meaning matmul(onnx::NodeOp node, Ins ins);
Meaning einsum(onnx::NodeOp node, Ins ins);
/// Cos and Sin of an angle table.
Meaning trig(onnx::NodeOp node, Ins ins);

//===----------------------------------------------------------------------===//
// Fused RoPE ops (TransferFused.cpp)
//===----------------------------------------------------------------------===//

/// com.microsoft.RotaryEmbedding / MRotaryEmbedding, RotaryEmbedding-23,
/// GroupQueryAttention with do_rotary: a cache read by an index.
Meaning fused(onnx::NodeOp node, Ins ins);

} // namespace mrope::meaning::transfer

#endif // MROPE_LIB_ANALYSIS_VALUEMEANING_TRANSFER_H
