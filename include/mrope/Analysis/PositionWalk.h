//===- PositionWalk.h - what a RoPE angle depends on ------------*- C++ -*-===//
//
// The backward closure of an angle (or of a table index): the data inputs
// it depends on through any computation, stopping at constants, graph
// inputs, Range nodes and shape computations (Shape, Size, the shape input
// of Reshape/Expand/Tile, constant Gather indices: they say how big, not
// which positions).
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_ANALYSIS_POSITIONWALK_H
#define MROPE_ANALYSIS_POSITIONWALK_H

#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallVector.h"

namespace mrope {

struct PositionWalk {
  /// Every node the value depends on (data inputs only).
  llvm::SetVector<mlir::Operation *> nodes;
  /// Graph inputs reached: integer ones (and float ones read as positions,
  /// see adoptFloatPositions) and the other float ones (activations).
  llvm::SmallVector<mlir::Value> intInputs, floatInputs;
  /// Range nodes reached (arange in the graph).
  llvm::SmallVector<onnx::NodeOp> ranges;
  /// Float constants reached (candidate frequency tables).
  llvm::SmallVector<llvm::SmallVector<float>> floatConsts;
  /// Slice nodes reached (Qwen3-VL's strided interleave).
  llvm::SmallVector<onnx::NodeOp> slices;
  /// Gathers along axis 0 by constant indices (our own M-RoPE lowering
  /// picks the position row of every channel this way).
  llvm::SmallVector<onnx::NodeOp> rowGathers;

  /// Walks `v` and everything it depends on.
  void walk(mlir::Value v);

  /// Moves the float inputs in `positions` (read as positions by what they
  /// mean: the lattice forms an angle from them) from floatInputs to the
  /// front of intInputs, so that they are the positions leaf.
  void adoptFloatPositions(llvm::ArrayRef<mlir::Value> positions);

  /// The positions the closure depends on: an integer graph input wins
  /// over a Range (a Range may only index a table); null when neither.
  mlir::Value positionsLeaf() const;

private:
  llvm::DenseSet<mlir::Value> seen;
};

/// Inputs of `node` that carry data into its result (not shapes, axes or
/// constant indices).
llvm::SmallVector<mlir::Value> dataInputs(onnx::NodeOp node);

} // namespace mrope

#endif // MROPE_ANALYSIS_POSITIONWALK_H
