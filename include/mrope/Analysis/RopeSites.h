//===- RopeSites.h - find and classify RoPE in ONNX graphs ------*- C++ -*-===//
//
// A RoPE *site* is one cos/sin producer of an imported ONNX graph (shared by
// every layer that rotates with it). The analysis finds sites by dataflow,
// not by fixed node lists: from each Cos (paired with the Sin of the same
// angle, or a Gather of a constant cos table) it walks the data inputs back
// (looking through casts, reshapes, expands; not into shape computations) to
// the frequency table and to the positions (an integer graph input or a
// Range), recognizes the M-RoPE section merge (Split/Gather/Concat after Cos,
// or Qwen3-VL's strided Slice/ScatterND interleave before it), and follows
// the tables forward to the rotations of q and k.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_ANALYSIS_ROPESITES_H
#define MROPE_ANALYSIS_ROPESITES_H

#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <string>
#include <vector>

namespace mrope {

/// What the user says the model is (mrope-fix --arch).
enum class Arch { Auto, Qwen2VL, Qwen25VL, Qwen3VL, Text };
std::optional<Arch> parseArch(llvm::StringRef name);
llvm::StringRef archName(Arch arch);
/// Qwen2-VL, Qwen2.5-VL and Qwen3-VL: models whose decoder needs M-RoPE.
bool isQwenVL(Arch arch);

struct RopeSite {
  /// The table producers: Cos and Sin of the same angle, or the Gathers of
  /// constant cos/sin caches.
  onnx::NodeOp cosNode, sinNode;
  /// The positions the site depends on: an integer graph input (block
  /// argument) or the result of a Range node.
  mlir::Value positions;
  /// mrope-degenerate only: the in-graph value holding the three identical
  /// position rows built from `positions` (what the fix replaces).
  mlir::Value builtRows;
  /// The f32 frequency table as the graph stores it (exact bits).
  llvm::SmallVector<float> invFreq;
  /// 1d | 2d | mrope | mrope-interleaved | mrope-degenerate
  std::string kind;
  std::string layout = "neox"; ///< neox | gptj
  llvm::SmallVector<int64_t> sections;
  bool interleaved = false;
  bool perSectionFreqs = false; ///< vision tower: frequencies restart per axis
  /// The positions are computed in the graph from token ids and [N, 3]
  /// image/video grids (get_rope_index), e.g. by mrope-fix --positions
  /// compute; `positions` is then the token-ids input.
  bool computedPositions = false;
  /// The rotations act on [tokens, heads, dim] tensors without a batch dim:
  /// the Qwen2-VL vision tower's layout.
  bool vision = false;
  int64_t rotaryDim = 0;
  double theta = 0.0;
  /// The Mul nodes applying the cos table to a rotated tensor (q, k of
  /// every layer).
  llvm::SmallVector<onnx::NodeOp> rotations;
  /// Names of the ONNX nodes that make up the site (tables and merge).
  llvm::SmallVector<std::string> nodes;
  bool bug = false;
  std::string reason;

  /// Name of the positions source for messages: the graph input name or
  /// "Range node <name>".
  std::string positionsName() const;
};

/// How messages name a node: its name, else "output '<first output>'".
std::string nodeLabel(onnx::NodeOp node);

/// All RoPE sites of `graph`, classified for `arch`.
std::vector<RopeSite> findRopeSites(onnx::GraphOp graph, Arch arch);

/// The JSON report: {"sites": [...], "summary": {"rotations": N, "bugs": N}}.
std::string renderReportJson(llvm::ArrayRef<RopeSite> sites,
                             llvm::StringRef model, Arch arch);

/// The human summary mrope-fix prints.
std::string renderReportText(llvm::ArrayRef<RopeSite> sites,
                             llvm::StringRef model, Arch arch);

} // namespace mrope

#endif // MROPE_ANALYSIS_ROPESITES_H
