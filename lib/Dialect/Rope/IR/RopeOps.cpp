//===- RopeOps.cpp - rope operations --------------------------------------===//
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>

using namespace mlir;
using namespace mrope::rope;

/// The pair layout of rope.rotate as a bare keyword: `rope.rotate neox ...`.
static ParseResult parseLayoutKeyword(OpAsmParser &parser,
                                      PairLayoutAttr &layout) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef word;
  if (parser.parseKeyword(&word))
    return failure();
  std::optional<PairLayout> value = symbolizePairLayout(word);
  if (!value)
    return parser.emitError(loc)
           << "expected pair layout 'neox' or 'gptj', got '" << word << "'";
  layout = PairLayoutAttr::get(parser.getContext(), *value);
  return success();
}

static void printLayoutKeyword(OpAsmPrinter &printer, Operation *,
                               PairLayoutAttr layout) {
  printer << stringifyPairLayout(layout.getValue());
}

#define GET_OP_CLASSES
#include "mrope/Dialect/Rope/IR/RopeOps.cpp.inc"

/// Two extents agree unless both are static and different.
static bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

static std::string dimStr(int64_t d) {
  return ShapedType::isDynamic(d) ? "?" : std::to_string(d);
}

/// Checks a positions operand (`[A, B, S]`, or `[B, S]` for one axis) against
/// the semantics and the batch/sequence extents of what it drives.
static LogicalResult verifyPositions(Operation *op, ShapedType positions,
                                     SemanticsAttr semantics, int64_t batch,
                                     int64_t seq) {
  Type elem = positions.getElementType();
  if (isa<FloatType>(elem) && !elem.isF32())
    return op->emitOpError()
           << "positions must be integers or f32, got " << elem
           << " (it would round positions before the angle is formed)";
  int64_t numAxes = semantics.getNumAxes();
  ArrayRef<int64_t> shape = positions.getShape();
  if (shape.size() == 2) {
    if (numAxes != 1)
      return op->emitOpError()
             << "positions are [B, S] (one position axis) but the semantics "
                "has "
             << numAxes << " axes; pass positions as [" << numAxes << ", B, S]";
    shape = shape.drop_front(0);
  } else if (shape.size() == 3) {
    if (!compatible(shape[0], numAxes))
      return op->emitOpError()
             << "positions have " << shape[0] << " rows but the semantics has "
             << numAxes << " position axes";
    shape = shape.drop_front();
  } else {
    return op->emitOpError() << "positions must be [A, B, S] (or [B, S] for "
                                "one axis), got rank "
                             << shape.size();
  }
  if (!compatible(shape[0], batch) || !compatible(shape[1], seq))
    return op->emitOpError()
           << "positions cover batch x seq " << dimStr(shape[0]) << "x"
           << dimStr(shape[1]) << " but the rotated tensors have "
           << dimStr(batch) << "x" << dimStr(seq);
  return success();
}

static LogicalResult verifyFreqTable(Operation *op, Value invFreq,
                                     SemanticsAttr semantics) {
  if (!invFreq)
    return success();
  int64_t n = cast<ShapedType>(invFreq.getType()).getDimSize(0);
  if (!compatible(n, semantics.getTableSize()))
    return op->emitOpError()
           << "frequency table has " << n << " entries but the semantics needs "
           << semantics.getTableSize();
  return success();
}

//===----------------------------------------------------------------------===//
// ApplyOp
//===----------------------------------------------------------------------===//

LogicalResult
ApplyOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                          ValueRange operands, DictionaryAttr attributes,
                          OpaqueProperties properties, RegionRange regions,
                          SmallVectorImpl<Type> &inferredReturnTypes) {
  ApplyOp::Adaptor adaptor(operands, attributes, properties, regions);
  for (Value input : adaptor.getInputs())
    if (isa<RankedTensorType>(input.getType()))
      inferredReturnTypes.push_back(input.getType());
  return success();
}

void ApplyOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  if (!hasBufferSemantics())
    return;
  for (OpOperand &operand : getInputsMutable()) {
    effects.emplace_back(MemoryEffects::Read::get(), &operand);
    effects.emplace_back(MemoryEffects::Write::get(), &operand);
  }
  effects.emplace_back(MemoryEffects::Read::get(), &getPositionsMutable());
  for (OpOperand &operand : getInvFreqMutable())
    effects.emplace_back(MemoryEffects::Read::get(), &operand);
}

