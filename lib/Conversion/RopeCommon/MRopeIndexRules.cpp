//===- MRopeIndexRules.cpp - an op's rules of rope.mrope_index ------------===//
#include "mrope/Conversion/RopeCommon/MRopeIndexRules.h"

#include "mrope/Dialect/Rope/IR/RopeOps.h"

using namespace mrope;

MRopeIndexRules mrope::getMRopeIndexRules(rope::MRopeIndexOp op) {
  const rope::MRopeIndexArchRules &row = op.getArchRules();
  MRopeIndexRules rules;
  rules.imageToken = op.getImageToken();
  rules.videoToken = op.getVideoToken();
  rules.spatialMerge = op.getSpatialMerge();
  rules.tokensPerSecond = row.defaultTokensPerSecond;
  if (auto tps = op.getTokensPerSecond())
    rules.tokensPerSecond = tps->convertToFloat();
  rules.blockPerFrame = row.blockPerFrame;
  rules.padValue = row.padValue;
  rules.deltasOverKept = row.deltasOverKept;
  rules.videoSpan = row.videoSpanTokens;
  if (rules.videoSpan) {
    if (auto start = op.getVideoStart())
      rules.videoSpan->first = *start;
    if (auto end = op.getVideoEnd())
      rules.videoSpan->second = *end;
  }
  rules.imageSeconds = row.imageSeconds;
  if (row.audioTokens)
    rules.audio = MRopeIndexRules::Audio{
        op.getAudioToken().value_or((*row.audioTokens)[0]),
        op.getAudioStart().value_or((*row.audioTokens)[1]),
        op.getAudioEnd().value_or((*row.audioTokens)[2]), op.getVisionStart(),
        op.getVisionEnd().value_or(kVisionEndTokenId)};
  rules.textRow = op.hasTextRow();
  rules.segmentIds = op.getSegmentIds();
  return rules;
}
