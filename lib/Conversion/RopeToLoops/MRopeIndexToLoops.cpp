//===- MRopeIndexToLoops.cpp - rope.mrope_index -> scalar loops -----------===//
//
// get_rope_index as one pass over the tokens of each row (rows in order, so
// grid rows are consumed across the batch), with the closed form the ONNX
// lowering uses: a text token sits at j - excess, where j is its index among
// kept tokens and excess sums len - span over the vision blocks so far; a
// vision token at its block's offset plus (t, h, w) of its index in the
// block. Blocks are runs of image (video) tokens. Works on tensors: inputs
// are read through bufferization.to_buffer, outputs are new buffers turned
// back into tensors, so it runs before one-shot bufferization. What differs
// per arch (the time rule, one block per video frame) comes from
// MRopeIndexRules; each rule is one helper below. With one block per frame
// a video block reads the row holding its frame, as [1, h, w]; a block past
// the last grid row reads the dummy [1, m, m], as the ONNX lowering does.
// Packed rows (segment ids): a kept token of another segment than the last
// one closes that segment (its rope_deltas column) and restarts the row
// state, so each segment is laid out as if alone; segments are assumed to be
// contiguous runs (a segment id coming back later in a row restarts again).
// Omni audio in video: the span's audio tokens join its video block (1D at
// the offset plus their index among the block's audio tokens); the
// duplicate bos / eos tokens add 1 to the excess; the first kept token
// after a block sits at its tail (one past the largest position of the
// stream it ended with), which for plain blocks is what the excess gives.
// Qwen3-Omni (the table's floatPositions) has no integer closed form: its
// positions are f32 and each span starts one past the previous one's f32
// maximum, so its rows carry that chain token by token (emitFloatRow and
// the helpers after it), adding in the reference's order.
//
//===----------------------------------------------------------------------===//
#include "mrope/Conversion/RopeToLoops/RopeToLoops.h"

#include "mrope/Conversion/Passes.h"
#include "mrope/Conversion/RopeCommon/MRopeIndexRules.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mrope {
#define GEN_PASS_DEF_CONVERTROPEINDEXTOLOOPS
#include "mrope/Conversion/Passes.h.inc"
} // namespace mrope

using namespace mlir;
using namespace mrope;
using namespace mrope::rope;

namespace {

/// What the token loop of a row carries from token to token.
struct TokenState {
  /// Kept index, sum of len - span over the blocks so far, index in the
  /// current block, the block's offset, its h, w, h * w (merged), the kind
  /// of the last kept token (0 text, 1 image, 2 video), the largest
  /// position so far, the block's seconds per grid, and the image / video
  /// blocks consumed so far (across the batch), the segment of the last
  /// kept token (packed rows; 0 before the first), and whether a GLM-4V
  /// video span is open (i1). Omni: the last kept token's id, whether an
  /// audio-in-video span is open (i1), the block's audio tokens so far, its
  /// frames' extent (max(time(t - 1) + 1, h, w)) and its tail.
  Value j, excess, local, offset, h, w, hw, prevKind, maxPos, sec, imgIdx,
      vidIdx, segId, inVideo, prevId, inAiv, aud, span, tail;

  SmallVector<Value> values() const {
    return {j,        excess, local, offset, h,      w,     hw,
            prevKind, maxPos, sec,   imgIdx, vidIdx, segId, inVideo,
            prevId,   inAiv,  aud,   span,   tail};
  }
  static TokenState from(ValueRange v) {
    return {v[0],  v[1],  v[2],  v[3],  v[4],  v[5],  v[6],  v[7],  v[8], v[9],
            v[10], v[11], v[12], v[13], v[14], v[15], v[16], v[17], v[18]};
  }
};

/// What the token loop of a row carries under Qwen3-Omni's f32 span rule
/// (MRopeIndexRules::floatPositions): the kept index, segment and last kept
/// id; the largest position so far; m, the largest position of the last
/// eos block (-1 before the first: a sample starts at 0); the text tokens
/// since then; the phase (0 text, 1 bos, 2 content, 3 second eos); the bos
/// tokens of the open span; its content's start; the frame / audio tokens
/// of the content so far; the largest position of the content's last
/// piece and which stream that piece is (0 frames, 1 audio); the content's
/// merged h, w, h * w and seconds per grid; the image / video grids
/// consumed so far (across the batch).
struct FloatState {
  Value j, segId, prevId, maxPos, m, textLen, phase, bos, base, local, aud,
      pieceMax, stream, h, w, hw, sec, imgIdx, vidIdx;

