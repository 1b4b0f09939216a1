//===- RopeToOnnx.cpp - rope ops -> standard ONNX nodes -------------------===//
//
// rope.cos_sin (per-token merged tables of any #rope.semantics) becomes
//
//   rows  = initializer i64 [R]    position axis of each channel
//   inv   = initializer f32 [R]    inv_freq of each channel (exact bits)
//   g     = Gather(positions, rows, axis=0)       [R, B, S]
//   t     = Transpose(g, perm=[1, 2, 0])          [B, S, R]
//   a     = Mul(Cast(t, FLOAT), inv)              one f32 product, as HF
//   cos   = Cos(a), sin = Sin(a)                  (Cast to the table type)
//
// which any ONNX runtime runs. Per-channel tables keep the whole merge in one
// Gather instead of HF's per-row tables plus Split/Gather/Concat.
//
//===----------------------------------------------------------------------===//
#include "mrope/Conversion/RopeToOnnx/RopeToOnnx.h"
#include "Tables.h"

#include "mrope/Conversion/Passes.h"
#include "mrope/Conversion/RopeCommon/MRopeIndexRules.h"
#include "mrope/Dialect/Onnx/IR/DataType.h"
#include "mrope/Dialect/Onnx/IR/OnnxBuilder.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/StringSet.h"

namespace mrope {
#define GEN_PASS_DEF_CONVERTROPETOONNX
#include "mrope/Conversion/Passes.h.inc"
} // namespace mrope

using namespace mlir;
using namespace mrope;

namespace {

/// A name no initializer or node of `graph` uses yet.
std::string uniqueName(Operation *graph, StringRef base) {
  llvm::StringSet<> used;
  graph->walk([&](Operation *op) {
    if (auto init = dyn_cast<onnx::InitializerOp>(op))
      used.insert(init.getName());
    else if (auto node = dyn_cast<onnx::NodeOp>(op))
      used.insert(node.getNodeName());
  });
  std::string name = base.str();
  for (int i = 1; used.contains(name); ++i)
    name = (base + "_" + Twine(i)).str();
  return name;
}

struct LowerCosSin : OpRewritePattern<rope::CosSinOp> {
  LowerCosSin(MLIRContext *ctx, StringRef prefix)
      : OpRewritePattern(ctx), prefix(prefix.str()) {}

  LogicalResult matchAndRewrite(rope::CosSinOp op,
                                PatternRewriter &rewriter) const override {
    auto graph = op->getParentOfType<onnx::GraphOp>();
    if (!graph)
      return rewriter.notifyMatchFailure(op, "not inside an onnx.graph");
    rope::SemanticsAttr sem = op.getSemantics();
    int64_t rotary = sem.getRotaryDim(), numFreqs = sem.getNumFreqs();

    // The table, per frequency, exactly as given (or recomputed in f32).
    std::optional<SmallVector<float>> table =
        rope_to_onnx::frequencyTable(op.getInvFreq(), sem);
    if (!table)
      return rewriter.notifyMatchFailure(op, "frequency table is not constant");
    SmallVector<int64_t> rows(rotary);
    SmallVector<float> inv(rotary);
    for (int64_t c = 0; c < rotary; ++c) {
      int64_t freq =
          sem.getLayout() == rope::PairLayout::neox ? c % numFreqs : c / 2;
      rows[c] = sem.axisOfFreq(freq);
      inv[c] = (*table)[sem.tableIndexOfFreq(freq)];
    }

    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPoint(op);
    onnx::OnnxBuilder emit(rewriter, graph, op.getLoc(),
                           uniqueName(graph, prefix + "/cos_sin"), prefix);
    auto tableType = cast<RankedTensorType>(op.getCos().getType());
    auto [cos, sin] =
        rope_to_onnx::emitTokenTables(emit, rewriter, op.getPositions(), rows,
                                      inv, tableType.getElementType());
    rope_to_onnx::replaceDroppingTable(rewriter, op, {cos, sin},
                                       op.getInvFreq());
    return success();
  }

  std::string prefix;
};

/// rope.mrope_index as standard ONNX nodes, without loops: get_rope_index
/// in closed form over cumulative sums. With kept index j of a token (its
/// index among mask == 1 tokens) and, per vision block k, len_k tokens
/// spanning span_k = max(tmax_k + 1, h_k, w_k) positions:
///   text token:   j - sum_{blocks k up to here} (len_k - span_k)
///   vision token: (j - l) - sum_{blocks before} (len_k - span_k) + (t, h, w)
/// where l is its index in its block and (t, h, w) = unravel(l). Blocks are
/// the runs of image (video) tokens, consumed in order across the batch;
/// padded slots get the arch's pad value. Sums over blocks are CumSums over
/// tokens of values placed at each block's first token. Packed rows
/// (segment ids): every CumSum runs per segment (a one-hot [B, S, K] over
/// the K segment ids), so positions restart per segment, a segment change
/// also starts a block, and rope_deltas is [B, K]. What differs per arch
/// (the time rule, one block per video frame, pad value, delta length, Omni
/// audio) comes from MRopeIndexRules; each rule is one helper below.
/// Omni audio in video: the span's frames and audio tokens form one video
/// block of t * h * w + n_audio tokens spanning the extent of the stream it
/// ends with; its audio tokens sit at the offset plus their index among the
/// block's audio tokens; the duplicate bos / eos tokens add 1 to the sum.
/// Qwen3-Omni (the table's floatPositions): f32 positions from one f32
/// CumSum of per-span increments instead (buildFloat).
class IndexGraph {
public:
  IndexGraph(rope::MRopeIndexOp op, PatternRewriter &rewriter,
             onnx::OnnxBuilder &emit, int64_t opset);
  /// The nodes at the rewriter's insertion point; {positions, rope_deltas}.
  SmallVector<Value> build();
  /// The same under Qwen3-Omni's f32 span rule.
  SmallVector<Value> buildFloat();

private:
  void commonConstants();
  void keptTokens();
  void segments();
  Value segCumsum(Value v);
  void visionTokens();
  void videoSpans();
  void audioInVideo();
  Value previous(Value v);
  Value atBlocks(Value x, Value marker, Value block);
  void audioBlocks();
  Value blockStarts(Value is);
  Value globalIndex(Value start);
  Value gridRows(Value grid, Value start);
  Value frameGrid(Value grid, Value block);
  void blockGrids();
  void timeRule();
  Value timeRow(Value ti);
  Value emitPositions();
  Value textRow();
  /// [B, S] -> [1, B, S] (after emitPositions set axes0).
  Value lift(Value v) {
    return node("Unsqueeze", RankedTensorType::get({1, bDim, sDim}, i64),
                {v, axes0});
  }
  Value ropeDeltas(Value positions);
  Value segmentDeltas(Value rowMax);
  // Qwen3-Omni's f32 span rule (MRopeIndexRules::floatPositions).
  Value following(Value v);
  Value before(Value v);
  void floatTokens();
  Value markerTable(Value x, Value marker);
  Value perSpan(Value table, Value index);
  void floatSpans();
  void floatContent();
  Value floatChain();
  Value spanTailMax();
  Value floatPositions(Value chain);
  Value floatDeltas(Value positions);
  Value reduce(StringRef opType, Type result, Value x, ArrayRef<int64_t> axes);

