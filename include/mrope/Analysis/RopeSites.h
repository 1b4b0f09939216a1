//===- RopeSites.h - find and classify RoPE in ONNX graphs ------*- C++ -*-===//
//
// A RoPE *site* is one cos/sin producer of an imported ONNX graph (shared by
// every layer that rotates with it). The analysis finds sites by dataflow,
// not by fixed node lists: from each Cos (paired with the Sin of the same
// angle, or a Gather of a constant cos table) it walks the data inputs back
// (PositionWalk.h) to the frequency table and to the positions, recognizes
// the M-RoPE section merge (Split/Gather/Concat after Cos, or Qwen3-VL's
// strided Slice/ScatterND interleave before it), follows the tables forward
// to the rotations of q and k, and classifies the positions for the declared
// architecture (RopeClassify.h). The report writer (RopeReport.h) is the
// only place that turns a site into words.
//
// Files: OnnxMatchers (types, constants, op dispatch), PositionWalk (what an
// angle depends on), RopeSites (site matching), RopeClassify (bug or not),
// RopeReport (text and JSON).
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_ANALYSIS_ROPESITES_H
#define MROPE_ANALYSIS_ROPESITES_H

#include "mrope/Dialect/Onnx/IR/OnnxOps.h"
#include "mrope/Dialect/Rope/IR/RopeAttrs.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <vector>

namespace mrope {

/// What the user says the model is (mrope-fix --arch); one row each in
/// the table of ArchTraits.h.
enum class Arch {
  Auto,
  Qwen2VL,
  Qwen25VL,
  Qwen3VL,
  Qwen35,
  Qwen25Omni,
  Qwen3Omni,
  Glm4v,
  Text
};
std::optional<Arch> parseArch(llvm::StringRef name);
llvm::StringRef archName(Arch arch);
/// Qwen2-VL, Qwen2.5-VL and Qwen3-VL: models whose decoder needs M-RoPE.
bool isQwenVL(Arch arch);

/// What the positions of a site are.
enum class PositionKind {
  OneD,             ///< one position per token (text RoPE, flat patch index)
  TwoD,             ///< (h, w) per patch, frequencies restart per axis
  MRope,            ///< [3, B, S] rows, contiguous sections
  MRopeInterleaved, ///< [3, B, S] rows, Qwen3-VL interleaved sections
  MRopeDegenerate,  ///< M-RoPE of rows the graph builds from one 1D tensor
};

/// Where `RopeSite::positions` comes from.
enum class PositionSource {
  GraphInput,   ///< a graph input (block argument) of integer type
  Range,        ///< the result of a Range node in the graph
  GetRopeIndex, ///< computed in the graph from the token ids (`positions`)
                ///< and [N, 3] image/video grids
  Grid,         ///< (h, w) computed in the graph from the [N, 3] grid
                ///< input (`positions`)
  Segments,     ///< counted per packed sample from the [B, S] segment ids
                ///< input (`positions`): 1D positions that restart per
                ///< sample (PositionProbe.h)
};

/// One rotation a site's tables feed: out = x * cos + rotate(x) * sin.
struct Rotation {
  /// The Mul applying the cos table, and the Add (or Sub) combining it with
  /// the rotated product.
  onnx::NodeOp cosMul, combine;
  /// The rotated operand (q or k of a layer, or its rotated slice).
  mlir::Value x;
  /// How rotate(x) is spelled: Concat(-x2, x1) is `neox` (rotate-half);
  /// a Reshape/Flatten of stacked (-x_odd, x_even) is `gptj` (pairs).
  rope::PairLayout layout = rope::PairLayout::neox;
  /// Partial rotary: `x` is channels [rotaryBegin, rotaryEnd) of `source`'s
  /// last axis (a constant Slice); otherwise `source` is `x` and the range
  /// is its whole last axis (rotaryEnd -1 when that is not known).
  mlir::Value source;
  int64_t rotaryBegin = 0, rotaryEnd = -1;
  /// The algebra of the rotation is proven: `sinMul` multiplies a value
  /// carrying the sin table (`sinFactor`) with `rotated`, and, with the
  /// combine's sign (Add, or Sub of the sin product), `rotated` is exactly
  /// rotate(x) in `layout`, channel for channel (Concat(-x2, x1), a sign
  /// vector, Sub, pairs, value identities: any spelling). `cosFactor` is the
  /// value carrying the cos table into `cosMul`. Unproven rotations are
  /// reported with the layout their shape suggests; rope-raise leaves them.
  bool proven = false;
  /// Why the algebra failed (for rope-raise's remark) when not proven.
  std::string unproven;
  onnx::NodeOp sinMul;
  mlir::Value cosFactor, sinFactor, rotated;
};

struct RopeSite {
  /// The table producers: Cos and Sin of the same angle, the Gathers of
  /// constant cos/sin caches, or the Gather and Split of a sin|cos cache.
  onnx::NodeOp cosNode, sinNode;
  /// The per-token cos and sin tables as the graph produces them, before
  /// any section merge: the Cos/Sin results, the two Gathers' results, or
  /// the Split halves of a sin|cos cache. What a fix replaces.
  mlir::Value cosTable, sinTable;
  PositionKind kind = PositionKind::OneD;
  /// Sections, rotary dim, theta, pair layout, section order, frequency
  /// indexing, as recovered from the graph.
  rope::SemanticsAttr semantics;
  /// The frequency table as the graph stores it (exact f32 bits; per axis
  /// for TwoD).
  llvm::SmallVector<float> invFreq;
  /// The positions the site depends on, and where they come from.
  mlir::Value positions;
  PositionSource source = PositionSource::GraphInput;
  /// MRopeDegenerate only: the in-graph value holding the rows built from
  /// `positions` (what the fix replaces).
  mlir::Value builtRows;
  /// The rotations act on [tokens, heads, dim] without a batch dim: the
  /// Qwen2-VL vision tower's layout.
  bool vision = false;
  /// Gathers on axis 0 that reorder the rows of the angles by data after
  /// they are formed (Qwen2.5-VL's window index): token j gets the angles of
  /// row index[j]. `positions` are what the rows are formed from, before
  /// the reorder; rope-raise moves the reorder onto the positions.
  llvm::SmallVector<onnx::NodeOp> reorders;
  /// Every rotation the tables feed (q and k of every layer).
  llvm::SmallVector<Rotation> rotations;
  /// The nodes that make up the site (tables, merge, position walk).
  llvm::SmallVector<mlir::Operation *> nodes;
  /// The nodes of the proven section merges (cos and sin): they move
  /// channels and rows of the tables and nothing else.
  llvm::SmallVector<mlir::Operation *> mergeNodes;
  /// Set by the classifier (RopeClassify.h) for the declared architecture.
  bool bug = false;

