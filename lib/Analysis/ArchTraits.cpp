//===- ArchTraits.cpp - the per-arch table --------------------------------===//
#include "mrope/Analysis/ArchTraits.h"
#include "mrope/Dialect/Rope/IR/QwenTokens.h"

#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/raw_ostream.h"

using namespace mrope;
using rope::IndexArch;
using rope::PairLayout;
using rope::SectionOrder;

namespace {

constexpr auto kContiguous = SectionOrder::contiguous;
constexpr auto kInterleaved = SectionOrder::interleaved;
constexpr auto kNeox = PairLayout::neox;

// Qwen2-VL's rotary is what a model declared `auto` (or `text`, should it
// hold a degenerate M-RoPE site) is fixed to, as before there was a table.
// Sources: the text config of each released model (mrope_section,
// mrope_interleaved, partial_rotary_factor, head_dim, rope_theta) and the
// token ids of its model config, as transformers gives them.
// clang-format off
const ArchTraits kArchTable[] = {
    {Arch::Auto, "auto", "only degenerate M-RoPE is a bug",
     false, {16, 24, 24}, 128, kContiguous, kNeox, 1e6, 128, 1.0,
     IndexArch::qwen2_vl, kImageTokenId, kVideoTokenId, kVisionStartTokenId,
     std::nullopt},
    {Arch::Qwen2VL, "qwen2-vl", "Qwen2-VL: plain 1D RoPE is a bug too",
     true, {16, 24, 24}, 128, kContiguous, kNeox, 1e6, 128, 1.0,
     IndexArch::qwen2_vl, kImageTokenId, kVideoTokenId, kVisionStartTokenId,
     std::nullopt},
    // vision_config.tokens_per_second 2 in the released configs.
    {Arch::Qwen25VL, "qwen2.5-vl", "Qwen2.5-VL: plain 1D RoPE is a bug too",
     true, {16, 24, 24}, 128, kContiguous, kNeox, 1e6, 128, 1.0,
     IndexArch::qwen2_5_vl, kImageTokenId, kVideoTokenId, kVisionStartTokenId,
     2.0f},
    // Qwen3-VL: interleaved [24, 20, 20], rope_theta 5e6.
    {Arch::Qwen3VL, "qwen3-vl", "Qwen3-VL: plain 1D RoPE is a bug too",
     true, {24, 20, 20}, 128, kInterleaved, kNeox, 5e6, 128, 1.0,
     IndexArch::qwen3_vl, kImageTokenId, kVideoTokenId, kVisionStartTokenId,
     std::nullopt},
    // Qwen3.5: interleaved [11, 11, 10] on head_dim 256 x
    // partial_rotary_factor 0.25 = 64 rotated channels, rope_theta 1e7;
    // <|image_pad|> 248056, <|video_pad|> 248057, <|vision_start|> 248053.
    {Arch::Qwen35, "qwen3.5", "Qwen3.5: plain 1D RoPE is a bug too",
     true, {11, 11, 10}, 64, kInterleaved, kNeox, 1e7, 256, 0.25,
     IndexArch::qwen3_5, 248056, 248057, 248053, std::nullopt},
    // Qwen2.5-Omni thinker: Qwen2.5-VL's text rotary; time rows in
    // position_id_per_seconds (25) units; audio from the token ids.
    {Arch::Qwen25Omni, "qwen2.5-omni",
     "Qwen2.5-Omni thinker: plain 1D RoPE is a bug too",
     true, {16, 24, 24}, 128, kContiguous, kNeox, 1e6, 128, 1.0,
     IndexArch::qwen2_5_omni, kImageTokenId, kVideoTokenId,
     kVisionStartTokenId, 25.0f},
    // Qwen3-Omni thinker: Qwen3-VL's text rotary (interleaved [24, 20,
    // 20], head_dim 128, rope_theta 1e6); f32 positions from its
    // get_rope_index (time rows in position_id_per_seconds (13) units, not
    // truncated), so its fixed sites read an f32 [3, B, S] input.
    {Arch::Qwen3Omni, "qwen3-omni",
     "Qwen3-Omni thinker: plain 1D RoPE is a bug too (f32 positions)",
     true, {24, 20, 20}, 128, kInterleaved, kNeox, 1e6, 128, 1.0,
     IndexArch::qwen3_omni, kImageTokenId, kVideoTokenId,
     kVisionStartTokenId, 13.0f},
    // GLM-4V (GLM-4.1V): contiguous [8, 12, 12] on head_dim 128 x
    // partial_rotary_factor 0.5 = 64 channels rotated in interleaved pairs,
    // rope_theta 1e4; <|image|> 151343, <|video|> 151344,
    // <|begin_of_image|> 151339.
    {Arch::Glm4v, "glm4v", "GLM-4V: plain 1D RoPE is a bug too",
     true, {8, 12, 12}, 64, kContiguous, PairLayout::gptj, 1e4, 128, 0.5,
     IndexArch::glm4v, 151343, 151344, 151339, std::nullopt},
    {Arch::Text, "text", "1D RoPE is right",
     false, {16, 24, 24}, 128, kContiguous, kNeox, 1e6, 128, 1.0,
     IndexArch::qwen2_vl, kImageTokenId, kVideoTokenId, kVisionStartTokenId,
     std::nullopt},
};
// clang-format on

} // namespace

const ArchTraits &mrope::archTraits(Arch arch) {
  for (const ArchTraits &row : kArchTable)
    if (row.arch == arch)
      return row;
  llvm_unreachable("every Arch has a row in the table");
}

llvm::ArrayRef<ArchTraits> mrope::allArchTraits() { return kArchTable; }

std::string mrope::archChoices() {
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::ArrayRef<ArchTraits> rows = allArchTraits();
  for (size_t i = 0, e = rows.size(); i < e; ++i)
    os << (i == 0 ? "" : i + 1 == e ? " or " : ", ") << rows[i].name;
  return text;
}

std::optional<std::array<int64_t, 3>> mrope::scaledSections(Arch arch,
                                                            int64_t numFreqs) {
  const ArchTraits &row = archTraits(arch);
  int64_t baseFreqs = row.baseRotaryDim / 2;
  std::array<int64_t, 3> sections;
  for (size_t i = 0; i < sections.size(); ++i) {
    if ((row.sections[i] * numFreqs) % baseFreqs)
      return std::nullopt;
    sections[i] = row.sections[i] * numFreqs / baseFreqs;
  }
  return sections;
}
