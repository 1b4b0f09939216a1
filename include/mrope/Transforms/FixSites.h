//===- FixSites.h - rewrite buggy RoPE sites to true M-RoPE -----*- C++ -*-===//
#ifndef MROPE_TRANSFORMS_FIXSITES_H
#define MROPE_TRANSFORMS_FIXSITES_H

#include "mrope/Analysis/RopeSites.h"

#include "mlir/Support/LLVM.h"

#include <string>
#include <vector>

namespace mrope {

struct FixOptions {
  Arch arch = Arch::Auto;
  /// --sections: M-RoPE sections for sites whose graph has none (plain 1D
  /// RoPE in a Qwen VL model). Empty: the architecture's default, scaled to
  /// the site's frequency count ([16,24,24] at 64; Qwen3-VL [24,20,20]).
  std::vector<int64_t> sections;
  /// Name of the [3, batch, seq] positions input.
  std::string positionsName = "position_ids";
  /// --positions compute: the graph computes its 3D positions from its
  /// token ids and attention mask (found by meaning, else added as input_ids
  /// / attention_mask), image_grid_thw and video_grid_thw (added where
  /// missing; Qwen2.5-VL also second_per_grid_ts) and outputs rope_deltas.
  bool computePositions = false;
};

/// What the fix did, for the user (one line each) and for tests.
struct FixResult {
  std::vector<std::string> changes;
  /// What did not apply, for the user (e.g. --positions compute on a text
  /// model).
  std::vector<std::string> notes;
  int64_t fixedSites = 0;
};

/// Rewrites every buggy site of `graph` for `options.arch` to rotate by
/// true positions. A site rope-raise turned into `rope.apply` is classified
/// by its positions operand and fixed on the op: only `#rope.semantics` and
/// the positions operand change (degenerate M-RoPE: the built rows become a
/// graph input `position_ids` [3, batch, seq] int64; 1D text RoPE under a
/// Qwen VL arch: M-RoPE sections and those positions; the vision tower's
/// flat patch index: 2D (h, w) RoPE, its window reorder kept). A buggy site
/// left as ONNX nodes (as findRopeSites reports it: rope-raise could not
/// express it, or did not run) is an error naming the site and why it is
/// not raised; a correct one is left as it is. New rope ops
/// (rope.mrope_index) are left for convert-rope-to-onnx. The old positions
/// input is retyped in place when nothing else uses it; nodes only the old
/// positions or tables used are removed; everything else is left as it was.
/// With `computePositions` and no bug, a correct M-RoPE model's [3, B, S]
/// positions input is replaced by the in-graph computation. Errors are emitted
/// as diagnostics at the site (or the graph); nothing is rolled back, so a
/// caller that fails must drop the module.
mlir::FailureOr<FixResult> fixRopeSites(onnx::GraphOp graph,
                                        const FixOptions &options);

/// `base`, or `base` + "_3d" when the graph already has an input of that name:
/// the name of the [3, batch, seq] positions input a fix adds.
std::string positionsInputName(onnx::GraphOp graph, llvm::StringRef base);

/// Erases the ONNX nodes and initializers that the backward closure of
/// `seeds` leaves without users (what only a replaced subgraph used); returns
/// how many nodes went.
int64_t eraseDeadProducers(onnx::GraphOp graph,
                           llvm::ArrayRef<mlir::Operation *> seeds);

} // namespace mrope

#endif // MROPE_TRANSFORMS_FIXSITES_H