  SmallVector<Value> values() const {
    return {j,   segId, prevId, maxPos, m,        textLen, phase,
            bos, base,  local,  aud,    pieceMax, stream,  h,
            w,   hw,    sec,    imgIdx, vidIdx};
  }
  static FloatState from(ValueRange v) {
    return {v[0],  v[1],  v[2],  v[3],  v[4],  v[5],  v[6],  v[7],  v[8], v[9],
            v[10], v[11], v[12], v[13], v[14], v[15], v[16], v[17], v[18]};
  }
};

/// What a kept token does under the f32 span rule (i1 each): text, the
/// bos token opening a span or the second one of audio in video, the first
/// content token or a later one, a frame's or an audio token, the first
/// or second eos token, and whether it reads an image or a video grid.
struct FloatStep {
  Value text, opens, secondBos, startsContent, content, frame, audio, eos1,
      eos2, readImg, readVid;
};

/// What a token is: kept (mask 1, segment > 0), image, video, vision,
/// whether it starts a block (a vision token of another kind than the last
/// kept one) and its segment (packed rows).
struct TokenKind {
  Value kept, isImg, isVid, kind, isVis, start, seg, id;
  /// Omni: an audio token of an audio-in-video span (null otherwise).
  Value aivAud;
};

/// The grid [t, h, w] (unmerged) and seconds per grid of a block.
struct BlockGrid {
  Value t, h, w, sec;
};

/// The scalar loops of one rope.mrope_index, one helper per rule.
class IndexLoops {
public:
  IndexLoops(MRopeIndexOp op, ImplicitLocOpBuilder &b)
      : op(op), b(b), rules(getMRopeIndexRules(op)), i64(b.getI64Type()),
        f32(b.getF32Type()) {}
  /// The loops at b's insertion point; returns {positions, rope_deltas}.
  SmallVector<Value> emit();

private:
  Value bufferOf(Value tensor);
  void emitRow(ImplicitLocOpBuilder &rb, Value bi, ValueRange counters);
  TokenState emitToken(ImplicitLocOpBuilder &t, Value bi, Value si,
                       TokenState st);
  TokenKind classify(ImplicitLocOpBuilder &t, Value bi, Value si);
  void typeVideoSpans(ImplicitLocOpBuilder &t, TokenKind &k, TokenState &st);
  void typeAudio(ImplicitLocOpBuilder &t, TokenKind &k, TokenState &st);
  void closeBlock(ImplicitLocOpBuilder &t, const TokenKind &k, TokenState &st);
  void enterSegment(ImplicitLocOpBuilder &t, Value bi, const TokenKind &k,
                    TokenState &st);
  void storeSegmentDelta(ImplicitLocOpBuilder &t, Value bi, Value segId,
                         Value maxPos, Value count);
  Value segmentCount();
  void zeroDeltas(Value batch, Value k);
  BlockGrid readBlockGrid(ImplicitLocOpBuilder &t, const TokenKind &k,
                          const TokenState &st);
  BlockGrid imageGrid(ImplicitLocOpBuilder &t, Value imgIdx);
  BlockGrid videoGrid(ImplicitLocOpBuilder &t, Value vidIdx);
  SmallVector<Value> loadGridRow(ImplicitLocOpBuilder &t, Value grid,
                                 Value row);
  Value frameRow(ImplicitLocOpBuilder &t, Value k);
  Value videoSeconds(ImplicitLocOpBuilder &t, Value vidIdx);
  Value timeRow(ImplicitLocOpBuilder &t, Value i, Value sec);
  void startBlock(ImplicitLocOpBuilder &t, const TokenKind &k,
                  const BlockGrid &grid, TokenState &st);
  void storePositions(ImplicitLocOpBuilder &t, Value bi, Value si,
                      const TokenKind &k, TokenState &st);
  // Qwen3-Omni's f32 span rule, one helper per step.
  void emitFloatRow(ImplicitLocOpBuilder &rb, Value bi, ValueRange counters);
  FloatState emitFloatToken(ImplicitLocOpBuilder &t, Value bi, Value si,
                            FloatState st);
  void enterFloatSegment(ImplicitLocOpBuilder &t, Value bi, const TokenKind &k,
                         FloatState &st);
  void storeFloatDelta(ImplicitLocOpBuilder &t, Value bi, Value col,
                       Value maxPos, Value count);
  FloatStep floatStep(ImplicitLocOpBuilder &t, const TokenKind &k,
                      const FloatState &st);
  void startContent(ImplicitLocOpBuilder &t, const FloatStep &s,
                    FloatState &st);
  SmallVector<Value> floatRows(ImplicitLocOpBuilder &t, const FloatStep &s,
                               const FloatState &st);
  void advanceFloat(ImplicitLocOpBuilder &t, const TokenKind &k,
                    const FloatStep &s, ArrayRef<Value> row, FloatState &st);
  void storeFloatRows(ImplicitLocOpBuilder &t, Value bi, Value si,
                      const TokenKind &k, ArrayRef<Value> row, Value j);

  // Integer constants go before the op, outside the loops.
  Value c64(int64_t v) { return arith::ConstantIntOp::create(b, i64, v); }
  Value cIdx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value f32Const(ImplicitLocOpBuilder &at, float v) {
    return arith::ConstantFloatOp::create(at, at.getF32Type(), APFloat(v));
  }
  Value toF32(ImplicitLocOpBuilder &at, Value v) {
    return arith::SIToFPOp::create(at, f32, v);
  }
  Value addF(ImplicitLocOpBuilder &at, Value x, Value y) {
    return arith::AddFOp::create(at, x, y);
  }
  Value toI64(ImplicitLocOpBuilder &at, Value v) {
    return v.getType() == i64 ? v : arith::ExtSIOp::create(at, i64, v);
  }
  Value eq(ImplicitLocOpBuilder &at, Value x, Value y) {
    return arith::CmpIOp::create(at, arith::CmpIPredicate::eq, x, y);
  }