  // Node builders over `emit`.
  Value node(StringRef opType, Type result, ValueRange inputs,
             ArrayRef<NamedAttribute> attrs = {}) {
    return emit.node(opType, result, inputs, attrs);
  }
  NamedAttribute attr(StringRef name, int64_t v) {
    return rewriter.getNamedAttr(name, rewriter.getI64IntegerAttr(v));
  }
  Value ints(ArrayRef<int64_t> values, ArrayRef<int64_t> shape) {
    return emit.ints(values, shape);
  }
  Value scalar(int64_t v) { return ints({v}, {}); }
  Value floatConst(float v, ArrayRef<int64_t> shape) {
    return emit.constant(
        DenseElementsAttr::get(RankedTensorType::get(shape, f32), v), "f");
  }
  Value castTo(Value v, Type elem, onnx::DataType to) {
    auto type = cast<RankedTensorType>(v.getType()).clone(elem);
    return node("Cast", type, {v}, {attr("to", to)});
  }
  Value asI64(Value v) { return castTo(v, i64, onnx::DataType::INT64); }
  Value toI64(Value v) {
    return cast<ShapedType>(v.getType()).getElementType().isInteger(64)
               ? v
               : asI64(v);
  }
  Value bin(StringRef opType, Value a, Value b) {
    return node(opType, a.getType(), {a, b});
  }
  Value cmp(StringRef opType, Value a, Value b) {
    return node(opType, cast<RankedTensorType>(a.getType()).clone(i1), {a, b});
  }
  /// Along the tokens; per segment in packed rows.
  Value cumsum(Value v) {
    return onehot ? segCumsum(v) : node("CumSum", v.getType(), {v, axis1});
  }
  RankedTensorType bs(Type e) { return RankedTensorType::get({bDim, sDim}, e); }
  RankedTensorType bs3(Type e) {
    return RankedTensorType::get({bDim, sDim, 3}, e);
  }

