//===- QwenTokens.h - Qwen VL tokenizer ids get_rope_index uses -*- C++ -*-===//
//
// The one C++ spelling of the Qwen2-VL / Qwen2.5-VL / Qwen3-VL special token
// ids: rope.mrope_index's defaults, the fix's --positions compute and the
// HTML report's host get_rope_index all read them from here. Python keeps
// its own copy in python/mrope/reference.py (one place per language).
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_DIALECT_ROPE_IR_QWENTOKENS_H
#define MROPE_DIALECT_ROPE_IR_QWENTOKENS_H

#include <cstdint>

namespace mrope {

constexpr int64_t kVisionStartTokenId = 151652; ///< <|vision_start|>
constexpr int64_t kVisionEndTokenId = 151653;   ///< <|vision_end|>
constexpr int64_t kImageTokenId = 151655;       ///< <|image_pad|>
constexpr int64_t kVideoTokenId = 151656;       ///< <|video_pad|>

} // namespace mrope

#endif // MROPE_DIALECT_ROPE_IR_QWENTOKENS_H