  MRopeIndexOp op;
  ImplicitLocOpBuilder &b;
  MRopeIndexRules rules;
  Type i64, f32;
  // Input buffers (null when absent) and output buffers.
  Value ids, mask, segs, types, images, videos, seconds, positions, deltas;
  // Constants of the whole op.
  Value seq, zero, one, minusOne, merge, imageToken, videoToken, seqI64, i0, i1;
};

Value IndexLoops::bufferOf(Value tensor) {
  if (!tensor)
    return {};
  auto type = cast<RankedTensorType>(tensor.getType());
  return bufferization::ToBufferOp::create(
      b, MemRefType::get(type.getShape(), type.getElementType()), tensor,
      /*read_only=*/true);
}

SmallVector<Value> IndexLoops::emit() {
  ids = bufferOf(op.getInputIds());
  mask = bufferOf(op.getAttentionMask());
  segs = bufferOf(rules.segmentIds);
  types = bufferOf(rules.tokenTypes);
  images = bufferOf(op.getImageGridThw());
  videos = bufferOf(op.getVideoGridThw());
  seconds = bufferOf(op.getSecondPerGridTs());
  Value batch = memref::DimOp::create(b, ids, 0);
  seq = memref::DimOp::create(b, ids, 1);
  auto posType = op.getPositions().getType();
  auto deltaType = op.getRopeDeltas().getType();
  SmallVector<Value> posDims, deltaDims;
  if (posType.isDynamicDim(1))
    posDims.push_back(batch);
  if (posType.isDynamicDim(2))
    posDims.push_back(seq);
  zero = c64(0);
  one = c64(1);
  i0 = cIdx(0);
  i1 = cIdx(1);
  minusOne = c64(-1);
  merge = c64(rules.spatialMerge);
  imageToken = c64(rules.imageToken);
  videoToken = c64(rules.videoToken);
  Value k = segs ? segmentCount() : i1;
  if (deltaType.isDynamicDim(0))
    deltaDims.push_back(batch);
  if (deltaType.isDynamicDim(1))
    deltaDims.push_back(k);
  // i64, or f32 under the f32 span rule (the verifier checked which).
  positions = memref::AllocOp::create(
      b, MemRefType::get(posType.getShape(), posType.getElementType()),
      posDims);
  deltas = memref::AllocOp::create(
      b, MemRefType::get(deltaType.getShape(), deltaType.getElementType()),
      deltaDims);
  if (segs)
    zeroDeltas(batch, memref::DimOp::create(b, deltas, 1));
  seqI64 = arith::IndexCastOp::create(b, i64, seq);
  // Rows in order; image and video counters run across the batch.
  scf::ForOp::create(
      b, i0, batch, i1, ValueRange{zero, zero},
      [&](OpBuilder &ob, Location loc, Value bi, ValueRange counters) {
        ImplicitLocOpBuilder rb(loc, ob);
        if (rules.floatPositions)
          emitFloatRow(rb, bi, counters);
        else
          emitRow(rb, bi, counters);
      });
  return {bufferization::ToTensorOp::create(b, posType, positions,
                                            b.getUnitAttr(), b.getUnitAttr()),
          bufferization::ToTensorOp::create(b, deltaType, deltas,
                                            b.getUnitAttr(), b.getUnitAttr())};
}

// Packing rule: K, the largest segment id of the batch (at least 1), the
// rope_deltas columns.
Value IndexLoops::segmentCount() {
  Value batch = memref::DimOp::create(b, ids, 0);
  auto rows = scf::ForOp::create(
      b, i0, batch, i1, ValueRange{one},
      [&](OpBuilder &ob, Location loc, Value bi, ValueRange rowAcc) {
        ImplicitLocOpBuilder rb(loc, ob);
        auto cols = scf::ForOp::create(
            rb, i0, seq, i1, rowAcc,
            [&](OpBuilder &tb, Location tloc, Value si, ValueRange acc) {
              ImplicitLocOpBuilder t(tloc, tb);
              TokenKind k = classify(t, bi, si);
              Value s = arith::SelectOp::create(t, k.kept, k.seg, zero);
              scf::YieldOp::create(
                  t, ValueRange{arith::MaxSIOp::create(t, acc[0], s)});
            });
        scf::YieldOp::create(rb, cols.getResults());
      });
  return arith::IndexCastOp::create(b, b.getIndexType(), rows.getResult(0));
}

// Rows without segment k keep 0 in column k - 1.
void IndexLoops::zeroDeltas(Value batch, Value k) {
  Type elem = cast<MemRefType>(deltas.getType()).getElementType();
  Value none = elem == f32 ? f32Const(b, 0.0f) : zero;
  scf::ForOp::create(
      b, i0, batch, i1, ValueRange{},
      [&](OpBuilder &ob, Location loc, Value bi, ValueRange) {
        ImplicitLocOpBuilder rb(loc, ob);
        scf::ForOp::create(
            rb, i0, k, i1, ValueRange{},
            [&](OpBuilder &kb, Location kloc, Value ki, ValueRange) {
              ImplicitLocOpBuilder x(kloc, kb);
              memref::StoreOp::create(x, none, deltas, ValueRange{bi, ki});
              scf::YieldOp::create(x);
            });
        scf::YieldOp::create(rb);
      });
}

// rope_deltas of segment segId (when not 0): maxPos + 1 - its token count.
void IndexLoops::storeSegmentDelta(ImplicitLocOpBuilder &t, Value bi,
                                   Value segId, Value maxPos, Value count) {
  Value any = arith::CmpIOp::create(t, arith::CmpIPredicate::ne, segId, zero);
  auto ifAny = scf::IfOp::create(t, any, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard g(t);
  t.setInsertionPointToStart(&ifAny.getThenRegion().front());
  Value col = arith::IndexCastOp::create(t, t.getIndexType(),
                                         arith::SubIOp::create(t, segId, one));
  Value delta =
      arith::SubIOp::create(t, arith::AddIOp::create(t, maxPos, one), count);
  memref::StoreOp::create(t, delta, deltas, ValueRange{bi, col});
}

// Packing rule: a kept token of a new segment closes the last one and lays
// out its own from scratch (kept index, excess, maximum, last kind).
void IndexLoops::enterSegment(ImplicitLocOpBuilder &t, Value bi,
                              const TokenKind &k, TokenState &st) {
  auto sel = [&](Value c, Value x, Value y) {
    return arith::SelectOp::create(t, c, x, y);
  };
  Value change = arith::AndIOp::create(
      t, k.kept,
      arith::CmpIOp::create(t, arith::CmpIPredicate::ne, k.seg, st.segId));
  auto ifChange = scf::IfOp::create(t, change, /*withElseRegion=*/false);
  {
    OpBuilder::InsertionGuard g(t);
    t.setInsertionPointToStart(&ifChange.getThenRegion().front());
    storeSegmentDelta(t, bi, st.segId, st.maxPos, st.j);
  }
  st.j = sel(change, zero, st.j);
  st.excess = sel(change, zero, st.excess);
  st.maxPos = sel(change, minusOne, st.maxPos);
  st.prevKind = sel(change, zero, st.prevKind);
  st.segId = sel(change, k.seg, st.segId);
  Value no = arith::ConstantIntOp::create(t, t.getI1Type(), 0);
  st.inVideo = sel(change, no, st.inVideo);
  st.inAiv = sel(change, no, st.inAiv);
  st.prevId = sel(change, minusOne, st.prevId);
}

// GLM-4V's typing: video_start opens a span, video_end closes it (the last
// of them wins); vision tokens inside are video frames, outside images.
void IndexLoops::typeVideoSpans(ImplicitLocOpBuilder &t, TokenKind &k,
                                TokenState &st) {
  auto sel = [&](Value c, Value x, Value y) {
    return arith::SelectOp::create(t, c, x, y);
  };
  Value isStart = arith::AndIOp::create(
      t, k.kept, eq(t, k.id, c64(rules.videoSpan->first)));
  Value isEnd = arith::AndIOp::create(
      t, k.kept, eq(t, k.id, c64(rules.videoSpan->second)));
  Value yes = arith::ConstantIntOp::create(t, t.getI1Type(), 1);
  Value no = arith::ConstantIntOp::create(t, t.getI1Type(), 0);
  st.inVideo = sel(isStart, yes, sel(isEnd, no, st.inVideo));
  Value notOpen = arith::XOrIOp::create(t, st.inVideo, yes);
  k.isImg = arith::AndIOp::create(t, k.isVis, notOpen);
  k.isVid = arith::AndIOp::create(t, k.isVis, st.inVideo);
  k.kind = sel(k.isImg, c64(1), sel(k.isVid, c64(2), zero));
}

// Omni audio in video: <vision_start><audio_start> opens a span and
// <audio_end><vision_end> closes it, the second token of each pair a
// duplicate of the first's position (excess + 1); audio tokens inside join
// the span's video block (kind 2).
void IndexLoops::typeAudio(ImplicitLocOpBuilder &t, TokenKind &k,
                           TokenState &st) {
  auto sel = [&](Value c, Value x, Value y) {
    return arith::SelectOp::create(t, c, x, y);
  };
  auto both = [&](Value a, Value b) { return arith::AndIOp::create(t, a, b); };
  const MRopeIndexRules::Audio &a = *rules.audio;
  Value dupBos = both(both(k.kept, eq(t, k.id, c64(a.start))),
                      eq(t, st.prevId, c64(a.visionStart)));
  Value dupEos =
      both(both(k.kept, st.inAiv),
           both(eq(t, k.id, c64(a.visionEnd)), eq(t, st.prevId, c64(a.end))));
  Value yes = arith::ConstantIntOp::create(t, t.getI1Type(), 1);
  Value no = arith::ConstantIntOp::create(t, t.getI1Type(), 0);
  st.inAiv = sel(dupBos, yes, sel(dupEos, no, st.inAiv));
  Value dup = arith::OrIOp::create(t, dupBos, dupEos);
  st.excess = sel(dup, arith::AddIOp::create(t, st.excess, one), st.excess);
  st.prevId = sel(k.kept, k.id, st.prevId);
  k.aivAud = both(both(k.kept, st.inAiv), eq(t, k.id, c64(a.token)));
  k.isVis = arith::OrIOp::create(t, k.isVis, k.aivAud);
  k.kind = sel(k.aivAud, c64(2), k.kind);
}

// Omni: the first kept token after a block sits at the block's tail (an
// audio-in-video block may end with its frames or its audio).
void IndexLoops::closeBlock(ImplicitLocOpBuilder &t, const TokenKind &k,
                            TokenState &st) {
  Value leaves = arith::AndIOp::create(
      t, k.kept,
      arith::AndIOp::create(t,
                            arith::CmpIOp::create(t, arith::CmpIPredicate::ne,
                                                  k.kind, st.prevKind),
                            arith::CmpIOp::create(t, arith::CmpIPredicate::ne,
                                                  st.prevKind, zero)));
  st.excess = arith::SelectOp::create(
      t, leaves, arith::SubIOp::create(t, st.j, st.tail), st.excess);
}

// The tokens of row bi in order, then the rope_deltas rule: the largest
// position + 1 - n (n: S, or the kept tokens; packed rows: per segment).
void IndexLoops::emitRow(ImplicitLocOpBuilder &rb, Value bi,
                         ValueRange counters) {
  TokenState init{
      zero,        zero,
      zero,        zero,
      one,         one,
      one,         zero,
      minusOne,    f32Const(rb, 0),
      counters[0], counters[1],
      zero,        arith::ConstantIntOp::create(rb, rb.getI1Type(), 0),
      minusOne,    arith::ConstantIntOp::create(rb, rb.getI1Type(), 0),
      zero,        zero,
      zero};
  auto tokens = scf::ForOp::create(
      rb, i0, seq, i1, init.values(),
      [&](OpBuilder &tb, Location tloc, Value si, ValueRange st) {
        ImplicitLocOpBuilder t(tloc, tb);
        scf::YieldOp::create(
            t, emitToken(t, bi, si, TokenState::from(st)).values());
      });
  TokenState last = TokenState::from(tokens.getResults());
  if (segs) {
    storeSegmentDelta(rb, bi, last.segId, last.maxPos, last.j);
  } else {
    Value n = rules.deltasOverKept ? last.j : seqI64;
    Value top = last.maxPos;
    if (op.isTextOnly()) // upstream's max reads the padded 1s too
      top = arith::SelectOp::create(
          rb,
          arith::CmpIOp::create(rb, arith::CmpIPredicate::slt, last.j, seqI64),
          arith::MaxSIOp::create(rb, top, one), top);
    Value delta =
        arith::SubIOp::create(rb, arith::AddIOp::create(rb, top, one), n);
    memref::StoreOp::create(rb, delta, deltas, ValueRange{bi, i0});
  }
  scf::YieldOp::create(rb, ValueRange{last.imgIdx, last.vidIdx});
}

TokenState IndexLoops::emitToken(ImplicitLocOpBuilder &t, Value bi, Value si,
                                 TokenState st) {
  TokenKind k = classify(t, bi, si);
  if (segs)
    enterSegment(t, bi, k, st);
  if (rules.videoSpan)
    typeVideoSpans(t, k, st);
  if (rules.audio)
    typeAudio(t, k, st);
  k.start = arith::AndIOp::create(
      t, k.isVis,
      arith::CmpIOp::create(t, arith::CmpIPredicate::ne, k.kind, st.prevKind));
  if (rules.audio)
    closeBlock(t, k, st);
  BlockGrid grid = readBlockGrid(t, k, st);
  startBlock(t, k, grid, st);
  storePositions(t, bi, si, k, st);
  return st;
}

// Text rule: a kept token that is neither image nor video.
TokenKind IndexLoops::classify(ImplicitLocOpBuilder &t, Value bi, Value si) {
  auto sel = [&](Value c, Value x, Value y) {
    return arith::SelectOp::create(t, c, x, y);
  };
  TokenKind k;
  Value id = toI64(t, memref::LoadOp::create(t, ids, ValueRange{bi, si}));
  k.id = id;
  k.kept = arith::ConstantIntOp::create(t, t.getI1Type(), 1);
  if (mask)
    k.kept = eq(
        t, toI64(t, memref::LoadOp::create(t, mask, ValueRange{bi, si})), one);
  if (segs) {
    k.seg = toI64(t, memref::LoadOp::create(t, segs, ValueRange{bi, si}));
    k.kept = arith::AndIOp::create(
        t, k.kept,
        arith::CmpIOp::create(t, arith::CmpIPredicate::sgt, k.seg, zero));
  }
  // Typed by mm_token_type_ids (1 image, 2 video) or by the token ids.
  Value typed = id, img = imageToken, vid = videoToken;
  if (types) {
    typed = toI64(t, memref::LoadOp::create(t, types, ValueRange{bi, si}));
    img = c64(1);
    vid = c64(2);
  }
  k.isImg = arith::AndIOp::create(t, k.kept, eq(t, typed, img));
  k.isVid = arith::AndIOp::create(t, k.kept, eq(t, typed, vid));
  k.kind = sel(k.isImg, c64(1), sel(k.isVid, c64(2), zero));
  k.isVis = arith::CmpIOp::create(t, arith::CmpIPredicate::ne, k.kind, zero);
  return k;
}

// A block starts: read its grid row (and its seconds); otherwise keep the
// current block's.
BlockGrid IndexLoops::readBlockGrid(ImplicitLocOpBuilder &t, const TokenKind &k,
                                    const TokenState &st) {
  SmallVector<Type> gridTypes = {i64, i64, i64, f32};
  auto startIf = scf::IfOp::create(t, gridTypes, k.start, true);
  {
    OpBuilder::InsertionGuard guard(t);
    t.setInsertionPointToStart(&startIf.getThenRegion().front());
    auto pick = scf::IfOp::create(t, gridTypes, k.isImg, true);
    {
      OpBuilder::InsertionGuard g2(t);
      t.setInsertionPointToStart(&pick.getThenRegion().front());
      BlockGrid img = imageGrid(t, st.imgIdx);
      scf::YieldOp::create(t, ValueRange{img.t, img.h, img.w, img.sec});
      t.setInsertionPointToStart(&pick.getElseRegion().front());
      BlockGrid vid = videoGrid(t, st.vidIdx);
      scf::YieldOp::create(t, ValueRange{vid.t, vid.h, vid.w, vid.sec});
    }
    scf::YieldOp::create(t, pick.getResults());
    t.setInsertionPointToStart(&startIf.getElseRegion().front());
    scf::YieldOp::create(t, ValueRange{one, st.h, st.w, st.sec});
  }
  return {startIf.getResult(0), startIf.getResult(1), startIf.getResult(2),
          startIf.getResult(3)};
}

// Image rule: block k reads image row k; its seconds per grid are the
// arch's (0: no time scaling; Omni: 1).
BlockGrid IndexLoops::imageGrid(ImplicitLocOpBuilder &t, Value imgIdx) {
  Value imageSec = f32Const(t, rules.imageSeconds);
  SmallVector<Value> img = loadGridRow(t, images, imgIdx);
  return {img[0], img[1], img[2], imageSec};
}

// Video rule: block k reads video row k with its seconds per grid, or with
// one block per frame, the row holding frame k as [1, h, w].
BlockGrid IndexLoops::videoGrid(ImplicitLocOpBuilder &t, Value vidIdx) {
  Value s = videoSeconds(t, vidIdx);
  SmallVector<Value> vid;
  if (rules.blockPerFrame && videos) {
    vid = loadGridRow(t, videos, frameRow(t, vidIdx));
    vid[0] = one;
  } else {
    vid = loadGridRow(t, videos, vidIdx);
  }
  return {vid[0], vid[1], vid[2], s};
}

// Row `row` of a grid, or the dummy [1, m, m] when there is no such row
// (more blocks than rows: malformed input).
SmallVector<Value> IndexLoops::loadGridRow(ImplicitLocOpBuilder &t, Value grid,
                                           Value row) {
  SmallVector<Value> dummy = {one, merge, merge};
  if (!grid)
    return dummy;
  Value r = arith::IndexCastOp::create(t, t.getIndexType(), row);
  Value inRange = arith::CmpIOp::create(t, arith::CmpIPredicate::ult, r,
                                        memref::DimOp::create(t, grid, 0));
  auto ifRow = scf::IfOp::create(t, TypeRange{i64, i64, i64}, inRange, true);
  OpBuilder::InsertionGuard g(t);
  t.setInsertionPointToStart(&ifRow.getThenRegion().front());
  SmallVector<Value> cols;
  for (int64_t c = 0; c < 3; ++c)
    cols.push_back(
        toI64(t, memref::LoadOp::create(t, grid, ValueRange{r, cIdx(c)})));
  scf::YieldOp::create(t, cols);
  t.setInsertionPointToStart(&ifRow.getElseRegion().front());
  scf::YieldOp::create(t, dummy);
  return SmallVector<Value>(ifRow.getResults());
}

// One block per frame: video block k is frame k of all videos' frames, in
// the row r with cumsum(t)[r-1] <= k < cumsum(t)[r].
Value IndexLoops::frameRow(ImplicitLocOpBuilder &t, Value k) {
  Value n = memref::DimOp::create(t, videos, 0);
  auto scan = scf::ForOp::create(
      t, i0, n, i1, ValueRange{zero, zero},
      [&](OpBuilder &sb, Location sloc, Value ri, ValueRange acc) {
        ImplicitLocOpBuilder x(sloc, sb);
        Value ft = toI64(
            x, memref::LoadOp::create(x, videos, ValueRange{ri, cIdx(0)}));
        Value end = arith::AddIOp::create(x, acc[0], ft);
        Value before =
            arith::CmpIOp::create(x, arith::CmpIPredicate::sle, end, k);
        Value r = arith::SelectOp::create(
            x, before, arith::AddIOp::create(x, acc[1], one), acc[1]);
        scf::YieldOp::create(x, ValueRange{end, r});
      });
  return scan.getResult(1);
}

// second_per_grid_ts[k] of video block k; 1 when absent or past the end.
Value IndexLoops::videoSeconds(ImplicitLocOpBuilder &t, Value vidIdx) {
  Value s = f32Const(t, 1.0f);
  if (!seconds)
    return s;
  Value r = arith::IndexCastOp::create(t, t.getIndexType(), vidIdx);
  Value inRange = arith::CmpIOp::create(t, arith::CmpIPredicate::ult, r,
                                        memref::DimOp::create(t, seconds, 0));
  auto ifSec = scf::IfOp::create(t, TypeRange{f32}, inRange, true);
  OpBuilder::InsertionGuard g(t);
  t.setInsertionPointToStart(&ifSec.getThenRegion().front());
  scf::YieldOp::create(
      t, ValueRange{memref::LoadOp::create(t, seconds, ValueRange{r})});
  t.setInsertionPointToStart(&ifSec.getElseRegion().front());
  scf::YieldOp::create(t, ValueRange{s});
  return ifSec.getResult(0);
}

// Time rule: the time row of frame index i is i, or with tokens per second
// int(f32(f32(i) * sec) * tps).
Value IndexLoops::timeRow(ImplicitLocOpBuilder &t, Value i, Value sec) {
  if (!rules.tokensPerSecond)
    return i;
  Value f = arith::SIToFPOp::create(t, f32, i);
  f = arith::MulFOp::create(t, f, sec);
  f = arith::MulFOp::create(t, f, f32Const(t, *rules.tokensPerSecond));
  return arith::FPToSIOp::create(t, i64, f);
}

// At a block start: its offset (text position of its first token), the
// excess len - span it adds, its merged grid and seconds, and the block
// counters.
void IndexLoops::startBlock(ImplicitLocOpBuilder &t, const TokenKind &k,
                            const BlockGrid &grid, TokenState &st) {
  auto sel = [&](Value c, Value x, Value y) {
    return arith::SelectOp::create(t, c, x, y);
  };
  Value gh = arith::DivSIOp::create(t, grid.h, merge);
  Value gw = arith::DivSIOp::create(t, grid.w, merge);
  Value ghw = arith::MulIOp::create(t, gh, gw);
  Value len = arith::MulIOp::create(t, grid.t, ghw);
  Value tmax = timeRow(t, arith::SubIOp::create(t, grid.t, one), grid.sec);
  Value span = arith::MaxSIOp::create(t, arith::AddIOp::create(t, tmax, one),
                                      arith::MaxSIOp::create(t, gh, gw));
  Value blockOffset = arith::SubIOp::create(t, st.j, st.excess);
  Value blockExcess =
      arith::AddIOp::create(t, st.excess, arith::SubIOp::create(t, len, span));
  st.offset = sel(k.start, blockOffset, st.offset);
  st.excess = sel(k.start, blockExcess, st.excess);
  st.h = sel(k.start, gh, st.h);
  st.w = sel(k.start, gw, st.w);
  st.hw = sel(k.start, ghw, st.hw);
  st.sec = sel(k.start, grid.sec, st.sec);
  st.local = sel(k.start, zero, st.local);
  st.aud = sel(k.start, zero, st.aud);
  st.span = sel(k.start, span, st.span);
  st.imgIdx = sel(arith::AndIOp::create(t, k.start, k.isImg),
                  arith::AddIOp::create(t, st.imgIdx, one), st.imgIdx);
  // A video block (Omni: it may open with an audio token) is any other.
  Value vidStart = arith::AndIOp::create(
      t, k.start,
      arith::XOrIOp::create(t, k.isImg,
                            arith::ConstantIntOp::create(t, t.getI1Type(), 1)));
  st.vidIdx =
      sel(vidStart, arith::AddIOp::create(t, st.vidIdx, one), st.vidIdx);
}

// The three rows of this token: text at j - excess, vision at the block's
// offset + (time(t_i), h_i, w_i) (Omni audio in video: + its audio index on
// all rows), padding the arch's pad value; then the running maximum and the
// block's tail. With a text row, row 0 holds the kept index (1 on padding).
void IndexLoops::storePositions(ImplicitLocOpBuilder &t, Value bi, Value si,
                                const TokenKind &k, TokenState &st) {
  auto sel = [&](Value c, Value x, Value y) {
    return arith::SelectOp::create(t, c, x, y);
  };
  Value safeHw = arith::MaxSIOp::create(t, st.hw, one);
  Value safeW = arith::MaxSIOp::create(t, st.w, one);
  Value safeH = arith::MaxSIOp::create(t, st.h, one);
  Value ti = timeRow(t, arith::DivSIOp::create(t, st.local, safeHw), st.sec);
  Value hi = arith::RemSIOp::create(
      t, arith::DivSIOp::create(t, st.local, safeW), safeH);
  Value wi = arith::RemSIOp::create(t, st.local, safeW);
  Value text = arith::SubIOp::create(t, st.j, st.excess);
  Value audioPos = arith::AddIOp::create(t, st.offset, st.aud);
  SmallVector<Value> row;
  for (Value part : {ti, hi, wi}) {
    Value vis = arith::AddIOp::create(t, st.offset, part);
    if (k.aivAud)
      vis = sel(k.aivAud, audioPos, vis);
    Value p = sel(k.isVis, vis, text);
    row.push_back(sel(k.kept, p, c64(rules.padValue)));
  }
  int64_t first = rules.textRow ? 1 : 0;
  if (rules.textRow)
    memref::StoreOp::create(t, sel(k.kept, st.j, one), positions,
                            ValueRange{cIdx(0), bi, si});
  for (auto [r, p] : llvm::enumerate(row))
    memref::StoreOp::create(t, p, positions,
                            ValueRange{cIdx(first + r), bi, si});
  Value rowMax = arith::MaxSIOp::create(
      t, row[0], arith::MaxSIOp::create(t, row[1], row[2]));
  st.maxPos =
      sel(k.kept, arith::MaxSIOp::create(t, st.maxPos, rowMax), st.maxPos);
  Value frame = k.isVis;
  if (k.aivAud) {
    frame = arith::AndIOp::create(
        t, k.isVis,
        arith::XOrIOp::create(
            t, k.aivAud, arith::ConstantIntOp::create(t, t.getI1Type(), 1)));
    Value frameTail = arith::AddIOp::create(t, st.offset, st.span);
    st.tail = sel(k.aivAud, arith::AddIOp::create(t, audioPos, one),
                  sel(frame, frameTail, st.tail));
    st.aud = sel(k.aivAud, arith::AddIOp::create(t, st.aud, one), st.aud);
  }
  st.local = sel(frame, arith::AddIOp::create(t, st.local, one), st.local);
  st.j = sel(k.kept, arith::AddIOp::create(t, st.j, one), st.j);
  st.prevKind = sel(k.kept, k.kind, st.prevKind);
}

// Qwen3-Omni's f32 span rule: the tokens of row bi in order, then the
// rope_deltas rule (the largest position + 1 - the kept tokens; packed
// rows: per segment).
void IndexLoops::emitFloatRow(ImplicitLocOpBuilder &rb, Value bi,
                              ValueRange counters) {
  Value fZero = f32Const(rb, 0.0f), fMinusOne = f32Const(rb, -1.0f);
  FloatState init{zero, zero,  minusOne, fMinusOne,   fMinusOne,  zero, zero,
                  zero, fZero, zero,     zero,        fZero,      zero, one,
                  one,  one,   fZero,    counters[0], counters[1]};
  auto tokens = scf::ForOp::create(
      rb, i0, seq, i1, init.values(),
      [&](OpBuilder &tb, Location tloc, Value si, ValueRange st) {
        ImplicitLocOpBuilder t(tloc, tb);
        scf::YieldOp::create(
            t, emitFloatToken(t, bi, si, FloatState::from(st)).values());
      });
  FloatState last = FloatState::from(tokens.getResults());
  if (segs) {
    Value any =
        arith::CmpIOp::create(rb, arith::CmpIPredicate::ne, last.segId, zero);
    auto ifAny = scf::IfOp::create(rb, any, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g(rb);
    rb.setInsertionPointToStart(&ifAny.getThenRegion().front());
    storeFloatDelta(rb, bi, arith::SubIOp::create(rb, last.segId, one),
                    last.maxPos, last.j);
  } else {
    Value top = last.maxPos;
    if (op.isTextOnly()) // upstream's max reads the padded 1s too
      top = arith::SelectOp::create(
          rb,
          arith::CmpIOp::create(rb, arith::CmpIPredicate::slt, last.j, seqI64),
          arith::MaximumFOp::create(rb, top, f32Const(rb, 1.0f)), top);
    storeFloatDelta(rb, bi, zero, top, last.j);
  }
  scf::YieldOp::create(rb, ValueRange{last.imgIdx, last.vidIdx});
}

// rope_deltas[bi, col] = maxPos + 1 - count, the exact value rounded to f32
// once (what the reference's numpy gives: a float32 scalar plus Python ints
// is computed in float64, then stored as float32).
void IndexLoops::storeFloatDelta(ImplicitLocOpBuilder &t, Value bi, Value col,
                                 Value maxPos, Value count) {
  FloatType f64 = t.getF64Type();
  Value top = arith::ExtFOp::create(t, f64, maxPos);
  Value plusOne = arith::AddFOp::create(
      t, top, arith::ConstantFloatOp::create(t, f64, APFloat(1.0)));
  Value delta = arith::TruncFOp::create(
      t, f32,
      arith::SubFOp::create(t, plusOne,
                            arith::SIToFPOp::create(t, f64, count)));
  memref::StoreOp::create(
      t, delta, deltas,
      ValueRange{bi, arith::IndexCastOp::create(t, t.getIndexType(), col)});
}

FloatState IndexLoops::emitFloatToken(ImplicitLocOpBuilder &t, Value bi,
                                      Value si, FloatState st) {
  TokenKind k = classify(t, bi, si);
  if (segs)
    enterFloatSegment(t, bi, k, st);
  FloatStep s = floatStep(t, k, st);
  startContent(t, s, st);
  SmallVector<Value> row = floatRows(t, s, st);
  storeFloatRows(t, bi, si, k, row, st.j);
  advanceFloat(t, k, s, row, st);
  return st;
}

// Packing rule: a kept token of a new segment closes the last one (its
// rope_deltas column) and starts its own at position 0.
void IndexLoops::enterFloatSegment(ImplicitLocOpBuilder &t, Value bi,
                                   const TokenKind &k, FloatState &st) {
  auto sel = [&](Value c, Value x, Value y) {
    return arith::SelectOp::create(t, c, x, y);
  };
  Value change = arith::AndIOp::create(
      t, k.kept,
      arith::CmpIOp::create(t, arith::CmpIPredicate::ne, k.seg, st.segId));
  Value closes = arith::AndIOp::create(
      t, change,
      arith::CmpIOp::create(t, arith::CmpIPredicate::ne, st.segId, zero));
  auto ifCloses = scf::IfOp::create(t, closes, /*withElseRegion=*/false);
  {
    OpBuilder::InsertionGuard g(t);
    t.setInsertionPointToStart(&ifCloses.getThenRegion().front());
    storeFloatDelta(t, bi, arith::SubIOp::create(t, st.segId, one), st.maxPos,
                    st.j);
  }
  Value fMinusOne = f32Const(t, -1.0f);
  st.j = sel(change, zero, st.j);
  st.segId = sel(change, k.seg, st.segId);
  st.prevId = sel(change, minusOne, st.prevId);
  st.maxPos = sel(change, fMinusOne, st.maxPos);
  st.m = sel(change, fMinusOne, st.m);
  st.textLen = sel(change, zero, st.textLen);
  st.phase = sel(change, zero, st.phase);
}

// What this token is, from its id and the phase: <vision_start> or
// <audio_start> after text opens a span; <audio_start> right after the
// <vision_start> that opened it is audio in video's second bos token; the
// next token starts the content, which runs while the tokens are frames
// (image or video tokens) or audio; the first other token is the eos block
// (two tokens under audio in video).
FloatStep IndexLoops::floatStep(ImplicitLocOpBuilder &t, const TokenKind &k,
                                const FloatState &st) {
  auto both = [&](Value a, Value b) { return arith::AndIOp::create(t, a, b); };
  auto either = [&](Value a, Value b) { return arith::OrIOp::create(t, a, b); };
  auto no = [&](Value a) {
    return arith::XOrIOp::create(
        t, a, arith::ConstantIntOp::create(t, t.getI1Type(), 1));
  };
  const MRopeIndexRules::Audio &a = *rules.audio;
  Value isAudioStart = eq(t, k.id, c64(a.start));
  Value opensTok = either(eq(t, k.id, c64(a.visionStart)), isAudioStart);
  Value isFrame = either(eq(t, k.id, imageToken), eq(t, k.id, videoToken));
  Value isAudio = eq(t, k.id, c64(a.token));
  Value inText = eq(t, st.phase, zero), inBos = eq(t, st.phase, one);
  Value inContent = eq(t, st.phase, c64(2));
  Value oneBos = eq(t, st.bos, one), twoBos = eq(t, st.bos, c64(2));
  FloatStep s;
  s.opens = both(inText, opensTok);
  s.text = both(inText, no(opensTok));
  s.secondBos = both(both(inBos, oneBos),
                     both(isAudioStart, eq(t, st.prevId, c64(a.visionStart))));
  s.startsContent = both(inBos, no(s.secondBos));
  Value more = both(inContent, either(isFrame, isAudio));
  s.content = either(s.startsContent, more);
  s.frame = both(s.content, isFrame);
  s.audio = both(s.content, isAudio);
  s.eos1 = both(inContent, no(more));
  s.eos2 = eq(t, st.phase, c64(3));
  s.readImg = both(s.startsContent, eq(t, k.id, imageToken));
  s.readVid = both(s.startsContent,
                   either(eq(t, k.id, videoToken), both(isAudio, twoBos)));
  return s;
}

// At the content's first token: its start f32(m + 1 + text + bos), and the
// grid it reads (an image's, else a video's; plain audio reads none).
void IndexLoops::startContent(ImplicitLocOpBuilder &t, const FloatStep &s,
                              FloatState &st) {
  auto sel = [&](Value c, Value x, Value y) {
    return arith::SelectOp::create(t, c, x, y);
  };
  Value ahead = arith::AddIOp::create(
      t, arith::AddIOp::create(t, st.textLen, one), st.bos);
  st.base = sel(s.startsContent, addF(t, st.m, toF32(t, ahead)), st.base);
  st.local = sel(s.startsContent, zero, st.local);
  st.aud = sel(s.startsContent, zero, st.aud);
  Value reads = arith::OrIOp::create(t, s.readImg, s.readVid);
  SmallVector<Type> gridTypes = {i64, i64, f32};
  auto ifReads = scf::IfOp::create(t, gridTypes, reads, true);
  {
    OpBuilder::InsertionGuard guard(t);
    t.setInsertionPointToStart(&ifReads.getThenRegion().front());
    auto pick = scf::IfOp::create(t, gridTypes, s.readImg, true);
    {
      OpBuilder::InsertionGuard g2(t);
      t.setInsertionPointToStart(&pick.getThenRegion().front());
      BlockGrid img = imageGrid(t, st.imgIdx);
      scf::YieldOp::create(t, ValueRange{img.h, img.w, img.sec});
      t.setInsertionPointToStart(&pick.getElseRegion().front());
      BlockGrid vid = videoGrid(t, st.vidIdx);
      scf::YieldOp::create(t, ValueRange{vid.h, vid.w, vid.sec});
    }
    scf::YieldOp::create(t, pick.getResults());
    t.setInsertionPointToStart(&ifReads.getElseRegion().front());
    scf::YieldOp::create(t, ValueRange{merge, merge, st.sec});
  }
  Value gh = arith::DivSIOp::create(t, ifReads.getResult(0), merge);
  Value gw = arith::DivSIOp::create(t, ifReads.getResult(1), merge);
  st.h = sel(reads, gh, st.h);
  st.w = sel(reads, gw, st.w);
  st.hw = sel(reads, arith::MulIOp::create(t, gh, gw), st.hw);
  st.sec = sel(reads, ifReads.getResult(2), st.sec);
  st.imgIdx =
      sel(s.readImg, arith::AddIOp::create(t, st.imgIdx, one), st.imgIdx);
  st.vidIdx =
      sel(s.readVid, arith::AddIOp::create(t, st.vidIdx, one), st.vidIdx);
}

// The three rows of a kept token, each one f32 add from the block's start
// in the reference's order: text f32(m + 1) + j, bos f32(m + 1 + text) + j,
// a frame f32(f32(t * sec) * tps) + start (and h, w + start), audio start +
// its index, eos f32(piece max + 1) + j.
SmallVector<Value> IndexLoops::floatRows(ImplicitLocOpBuilder &t,
                                         const FloatStep &s,
                                         const FloatState &st) {
  auto sel = [&](Value c, Value x, Value y) {
    return arith::SelectOp::create(t, c, x, y);
  };
  Value fOne = f32Const(t, 1.0f), fZero = f32Const(t, 0.0f);
  Value textPos = addF(t, addF(t, st.m, fOne), toF32(t, st.textLen));
  Value bosStart =
      addF(t, st.m, toF32(t, arith::AddIOp::create(t, st.textLen, one)));
  Value bosPos = addF(t, bosStart, sel(s.secondBos, fOne, fZero));
  Value eosPos = addF(t, addF(t, st.pieceMax, fOne), sel(s.eos2, fOne, fZero));
  Value safeHw = arith::MaxSIOp::create(t, st.hw, one);
  Value safeW = arith::MaxSIOp::create(t, st.w, one);
  Value safeH = arith::MaxSIOp::create(t, st.h, one);
  Value ti = toF32(t, arith::DivSIOp::create(t, st.local, safeHw));
  Value time = arith::MulFOp::create(t, arith::MulFOp::create(t, ti, st.sec),
                                     f32Const(t, *rules.tokensPerSecond));
  Value hi = arith::RemSIOp::create(
      t, arith::DivSIOp::create(t, st.local, safeW), safeH);
  Value wi = arith::RemSIOp::create(t, st.local, safeW);
  Value audioPos = addF(t, st.base, toF32(t, st.aud));
  Value bos = arith::OrIOp::create(t, s.opens, s.secondBos);
  SmallVector<Value> row;
  for (Value part : {time, toF32(t, hi), toF32(t, wi)}) {
    Value p = sel(s.frame, addF(t, part, st.base), eosPos);
    p = sel(s.audio, audioPos, p);
    p = sel(bos, bosPos, p);
    row.push_back(sel(s.text, textPos, p));
  }
  return row;
}

// Stores the rows (padding 0; the text row, when there is one, the kept
// index, 1 on padding).
void IndexLoops::storeFloatRows(ImplicitLocOpBuilder &t, Value bi, Value si,
                                const TokenKind &k, ArrayRef<Value> row,
                                Value j) {
  auto sel = [&](Value c, Value x, Value y) {
    return arith::SelectOp::create(t, c, x, y);
  };
  int64_t first = rules.textRow ? 1 : 0;
  if (rules.textRow)
    memref::StoreOp::create(t, sel(k.kept, toF32(t, j), f32Const(t, 1.0f)),
                            positions, ValueRange{cIdx(0), bi, si});
  Value pad = f32Const(t, static_cast<float>(rules.padValue));
  for (auto [r, p] : llvm::enumerate(row))
    memref::StoreOp::create(t, sel(k.kept, p, pad), positions,
                            ValueRange{cIdx(first + r), bi, si});
}

// After a kept token: the content's last piece (a run of one stream) and
// its maximum, the phase, m after the eos block, the counters.
void IndexLoops::advanceFloat(ImplicitLocOpBuilder &t, const TokenKind &k,
                              const FloatStep &s, ArrayRef<Value> row,
                              FloatState &st) {
  auto sel = [&](Value c, Value x, Value y) {
    return arith::SelectOp::create(t, c, x, y);
  };
  auto kept = [&](Value c) { return arith::AndIOp::create(t, k.kept, c); };
  Value rowMax = arith::MaximumFOp::create(
      t, row[0], arith::MaximumFOp::create(t, row[1], row[2]));
  Value stream = arith::ExtUIOp::create(t, i64, s.audio);
  Value newPiece = arith::OrIOp::create(
      t, s.startsContent,
      arith::CmpIOp::create(t, arith::CmpIPredicate::ne, stream, st.stream));
  Value piece =
      sel(newPiece, rowMax, arith::MaximumFOp::create(t, st.pieceMax, rowMax));
  st.pieceMax = sel(kept(s.content), piece, st.pieceMax);
  st.stream = sel(kept(s.content), stream, st.stream);
  st.local =
      sel(kept(s.frame), arith::AddIOp::create(t, st.local, one), st.local);
  st.aud = sel(kept(s.audio), arith::AddIOp::create(t, st.aud, one), st.aud);
  // The span closes after its last eos token: m is that token's position.
  Value twoBos = eq(t, st.bos, c64(2));
  Value closes = arith::OrIOp::create(
      t, s.eos2,
      arith::AndIOp::create(
          t, s.eos1,
          arith::XOrIOp::create(
              t, twoBos, arith::ConstantIntOp::create(t, t.getI1Type(), 1))));
  st.m = sel(kept(closes), row[0], st.m);
  Value text = arith::AddIOp::create(t, st.textLen, one);
  st.textLen = sel(kept(closes), zero, sel(kept(s.text), text, st.textLen));
  Value phase = sel(s.content, c64(2), zero);
  phase = sel(arith::OrIOp::create(t, s.opens, s.secondBos), one, phase);
  phase = sel(arith::AndIOp::create(t, s.eos1, twoBos), c64(3), phase);
  st.phase = sel(k.kept, phase, st.phase);
  Value bos = sel(s.secondBos, c64(2), sel(s.opens, one, st.bos));
  st.bos = sel(k.kept, bos, st.bos);
  st.maxPos =
      sel(k.kept, arith::MaximumFOp::create(t, st.maxPos, rowMax), st.maxPos);
  st.j = sel(k.kept, arith::AddIOp::create(t, st.j, one), st.j);
  st.prevId = sel(k.kept, k.id, st.prevId);
}

struct LowerMRopeIndexToLoops : OpRewritePattern<MRopeIndexOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MRopeIndexOp op,
                                PatternRewriter &rewriter) const override {
    // Ops built from graph inputs may carry any type: check before reading.
    if (failed(verify(op, /*verifyRecursively=*/false)))
      return failure();
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    rewriter.replaceOp(op, IndexLoops(op, b).emit());
    return success();
  }
};

struct ConvertRopeIndexToLoopsPass
    : mrope::impl::ConvertRopeIndexToLoopsBase<ConvertRopeIndexToLoopsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMRopeIndexToLoopsPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mrope::populateMRopeIndexToLoopsPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerMRopeIndexToLoops>(patterns.getContext());
}
