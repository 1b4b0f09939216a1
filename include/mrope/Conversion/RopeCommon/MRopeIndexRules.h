//===- MRopeIndexRules.h - per-arch rules of rope.mrope_index ---*- C++ -*-===//
//
// What differs between the get_rope_index of the archs #rope.index_arch
// names, in one table that both lowerings of rope.mrope_index (ONNX nodes,
// CPU loops) read. Everything else is shared by every arch and lives in the
// lowerings' per-rule helpers: a text run continues after the largest
// position so far; a vision block of grid [t, h, w] takes t * h/m * w/m
// tokens at (time(t_i), h_i, w_i) from its offset and spans
// max(time(t - 1) + 1, h/m, w/m) positions; rope_deltas is the largest
// position + 1 - S.
//
// A new arch is one more row of the table (plus its #rope.index_arch case);
// a rule no row can express yet becomes a field here, read by both
// lowerings' helpers for that rule.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_CONVERSION_ROPECOMMON_MROPEINDEXRULES_H
#define MROPE_CONVERSION_ROPECOMMON_MROPEINDEXRULES_H

#include "mrope/Dialect/Rope/IR/RopeAttrs.h"

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <optional>

namespace mrope {
namespace rope {
class MRopeIndexOp;
} // namespace rope

/// One arch's row of the table.
struct MRopeIndexArchRules {
  /// The #rope.index_arch case; nullopt: an op without `arch` (the rules
  /// before there was one: Qwen2-VL's, with temporal scaling only where the
  /// op sets tokens_per_second).
  std::optional<rope::IndexArch> arch;
  /// Time rule of a video block: tokens_per_second when the op sets none
  /// (the time row of frame i is then int(f32(f32(i) * sec) * tps), sec from
  /// second_per_grid_ts or 1); nullopt: the time row is the frame index
  /// unless the op sets tokens_per_second.
  std::optional<float> defaultTokensPerSecond;
  /// Per-frame timestamps: the processor writes a timestamp and its own
  /// vision_start before every frame, so a video row [t, h, w] is t blocks
  /// [1, h, w], one per frame, rather than one block.
  bool blockPerFrame;
};

/// The table: one row per arch, the op without `arch` first.
llvm::ArrayRef<MRopeIndexArchRules> getMRopeIndexArchTable();

/// The row of `arch` (nullopt: the op without `arch`).
const MRopeIndexArchRules &
lookupMRopeIndexArch(std::optional<rope::IndexArch> arch);

/// Everything a lowering reads about the rules of one op: its arch's row
/// resolved against the op's attributes. The token ids and the spatial
/// merge are the op's (every arch reads them from the model's config).
struct MRopeIndexRules {
  int64_t imageToken, videoToken, spatialMerge;
  /// Time rule: the time row of frame index i is
  /// int(f32(f32(i) * sec) * tokensPerSecond) when set, else i.
  std::optional<float> tokensPerSecond;
  /// See MRopeIndexArchRules::blockPerFrame.
  bool blockPerFrame;
};

MRopeIndexRules getMRopeIndexRules(rope::MRopeIndexOp op);

} // namespace mrope

#endif // MROPE_CONVERSION_ROPECOMMON_MROPEINDEXRULES_H
