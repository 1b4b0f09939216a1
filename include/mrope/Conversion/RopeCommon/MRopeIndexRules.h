//===- MRopeIndexRules.h - per-arch rules of rope.mrope_index ---*- C++ -*-===//
//
// What both lowerings of rope.mrope_index (ONNX nodes, CPU loops) read about
// one op: its arch's row of the dialect's table (Dialect/Rope/IR/
// MRopeIndexRules.h) resolved against the op's attributes. Everything else is
// shared by every arch and lives in the lowerings' per-rule helpers: a text run
// continues after the largest position so far; a vision block of grid [t, h, w]
// takes t * h/m * w/m tokens at (time(t_i), h_i, w_i) from its offset and spans
// max(time(t - 1) + 1, h/m, w/m) positions; rope_deltas is the largest
// position + 1 - S.
//
// A new arch is one more row of the dialect's table (plus its
// #rope.index_arch case); a rule no row can express yet becomes a field
// there, read by both lowerings' helpers for that rule.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_CONVERSION_ROPECOMMON_MROPEINDEXRULES_H
#define MROPE_CONVERSION_ROPECOMMON_MROPEINDEXRULES_H

#include "mrope/Dialect/Rope/IR/MRopeIndexRules.h"

#include "mlir/IR/Value.h"

#include <cstdint>
#include <optional>

namespace mrope {
namespace rope {
class MRopeIndexOp;
} // namespace rope

/// Everything a lowering reads about the rules of one op: its arch's row
/// resolved against the op's attributes. The token ids and the spatial
/// merge are the op's (every arch reads them from the model's config).
struct MRopeIndexRules {
  int64_t imageToken, videoToken, spatialMerge;
  /// Time rule: the time row of frame index i is
  /// int(f32(f32(i) * sec) * tokensPerSecond) when set, else i.
  std::optional<float> tokensPerSecond;
  /// See rope::MRopeIndexArchRules.
  bool blockPerFrame;
  int64_t padValue;
  bool deltasOverKept;
  /// {video_start, video_end} under GLM-4V's token typing (see
  /// rope::MRopeIndexArchRules::videoSpanTokens).
  std::optional<std::pair<int64_t, int64_t>> videoSpan;
  /// Seconds per grid of an image under the time rule (0 or 1).
  float imageSeconds;
  /// Omni's audio tokens, resolved against the op's attributes. Audio
  /// tokens are text to both lowerings except inside an audio-in-video
  /// span: <visionStart><audioStart> ... <audioEnd><visionEnd>, each pair
  /// sharing one position (the second token is a duplicate), the span's
  /// audio tokens 1D from the same offset as its frames, and the eos one
  /// past the largest position of the stream the span ends with.
  struct Audio {
    int64_t token, start, end, visionStart, visionEnd;
  };
  std::optional<Audio> audio;
  /// Qwen3-Omni's f32 span rule (see
  /// rope::MRopeIndexArchRules::floatPositions).
  bool floatPositions;
  /// positions is [4, B, S]: row 0 the text row (kept index per sample).
  bool textRow;
  /// The op's segment ids ([B, S], 0 padding, 1..k packed samples); null:
  /// one sample per row.
  mlir::Value segmentIds;
  /// The op's token types ([B, S], 0 text, 1 image, 2 video); when set they
  /// type vision tokens instead of the image / video ids (and videoSpan is
  /// unset). Null: typed by id.
  mlir::Value tokenTypes;
};

MRopeIndexRules getMRopeIndexRules(rope::MRopeIndexOp op);

} // namespace mrope

#endif // MROPE_CONVERSION_ROPECOMMON_MROPEINDEXRULES_H
