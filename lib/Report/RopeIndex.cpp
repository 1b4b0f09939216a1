//===- RopeIndex.cpp - host get_rope_index for the report -----------------===//
#include "mrope/Report/RopeIndex.h"

#include <algorithm>
#include <cmath>

using namespace mrope;

ExamplePrompt mrope::makeExamplePrompt(llvm::ArrayRef<GridThw> images,
                                       llvm::ArrayRef<GridThw> videos,
                                       int64_t mergeSize) {
  ExamplePrompt prompt;
  prompt.images.assign(images.begin(), images.end());
  prompt.videos.assign(videos.begin(), videos.end());
  int64_t word = 1000;
  auto words = [&](int n) {
    for (int i = 0; i < n; ++i)
      prompt.tokens.push_back(word++);
  };
  auto block = [&](const GridThw &g, int64_t id) {
    prompt.tokens.push_back(kVisionStartTokenId);
    int64_t n = g.t * (g.h / mergeSize) * (g.w / mergeSize);
    prompt.tokens.insert(prompt.tokens.end(), n, id);
    prompt.tokens.push_back(kVisionEndTokenId);
  };
  words(3);
  for (const GridThw &g : images) {
    block(g, kImageTokenId);
    words(2);
  }
  for (const GridThw &g : videos) {
    block(g, kVideoTokenId);
    words(2);
  }
  words(1);
  return prompt;
}

ExamplePrompt mrope::workedExamplePrompt() {
  return makeExamplePrompt({GridThw{1, 4, 6}}, {GridThw{2, 4, 4}});
}

bool mrope::ropeIndex(const ExamplePrompt &prompt, int64_t m,
                      double tokensPerSecond,
                      std::array<std::vector<int64_t>, 3> &rows,
                      std::string &error) {
  const std::vector<int64_t> &tok = prompt.tokens;
  int64_t n = tok.size();
  for (auto &row : rows)
    row.clear();
  size_t image = 0, video = 0;
  int64_t next = 0; // max position so far + 1
  auto text = [&](int64_t count) {
    for (int64_t i = 0; i < count; ++i)
      for (auto &row : rows)
        row.push_back(next + i);
    next += count;
  };
  int64_t st = 0;
  // A block starts where vision_start is followed by an image/video token.
  for (int64_t k = 0; k + 1 < n; ++k) {
    if (k < st || tok[k] != kVisionStartTokenId)
      continue;
    bool isImage = tok[k + 1] == kImageTokenId;
    if (!isImage && tok[k + 1] != kVideoTokenId)
      continue;
    const std::vector<GridThw> &grids = isImage ? prompt.images : prompt.videos;
    size_t &index = isImage ? image : video;
    if (index >= grids.size()) {
      error = std::string("more ") + (isImage ? "image" : "video") +
              " blocks than grids";
      return false;
    }
    GridThw g = grids[index++];
    text(k + 1 - st);
    int64_t gh = g.h / m, gw = g.w / m, start = next;
    float secondsPerGrid = isImage ? 0.0f : 1.0f;
    for (int64_t ti = 0; ti < g.t; ++ti) {
      int64_t t = ti;
      if (tokensPerSecond > 0)
        t = static_cast<int64_t>(std::trunc(
            static_cast<float>(static_cast<float>(ti) * secondsPerGrid) *
            static_cast<float>(tokensPerSecond)));
      for (int64_t hi = 0; hi < gh; ++hi)
        for (int64_t wi = 0; wi < gw; ++wi) {
          rows[0].push_back(start + t);
          rows[1].push_back(start + hi);
          rows[2].push_back(start + wi);
          next =
              std::max({next, start + t + 1, start + hi + 1, start + wi + 1});
        }
    }
    st = k + 1 + g.t * gh * gw;
    if (st > n) {
      error = "a vision block runs past the end of the tokens";
      return false;
    }
    k = st - 1;
  }
  text(n - st);
  return true;
}

std::vector<std::array<int64_t, 2>>
mrope::visionPatchPositions(llvm::ArrayRef<GridThw> grids, int64_t m) {
  std::vector<std::array<int64_t, 2>> out;
  for (const GridThw &g : grids)
    for (int64_t t = 0; t < g.t; ++t)
      for (int64_t bh = 0; bh < g.h / m; ++bh)
        for (int64_t bw = 0; bw < g.w / m; ++bw)
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < m; ++j)
              out.push_back({bh * m + i, bw * m + j});
  return out;
}
