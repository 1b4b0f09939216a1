//===- MRopeIndexRules.cpp - the per-arch table of rope.mrope_index -------===//
#include "mrope/Conversion/RopeCommon/MRopeIndexRules.h"

#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "llvm/Support/ErrorHandling.h"

using namespace mrope;
using rope::IndexArch;

namespace {
// Follows each arch's get_rope_index in transformers.
const MRopeIndexArchRules kArchTable[] = {
    // arch, default tokens_per_second, block per frame
    {std::nullopt, std::nullopt, false},
    {IndexArch::qwen2_vl, std::nullopt, false},
    // vision_config.tokens_per_second of the released Qwen2.5-VL models.
    {IndexArch::qwen2_5_vl, 2.0f, false},
    // Qwen3-VL writes "<t seconds>" + vision_start before every frame; its
    // time rows come from those timestamps, not from a scaled frame index.
    {IndexArch::qwen3_vl, std::nullopt, true},
};
} // namespace

llvm::ArrayRef<MRopeIndexArchRules> mrope::getMRopeIndexArchTable() {
  return kArchTable;
}

const MRopeIndexArchRules &
mrope::lookupMRopeIndexArch(std::optional<IndexArch> arch) {
  for (const MRopeIndexArchRules &row : kArchTable)
    if (row.arch == arch)
      return row;
  llvm_unreachable("every #rope.index_arch has a row in the table");
}

MRopeIndexRules mrope::getMRopeIndexRules(rope::MRopeIndexOp op) {
  const MRopeIndexArchRules &row = lookupMRopeIndexArch(op.getArch());
  MRopeIndexRules rules;
  rules.imageToken = op.getImageToken();
  rules.videoToken = op.getVideoToken();
  rules.spatialMerge = op.getSpatialMerge();
  rules.tokensPerSecond = row.defaultTokensPerSecond;
  if (auto tps = op.getTokensPerSecond())
    rules.tokensPerSecond = tps->convertToFloat();
  rules.blockPerFrame = row.blockPerFrame;
  return rules;
}
