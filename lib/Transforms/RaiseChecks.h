//===- RaiseChecks.h - which RoPE sites rope-raise can raise ----*- C++ -*-===//
//
// A site is raised only when rope.apply provably computes what its
// rotations compute: every rotation is x * cos + rotate(x) * sin with the
// site's own tables, moved to the rotation only by views, broadcasts, the
// section merge and identity scalings, x is [B, H, S, R], and the positions
// are integer rows the op can take. Otherwise planSite says why in a remark
// and the site stays as it is.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_LIB_TRANSFORMS_RAISECHECKS_H
#define MROPE_LIB_TRANSFORMS_RAISECHECKS_H

#include "TokenReorder.h"

#include "mrope/Analysis/RopeSites.h"

#include "mlir/IR/BuiltinTypes.h"

namespace mrope::raise {

/// Where the heads of a rotated operand are.
enum class HeadLayout {
  BHSD, ///< [B, H, S, R]: what rope.apply takes
  BSHD, ///< [B, S, H, R] (GPT-J): transposed around the op
  SHD,  ///< [S, H, R] (vision tower): [1, H, S, R] around the op
};

/// One rotation as rope.apply takes it.
struct RaisedRotation {
  Rotation rotation;
  HeadLayout layout = HeadLayout::BHSD;
  /// The rotated operand's type in the graph (its rank and layout), with
  /// what the table broadcast proves filled in, and as rope.apply takes it
  /// ([B, H, S, R]).
  mlir::RankedTensorType graphType, type;
};

struct RaisePlan {
  /// What rope.apply rotates by: the site's positions, or the rows the
  /// graph builds from them (degenerate M-RoPE), or the indices constant
  /// caches are gathered by. [S], [B, S] or [A, B, S].
  mlir::Value positions;
  /// A vision tower's (h, w) pairs [tokens, 2]: rope.apply takes them as
  /// [2, 1, tokens].
  bool pairPositions = false;
  /// The window reorder of the site's angles (RopeSite::reorders), applied
  /// to the positions instead.
  std::optional<TokenReorder> reorder;
  llvm::SmallVector<RaisedRotation> rotations;
};

/// The plan for raising `site`, or failure with `why` it cannot be raised.
mlir::FailureOr<RaisePlan> checkSite(RopeSite &site, std::string &why);

/// checkSite for the `index`-th site, with a remark at the site saying why
/// it is left as is on failure.
mlir::FailureOr<RaisePlan> planSite(RopeSite &site, int64_t index);

/// Whether two rotated operands can be operands of one rope.apply: same
/// element type, batch and sequence extents not known to differ.
bool canShareOp(mlir::RankedTensorType a, mlir::RankedTensorType b);

} // namespace mrope::raise

#endif // MROPE_LIB_TRANSFORMS_RAISECHECKS_H
