//===- EvalNode.h - one node of the evaluator, by op family ----*- C++ -*-===//
//
// Private to lib/Analysis: the helpers every op family uses and one method
// per family. The families live in one file each:
//
//   EvalNode.cpp    operands, results, the shape-only path and the dispatch;
//   EvalArith.cpp   unary and binary elementwise ops, Cast, Where, Trilu,
//                   CumSum, Reduce*;
//   EvalShape.cpp   Shape, Range, ConstantOfShape and the views (Unsqueeze,
//                   Squeeze, Reshape, Flatten, Expand, Tile, Transpose);
//   EvalSelect.cpp  Concat, Slice, Split, ScatterND, Gather, GatherElements;
//   EvalMatMul.cpp  MatMul and Einsum;
//   EvalRotary.cpp  the fused rotary ops.
//
// Evaluate.cpp holds the tensors, constants and graph inputs, and hands a
// node to NodeEval.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_LIB_ANALYSIS_EVALUATE_EVALNODE_H
#define MROPE_LIB_ANALYSIS_EVALUATE_EVALNODE_H

#include "mrope/Analysis/Evaluate.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/Twine.h"

#include <optional>
#include <vector>

namespace mrope::eval::detail {

/// Row-major strides of `shape`.
llvm::SmallVector<int64_t> stridesOf(llvm::ArrayRef<int64_t> shape);
/// Numpy broadcast of two shapes; nullopt when incompatible.
std::optional<llvm::SmallVector<int64_t>> broadcast(llvm::ArrayRef<int64_t> a,
                                                    llvm::ArrayRef<int64_t> b);
/// For each flat index of `out`, the flat index into a tensor of `in`
/// broadcast to `out`.
std::vector<int64_t> broadcastIndex(llvm::ArrayRef<int64_t> in,
                                    llvm::ArrayRef<int64_t> out);
/// Copies element `from` of `src` to element `to` of `dst` (same kind).
void copyElem(const Tensor &src, int64_t from, Tensor &dst, int64_t to);
/// A tensor of `src`'s kind and `shape`, zeros when `data`, else shape-only.
Tensor like(const Tensor &src, llvm::ArrayRef<int64_t> shape, bool data);
/// `src` gathered by flat indices (the result's data).
Tensor gatherFlat(const Tensor &src, llvm::ArrayRef<int64_t> shape,
                  llvm::ArrayRef<int64_t> flat);
/// The tensor kind of an element type / an ONNX `to` code; nullopt when the
/// evaluator does not compute it.
std::optional<Tensor::Kind> kindOf(mlir::Type elem);
std::optional<Tensor::Kind> kindOfOnnx(int64_t to);
/// `axis` counted from the front.
int64_t normAxis(int64_t axis, int64_t rank);

/// The evaluation of one result of one node: its operands through the
/// evaluator, its results stored back into it.
class NodeEval {
public:
  NodeEval(Evaluator &ev, onnx::NodeOp op, unsigned resultIndex, bool needData);

  /// The node's result `resultIndex`, or null with the evaluator's reason
  /// set.
  const Tensor *run();

private:
  // One method per op family (EvalNode.h's file list says where).
  const Tensor *evalShapeLikeInput();
  const Tensor *evalRotary();
  const Tensor *evalUnary();
  const Tensor *evalCast();
  const Tensor *evalShape();
  const Tensor *evalBinary();
  const Tensor *evalWhere();
  const Tensor *evalTrilu();
  const Tensor *evalRange();
  const Tensor *evalConstantOfShape();
  const Tensor *evalView();
  const Tensor *evalExpandTile();
  const Tensor *evalTranspose();
  const Tensor *evalConcat();
  const Tensor *evalSliceSplit();
  const Tensor *evalScatterND();
  const Tensor *evalGather();
  const Tensor *evalMatMul();
  const Tensor *evalCumSum();
  const Tensor *evalReduce();

  /// Operand `k` (null when absent or onnx.none).
  mlir::Value input(unsigned k);
  /// Operand `k` evaluated (with its data when `data`); null when missing.
  const Tensor *arg(unsigned k, bool data);
  llvm::SmallVector<int64_t> intList(const Tensor &t);
  /// `axes` from the attribute or input `index`, as the opset says.
  bool axesOf(unsigned index, llvm::StringRef attrName,
              std::optional<llvm::SmallVector<int64_t>> &axes);
  /// Stores `results` (one per node result) and returns result
  /// `resultIndex`.
  const Tensor *done();
  const Tensor *one(Tensor t);

  bool fail(mlir::Operation *op, const llvm::Twine &msg) {
    return ev.fail(op, msg);
  }
  const Tensor *get(mlir::Value v, bool data) { return ev.get(v, data); }
  const Tensor *store(mlir::Value v, Tensor t) {
    return ev.store(v, std::move(t));
  }

  Evaluator &ev;
  onnx::NodeOp op;
  llvm::StringRef name;
  unsigned resultIndex;
  bool needData;
  /// com.microsoft.RotaryEmbedding or MRotaryEmbedding.
  bool msRotary;
  int64_t opset, maxElements;
  llvm::SmallVector<Tensor> results;
};

} // namespace mrope::eval::detail

#endif // MROPE_LIB_ANALYSIS_EVALUATE_EVALNODE_H