  llvm::ArrayRef<int64_t> getSections() const {
    return semantics.getSections();
  }
  int64_t getRotaryDim() const { return semantics.getRotaryDim(); }
  double getTheta() const { return semantics.getTheta().convertToDouble(); }
  rope::PairLayout getLayout() const { return semantics.getLayout(); }
  bool isInterleaved() const {
    return semantics.getOrder() == rope::SectionOrder::interleaved;
  }
  bool hasPerSectionFreqs() const {
    return semantics.getFreqs() == rope::FreqIndex::per_section;
  }
  bool hasComputedPositions() const {
    return source == PositionSource::GetRopeIndex ||
           source == PositionSource::Grid;
  }
};

/// What a value that carries a site's cos (or sin) table to a rotation
/// holds, by meaning: channel k of its last axis is cos (sin) of
/// position x inv_freq[freqs[k]]. `type` is the value's type, or the type
/// the walk proves where shape inference left it open (null: not known).
struct CarriedTable {
  llvm::SmallVector<int64_t> freqs;
  mlir::RankedTensorType type;
};

/// `v` read as channels of `site`'s table (computed sites with global
/// frequencies only): the frequency of each table channel comes from how
/// the angle is built (inv_freq's channels moved by Concat, Slice, Split:
/// Concat(f, f) gives channel c frequency c % F), then the channels move to
/// `v` through the proven section merge (channel-preserving), value
/// identities, float Casts, Mul by 1, Unsqueeze/Squeeze/Expand/Tile that
/// keep the last axis, Slice/Split/Concat of the last axis, and the
/// stack + flatten of GPT-J's repeat_interleave. Nullopt where any step is
/// something else: then the caller cannot say what `v` means.
std::optional<CarriedTable> carriedTable(mlir::Value v, const RopeSite &site,
                                         bool sin);

/// How the analysis runs.
struct FindOptions {
  Arch arch = Arch::Auto;
  /// --explain: one line per candidate Cos/Gather/Mul that is not (part of)
  /// a site, saying why. The same lines go to `-debug-only=rope-sites` in
  /// builds with LLVM debug output (see docs/analysis.md).
  llvm::raw_ostream *explain = nullptr;
};

/// All RoPE sites of `graph`, classified for `options.arch`.
std::vector<RopeSite> findRopeSites(onnx::GraphOp graph,
                                    const FindOptions &options);
inline std::vector<RopeSite> findRopeSites(onnx::GraphOp graph, Arch arch) {
  FindOptions options;
  options.arch = arch;
  return findRopeSites(graph, options);
}

} // namespace mrope

#endif // MROPE_ANALYSIS_ROPESITES_H