LogicalResult ApplyOp::verify() {
  if (getInputs().empty())
    return emitOpError("needs at least one tensor to rotate");
  SemanticsAttr semantics = getSemantics();

  bool buffers = hasBufferSemantics();
  for (Value input : getInputs())
    if (isa<MemRefType>(input.getType()) != buffers)
      return emitOpError("rotated operands must be all tensors or all memrefs");
  if (isa<MemRefType>(getPositions().getType()) != buffers)
    return emitOpError("positions must be a ")
           << (buffers ? "memref" : "tensor") << " like the rotated operands";
  if (getInvFreq() && isa<MemRefType>(getInvFreq().getType()) != buffers)
    return emitOpError("frequency table must be a ")
           << (buffers ? "memref" : "tensor") << " like the rotated operands";

  auto first = cast<ShapedType>(getInputs().front().getType());
  int64_t batch = ShapedType::kDynamic, seq = ShapedType::kDynamic,
          headDim = ShapedType::kDynamic;
  for (auto [idx, input] : llvm::enumerate(getInputs())) {
    auto type = cast<ShapedType>(input.getType());
    if (type.getRank() != 4)
      return emitOpError() << "operand #" << idx
                           << " must be [B, H, S, D] (rank 4), got rank "
                           << type.getRank();
    if (type.getElementType() != first.getElementType())
      return emitOpError() << "operand #" << idx << " has element type "
                           << type.getElementType() << " but operand #0 has "
                           << first.getElementType();
    ArrayRef<int64_t> shape = type.getShape();
    if (!compatible(shape[3], headDim))
      return emitOpError() << "rotated tensors have different head dims ("
                           << headDim << " and " << shape[3] << ")";
    if (!compatible(shape[0], batch) || !compatible(shape[2], seq))
      return emitOpError() << "operand #" << idx << " has batch x seq "
                           << dimStr(shape[0]) << "x" << dimStr(shape[2])
                           << " unlike the other rotated tensors";
    auto pick = [](int64_t &acc, int64_t v) {
      if (ShapedType::isDynamic(acc))
        acc = v;
    };
    pick(headDim, shape[3]);
    pick(batch, shape[0]);
    pick(seq, shape[2]);
  }
  if (!ShapedType::isDynamic(headDim) && headDim < semantics.getRotaryDim())
    return emitOpError() << "head dim " << headDim
                         << " is smaller than rotary_dim "
                         << semantics.getRotaryDim();
  if (failed(verifyPositions(*this, cast<ShapedType>(getPositions().getType()),
                             semantics, batch, seq)))
    return failure();
  return verifyFreqTable(*this, getInvFreq(), semantics);
}

//===----------------------------------------------------------------------===//
// CosSinOp
//===----------------------------------------------------------------------===//

LogicalResult CosSinOp::verify() {
  SemanticsAttr semantics = getSemantics();
  auto table = cast<RankedTensorType>(getCos().getType());
  if (table.getRank() != 3)
    return emitOpError() << "cos/sin tables must be [B, S, R], got rank "
                         << table.getRank();
  if (!compatible(table.getDimSize(2), semantics.getRotaryDim()))
    return emitOpError() << "tables have " << table.getDimSize(2)
                         << " channels but rotary_dim is "
                         << semantics.getRotaryDim();
  if (failed(verifyPositions(*this, getPositions().getType(), semantics,
                             table.getDimSize(0), table.getDimSize(1))))
    return failure();
  return verifyFreqTable(*this, getInvFreq(), semantics);
}

//===----------------------------------------------------------------------===//
// RotateOp
//===----------------------------------------------------------------------===//

