//===- ProveFix.h - prove a fix on probe positions before writing it ------===//
//
// Before mrope-fix writes a fixed model it evaluates, with the in-tree
// evaluator (mrope/Analysis/Evaluate.h), the cos/sin tables that reach
// every rotation, in the original graph (before the fix) and in the fixed
// one (after), on a batch of one and a short sequence:
//
//  (a) text positions (one row of positions; in the fixed graph the same
//      row three times) must give the original's tables;
//  (b) multimodal positions (three different rows; (h, w) pairs for a
//      vision tower) must give cos/sin of the semantics the fix claims:
//      channel i rotated by position row axis(i) times inv_freq[i], with
//      the original graph's frequency table, rotary dim and pair layout.
//
// Tables are compared per frequency (a per-channel table's two channels of
// a pair must agree). Both sides are float32 products and cos/sin computed
// the same way, so equal semantics give equal bits; the tolerance (1e-6)
// only absorbs a different but equivalent float order.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_FIX_PROVEFIX_H
#define MROPE_FIX_PROVEFIX_H

#include "mrope/Analysis/FusedRopeSites.h"
#include "mrope/Analysis/RopeSites.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"

#include <string>
#include <vector>

namespace mrope::prove {

/// The tables of one rotation on one probe, per frequency: [tokens, F].
struct ProbeTables {
  int64_t tokens = 0, freqs = 0;
  std::vector<float> cos, sin;
};

/// What an original site was (its IR is gone once the fix ran).
struct OriginalSite {
  int64_t index = 0;
  PositionKind kind = PositionKind::OneD;
  bool vision = false, bug = false;
  /// Tokens of the probe (the model's static sequence length, or 8).
  int64_t tokens = 8;
  rope::SemanticsAttr semantics;
  llvm::SmallVector<float> invFreq;
  /// The text row both graphs are probed with when it is not the probe's
  /// own: a packed site counts positions per sample of its segment ids, so
  /// its rows restart (two samples).
  llvm::SmallVector<int64_t> textRow;
};

/// What the original graph computes, evaluated before the fix.
struct Original {
  /// Per rotation (keyed by the rotated value): the tables on the text
  /// probe, and the index of its site in `sites`.
  llvm::StringMap<ProbeTables> text;
  llvm::StringMap<size_t> siteOf;
  std::vector<OriginalSite> sites;
};

/// Evaluates the original sites' tables on the text probe. Fails with a
/// one-line reason in `why`.
bool evaluateOriginal(onnx::GraphOp graph, llvm::ArrayRef<RopeSite> sites,
                      Original &out, std::string &why);

/// Checks (a) and (b) on the fixed graph's sites (the re-analysis).
/// `requestedSections`: --sections when given. On success `proved` gets one
/// line per site; on failure `why` one line.
bool proveFixed(onnx::GraphOp graph, llvm::ArrayRef<RopeSite> after,
                const Original &original,
                llvm::ArrayRef<int64_t> requestedSections,
                std::vector<std::string> &proved, std::string &why);

//===----------------------------------------------------------------------===//
// Fused RoPE ops (ProveFused.cpp)
//
// A fused node (com.microsoft.RotaryEmbedding / MRotaryEmbedding,
// RotaryEmbedding-23) has no tables to read: the proof gives it a probe x
// (1 on the first channel of every rotated pair, 0 elsewhere) and reads
// the cos and sin it applied per token and frequency off its output (the
// evaluator runs the op as ONNX Runtime does, evaluate-fused.test). Then,
// per node, keyed by the tensor it rotates:
//  (a) text positions (the same row three times in the fixed graph) must
//      give the original node's cos/sin;
//  (b) multimodal positions (rows t, h, w) must give, at frequency i, the
//      original node's cos/sin on position row axis(i) alone: M-RoPE with
//      the sections the fixed node claims, and the original's frequencies
//      and caches, whatever they are (cache rows, per-token caches).
//===----------------------------------------------------------------------===//

/// The original fused nodes' (or rotations') cos/sin on the text row and
/// on each of the multimodal rows (evaluated before the fix).
struct FusedOriginal {
  int64_t tokens = 8;
  /// By rotated value: cos/sin on probe rows t (text), h and w.
  llvm::StringMap<ProbeTables> rowT, rowH, rowW;
  /// Other names of a rotated value, by the key above: the input of the
  /// Transpose or Reshape that made it (an emitted fused node may rotate
  /// that, in its own layout).
  llvm::StringMap<std::string> alias;
  /// Some of them may be rotated by unfused ops after the fix (checked
  /// by proveFixed): do not require a fused node for each.
  bool partial = false;
  /// GroupQueryAttention nodes whose rotation (evaluated as
  /// com.microsoft.RotaryEmbedding over their caches) the fix moves out:
  /// after it they must not rotate and must read proven rotations.
  std::vector<std::string> gqaNodes;
};

/// --emit ort / onnx23 write the fix as fused nodes: the original's
/// unfused bug sites' rotations, evaluated on the three probe rows, are
/// what proveFusedFixed checks those nodes against.
bool evaluateOriginalRows(onnx::GraphOp graph, llvm::ArrayRef<RopeSite> sites,
                          FusedOriginal &out, std::string &why);
/// Whether that covers the bug sites of `sites`: not a vision tower (its
/// fix is (h, w) RoPE, which the three-row fused proof does not state).
bool canProveEmitted(llvm::ArrayRef<RopeSite> sites);

/// Whether the proof covers the fused sites the fix will rewrite (those
/// with `bug`); false with `why` for GroupQueryAttention with packed QKV.
/// GroupQueryAttention's own rotation is evaluated as
/// com.microsoft.RotaryEmbedding over its caches at its positions (ONNX
/// Runtime's contract for do_rotary, which the fix rests on); the
/// attention is not evaluated.
bool canProveFused(llvm::ArrayRef<FusedRopeSite> sites, std::string &why);

/// Evaluates the fused bug sites' nodes on the probe rows; with
/// `correctToo`, also the correct M-RoPE sites' (what --positions compute
/// rewrites on a model without a bug: their positions input).
bool evaluateFusedOriginal(onnx::GraphOp graph,
                           llvm::ArrayRef<FusedRopeSite> sites,
                           FusedOriginal &out, std::string &why,
                           bool correctToo = false);

/// Checks (a) and (b) on every fused node of `after` (the fixed graph's
/// fused sites) that rotates a tensor an original node rotated, and that
/// every such tensor is still rotated. One line per site in `proved`.
/// The probe rows are given to `positions` when set: under --positions
/// compute, the [3, B, S] value the graph computes (rope.mrope_index,
/// lowered), which took the place of the input the fix read; the sites of
/// `after` were read before that (their nodes are the same). Else to the
/// one [3, B, S] graph input each site reads.
bool proveFusedFixed(onnx::GraphOp graph, llvm::ArrayRef<FusedRopeSite> after,
                     const FusedOriginal &original,
                     llvm::ArrayRef<int64_t> requestedSections,
                     std::vector<std::string> &proved, std::string &why,
                     mlir::Value positions = {});

/// Test only (--debug-perturb-fix): breaks a fused fix where the
/// re-analysis does not look. `how`: "shift" adds 1 to the [3, B, S]
/// positions (`positions`, else the graph input) where the fused fix reads
/// them; "swap" swaps their h and w rows there; "scale" makes the first
/// fused node's cos 1e-3 too large. False when there is nothing to
/// perturb.
bool perturbFusedFix(onnx::GraphOp graph, llvm::StringRef how,
                     mlir::Value positions = {});

} // namespace mrope::prove

#endif // MROPE_FIX_PROVEFIX_H
