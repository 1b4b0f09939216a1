//===- MRopeIndexRules.h - the per-arch table of rope.mrope_index -*- C++
//-*-===//
//
// What differs between the get_rope_index of the archs #rope.index_arch
// names, as one table of data: the op's verifier, its accessors and both
// lowerings (ONNX nodes, CPU loops) read it, so adding an arch is one row
// here plus its #rope.index_arch case. Everything shared by every arch (a
// text run continues after the largest position so far; a vision block of
// grid [t, h, w] takes t * h/m * w/m tokens at (time(t_i), h_i, w_i) from its
// offset) lives in the lowerings' per-rule helpers. Header-only: the table is
// constant data, no library of its own.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_DIALECT_ROPE_IR_MROPEINDEXRULES_H
#define MROPE_DIALECT_ROPE_IR_MROPEINDEXRULES_H

#include "mrope/Dialect/Rope/IR/RopeAttrs.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/ErrorHandling.h"

#include <array>
#include <optional>
#include <utility>

namespace mrope {
namespace rope {

/// One arch's row of the table.
struct MRopeIndexArchRules {
  /// The #rope.index_arch case; nullopt: an op without `arch` (the rules
  /// before there was one: Qwen2-VL's, with temporal scaling only where the
  /// op sets tokens_per_second).
  std::optional<IndexArch> arch;
  /// Whether the op may set tokens_per_second / pass second_per_grid_ts
  /// (Qwen2.5-VL's temporal scaling).
  bool temporalScaling;
  /// Time rule of a video block: tokens_per_second when the op sets none
  /// (the time row of frame i is then int(f32(f32(i) * sec) * tps), sec from
  /// second_per_grid_ts or 1); nullopt: the time row is the frame index
  /// unless the op sets tokens_per_second.
  std::optional<float> defaultTokensPerSecond;
  /// Per-frame timestamps: the processor writes a timestamp and its own
  /// vision_start before every frame, so a video row [t, h, w] is t blocks
  /// [1, h, w], one per frame, rather than one block.
  bool blockPerFrame;
  /// What padded slots (mask 0, segment 0) hold.
  int64_t padValue;
  /// rope_deltas = max + 1 - n with n the kept tokens of the row (true) or
  /// the padded row length S (false). Packed rows always use the segment's
  /// token count.
  bool deltasOverKept;
  /// GLM-4V's token typing: image (or video) tokens between these two tokens
  /// are video frames, other ones images ({start, end}; the op's video_start
  /// / video_end override them). nullopt: image tokens are images, video
  /// tokens videos.
  std::optional<std::pair<int64_t, int64_t>> videoSpanTokens;
  /// Seconds per grid of an image under the time rule: 0 (Qwen2.5-VL: an
  /// image's time row is 0) or 1 (Omni: frame i of an image sits at
  /// i * tokens_per_second).
  float imageSeconds = 0.0f;
  /// Omni audio: the default {audio_token, audio_start, audio_end} ids (the
  /// op's attributes override them). Audio tokens are 1D like text; a video
  /// span opened by <vision_start><audio_start> holds its audio tokens
  /// interleaved with its frames (use_audio_in_video). nullopt: no audio.
  std::optional<std::array<int64_t, 3>> audioTokens = std::nullopt;
  /// Qwen3-Omni's span rule: positions (and rope_deltas) are f32, not
  /// integers, since a video's time row f32(f32(i * sec) * tps) is not
  /// truncated; every span is text, a bos block (two tokens, two positions,
  /// under audio in video), its content from one start, an eos block one
  /// past the largest position of the content's last piece, each block
  /// starting one past the previous one's largest position in f32
  /// (mrope.position_ids' rounding order). Audio in video: the frames and
  /// audio tokens in the order the processor merged them (by time row),
  /// the last piece the final run of one stream.
  bool floatPositions = false;
};

// Follows each arch's get_rope_index in transformers.
// clang-format off
inline constexpr MRopeIndexArchRules kMRopeIndexArchTable[] = {
    // arch,                scaling, default tps,  per frame, pad, kept, video span
    {std::nullopt,          true,    std::nullopt, false,     1,   false, std::nullopt},
    {IndexArch::qwen2_vl,   false,   std::nullopt, false,     1,   false, std::nullopt},
    // vision_config.tokens_per_second of the released Qwen2.5-VL models.
    {IndexArch::qwen2_5_vl, true,    2.0f,         false,     1,   false, std::nullopt},
    // Qwen3-VL writes "<t seconds>" + vision_start before every frame; its
    // time rows come from those timestamps, not from a scaled frame index.
    {IndexArch::qwen3_vl,   false,   std::nullopt, true,      1,   false, std::nullopt},
    // Qwen3_5Model.get_rope_index: Qwen3-VL's per-frame split; padded slots
    // are 0 and rope_deltas subtract the unpadded length.
    {IndexArch::qwen3_5,    false,   std::nullopt, true,      0,   true,  std::nullopt},
    // Glm4vModel.get_rope_index: frames are the image tokens inside
    // <|begin_of_video|> (151341) ... <|end_of_video|> (151342), one block
    // per frame (text always separates frames).
    {IndexArch::glm4v,      false,   std::nullopt, true,      1,   false,
     std::pair<int64_t, int64_t>{151341, 151342}},
    // Qwen2_5OmniPreTrainedModelForConditionalGeneration.get_rope_index:
    // the time row in position_id_per_seconds (25) units, images too; audio
    // <|AUDIO|> 151646 between <|audio_bos|> 151647 and <|audio_eos|> 151648.
    {IndexArch::qwen2_5_omni, true,  25.0f,        false,     1,   true,  std::nullopt,
     /*imageSeconds=*/1.0f, std::array<int64_t, 3>{151646, 151647, 151648}},
    // Qwen3-Omni (transformers' audio_merged M-RoPE layout): the time row
    // in position_id_per_seconds (13) units, images too, not truncated;
    // audio <|audio_pad|> 151675 between <|audio_start|> 151669 and
    // <|audio_end|> 151670 (the released Qwen3-Omni-30B-A3B config).
    {IndexArch::qwen3_omni, true,    13.0f,        false,     0,   true,  std::nullopt,
     /*imageSeconds=*/1.0f, std::array<int64_t, 3>{151675, 151669, 151670},
     /*floatPositions=*/true},
};
// clang-format on

/// The table: one row per arch, the op without `arch` first.
inline llvm::ArrayRef<MRopeIndexArchRules> getMRopeIndexArchTable() {
  return kMRopeIndexArchTable;
}

/// The row of `arch` (nullopt: the op without `arch`).
inline const MRopeIndexArchRules &
lookupMRopeIndexArch(std::optional<IndexArch> arch) {
  for (const MRopeIndexArchRules &row : kMRopeIndexArchTable)
    if (row.arch == arch)
      return row;
  llvm_unreachable("every #rope.index_arch has a row in the table");
}

} // namespace rope
} // namespace mrope

#endif // MROPE_DIALECT_ROPE_IR_MROPEINDEXRULES_H
