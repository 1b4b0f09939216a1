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
// reads it, else `position_ids` is added.
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
};

struct FusedFixResult {
  /// One line per change, for the user.
  std::vector<std::string> changes;
  int64_t fixedSites = 0;
};

/// Fixes every fused site of `graph` that findFusedRopeSites calls a bug for
/// `options.arch`, then analyses the graph again: every site must still be
/// there and none a bug. Errors are emitted as diagnostics on the node that
/// cannot be fixed (nothing is changed then, except for sites fixed before
/// it: callers write no file on failure).
mlir::FailureOr<FusedFixResult> fixFusedSites(onnx::GraphOp graph,
                                              const FusedFixOptions &options);

} // namespace mrope

#endif // MROPE_TRANSFORMS_FIXFUSEDSITES_H
