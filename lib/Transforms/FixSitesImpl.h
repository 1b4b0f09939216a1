//===- FixSitesImpl.h - the fixers behind fixRopeSites ----------*- C++ -*-===//
//
// Private to lib/Transforms: what the driver (FixSites.cpp) shares with
// - FixPositions.cpp: the new positions (a [3, B, S] input, rope.mrope_index
//   under --positions compute, (h, w) per vision patch) and the model checks;
// - FixApplySites.cpp: the fixers on rope.apply (what rope-raise made of a
//   site): they change only the semantics and the positions operand.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_LIB_TRANSFORMS_FIXSITESIMPL_H
#define MROPE_LIB_TRANSFORMS_FIXSITESIMPL_H

#include "mrope/Dialect/Rope/IR/RopeOps.h"
#include "mrope/Transforms/FixSites.h"

#include "mlir/IR/Diagnostics.h"

#include <optional>
#include <string>

namespace mrope::fix {

/// The architecture's M-RoPE sections ([16, 24, 24], Qwen3-VL [24, 20, 20])
/// scaled to `numFreqs` frequencies; none when they do not scale evenly.
std::optional<llvm::SmallVector<int64_t>> defaultSections(Arch arch,
                                                          int64_t numFreqs);

/// The sections a 1D text site gets: --sections, else the default; an
/// error through `error` when neither fits `numFreqs`.
mlir::FailureOr<llvm::SmallVector<int64_t>>
textSections(const FixOptions &options, int64_t numFreqs,
             llvm::function_ref<mlir::InFlightDiagnostic()> error);

/// Whether `arch`'s get_rope_index gives f32 positions (Qwen3-Omni): the
/// fix then writes f32 [3, B, S] decoder positions (input or computed).
bool floatPositions(Arch arch);
/// f32 under such an arch, i64 otherwise.
mlir::Type positionsElementType(mlir::MLIRContext *ctx, Arch arch);

/// The model as the fix may rewrite it: one default-domain opset import of
/// version 13 or newer, every node in a domain the model imports.
mlir::LogicalResult checkModelForFix(onnx::GraphOp graph);

/// The decoder's [3, B, S] positions, made on first use: a new input (that
/// takes the old input's place at the end) or computed in the graph
/// (rope.mrope_index).
struct DecoderPositions {
  onnx::GraphOp graph;
  const FixOptions &options;
  FixResult &result;
  llvm::SmallVector<int64_t> shape;
  llvm::SmallVector<std::string> params;
  mlir::Value value;
  /// A packed batch's [B, S] segment ids the positions restart by (the
  /// computed positions take them too); null when unpacked.
  mlir::Value segments;

  DecoderPositions(onnx::GraphOp graph, const FixOptions &options,
                   FixResult &result, mlir::Value oldPositions);
  mlir::RankedTensorType type();
  std::string describe() const;
  mlir::FailureOr<mlir::Value> get();
};

/// The change line of a 1D site made M-RoPE: "<label> (1d[, gptj pairs]):
/// <what> [t, h, w][ interleaved] from <new positions> (was <old>)".
std::string describeTextFix(llvm::StringRef label, rope::PairLayout layout,
                            llvm::StringRef what,
                            llvm::ArrayRef<int64_t> sections,
                            rope::SectionOrder order,
                            const DecoderPositions &positions,
                            const RopeSite &site);

/// (h, w) of every vision patch as position rows [2, 1, patches] (two axes
/// of one "batch"), from the `vision_position_ids` [patches, 2] input (found
/// or added; python: mrope.reference.vision_positions(grid_thw) gives them in
/// 2x2 merge-block order), or computed from a `grid_thw` input (found or
/// added) when `compute`. `patches` is the patch count of the tables or
/// rotated tensors (dynamic allowed).
mlir::FailureOr<mlir::Value>
visionPositions(onnx::GraphOp graph, int64_t patches, bool compute,
                FixResult &result,
                llvm::function_ref<mlir::InFlightDiagnostic()> error);

/// The Qwen2-VL vision RoPE of a 1D site's frequency table: h and w each own
/// half the frequencies, which restart per axis; every other entry of the
/// graph's own table (theta^(-2j/(D/2)) = theta^(-4j/D) bit for bit).
llvm::SmallVector<float> visionFreqs(llvm::ArrayRef<float> invFreq);

//===-- Raised sites (rope.apply) ----------------------------------------===//

/// A rope.apply of the graph with what the analysis says about its
/// positions: `site` has kind, positions (the leaf the rows are built from,
/// for degenerate M-RoPE), source, builtRows, semantics, invFreq, vision
/// and bug filled in (no tables, no rotations: the op is the rotation).
struct ApplySite {
  rope::ApplyOp op;
  RopeSite site;
  /// "site N" for the index rope-raise put on the op (mrope.site, the
  /// site's index in the report), else "site rope.apply".
  std::string label;
  mlir::InFlightDiagnostic error() const;
};

/// Classifies a rope.apply's positions for `arch` with the analysis'
/// PositionWalk and isPositionBug.
ApplySite analyseApply(rope::ApplyOp op, Arch arch);

/// Degenerate M-RoPE: the op's in-graph built rows -> true [3, B, S].
mlir::LogicalResult
fixDegenerateApply(ApplySite &apply, DecoderPositions &positions,
                   llvm::SmallVectorImpl<mlir::Operation *> &dead);
/// 1D text RoPE under a Qwen VL arch -> M-RoPE with the arch's sections
/// (or --sections), keeping inv_freq, pair layout and rotated range.
mlir::LogicalResult
fixTextApply(ApplySite &apply, const FixOptions &options,
             DecoderPositions &positions,
             llvm::SmallVectorImpl<mlir::Operation *> &dead);
/// Vision tower: flat 1D patch index -> (h, w) 2D RoPE.
/// `visionRows`: the (h, w) rows made for an earlier op of the graph, or
/// null (then made here and returned through it).
mlir::LogicalResult
fixVisionApply(ApplySite &apply, const FixOptions &options, FixResult &result,
               mlir::Value &visionRows,
               llvm::SmallVectorImpl<mlir::Operation *> &dead);

} // namespace mrope::fix

#endif // MROPE_LIB_TRANSFORMS_FIXSITESIMPL_H
