//===- RopeClassify.h - is a site right for its arch ------------*- C++ -*-===//
#ifndef MROPE_ANALYSIS_ROPECLASSIFY_H
#define MROPE_ANALYSIS_ROPECLASSIFY_H

#include "mrope/Analysis/RopeSites.h"

namespace mrope {

/// Whether `site`'s positions are the Qwen2-VL bug for `arch`:
/// - degenerate M-RoPE (rows built from one 1D tensor) always;
/// - 1D positions under a Qwen VL arch (text decoder or a flattened patch
///   index in the vision tower);
/// - never 2D (h, w) or true 3D positions.
bool isPositionBug(const RopeSite &site, Arch arch);

/// Sets `site.bug`.
inline void classify(RopeSite &site, Arch arch) {
  site.bug = isPositionBug(site, arch);
}

} // namespace mrope

#endif // MROPE_ANALYSIS_ROPECLASSIFY_H
