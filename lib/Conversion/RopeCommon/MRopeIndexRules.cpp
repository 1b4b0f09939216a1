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
  // Upstream's get_rope_index takes its text-only branch when neither grid
  // is passed: cumsum(mask) - 1 with padded slots 1 under every arch (the
  // arch's pad value is its vision branch's). Packed rows have no such
  // branch.
  if (op.isTextOnly())
    rules.padValue = 1;
  rules.deltasOverKept = row.deltasOverKept;
  rules.videoSpan = row.videoSpanTokens;
  if (rules.videoSpan) {
    if (auto start = op.getVideoStart())
      rules.videoSpan->first = *start;
    if (auto end = op.getVideoEnd())
      rules.videoSpan->second = *end;
  }
  rules.imageSeconds = row.imageSeconds;
  if (row.audioTokens) {
    // I64Attr getters are unsigned: token ids are assigned, not
    // brace-initialized.
    MRopeIndexRules::Audio audio;
    audio.token = op.getAudioToken().value_or((*row.audioTokens)[0]);
    audio.start = op.getAudioStart().value_or((*row.audioTokens)[1]);
    audio.end = op.getAudioEnd().value_or((*row.audioTokens)[2]);
    audio.visionStart = op.getVisionStart();
    audio.visionEnd = op.getVisionEnd().value_or(kVisionEndTokenId);
    rules.audio = audio;
  }
  rules.floatPositions = row.floatPositions;
  rules.textRow = op.hasTextRow();
  rules.segmentIds = op.getSegmentIds();
  rules.tokenTypes = op.getTokenTypes();
  if (rules.tokenTypes) // types replace the id front end, GLM-4V's too
    rules.videoSpan.reset();
  return rules;
}