LogicalResult RotateOp::verify() {
  auto x = getInput().getType();
  auto table = getCos().getType();
  if (x.getRank() != 4)
    return emitOpError() << "input must be [B, H, S, D], got rank "
                         << x.getRank();
  if (table.getRank() != 3)
    return emitOpError() << "cos/sin tables must be [B, S, R], got rank "
                         << table.getRank();
  int64_t rotary = table.getDimSize(2);
  if (!ShapedType::isDynamic(rotary) && rotary % 2 != 0)
    return emitOpError() << "tables have an odd number of channels (" << rotary
                         << "); rotations act on pairs";
  if (!compatible(rotary, x.getDimSize(3)) && rotary > x.getDimSize(3))
    return emitOpError() << "tables have " << rotary
                         << " channels but the head dim is only "
                         << x.getDimSize(3);
  // A batch of one in the tables broadcasts over the batch.
  if (!(table.getDimSize(0) == 1 ||
        compatible(table.getDimSize(0), x.getDimSize(0))) ||
      !compatible(table.getDimSize(1), x.getDimSize(2)))
    return emitOpError() << "tables cover batch x seq "
                         << dimStr(table.getDimSize(0)) << "x"
                         << dimStr(table.getDimSize(1)) << " but the input has "
                         << dimStr(x.getDimSize(0)) << "x"
                         << dimStr(x.getDimSize(2));
  return success();
}

//===----------------------------------------------------------------------===//
// MRopeIndexOp
//===----------------------------------------------------------------------===//

const MRopeIndexArchRules &MRopeIndexOp::getArchRules() {
  return lookupMRopeIndexArch(getArch());
}

std::optional<float> MRopeIndexOp::getEffectiveTokensPerSecond() {
  if (auto tps = getTokensPerSecond())
    return tps->convertToFloat();
  return getArchRules().defaultTokensPerSecond;
}

bool MRopeIndexOp::splitsVideoFrames() { return getArchRules().blockPerFrame; }

bool MRopeIndexOp::hasTextRow() {
  return getPositions().getType().getDimSize(0) == 4;
}

/// Omni only: the audio token ids, and that no two token roles share an id
/// (a token is then read as one thing by both lowerings).
static LogicalResult verifyAudioTokens(MRopeIndexOp op,
                                       const MRopeIndexArchRules &rules) {
  bool any = op.getVisionEnd() || op.getAudioToken() || op.getAudioStart() ||
             op.getAudioEnd();
  if (!rules.audioTokens) {
    if (any)
      return op.emitOpError("vision_end / audio_token / audio_start / "
                            "audio_end are Omni's: only under arch "
                            "qwen2_5_omni or qwen3_omni");
    return success();
  }
  std::pair<StringRef, int64_t> roles[] = {
      {"image_token", op.getImageToken()},
      {"video_token", op.getVideoToken()},
      {"vision_start", op.getVisionStart()},
      {"vision_end", op.getVisionEnd().value_or(::mrope::kVisionEndTokenId)},
      {"audio_token", op.getAudioToken().value_or((*rules.audioTokens)[0])},
      {"audio_start", op.getAudioStart().value_or((*rules.audioTokens)[1])},
      {"audio_end", op.getAudioEnd().value_or((*rules.audioTokens)[2])}};
  for (auto [i, a] : llvm::enumerate(roles))
    for (const auto &b : ArrayRef(roles).drop_front(i + 1))
      if (a.second == b.second)
        return op.emitOpError() << a.first << " and " << b.first
                                << " are both token " << a.second;
  return success();
}

/// Qwen3-Omni's positions are float (its time rows are not truncated), so
/// both results are f32 under it and i64 under every other arch.
static LogicalResult verifyElementTypes(MRopeIndexOp op,
                                        const MRopeIndexArchRules &rules) {
  Type pos = op.getPositions().getType().getElementType();
  Type deltas = op.getRopeDeltas().getType().getElementType();
  if (rules.floatPositions) {
    if (!pos.isF32() || !deltas.isF32())
      return op.emitOpError("under arch qwen3_omni positions and rope_deltas "
                            "are f32 (its time rows are not truncated)");
    return success();
  }
  if (!pos.isInteger(64) || !deltas.isInteger(64))
    return op.emitOpError("positions and rope_deltas are i64 (f32 only under "
                          "arch qwen3_omni)");
  return success();
}

