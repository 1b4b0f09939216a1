//===- TokenReorder.h - row reorders of a site's tokens ---------*- C++ -*-===//
//
// Qwen2.5-VL's vision tower reorders its patches by a window index, and the
// angles of its rotary table with them: Reshape [N, F] to merge units
// [N/4, 4, F], Gather them by the index, Reshape back to [N', F]. Token j is
// then rotated by the angles of token index[j]. The angle of a token depends
// only on its own positions, so the same Reshapes and Gathers applied to
// the positions rows [N, k] give the positions rope.apply rotates by:
// rope-raise moves the reorder from the angles onto the positions, and the
// fix keeps it when it gives the tokens new positions.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_LIB_TRANSFORMS_TOKENREORDER_H
#define MROPE_LIB_TRANSFORMS_TOKENREORDER_H

#include "mrope/Dialect/Onnx/IR/OnnxBuilder.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <string>

namespace mrope::raise {

/// Reshapes that regroup rows and Gathers on axis 0, in order, from `rows`
/// (one row per token, the last axis a row's values) to a value of the
/// same row width again.
struct TokenReorder {
  mlir::Value rows;
  llvm::SmallVector<onnx::NodeOp> nodes;
};

/// The reorder around `gather` (a Gather on axis 0 by a computed index):
/// the Reshapes before it back to rank-2 rows, and the Reshapes after it
/// while they are its only users. Failure with `why` when a Reshape could
/// move a row's values into other rows (its shape's last entry is not -1
/// or the row width, or a row axis copies a dim by 0) or the ends are not
/// rank-2 rows.
mlir::FailureOr<TokenReorder> tokenReorderOf(onnx::NodeOp gather,
                                             std::string &why);

/// `reorder` applied to integer rows [N, width]: the same Gathers, and
/// Reshapes to the same shapes with `width` as the last entry (a shape
/// that does not regroup whole rows fails at run time instead of mixing
/// rows). Nodes go at the builder's insertion point.
mlir::Value applyTokenReorder(onnx::OnnxBuilder &emit, mlir::OpBuilder &b,
                              const TokenReorder &reorder, mlir::Value rows,
                              int64_t width);

/// The reorder rope-raise put on a rope.apply positions operand: its
/// positions are Transpose(perm [1, 0]) of reordered rows [N, k] (then
/// Unsqueezed to [k, 1, N] for (h, w) pairs). None for any other positions.
std::optional<TokenReorder> positionsReorderOf(mlir::Value positions);

} // namespace mrope::raise

#endif // MROPE_LIB_TRANSFORMS_TOKENREORDER_H
