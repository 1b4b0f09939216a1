//===- OnnxMatchers.h - null-safe access to ONNX values ---------*- C++ -*-===//
//
// The matcher layer the RoPE analysis is written against. Everything here
// takes what a graph says about a value (its type, its constant contents,
// the node that produces it) and answers "not known" instead of asserting:
// imported graphs may carry unranked, opaque or mistyped values, nodes of
// unknown domains and constants spelled half a dozen ways.
//
// - Types: rankOf/dimOf/elementTypeOf never dereference a null or unranked
//   type.
// - Constants: an initializer, a `Constant` node, a `ConstantOfShape` of a
//   constant shape, or an `Identity` or same-type `Cast` of any of those.
// - Operands: through the views that keep the values (Cast, Reshape,
//   Unsqueeze, Squeeze, Flatten, Identity); value identities (Identity,
//   same-type Cast) are seen through everywhere, backward and forward.
// - Op dispatch: NodeBinder, in the spirit of torch-mlir's OpBinder: a node
//   of the default domain, its optional operands and typed attributes.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_ANALYSIS_ONNXMATCHERS_H
#define MROPE_ANALYSIS_ONNXMATCHERS_H

#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace mrope::match {

/// Rank of a ranked tensor value, -1 otherwise (unranked, opaque, none).
int64_t rankOf(mlir::Value v);
/// Dim `i` of a ranked tensor value (negative `i` counts from the back);
/// ShapedType::kDynamic when unknown or out of range.
int64_t dimOf(mlir::Value v, int64_t i);
/// Rank of `v`: its type's, or where shape inference left it unranked, what
/// the ops that made it say (a Reshape to a folded shape, Transpose's perm,
/// Squeeze/Unsqueeze axes, elementwise ops and slices keeping their input's
/// rank). -1 when not known.
int64_t inferRank(mlir::Value v);
/// Element type of a tensor value (ranked or not), null otherwise.
mlir::Type elementTypeOf(mlir::Value v);
/// The value's ranked tensor type, null otherwise.
mlir::RankedTensorType rankedTypeOf(mlir::Value v);
bool isIntTensor(mlir::Value v);
bool isFloatTensor(mlir::Value v);

/// Whether `node` passes its input on unchanged, element for element and in
/// shape: an Identity, or a Cast to the type its input already has (an
/// exporter's `.float()` of a float tensor).
bool isValueIdentity(onnx::NodeOp node);
/// `v` with the value identities above it (isValueIdentity) peeled off:
/// two values with the same root are the same tensor, however many Identity
/// or same-type Cast nodes an exporter put between them.
mlir::Value rootOf(mlir::Value v);
/// The users of `v` and of every value identity of it (forward through
/// Identity and same-type Cast nodes), each with the operand index at which
/// it reads the value. The identities themselves are not listed.
llvm::SmallVector<std::pair<onnx::NodeOp, unsigned>>
usersThroughIdentities(mlir::Value v);

/// Constant contents of `v` wherever a constant hides (see the file
/// comment); nullopt when `v` is not constant or has more than
/// `maxElements` elements.
std::optional<mlir::DenseElementsAttr>
constantOf(mlir::Value v, int64_t maxElements = 1 << 20);
/// A constant cache under the views that keep its rows: rows [0, n)
/// (`cos_cached[:seq_len]`) and casts; `cache` itself otherwise.
mlir::Value peelCacheView(mlir::Value cache);
/// Whether `v` is a constant (without reading its contents).
bool isConstant(mlir::Value v);
/// Float contents, converted to f32 whatever the float width.
std::optional<llvm::SmallVector<float>> floatsOf(mlir::Value v,
                                                 int64_t maxElements = 1 << 16);
/// Integer contents, any integer width.
std::optional<llvm::SmallVector<int64_t>> intsOf(mlir::Value v);
/// Integer contents of a constant or of shape arithmetic the types decide:
/// Shape of statically known dims, Gather/Slice/Concat/Unsqueeze/Squeeze/
/// Reshape/Cast/Identity of those, and integer Add/Sub/Mul/Div (what torch
/// writes for `x[..., : x.shape[-1] // 2]`). Small vectors only.
std::optional<llvm::SmallVector<int64_t>> foldInts(mlir::Value v);
/// What a caller knows of an untyped value's shape for foldInts: `of` (a
/// root, see rootOf) has rank `rank` and last dim `lastDim`.
struct ShapeHint {
  mlir::Value of;
  int64_t rank = -1, lastDim = -1;
};
std::optional<llvm::SmallVector<int64_t>> foldInts(mlir::Value v,
                                                   const ShapeHint &hint);
/// The axis a view inserts into its input (under value identities): an
/// Unsqueeze of one axis, or a Reshape to the input's own shape with a 1
/// spliced in (a Concat of Slices of Shape(input) around a constant 1, as
/// `x.reshape(*x.shape[:a], 1, *x.shape[a:])` exports, or a constant shape
/// equal to the input's static shape with a 1 inserted). Negative axes count
/// from the back; nullopt for anything else.
std::optional<int64_t> insertedAxis(mlir::Value v);
/// The single integer of a one-element integer constant.
std::optional<int64_t> scalarIntOf(mlir::Value v);
/// Whether `v` is a one-element float constant.
bool isScalarFloat(mlir::Value v);

/// Typed access to one node. A binder is only "of" an op type when the node
/// is in the default domain: a `Constant` of a custom domain is not a
/// constant.
class NodeBinder {
public:
  explicit NodeBinder(onnx::NodeOp node) : node(node) {}
  explicit NodeBinder(mlir::Value v)
      : node(v ? v.getDefiningOp<onnx::NodeOp>() : onnx::NodeOp()) {}

  explicit operator bool() const { return static_cast<bool>(node); }
  onnx::NodeOp getNode() const { return node; }
  bool is(llvm::StringRef opType) const { return node && node.isOnnx(opType); }
  template <typename... Names> bool isAnyOf(Names... names) const {
    return (is(names) || ...);
  }
  unsigned numInputs() const;
  /// Input `i`, null when absent or an empty (`onnx.none`) input.
  mlir::Value input(unsigned i) const;
  mlir::Value result(unsigned i = 0) const;
  /// An integer attribute, `dflt` when absent.
  int64_t intAttr(llvm::StringRef name, int64_t dflt) const;
  std::optional<llvm::SmallVector<int64_t>>
  intsAttr(llvm::StringRef name) const;
  /// Integer input `i` when it is a constant or folds to one (foldInts).
  std::optional<llvm::SmallVector<int64_t>> constInts(unsigned i) const {
    mlir::Value v = input(i);
    return v ? foldInts(v) : std::nullopt;
  }

private:
  mutable onnx::NodeOp node;
};

} // namespace mrope::match

#endif // MROPE_ANALYSIS_ONNXMATCHERS_H