LogicalResult MRopeIndexOp::verify() {
  auto ids = getInputIds().getType();
  if (ids.getRank() != 2)
    return emitOpError() << "input_ids must be [B, S], got rank "
                         << ids.getRank();
  int64_t batch = ids.getDimSize(0), seq = ids.getDimSize(1);
  for (auto [name, tokens] :
       {std::pair<StringRef, Value>{"attention_mask", getAttentionMask()},
        {"segment_ids", getSegmentIds()},
        {"token_types", getTokenTypes()}}) {
    if (!tokens)
      continue;
    auto type = cast<RankedTensorType>(tokens.getType());
    if (type.getRank() != 2 || !compatible(type.getDimSize(0), batch) ||
        !compatible(type.getDimSize(1), seq))
      return emitOpError() << name << " must have the shape of input_ids ("
                           << dimStr(batch) << "x" << dimStr(seq) << ")";
  }
  for (auto [name, grid] :
       {std::pair<StringRef, Value>{"image_grid_thw", getImageGridThw()},
        {"video_grid_thw", getVideoGridThw()}}) {
    if (!grid)
      continue;
    auto type = cast<RankedTensorType>(grid.getType());
    if (type.getRank() != 2 || !compatible(type.getDimSize(1), 3))
      return emitOpError() << name << " must be [N, 3] (t, h, w per block)";
  }
  const MRopeIndexArchRules &rules = getArchRules();
  std::optional<IndexArch> arch = getArch();
  if (failed(verifyAudioTokens(*this, rules)))
    return failure();
  if (getTokenTypes() && rules.audioTokens)
    return emitOpError() << "token types are not read under "
                         << stringifyIndexArch(*arch)
                         << ": its spans come from the token ids";
  if (!rules.temporalScaling && (getTokensPerSecond() || getSecondPerGridTs()))
    return emitOpError() << stringifyIndexArch(*arch)
                         << " has no temporal scaling: tokens_per_second and "
                            "second_per_grid_ts are Qwen2.5-VL's";
  if (!rules.videoSpanTokens && (getVideoStart() || getVideoEnd()))
    return emitOpError("video_start / video_end mark video frames only under "
                       "arch glm4v");
  if (auto tps = getTokensPerSecond()) {
    float value = tps->convertToFloat();
    if (!(value > 0.0f && std::isfinite(value)))
      return emitOpError("tokens_per_second must be a finite positive number");
  }
  if (getSecondPerGridTs()) {
    if (!getVideoGridThw())
      return emitOpError("seconds per grid are given but there are no videos");
    if (!getEffectiveTokensPerSecond())
      return emitOpError("seconds per grid need the tokens_per_second "
                         "attribute or arch qwen2_5_vl (Qwen2.5-VL temporal "
                         "scaling), qwen2_5_omni or qwen3_omni");
    int64_t n = getSecondPerGridTs().getType().getDimSize(0);
    if (!compatible(n, getVideoGridThw().getType().getDimSize(0)))
      return emitOpError("needs one seconds-per-grid value per video");
  }
  if (getSpatialMerge() < 1)
    return emitOpError() << "spatial_merge must be at least 1, got "
                         << getSpatialMerge();
  auto pos = getPositions().getType();
  // [4, B, S]: the text row first (transformers' packed form).
  if (pos.getRank() != 3 ||
      (pos.getDimSize(0) != 3 && pos.getDimSize(0) != 4) ||
      !compatible(pos.getDimSize(1), batch) ||
      !compatible(pos.getDimSize(2), seq))
    return emitOpError("positions result must be [3, B, S] or [4, B, S] "
                       "(text row first)");
  if (failed(verifyElementTypes(*this, rules)))
    return failure();
  auto deltas = getRopeDeltas().getType();
  if (!getSegmentIds()) {
    if (deltas.getRank() != 2 || !compatible(deltas.getDimSize(0), batch) ||
        !compatible(deltas.getDimSize(1), 1))
      return emitOpError("rope_deltas result must be [B, 1]");
  } else if (deltas.getRank() != 2 ||
             !compatible(deltas.getDimSize(0), batch) ||
             !deltas.isDynamicDim(1)) {
    // K, the largest segment id, is only known from the data.
    return emitOpError("with segment_ids, rope_deltas result must be [B, ?] "
                       "(one column per segment id)");
  }
  return success();
}