  rope::MRopeIndexOp op;
  PatternRewriter &rewriter;
  onnx::OnnxBuilder &emit;
  int64_t opset;
  MRopeIndexRules rules;
  Type i64, f32, i1;
  static constexpr int64_t dyn = ShapedType::kDynamic;
  int64_t bDim, sDim;
  // Constants and the [B, S] shape several rules read.
  Value ids, one, zero, axis1, sliceStarts, sliceEnds, pads, flat, shapeBS,
      axes0;
  // Per token [B, S]: kept (mask 1) and its kept index; image / video /
  // vision token and block start; its block's grid (merged h, w), h * w,
  // length; seconds per grid (time rule only).
  Value kept, keptIdx, isImg, isVid, isVis, imgStart, vidStart;
  // Packed rows only: effective segment ids [B, S] (0 where padded), their
  // one-hot [B, S, K] over 1..K (i64), and 1 where a token's segment is the
  // previous token's.
  Value seg, onehot, sameSeg;
  Value t, h, w, hw, len, secTok, tpsValue;
  // Omni only: audio tokens of an audio-in-video span, the duplicate bos /
  // eos tokens (i64), video-block tokens, and per video-block token its
  // block's audio token count and whether its last token is a frame's.
  Value aivAud, dup, isVidBlock, nAudio, lastVid;
  // Qwen3-Omni only (i1 [B, S]): image, frame, audio tokens; the bos
  // opening a span, the second bos of audio in video; content tokens and
  // the first of a span; the eos tokens and the last of a span; text. Per
  // token (i64): the last span opened before it (global), its text index,
  // its index among its span's frames / audio tokens; (f32) its t, h, w
  // and its value v.
  Value fImg, fFrame, fAud, fBos, fSecondBos, fContent, fFirst, fEos1, fEos2,
      fEosEnd, fText, fSpan, fTextIdx, fLocal, fAudIdx, fT, fH, fW, fV;
};

IndexGraph::IndexGraph(rope::MRopeIndexOp op, PatternRewriter &rewriter,
                       onnx::OnnxBuilder &emit, int64_t opset)
    : op(op), rewriter(rewriter), emit(emit), opset(opset),
      rules(getMRopeIndexRules(op)), i64(rewriter.getI64Type()),
      f32(rewriter.getF32Type()), i1(rewriter.getI1Type()) {
  ids = op.getInputIds();
  auto idsType = cast<RankedTensorType>(ids.getType());
  bDim = idsType.getDimSize(0);
  sDim = idsType.getDimSize(1);
}

/// The small constants both builds read.
void IndexGraph::commonConstants() {
  one = scalar(1);
  zero = scalar(0);
  axis1 = scalar(1);
  sliceStarts = ints({0}, {1});
  sliceEnds = ints({-1}, {1});
  pads = ints({0, 1, 0, 0}, {4});
}

SmallVector<Value> IndexGraph::build() {
  commonConstants();
  keptTokens();
  if (rules.segmentIds)
    segments();
  keptIdx = bin("Sub", cumsum(asI64(kept)), one);
  visionTokens();
  blockGrids();
  timeRule();
  if (rules.audio)
    audioBlocks();
  Value positions = emitPositions();
  Value deltas = ropeDeltas(positions);
  if (rules.textRow)
    positions = node("Concat", RankedTensorType::get({4, bDim, sDim}, i64),
                     {textRow(), positions}, {attr("axis", 0)});
  return {positions, deltas};
}

// Text rule: which tokens count, and their index among the kept ones.
void IndexGraph::keptTokens() {
  Value mask = op.getAttentionMask();
  kept = mask ? cmp("Equal", toI64(mask), one)
              : cmp("Equal", bin("Mul", toI64(ids), zero), zero);
  if (Value segIds = rules.segmentIds) {
    seg = node("Where", bs(i64), {kept, toI64(segIds), zero});
    kept = cmp("Greater", seg, zero);
  }
}

// Packing rule: the one-hot of each token's segment over 1..K, K the largest
// segment id of the batch (at least 1), and where the segment continues.
void IndexGraph::segments() {
  Value k =
      node("Max", RankedTensorType::get({}, i64),
           {reduce("ReduceMax", RankedTensorType::get({}, i64), seg, {}), one});
  Value ks = node("Range", RankedTensorType::get({dyn}, i64),
                  {one, bin("Add", k, one), one});
  Value seg3 = node("Unsqueeze", RankedTensorType::get({bDim, sDim, 1}, i64),
                    {seg, ints({-1}, {1})});
  onehot = asI64(
      node("Equal", RankedTensorType::get({bDim, sDim, dyn}, i1), {seg3, ks}));
  Value head = node("Slice", RankedTensorType::get({bDim, dyn}, i64),
                    {seg, ints({0}, {1}), ints({-1}, {1}), ints({1}, {1})});
  Value prev = node("Pad", seg.getType(), {head, ints({0, 1, 0, 0}, {4})});
  sameSeg = asI64(cmp("Equal", seg, prev));
}

// CumSum per segment: over the one-hot columns, then each token's own.
Value IndexGraph::segCumsum(Value v) {
  auto bsk = RankedTensorType::get({bDim, sDim, dyn}, i64);
  Value v3 = node("Unsqueeze", RankedTensorType::get({bDim, sDim, 1}, i64),
                  {v, ints({-1}, {1})});
  Value c = node("CumSum", bsk, {bin("Mul", v3, onehot), axis1});
  return reduce("ReduceSum", bs(i64), node("Mul", bsk, {c, onehot}), {-1});
}

// Reduce over `axes` (all when empty) without keepdims: axes are an input
// from opset 18 (ReduceSum: 13), an attribute before.
Value IndexGraph::reduce(StringRef opType, Type result, Value x,
                         ArrayRef<int64_t> axes) {
  SmallVector<NamedAttribute> attrs = {attr("keepdims", 0)};
  SmallVector<Value> inputs = {x};
  if (!axes.empty()) {
    if (opset >= 18 || opType == "ReduceSum")
      inputs.push_back(ints(axes, {static_cast<int64_t>(axes.size())}));
    else
      attrs.push_back(rewriter.getNamedAttr(
          "axes", DenseI64ArrayAttr::get(op.getContext(), axes)));
  }
  return node(opType, result, inputs, attrs);
}

// Vision tokens and block starts (a vision token after one of another kind).
void IndexGraph::visionTokens() {
  // Typed by mm_token_type_ids (1 image, 2 video) or by the token ids.
  Value typed = rules.tokenTypes ? toI64(rules.tokenTypes) : ids;
  auto tokens = [&](int64_t id) {
    return node("And", bs(i1),
                ValueRange{cmp("Equal", typed, scalar(id)), kept});
  };
  isImg = tokens(rules.tokenTypes ? 1 : rules.imageToken);
  isVid = tokens(rules.tokenTypes ? 2 : rules.videoToken);
  isVis = node("Or", bs(i1), {isImg, isVid});
  if (rules.videoSpan)
    videoSpans();
  isVidBlock = isVid;
  if (rules.audio)
    audioInVideo();
  imgStart = blockStarts(isImg);
  vidStart = blockStarts(isVidBlock);
  flat = ints({-1}, {1});
  shapeBS = node("Shape", RankedTensorType::get({2}, i64), {ids});
}

// GLM-4V's typing: a vision token is a video frame's inside an open
// video_start ... video_end span (of its row, or segment), else an image's.
// Spans are counted (starts - ends so far), so start and end must alternate.
void IndexGraph::videoSpans() {
  auto count = [&](int64_t id) {
    return cumsum(asI64(
        node("And", bs(i1), ValueRange{cmp("Equal", ids, scalar(id)), kept})));
  };
  Value open = cmp(
      "Greater",
      bin("Sub", count(rules.videoSpan->first), count(rules.videoSpan->second)),
      zero);
  isVid = node("And", bs(i1), {isVis, open});
  isImg = node("And", bs(i1), {isVis, node("Not", bs(i1), {open})});
}

// Omni audio in video: <vision_start><audio_start> opens the span and
// <audio_end><vision_end> closes it (the second of each pair a duplicate:
// counted, so start and end must alternate); audio tokens inside belong to
// the span's video block.
void IndexGraph::audioInVideo() {
  const MRopeIndexRules::Audio &a = *rules.audio;
  Value prev = previous(ids);
  auto pair = [&](int64_t first, int64_t second) {
    Value is = node(
        "And", bs(i1),
        {cmp("Equal", ids, scalar(second)), cmp("Equal", prev, scalar(first))});
    is = node("And", bs(i1), {is, kept});
    if (sameSeg)
      is = node("And", bs(i1), {is, cmp("Equal", sameSeg, one)});
    return asI64(is);
  };
  Value dupBos = pair(a.visionStart, a.start);
  Value dupEos = pair(a.end, a.visionEnd);
  dup = bin("Add", dupBos, dupEos);
  Value inside =
      cmp("Greater", bin("Sub", cumsum(dupBos), cumsum(dupEos)), zero);
  Value isAud = node("And", bs(i1), {cmp("Equal", ids, scalar(a.token)), kept});
  aivAud = node("And", bs(i1), {isAud, inside});
  isVis = node("Or", bs(i1), {isVis, aivAud});
  isVidBlock = node("Or", bs(i1), {isVid, aivAud});
}

// v shifted one token right along the row (0 first).
Value IndexGraph::previous(Value v) {
  Value head = node("Slice", RankedTensorType::get({bDim, dyn}, i64),
                    {toI64(v), sliceStarts, sliceEnds, ints({1}, {1})});
  return node("Pad", bs(i64), {head, pads});
}

// x read at each video block's `marker` token (its first or last one: one
// per block, in order across the batch), for every token of that block
// (`block`: its index); NonZero lists the markers, a last 0 keeps Gather
// valid without blocks.
Value IndexGraph::atBlocks(Value x, Value marker, Value block) {
  auto vec = RankedTensorType::get({dyn}, i64);
  Value where = node("NonZero", RankedTensorType::get({1, dyn}, i64),
                     {node("Reshape", vec, {asI64(marker), flat})});
  Value at = node(
      "Gather", vec,
      {node("Reshape", vec, {x, flat}), node("Reshape", vec, {where, flat})},
      {attr("axis", 0)});
  Value table = node("Concat", vec, {at, ints({0}, {1})}, {attr("axis", 0)});
  return node("Gather", bs(i64), {table, block}, {attr("axis", 0)});
}

// Per video block: its audio tokens (a running count read at its last and
// first token) and whether its last token is a frame's. A block ends where
// the next token of its segment is no video-block token.
void IndexGraph::audioBlocks() {
  Value vb = asI64(isVidBlock);
  Value nextVb =
      node("Pad", bs(i64),
           {node("Slice", RankedTensorType::get({bDim, dyn}, i64),
                 {sameSeg ? bin("Mul", vb, sameSeg) : vb, ints({1}, {1}),
                  ints({INT64_MAX}, {1}), ints({1}, {1})}),
            ints({0, 0, 0, 1}, {4})});
  Value end = bin("Mul", vb, bin("Sub", one, nextVb));
  Value block = globalIndex(vidStart);
  Value aud = asI64(aivAud);
  Value count = cumsum(aud);
  nAudio = bin("Sub", atBlocks(count, end, block),
               atBlocks(bin("Sub", count, aud), vidStart, block));
  lastVid = cmp("Equal", atBlocks(asI64(isVid), end, block), one);
}

// 1 at the first token of each run of `is`: is[s] * (1 - is[s - 1]), with
// is[-1] = 0.
Value IndexGraph::blockStarts(Value is) {
  Value isI = asI64(is);
  Value head = node("Slice", RankedTensorType::get({bDim, dyn}, i64),
                    {isI, sliceStarts, sliceEnds, ints({1}, {1})});
  Value prevI = node("Pad", isI.getType(), {head, pads});
  if (sameSeg) // a new segment starts a new block
    prevI = bin("Mul", prevI, sameSeg);
  return bin("Mul", isI, bin("Sub", one, prevI));
}

// The global index of each token's block, counted across the batch.
Value IndexGraph::globalIndex(Value start) {
  Value f = node("Reshape", RankedTensorType::get({dyn}, i64), {start, flat});
  Value c = node("CumSum", f.getType(), {f, zero});
  Value g = node("Reshape", bs(i64), {c, shapeBS});
  return node("Max", bs(i64), {bin("Sub", g, one), zero});
}

// Image rule (and the video rule of one block per row): block k reads row k
// of `grid`; a dummy last row [1, m, m] keeps Gather valid when a batch has
// no image/video.
Value IndexGraph::gridRows(Value grid, Value start) {
  int64_t merge = rules.spatialMerge;
  Value dummy = ints({1, merge, merge}, {1, 3});
  Value rows = grid ? node("Concat", RankedTensorType::get({dyn, 3}, i64),
                           {toI64(grid), dummy}, {attr("axis", 0)})
                    : dummy;
  return node("Gather", bs3(i64), {rows, globalIndex(start)},
              {attr("axis", 0)});
}

// Video rule with one block per frame: block k is frame k of the videos'
// frames in order: row r = #{rows with cumsum(t) <= k}, grid [1, h, w]; past
// the last frame the dummy row.
Value IndexGraph::frameGrid(Value grid, Value block) {
  int64_t merge = rules.spatialMerge;
  Value g = toI64(grid);
  auto vecType = RankedTensorType::get({dyn}, i64);
  Value frames = node("Gather", vecType, {g, zero}, {attr("axis", 1)});
  // A never-reached last end keeps the reduced axis non-empty without
  // videos (ORT then broke the Where that reads the row).
  Value ends =
      node("Concat", vecType,
           {node("CumSum", vecType, {frames, zero}), ints({INT64_MAX}, {1})},
           {attr("axis", 0)});
  Value k = node("Unsqueeze", RankedTensorType::get({bDim, sDim, 1}, i64),
                 {block, ints({-1}, {1})});
  Value before = node("LessOrEqual",
                      RankedTensorType::get({bDim, sDim, dyn}, i1), {ends, k});
  Value row = node("ReduceSum", bs(i64), {asI64(before), ints({-1}, {1})},
                   {attr("keepdims", 0)});
  Value oneFrame =
      bin("Add", bin("Mul", g, ints({0, 1, 1}, {3})), ints({1, 0, 0}, {3}));
  Value rows =
      node("Concat", RankedTensorType::get({dyn, 3}, i64),
           {oneFrame, ints({1, merge, merge}, {1, 3})}, {attr("axis", 0)});
  return node("Gather", bs3(i64), {rows, row}, {attr("axis", 0)});
}

// Each token's block grid: t, merged h and w, h * w and the block length.
void IndexGraph::blockGrids() {
  Value gridImg = gridRows(op.getImageGridThw(), imgStart);
  Value gridVid = rules.blockPerFrame && op.getVideoGridThw()
                      ? frameGrid(op.getVideoGridThw(), globalIndex(vidStart))
                      : gridRows(op.getVideoGridThw(), vidStart);
  Value isImg3 = node("Unsqueeze", RankedTensorType::get({bDim, sDim, 1}, i1),
                      {isImg, ints({-1}, {1})});
  Value grid = node("Where", bs3(i64), {isImg3, gridImg, gridVid});
  auto column = [&](int64_t c) {
    return node("Gather", bs(i64), {grid, scalar(c)}, {attr("axis", 2)});
  };
  Value mScalar = scalar(rules.spatialMerge);
  t = column(0);
  h = bin("Div", column(1), mScalar);
  w = bin("Div", column(2), mScalar);
  hw = bin("Mul", h, w);
  len = bin("Mul", t, hw);
}

// Time rule inputs: the seconds per grid of each video token's block (1
// when absent; images 0, Omni 1) and tokens_per_second.
void IndexGraph::timeRule() {
  std::optional<float> tps = rules.tokensPerSecond;
  if (!tps)
    return;
  Value secRows;
  if (Value sec = op.getSecondPerGridTs())
    secRows = node("Concat", RankedTensorType::get({dyn}, f32),
                   {sec, floatConst(1.0f, {1})}, {attr("axis", 0)});
  else
    secRows = floatConst(1.0f, {1});
  Value vidSec = node("Gather", bs(f32), {secRows, globalIndex(vidStart)},
                      {attr("axis", 0)});
  // Video blocks (Omni: their audio tokens too) read their seconds.
  Value imageSec = floatConst(rules.imageSeconds, {});
  secTok = node("Where", bs(f32), {isImg, imageSec, vidSec});
  tpsValue = floatConst(*tps, {});
}

// The time row of frame index ti: ti, or int(f32(f32(ti * sec) * tps)).
Value IndexGraph::timeRow(Value ti) {
  if (!tpsValue)
    return ti;
  Value scaled =
      bin("Mul", bin("Mul", castTo(ti, f32, onnx::DataType::FLOAT), secTok),
          tpsValue);
  return castTo(scaled, i64, onnx::DataType::INT64);
}

// Text and vision positions from the sums over blocks (CumSums of values
// placed at block starts): [3, B, S], padding the arch's pad value.
Value IndexGraph::emitPositions() {
  Value span = node("Max", bs(i64),
                    {bin("Add", timeRow(bin("Sub", t, one)), one), h, w});
  Value blockLen = len;
  if (rules.audio) { // a video block ends with a frame or its audio
    blockLen = node("Where", bs(i64), {isImg, len, bin("Add", len, nAudio)});
    span = node("Where", bs(i64),
                {node("Or", bs(i1), {isImg, lastVid}), span, nAudio});
  }
  Value start = bin("Add", imgStart, vidStart);
  Value excess = bin("Sub", blockLen, span);
  Value excessAt = bin("Mul", excess, start);
  Value excessIncl = cumsum(dup ? bin("Add", excessAt, dup) : excessAt);
  Value lenIncl = cumsum(bin("Mul", blockLen, start));
  Value visCount = cumsum(asI64(isVis));
  Value local =
      bin("Sub", bin("Sub", visCount, one), bin("Sub", lenIncl, blockLen));
  Value textPos = bin("Sub", keptIdx, excessIncl);
  Value offset =
      bin("Sub", bin("Sub", keptIdx, local), bin("Sub", excessIncl, excess));
  Value frameLocal = local, audioPos;
  if (rules.audio) { // indices among the block's frame / audio tokens
    Value vidBefore = bin("Sub", cumsum(bin("Mul", len, vidStart)), len);
    Value frames = bin("Sub", cumsum(asI64(isVid)), vidBefore);
    frameLocal =
        node("Where", bs(i64), {isVid, bin("Sub", frames, one), local});
    audioPos = bin("Add", offset, bin("Sub", local, frames));
  }
  // Non-vision tokens may carry a dummy grid: keep divisors non-zero.
  Value hwSafe = node("Max", bs(i64), {hw, one});
  Value wSafe = node("Max", bs(i64), {w, one});
  Value hSafe = node("Max", bs(i64), {h, one});
  Value ti = bin("Div", frameLocal, hwSafe);
  Value hi = bin("Mod", bin("Div", frameLocal, wSafe), hSafe);
  Value wi = bin("Mod", frameLocal, wSafe);
  auto row = [&](Value visPart) {
    Value vis = bin("Add", offset, visPart);
    if (audioPos)
      vis = node("Where", bs(i64), {aivAud, audioPos, vis});
    Value pos = node("Where", bs(i64), {isVis, vis, textPos});
    return node("Where", bs(i64), {kept, pos, scalar(rules.padValue)});
  };
  axes0 = ints({0}, {1});
  return node("Concat", RankedTensorType::get({3, bDim, sDim}, i64),
              {lift(row(timeRow(ti))), lift(row(hi)), lift(row(wi))},
              {attr("axis", 0)});
}

// The text row of the [4, B, S] form: the kept index (per segment), 1 on
// padding.
Value IndexGraph::textRow() {
  return lift(node("Where", bs(i64), {kept, keptIdx, one}));
}

// rope_deltas = max over kept tokens + 1 - n, n the padded row length S or
// (deltasOverKept) the kept tokens; packed rows: per segment. Text only:
// the max over the whole row, its padded 1s included (upstream's branch).
Value IndexGraph::ropeDeltas(Value positions) {
  Value minusOne = scalar(-1);
  Value kept3 = node("Unsqueeze", RankedTensorType::get({1, bDim, sDim}, i1),
                     {kept, axes0});
  Value masked = op.isTextOnly() ? positions
                                 : node("Where", positions.getType(),
                                        {kept3, positions, minusOne});
  if (onehot)
    return segmentDeltas(reduce("ReduceMax", bs(i64), masked, {0}));
  Value rowMax =
      reduce("ReduceMax", RankedTensorType::get({bDim}, i64), masked, {0, 2});
  Value n = rules.deltasOverKept
                ? reduce("ReduceSum", RankedTensorType::get({bDim}, i64),
                         asI64(kept), {1})
                : node("Gather", RankedTensorType::get({}, i64), {shapeBS, one},
                       {attr("axis", 0)});
  Value delta = bin("Sub", bin("Add", rowMax, one), n);
  return node("Unsqueeze", RankedTensorType::get({bDim, 1}, i64),
              {delta, ints({1}, {1})});
}

// Packing rule: [B, K], column k - 1 the largest position of segment k + 1
// - its token count, 0 where a row has no segment k.
Value IndexGraph::segmentDeltas(Value tokenMax) {
  auto bsk = RankedTensorType::get({bDim, sDim, dyn}, i64);
  Value onehotB = cmp("Equal", onehot, one);
  Value max3 = node("Unsqueeze", RankedTensorType::get({bDim, sDim, 1}, i64),
                    {tokenMax, ints({-1}, {1})});
  Value perSeg = node("Where", bsk, {onehotB, max3, scalar(-1)});
  auto deltaType = cast<RankedTensorType>(op.getRopeDeltas().getType());
  Value top = reduce("ReduceMax", deltaType, perSeg, {1});
  Value n = reduce("ReduceSum", deltaType, onehot, {1});
  Value delta = bin("Sub", bin("Add", top, one), n);
  return node("Where", deltaType, {cmp("Greater", n, zero), delta, zero});
}

// Qwen3-Omni's f32 span rule, without loops. Every position is one or two
// f32 adds from a value of one chain per sample: m (the last eos block's
// largest position, -1 at the start), then per span k
//   s_k = m + (1 + text_k + bos_k), top_k = s_k + vmax_k, e_k = top_k + 1,
//   m' = e_k + (bos_k - 1),
// vmax_k the largest (t, h, w) or audio index of the content's last piece.
// The chain is one CumSum in f32 over four increment slots per token
// (ONNX Runtime's CumSum adds in order in the input type, so each partial
// sum is rounded as the reference rounds it; adding 0 is exact), per
// segment through the one-hot. Text and bos tokens read m at their own
// slot; content and eos tokens read s_k / e_k at their span's first
// content token.
SmallVector<Value> IndexGraph::buildFloat() {
  commonConstants();
  flat = ints({-1}, {1});
  axes0 = ints({0}, {1});
  keptTokens();
  if (rules.segmentIds)
    segments();
  shapeBS = node("Shape", RankedTensorType::get({2}, i64), {ids});
  keptIdx = bin("Sub", cumsum(asI64(kept)), one);
  floatTokens();
  floatSpans();
  floatContent();
  Value chain = floatChain();
  Value positions = floatPositions(chain);
  Value deltas = floatDeltas(positions);
  if (rules.textRow) {
    Value text = node("Where", bs(f32),
                      {kept, castTo(keptIdx, f32, onnx::DataType::FLOAT),
                       floatConst(1.0f, {})});
    positions =
        node("Concat", RankedTensorType::get({4, bDim, sDim}, f32),
             {node("Unsqueeze", RankedTensorType::get({1, bDim, sDim}, f32),
                   {text, axes0}),
              positions},
             {attr("axis", 0)});
  }
  return {positions, deltas};
}

// v shifted one token left along the row (0 last); in packed rows 0 where
// the next token is another segment's.
Value IndexGraph::following(Value v) {
  Value tail =
      node("Slice", RankedTensorType::get({bDim, dyn}, i64),
           {toI64(v), ints({1}, {1}), ints({INT64_MAX}, {1}), ints({1}, {1})});
  Value next = node("Pad", bs(i64), {tail, ints({0, 0, 0, 1}, {4})});
  if (sameSeg) // sameSeg of the next token
    next = bin("Mul", next,
               node("Pad", bs(i64),
                    {node("Slice", RankedTensorType::get({bDim, dyn}, i64),
                          {sameSeg, ints({1}, {1}), ints({INT64_MAX}, {1}),
                           ints({1}, {1})}),
                     ints({0, 0, 0, 1}, {4})}));
  return next;
}

// v of the previous token of the same segment (0 at a segment's start).
Value IndexGraph::before(Value v) {
  Value prev = previous(v);
  return sameSeg ? bin("Mul", prev, sameSeg) : prev;
}

// What each kept token is, from its id and its neighbours' (i1 each).
void IndexGraph::floatTokens() {
  const MRopeIndexRules::Audio &a = *rules.audio;
  auto is = [&](int64_t id) {
    return node("And", bs(i1), ValueRange{cmp("Equal", ids, scalar(id)), kept});
  };
  auto both = [&](Value x, Value y) { return node("And", bs(i1), {x, y}); };
  auto either = [&](Value x, Value y) { return node("Or", bs(i1), {x, y}); };
  auto no = [&](Value x) { return node("Not", bs(i1), {x}); };
  auto on = [&](Value x) { return cmp("Equal", x, one); };
  Value isVS = is(a.visionStart), isAS = is(a.start);
  fImg = is(rules.imageToken);
  fFrame = either(fImg, is(rules.videoToken));
  fAud = is(a.token);
  fSecondBos = both(isAS, on(before(asI64(isVS))));
  fBos = both(either(isVS, isAS), no(fSecondBos));
  fContent = either(fFrame, fAud);
  fFirst = both(fContent, no(on(before(asI64(fContent)))));
  fEos1 = both(both(kept, no(fContent)), on(before(asI64(fContent))));
  fEos2 = both(both(is(a.visionEnd), on(before(asI64(is(a.end))))),
               on(before(asI64(fEos1))));
  fEosEnd = either(fEos2, both(fEos1, no(on(following(asI64(fEos2))))));
  fText = both(kept, no(either(either(fBos, fSecondBos),
                               either(fContent, either(fEos1, fEos2)))));
}

// x read at each `marker` token (in order across the batch), as a table;
// one extra 0 keeps a Gather valid without markers.
Value IndexGraph::markerTable(Value x, Value marker) {
  Type elem = cast<ShapedType>(x.getType()).getElementType();
  auto vec = RankedTensorType::get({dyn}, elem);
  auto ivec = RankedTensorType::get({dyn}, i64);
  Value where = node("NonZero", RankedTensorType::get({1, dyn}, i64),
                     {node("Reshape", ivec, {asI64(marker), flat})});
  Value at = node(
      "Gather", vec,
      {node("Reshape", vec, {x, flat}), node("Reshape", ivec, {where, flat})},
      {attr("axis", 0)});
  Value pad = elem == f32 ? floatConst(0.0f, {1}) : ints({0}, {1});
  return node("Concat", vec, {at, pad}, {attr("axis", 0)});
}

// table[index] per token, index clamped to >= 0.
Value IndexGraph::perSpan(Value table, Value index) {
  Type elem = cast<ShapedType>(table.getType()).getElementType();
  return node("Gather", bs(elem), {table, node("Max", bs(i64), {index, zero})},
              {attr("axis", 0)});
}

// Span numbers: each span opens at its bos token; fSpan is the global
// index (across the batch) of the last span opened before a token; the
// text index of text (and bos) tokens counts from the last span's eos end
// (or the segment's start), so a bos token's is its span's text length.
void IndexGraph::floatSpans() {
  Value bos = asI64(fBos);
  Value f = node("Reshape", RankedTensorType::get({dyn}, i64), {bos, flat});
  Value incl = node("Reshape", bs(i64),
                    {node("CumSum", f.getType(), {f, zero}), shapeBS});
  fSpan = bin("Sub", bin("Sub", incl, bos), one);
  Value localBefore = bin("Sub", cumsum(bos), bos);
  Value endKept = perSpan(markerTable(keptIdx, fEosEnd), fSpan);
  Value base = node("Where", bs(i64),
                    {cmp("Equal", localBefore, zero), scalar(-1), endKept});
  fTextIdx = bin("Sub", bin("Sub", keptIdx, one), base);
}

// The content: each token's grid (its image's or its video's), seconds,
// index among the span's frame / audio tokens, and its value v (the
// largest of its f32 (t, h, w), or its audio index).
void IndexGraph::floatContent() {
  Value secondBefore = before(asI64(fSecondBos));
  Value readsVid = node(
      "And", bs(i1),
      {fFirst,
       node("Or", bs(i1),
            {node("And", bs(i1), {fFrame, node("Not", bs(i1), {fImg})}),
             node("And", bs(i1), {fAud, cmp("Equal", secondBefore, one)})})});
  Value readsImg = node("And", bs(i1), {fFirst, fImg});
  Value grid =
      node("Where", bs3(i64),
           {node("Unsqueeze", RankedTensorType::get({bDim, sDim, 1}, i1),
                 {fImg, ints({-1}, {1})}),
            gridRows(op.getImageGridThw(), asI64(readsImg)),
            gridRows(op.getVideoGridThw(), asI64(readsVid))});
  auto column = [&](int64_t c) {
    return node("Gather", bs(i64), {grid, scalar(c)}, {attr("axis", 2)});
  };
  Value mScalar = scalar(rules.spatialMerge);
  h = node("Max", bs(i64), {bin("Div", column(1), mScalar), one});
  w = node("Max", bs(i64), {bin("Div", column(2), mScalar), one});
  hw = bin("Mul", h, w);
  Value secRows = floatConst(1.0f, {1});
  if (Value sec = op.getSecondPerGridTs())
    secRows = node("Concat", RankedTensorType::get({dyn}, f32), {sec, secRows},
                   {attr("axis", 0)});
  Value vidSec =
      node("Gather", bs(f32), {secRows, globalIndex(asI64(readsVid))},
           {attr("axis", 0)});
  secTok = node("Where", bs(f32),
                {fImg, floatConst(rules.imageSeconds, {}), vidSec});
  // Index among the span's frames (audio tokens): a running count minus
  // its value before the span's first content token.
  auto indexIn = [&](Value is) {
    Value count = cumsum(asI64(is));
    Value start =
        perSpan(markerTable(bin("Sub", count, asI64(is)), fFirst), fSpan);
    return bin("Sub", bin("Sub", count, one), start);
  };
  fLocal = indexIn(fFrame);
  fAudIdx = indexIn(fAud);
  auto toF = [&](Value v) { return castTo(v, f32, onnx::DataType::FLOAT); };
  Value ti = toF(bin("Div", fLocal, hw));
  fT = bin("Mul", bin("Mul", ti, secTok),
           floatConst(*rules.tokensPerSecond, {}));
  fH = toF(bin("Mod", bin("Div", fLocal, w), h));
  fW = toF(bin("Mod", fLocal, w));
  Value frameV = node("Max", bs(f32), {fT, fH, fW});
  fV = node("Where", bs(f32), {fFrame, frameV, toF(fAudIdx)});
}

// The chain: increments [c, vmax, 1, bos - 1] at each span's first content
// token, -1 at each sample's first token, then one f32 CumSum; [B, S, 4].
Value IndexGraph::floatChain() {
  auto toF = [&](Value v) { return castTo(v, f32, onnx::DataType::FLOAT); };
  Value fZero = floatConst(0.0f, {});
  Value secondBefore = before(asI64(fSecondBos));
  Value bosN = bin("Add", secondBefore, one);
  // The span's text length, read at its bos token (one or two back).
  Value textAtBos = bin("Mul", fTextIdx, asI64(fBos));
  Value back1 = before(textAtBos), back2 = before(before(textAtBos));
  Value text =
      node("Where", bs(i64), {cmp("Equal", secondBefore, one), back2, back1});
  Value c = toF(bin("Add", bin("Add", text, one), bosN));
  Value first = node("And", bs(i1), {kept, cmp("Equal", keptIdx, zero)});
  Value slot0 =
      node("Where", bs(f32),
           {fFirst, c,
            node("Where", bs(f32), {first, floatConst(-1.0f, {}), fZero})});
  Value slot1 = node("Where", bs(f32), {fFirst, spanTailMax(), fZero});
  Value slot2 = node("Where", bs(f32), {fFirst, floatConst(1.0f, {}), fZero});
  Value slot3 =
      node("Where", bs(f32), {fFirst, toF(bin("Sub", bosN, one)), fZero});
  auto bs1 = RankedTensorType::get({bDim, sDim, 1}, f32);
  auto lift3 = [&](Value v) {
    return node("Unsqueeze", bs1, {v, ints({-1}, {1})});
  };
  Value slots = node("Concat", RankedTensorType::get({bDim, sDim, 4}, f32),
                     {lift3(slot0), lift3(slot1), lift3(slot2), lift3(slot3)},
                     {attr("axis", 2)});
  Value shape2 = ints({0, -1}, {2});
  Value row =
      node("Reshape", RankedTensorType::get({bDim, dyn}, f32), {slots, shape2});
  Value summed;
  if (onehot) {
    // Per segment: each slot's segment id (its token's), then its one-hot.
    Value seg4 =
        node("Expand", RankedTensorType::get({bDim, sDim, 4}, i64),
             {node("Unsqueeze", RankedTensorType::get({bDim, sDim, 1}, i64),
                   {seg, ints({-1}, {1})}),
              node("Concat", RankedTensorType::get({3}, i64),
                   {shapeBS, ints({4}, {1})}, {attr("axis", 0)})});
    Value segRow = node("Reshape", RankedTensorType::get({bDim, dyn}, i64),
                        {seg4, shape2});
    Value ks = node(
        "Range", RankedTensorType::get({dyn}, i64),
        {one,
         bin("Add",
             node("Gather", RankedTensorType::get({}, i64),
                  {node("Shape", RankedTensorType::get({3}, i64), {onehot}),
                   scalar(2)},
                  {attr("axis", 0)}),
             one),
         one});
    auto bnk = RankedTensorType::get({bDim, dyn, dyn}, f32);
    Value oh = castTo(
        node("Equal", RankedTensorType::get({bDim, dyn, dyn}, i1),
             {node("Unsqueeze", RankedTensorType::get({bDim, dyn, 1}, i64),
                   {segRow, ints({-1}, {1})}),
              ks}),
        f32, onnx::DataType::FLOAT);
    Value v3 = node("Unsqueeze", RankedTensorType::get({bDim, dyn, 1}, f32),
                    {row, ints({-1}, {1})});
    Value cs = node("CumSum", bnk, {node("Mul", bnk, {v3, oh}), axis1});
    summed = reduce("ReduceSum", RankedTensorType::get({bDim, dyn}, f32),
                    node("Mul", bnk, {cs, oh}), {-1});
  } else {
    summed = node("CumSum", row.getType(), {row, axis1});
  }
  return node("Reshape", RankedTensorType::get({bDim, sDim, 4}, f32),
              {summed, node("Concat", RankedTensorType::get({3}, i64),
                            {shapeBS, ints({4}, {1})}, {attr("axis", 0)})});
}

// vmax of each span, at its first content token: the largest v over the
// content's last piece (a run of one stream: frames or audio), through a
// one-hot over the spans of a row.
Value IndexGraph::spanTailMax() {
  // A new piece: the first content token or a stream change.
  Value aud = asI64(fAud);
  Value streamChange =
      node("And", bs(i1),
           {fContent, node("Not", bs(i1), {cmp("Equal", aud, before(aud))})});
  Value pieceStart = asI64(node("Or", bs(i1), {fFirst, streamChange}));
  Value piece = cumsum(pieceStart);
  Value last = node("And", bs(i1),
                    {fContent, cmp("Equal", following(asI64(fEos1)), one)});
  Value tailPiece = perSpan(markerTable(piece, last), fSpan);
  Value inTail =
      node("And", bs(i1), {fContent, cmp("Equal", piece, tailPiece)});
  // Row-local span numbers 1..K (K + 1 columns: never empty).
  Value rowSpan = node("CumSum", bs(i64), {asI64(fBos), axis1});
  Value k = bin(
      "Add", reduce("ReduceMax", RankedTensorType::get({}, i64), rowSpan, {}),
      one);
  Value ks = node("Range", RankedTensorType::get({dyn}, i64),
                  {one, bin("Add", k, one), one});
  Value oh =
      node("Equal", RankedTensorType::get({bDim, sDim, dyn}, i1),
           {node("Unsqueeze", RankedTensorType::get({bDim, sDim, 1}, i64),
                 {rowSpan, ints({-1}, {1})}),
            ks});
  Value tail3 = node("Unsqueeze", RankedTensorType::get({bDim, sDim, 1}, i1),
                     {inTail, ints({-1}, {1})});
  Value v3 = node("Unsqueeze", RankedTensorType::get({bDim, sDim, 1}, f32),
                  {fV, ints({-1}, {1})});
  Value vals = node(
      "Where", RankedTensorType::get({bDim, sDim, dyn}, f32),
      {node("And", RankedTensorType::get({bDim, sDim, dyn}, i1), {oh, tail3}),
       v3, floatConst(-1.0f, {})});
  Value table =
      reduce("ReduceMax", RankedTensorType::get({bDim, dyn}, f32), vals, {1});
  Value col = node("Max", bs(i64), {bin("Sub", rowSpan, one), zero});
  return node("GatherElements", bs(f32), {table, col}, {attr("axis", 1)});
}

// [3, B, S] f32 positions from the chain: text f32(m + 1) + j, bos
// f32(m + 1 + text) + j, a frame (t, h, w) + s, audio s + its index, eos
// e (+ 1 for the second), padding 0.
Value IndexGraph::floatPositions(Value chain) {
  auto toF = [&](Value v) { return castTo(v, f32, onnx::DataType::FLOAT); };
  auto slot = [&](int64_t i) {
    return node("Gather", bs(f32), {chain, scalar(i)}, {attr("axis", 2)});
  };
  Value m = slot(3);
  Value s = perSpan(markerTable(slot(0), fFirst), fSpan);
  Value e = perSpan(markerTable(slot(2), fFirst), fSpan);
  Value fOne = floatConst(1.0f, {});
  Value textPos = bin("Add", bin("Add", m, fOne), toF(fTextIdx));
  Value second = asI64(fSecondBos);
  // The second bos reads its span's text length at the first one.
  Value text =
      node("Where", bs(i64),
           {fSecondBos, before(bin("Mul", fTextIdx, asI64(fBos))), fTextIdx});
  Value bosStart = bin("Add", m, toF(bin("Add", text, one)));
  Value bosPos = bin("Add", bosStart, toF(second));
  Value eosPos = bin("Add", e, toF(asI64(fEos2)));
  Value audPos = bin("Add", s, toF(fAudIdx));
  Value bos = node("Or", bs(i1), {fBos, fSecondBos});
  auto row = [&](Value part) {
    Value p = node("Where", bs(f32), {fFrame, bin("Add", part, s), eosPos});
    p = node("Where", bs(f32), {fAud, audPos, p});
    p = node("Where", bs(f32), {bos, bosPos, p});
    p = node("Where", bs(f32), {fText, textPos, p});
    p = node("Where", bs(f32),
             {kept, p, floatConst(static_cast<float>(rules.padValue), {})});
    return node("Unsqueeze", RankedTensorType::get({1, bDim, sDim}, f32),
                {p, axes0});
  };
  return node("Concat", RankedTensorType::get({3, bDim, sDim}, f32),
              {row(fT), row(fH), row(fW)}, {attr("axis", 0)});
}

// rope_deltas: the exact max + 1 - n rounded to f32 once (in f64, as the
// reference's numpy does); packed rows per segment.
Value IndexGraph::floatDeltas(Value positions) {
  Type f64 = rewriter.getF64Type();
  auto deltaType = cast<RankedTensorType>(op.getRopeDeltas().getType());
  Value kept3 = node("Unsqueeze", RankedTensorType::get({1, bDim, sDim}, i1),
                     {kept, axes0});
  Value masked = op.isTextOnly()
                     ? positions
                     : node("Where", positions.getType(),
                            {kept3, positions, floatConst(-1.0f, {})});
  Value top, n;
  if (onehot) {
    Value tokenMax = reduce("ReduceMax", bs(f32), masked, {0});
    auto bsk = RankedTensorType::get({bDim, sDim, dyn}, f32);
    Value perSeg =
        node("Where", bsk,
             {cmp("Equal", onehot, one),
              node("Unsqueeze", RankedTensorType::get({bDim, sDim, 1}, f32),
                   {tokenMax, ints({-1}, {1})}),
              floatConst(-1.0f, {})});
    top = reduce("ReduceMax", RankedTensorType::get({bDim, dyn}, f32), perSeg,
                 {1});
    n = reduce("ReduceSum", RankedTensorType::get({bDim, dyn}, i64), onehot,
               {1});
  } else {
    top = node("Unsqueeze", RankedTensorType::get({bDim, 1}, f32),
               {reduce("ReduceMax", RankedTensorType::get({bDim}, f32), masked,
                       {0, 2}),
                ints({1}, {1})});
    n = node("Unsqueeze", RankedTensorType::get({bDim, 1}, i64),
             {reduce("ReduceSum", RankedTensorType::get({bDim}, i64),
                     asI64(kept), {1}),
              ints({1}, {1})});
  }
  auto asF64 = [&](Value v) { return castTo(v, f64, onnx::DataType::DOUBLE); };
  Value exact = bin("Sub",
                    bin("Add", asF64(top),
                        emit.constant(DenseElementsAttr::get(
                                          RankedTensorType::get({}, f64), 1.0),
                                      "d")),
                    asF64(n));
  Value delta = castTo(exact, f32, onnx::DataType::FLOAT);
  if (onehot)
    delta = node("Where", deltaType.clone(f32),
                 {cmp("Greater", n, zero), delta, floatConst(0.0f, {})});
  return node("Identity", deltaType, {delta});
}

struct LowerMRopeIndex : OpRewritePattern<rope::MRopeIndexOp> {
  LowerMRopeIndex(MLIRContext *ctx, StringRef prefix)
      : OpRewritePattern(ctx), prefix(prefix.str()) {}

