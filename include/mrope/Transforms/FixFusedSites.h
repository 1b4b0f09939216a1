//===- FixFusedSites.h - fused RoPE ops to true M-RoPE ----------*- C++ -*-===//
//
// The fix for fused RoPE sites (FusedRopeSites.h) that are the bug:
//
// - com.microsoft.RotaryEmbedding with 1D positions becomes
//   com.microsoft.MRotaryEmbedding over the same caches with [3, B, S]
//   positions and the architecture's sections;
// - opset-23 RotaryEmbedding with 1D positions keeps its op (so the model
//   stays standard ONNX) but gets per-token caches gathered in the graph by
//   the three position rows, section by section, and no position_ids;
// - GroupQueryAttention with do_rotary = 1 gets do_rotary = 0 and an
//   MRotaryEmbedding on its query and key (as the op rotated them itself
//   before attention and before appending keys to the cache);
// - degenerate M-RoPE (three rows copied from one 1D tensor) gets the
//   [3, B, S] input in place of the copies; where per-token caches are built
//   in the graph from such rows (read by the op through Range(B*S)), the
//   rows they are built from are replaced, so the op still reads per token;
// - per-token caches built in the graph from 1D positions are recomputed
//   channel by channel from [3, B, S] positions and the frequencies the
//   value-meaning lattice recovered.
//
// The old [B, S] positions input is retyped to [3, B, S] when nothing else
// reads it, else `position_ids` is added. Under --positions compute that
// input is then replaced by the positions the graph computes
// (computeFusedPositions).
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_TRANSFORMS_FIXFUSEDSITES_H
#define MROPE_TRANSFORMS_FIXFUSEDSITES_H

#include "mrope/Analysis/FusedRopeSites.h"

#include "mlir/Support/LLVM.h"

#include <string>
#include <vector>

namespace mrope {

struct FusedFixOptions {
  Arch arch = Arch::Auto;
  /// M-RoPE sections for 1D sites; empty: the architecture's default scaled
  /// to the rotary dim ([16, 24, 24] at 64 frequencies; Qwen3-VL
  /// interleaved [24, 20, 20]).
  std::vector<int64_t> sections;
  /// Name of the [3, batch, seq] positions input when one is added.
  std::string positionsName = "position_ids";
  /// --positions compute: the [3, batch, seq] input the fix adds is only
  /// the place computeFusedPositions then fills (not announced, no old
  /// input retyped); an old positions input nothing reads goes.
  bool computePositions = false;
};

struct FusedFixResult {
  /// One line per change, for the user.
  std::vector<std::string> changes;
  int64_t fixedSites = 0;
  /// The [3, batch, seq] positions input the fixed sites read (retyped or
  /// added); null when no fix needed one.
  mlir::Value positions;
};

/// Fixes every fused site of `graph` that findFusedRopeSites calls a bug for
/// `options.arch`, then analyses the graph again: every site must still be
/// there and none a bug. Errors are emitted as diagnostics on the node that
/// cannot be fixed (nothing is changed then, except for sites fixed before
/// it: callers write no file on failure).
mlir::FailureOr<FusedFixResult> fixFusedSites(onnx::GraphOp graph,
                                              const FusedFixOptions &options);

/// The [3, batch, seq] int64 graph input that the correct M-RoPE fused
/// sites of `sites` read (through their caches or their position_ids);
/// null when none does. An error naming the graph when they read different
/// inputs.
mlir::FailureOr<mlir::Value>
fusedPositionsInput(onnx::GraphOp graph, llvm::ArrayRef<FusedRopeSite> sites);

/// --positions compute for fused sites: `input`, the [3, batch, seq] int64
/// positions graph input the fused sites read (what fixFusedSites added or
/// retyped, or what a correct model's sites read), is replaced by the
/// positions the graph computes from input_ids, attention_mask and the
/// grids: the same rope.mrope_index (and, with a KV cache, the same decode
/// continuation) as --positions compute of unfused sites, added by
/// FixPositions.cpp. The input is removed; rope_deltas becomes an output.
/// The rope.mrope_index op is left for convert-rope-to-onnx. The fused
/// sites read the computed positions through one Identity whose output,
/// `mrope_fix/position_ids`, is recorded in value_info as int64 [3, batch,
/// seq] (so the written model says what it is); that output is returned.
/// Changes go to `changes`.
/// `announce`: say that the input was removed (a user's input; not the
/// placeholder a compute-mode fixFusedSites added).
mlir::FailureOr<mlir::Value>
computeFusedPositions(onnx::GraphOp graph, mlir::Value input, Arch arch,
                      bool announce, std::vector<std::string> &changes);

} // namespace mrope

#endif // MROPE_TRANSFORMS_FIXFUSEDSITES_H
