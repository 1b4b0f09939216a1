//===- RopeIndex.h - host get_rope_index for the report ---------*- C++ -*-===//
//
// The positions picture of the HTML report needs the 3D positions of an
// example prompt on the host. This is Qwen2-VL's get_rope_index for one
// unpadded row (mrope.reference.rope_index is the ground truth; a test
// compares the two on the positions the report draws).
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_REPORT_ROPEINDEX_H
#define MROPE_REPORT_ROPEINDEX_H

#include "mrope/Dialect/Rope/IR/QwenTokens.h"

#include "llvm/ADT/ArrayRef.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mrope {

/// One image_grid_thw / video_grid_thw row, in patches.
struct GridThw {
  int64_t t = 1, h = 1, w = 1;
};

/// A prompt: token ids of one row, and the grids of its images and videos
/// in order.
struct ExamplePrompt {
  std::vector<int64_t> tokens;
  std::vector<GridThw> images, videos;
};

/// What the model is asked (text tokens are placeholders, 1000 + i), with
/// the vision blocks `<vision_start> <image|video tokens> <vision_end>`
/// sized by the grids after the spatial merge.
ExamplePrompt makeExamplePrompt(llvm::ArrayRef<GridThw> images,
                                llvm::ArrayRef<GridThw> videos,
                                int64_t mergeSize = 2);

/// The worked example: a few words, one 4x6-patch image, more words, one
/// two-frame 4x4-patch video, a question.
ExamplePrompt workedExamplePrompt();

/// t, h, w position rows of `prompt` (no padding), as get_rope_index gives
/// them. `tokensPerSecond` > 0: Qwen2.5-VL temporal scaling with 1 s per
/// temporal grid step (t = int64(f32(f32(ti) * tokensPerSecond))). Returns
/// false and sets `error` when grids and tokens disagree.
bool ropeIndex(const ExamplePrompt &prompt, int64_t mergeSize,
               double tokensPerSecond,
               std::array<std::vector<int64_t>, 3> &rows, std::string &error);

/// (h, w) of every vision-tower patch of `grids`, in the merge-block order
/// of Qwen2VisionTransformer.rot_pos_emb.
std::vector<std::array<int64_t, 2>>
visionPatchPositions(llvm::ArrayRef<GridThw> grids, int64_t mergeSize = 2);

} // namespace mrope

#endif // MROPE_REPORT_ROPEINDEX_H
