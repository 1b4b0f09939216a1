//===- FusedRopeSites.h - RoPE done by one fused ONNX op --------*- C++ -*-===//
//
// Graphs for ONNX Runtime often rotate q and k with one fused node instead
// of Cos/Sin/Mul subgraphs:
//
//   com.microsoft.RotaryEmbedding   (x, position_ids, cos_cache, sin_cache)
//   com.microsoft.MRotaryEmbedding  (x, position_ids [3, B, S], cos, sin)
//   RotaryEmbedding, opset 23       (x, cos, sin, position_ids?)
//   com.microsoft.GroupQueryAttention with do_rotary = 1
//                                   (q, k, v, ..., cos_cache, sin_cache,
//                                    position_ids?)
//
// The cos/sin analysis (RopeSites.h) never sees these: there is no Cos node
// and no rotation to follow. This analysis reads the node itself (pair
// layout, rotary dim, caches) and what the value-meaning lattice
// (ValueMeaning.h) says the node rotates by: which positions (a graph
// input, a Range, three rows copied from one 1D tensor) reach which
// channel, through caches computed in the graph per position or per token.
// Where the lattice knows nothing (caches that are constants or inputs), the
// node's positions are followed back through views and the sections read
// off its attributes or a row Gather. A *fused site* is the set of fused nodes
// that share positions, caches and attributes (q and k of every layer).
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_ANALYSIS_FUSEDROPESITES_H
#define MROPE_ANALYSIS_FUSEDROPESITES_H

#include "mrope/Analysis/RopeSites.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/JSON.h"

#include <string>
#include <vector>

namespace mrope {

/// Which fused op a site uses.
enum class FusedOp {
  MsRotary,            ///< com.microsoft.RotaryEmbedding
  MsMRotary,           ///< com.microsoft.MRotaryEmbedding
  OnnxRotary,          ///< RotaryEmbedding of the default domain (opset 23)
  GroupQueryAttention, ///< com.microsoft.GroupQueryAttention, do_rotary = 1
};
/// "com.microsoft.RotaryEmbedding", ... as written in reports.
llvm::StringRef fusedOpName(FusedOp op);

/// What the positions of a fused site are.
enum class FusedPositions {
  OneD,             ///< [B, S] (or a [1] offset, or GQA's implicit ones)
  MRope,            ///< [3, B, S], contiguous sections
  MRopeInterleaved, ///< [3, B, S], Qwen3-VL interleaved sections
  MRopeDegenerate,  ///< [3, B, S] built in the graph from one 1D tensor
  PerToken,         ///< per-token caches whose positions cannot be followed
};
/// "1d", "mrope", "mrope-interleaved", "mrope-degenerate", "per-token".
llvm::StringRef fusedPositionsName(FusedPositions kind);

struct FusedRopeSite {
  FusedOp op;
  /// Every node of the site (q and k of every layer), in graph order.
  llvm::SmallVector<onnx::NodeOp> nodes;
  FusedPositions kind = FusedPositions::OneD;
  /// The positions operand of the nodes (null for GQA without position_ids
  /// and for per-token caches).
  mlir::Value positions;
  /// Where the positions come from: the graph input, Range node or other
  /// producer `positions` traces back to (through casts, reshapes,
  /// expands); for degenerate M-RoPE the one 1D tensor the rows copy.
  mlir::Value source;
  /// For per-token caches (opset-23 RotaryEmbedding without position_ids):
  /// the [A, B, S] positions the caches were gathered by, when found.
  std::string sourceLabel;
  /// Pair layout: the node's `interleaved` (GQA: `rotary_interleaved`).
  bool gptj = false;
  int64_t rotaryDim = 0;
  /// Frequencies per position axis: [F] for 1D, the `mrope_section`
  /// attribute (or the per-token gather rows) for M-RoPE.
  llvm::SmallVector<int64_t> sections;
  mlir::Value cosCache, sinCache;
  /// Static cache shape (-1 for dynamic dims), empty when unknown: the
  /// type's, completed by the lattice for caches computed in the graph (its
  /// axes give the rank, its channels the width) where shape inference gave
  /// up on them.
  llvm::SmallVector<int64_t> cacheShape;
  /// The frequency base, fitted to constant caches (0 when they are not
  /// constants); `invFreq` the frequencies read from row 1 of the caches.
  double theta = 0.0;
  llvm::SmallVector<float> invFreq;
  bool bug = false;
  std::string reason;
  /// Read off the value-meaning lattice (ValueMeaning.h): the caches are
  /// computed in the graph from positions and frequencies.
  bool fromLattice = false;
  /// The caches are per-token tables ([B*S, F] read through Range(B*S),
  /// or [B, S, F] without position_ids): the positions that matter are
  /// the ones the caches were built from, not the op's position_ids.
  bool perTokenCaches = false;
  /// Lattice sites: the angle table the caches are computed from (nodes
  /// reading caches of one table are one site, however many copies of the
  /// cache subgraph the exporter wrote).
  mlir::Value table;
  /// Lattice sites: the frequency (index into invFreq) of each cache
  /// channel.
  llvm::SmallVector<int32_t> channelFreqs;
  /// Degenerate M-RoPE: the [3, ...] tensor where the three rows were
  /// built as copies of one 1D tensor (what the fix replaces).
  mlir::Value rowsBuiltAt;

  /// Tensors the site rotates: one per node, two (q and k) per GQA node.
  int64_t rotations() const;
  /// "input 'position_ids'", "Range node r", "GroupQueryAttention's
  /// seqlens_k (implicit)", ...
  std::string positionsName() const;
};

/// All fused RoPE sites of `graph`, classified for `arch`: under a Qwen VL
/// arch 1D positions are the bug; [3, B, S] positions copied from one 1D
/// tensor are the bug under any arch.
std::vector<FusedRopeSite> findFusedRopeSites(onnx::GraphOp graph, Arch arch);

/// One report entry per site, with the keys of renderReportJson's sites plus
/// `fused_op` and `caches`.
llvm::json::Array renderFusedSitesJson(llvm::ArrayRef<FusedRopeSite> sites);

} // namespace mrope

#endif // MROPE_ANALYSIS_FUSEDROPESITES_H
