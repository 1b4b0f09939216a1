//===- ArchTraits.h - what each --arch means, as one table ------*- C++ -*-===//
//
// One row per architecture the user can declare (mrope-fix --arch, the
// analysis and fix pass options): its spelling, whether plain 1D RoPE is
// the bug there, the M-RoPE a 1D site is rewritten to (sections, order,
// the rotary dim they are for) and the get_rope_index rule and token ids
// --positions compute uses. Every per-arch decision of the analysis and
// the fix reads this table; nothing else switches on Arch.
//
// The rows follow the released configs in transformers (text rotary of
// each model: mrope_section, mrope_interleaved, partial_rotary_factor,
// head_dim, rope_theta; token ids of the model config); docs/mrope-fix.md
// lists them.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_ANALYSIS_ARCHTRAITS_H
#define MROPE_ANALYSIS_ARCHTRAITS_H

#include "mrope/Analysis/RopeSites.h"
#include "mrope/Dialect/Rope/IR/RopeAttrs.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace mrope {

/// One architecture's row.
struct ArchTraits {
  Arch arch;
  /// As the user types it (--arch).
  llvm::StringLiteral name;
  /// One line for option help.
  llvm::StringLiteral help;
  /// The decoder needs M-RoPE: 1D positions are the bug.
  bool oneDIsBug;
  /// The M-RoPE sections (t, h, w frequencies) a 1D site gets by default,
  /// for a rotary dim of `baseRotaryDim` (twice their sum); scaled to the
  /// site's rotary dim when that divides evenly.
  std::array<int64_t, 3> sections;
  int64_t baseRotaryDim;
  /// How those sections are laid over the frequencies.
  rope::SectionOrder order;
  /// The released model's text rotary, for the docs and the checks: which
  /// channels pair up, the frequency base, the head dim and the fraction
  /// of it that rotates (partial_rotary_factor). The fix keeps a site's own
  /// layout, theta and rotary dim; these say what the arch ships.
  rope::PairLayout layout;
  double theta;
  int64_t headDim;
  double partialRotary;
  /// --positions compute: the get_rope_index rule and the token ids the
  /// processor writes (image, video, vision_start).
  rope::IndexArch indexArch;
  int64_t imageToken, videoToken, visionStartToken;
  /// Qwen2.5-VL's temporal scaling: a `second_per_grid_ts` [videos] input
  /// and the tokens per second of the time row (position_id_per_seconds
  /// for Omni). nullopt: no seconds input.
  std::optional<float> tokensPerSecond;
};

/// The row of `arch`.
const ArchTraits &archTraits(Arch arch);
/// Every row, in the order the choices are listed.
llvm::ArrayRef<ArchTraits> allArchTraits();
/// "auto, qwen2-vl, ... or text": the choices for error messages.
std::string archChoices();

/// How the default sections of `arch` are laid over the frequencies
/// (interleaved for Qwen3-VL and Qwen3.5, contiguous otherwise).
inline rope::SectionOrder sectionOrderOf(Arch arch) {
  return archTraits(arch).order;
}

/// The default sections of `arch` scaled to `numFreqs` frequencies
/// (rotary dim / 2); nullopt when they do not scale to whole numbers.
std::optional<std::array<int64_t, 3>> scaledSections(Arch arch,
                                                     int64_t numFreqs);

} // namespace mrope

#endif // MROPE_ANALYSIS_ARCHTRAITS_H