  LogicalResult matchAndRewrite(rope::MRopeIndexOp op,
                                PatternRewriter &rewriter) const override {
    auto graph = op->getParentOfType<onnx::GraphOp>();
    if (!graph)
      return rewriter.notifyMatchFailure(op, "not inside an onnx.graph");
    // Built from graph inputs of any type: check them before reading them.
    if (failed(verify(op, /*verifyRecursively=*/false)))
      return failure();
    int64_t opset = onnx::getOpsetVersion(op).value_or(0);
    if (opset < 13)
      return op.emitError("lowering rope.mrope_index to ONNX needs opset 13 "
                          "or newer (the model has ")
             << opset << ")";
    std::string base = uniqueName(graph, prefix + "/mrope_index");
    onnx::OnnxBuilder emit(rewriter, graph, op.getLoc(), base,
                           prefix + ".index");
    rewriter.setInsertionPoint(op);
    IndexGraph graphOf(op, rewriter, emit, opset);
    rewriter.replaceOp(op, op.getArchRules().floatPositions
                               ? graphOf.buildFloat()
                               : graphOf.build());
    return success();
  }

  std::string prefix;
};

struct ConvertRopeToOnnxPass
    : mrope::impl::ConvertRopeToOnnxBase<ConvertRopeToOnnxPass> {
  using Base::Base;
  void runOnOperation() override {
    if (failed(checkRopeEmitOpset(getOperation(), emit)))
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    populateRopeToOnnxPatterns(patterns, prefix, emit);
    // Only rope ops are rewritten: the driver starts from them rather than
    // from every node of the graph (thousands in a real model).
    SmallVector<Operation *> ropeOps;
    getOperation()->walk([&](Operation *op) {
      if (isa<rope::RopeDialect>(op->getDialect()))
        ropeOps.push_back(op);
    });
    GreedyRewriteConfig config;
    config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
    if (failed(applyOpPatternsGreedily(
            ropeOps, FrozenRewritePatternSet(std::move(patterns)), config)))
      return signalPassFailure();
    WalkResult left = getOperation()->walk([](Operation *op) {
      if (isa<rope::CosSinOp>(op)) {
        op->emitError("could not lower rope.cos_sin to ONNX: it must sit in "
                      "an onnx.graph with a constant frequency table");
        return WalkResult::interrupt();
      }
      if (auto apply = dyn_cast<rope::ApplyOp>(op);
          apply && !apply.hasBufferSemantics()) {
        op->emitError("could not lower rope.apply to ONNX: it must sit in an "
                      "onnx.graph with a constant frequency table");
        return WalkResult::interrupt();
      }
      if (isa<rope::MRopeIndexOp>(op)) {
        op->emitError("could not lower rope.mrope_index to ONNX: it must sit "
                      "in an onnx.graph of opset 13 or newer");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace

void mrope::populateRopeToOnnxPatterns(RewritePatternSet &patterns,
                                       StringRef prefix, EmitMode emit) {
  patterns.add<LowerCosSin, LowerMRopeIndex>(patterns.getContext(), prefix);
  populateRopeApplyToOnnxPatterns(patterns, prefix, emit);
}
