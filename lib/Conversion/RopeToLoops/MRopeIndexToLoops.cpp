//===- MRopeIndexToLoops.cpp - rope.mrope_index -> scalar loops -----------===//
//
// get_rope_index as one pass over the tokens of each row (rows in order, so
// grid rows are consumed across the batch), with the closed form the ONNX
// lowering uses: a text token sits at j - excess, where j is its index among
// kept tokens and excess sums len - span over the vision blocks so far; a
// vision token at its block's offset plus (t, h, w) of its index in the
// block. Blocks are runs of image (video) tokens. Works on tensors: inputs
// are read through bufferization.to_buffer, outputs are new buffers turned
// back into tensors, so it runs before one-shot bufferization. Under
// qwen3_vl a video block reads the row holding its frame, as [1, h, w]; a
// block past the last grid row reads the dummy [1, m, m], as the ONNX
// lowering does.
//
//===----------------------------------------------------------------------===//
#include "mrope/Conversion/RopeToLoops/RopeToLoops.h"

#include "mrope/Conversion/Passes.h"

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

struct LowerMRopeIndexToLoops : OpRewritePattern<MRopeIndexOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MRopeIndexOp op,
                                PatternRewriter &rewriter) const override {
    // Ops built from graph inputs may carry any type: check before reading.
    if (failed(verify(op, /*verifyRecursively=*/false)))
      return failure();
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    Type i64 = b.getI64Type(), f32 = b.getF32Type();
    auto c64 = [&](int64_t v) -> Value {
      return arith::ConstantIntOp::create(b, i64, v);
    };
    auto cIdx = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, v);
    };
    auto toIndex = [&](OpBuilder &ob, Location loc, Value v) -> Value {
      return arith::IndexCastOp::create(ob, loc, ob.getIndexType(), v);
    };
    auto buffer = [&](Value tensor) -> Value {
      if (!tensor)
        return {};
      auto type = cast<RankedTensorType>(tensor.getType());
      return bufferization::ToBufferOp::create(
          b, MemRefType::get(type.getShape(), type.getElementType()), tensor,
          /*read_only=*/true);
    };
    Value ids = buffer(op.getInputIds()), mask = buffer(op.getAttentionMask());
    Value images = buffer(op.getImageGridThw());
    Value videos = buffer(op.getVideoGridThw());
    Value seconds = buffer(op.getSecondPerGridTs());
    std::optional<float> tps = op.getEffectiveTokensPerSecond();
    bool splitFrames = op.splitsVideoFrames();

    Value batch = memref::DimOp::create(b, ids, 0);
    Value seq = memref::DimOp::create(b, ids, 1);
    auto posType = op.getPositions().getType();
    auto deltaType = op.getRopeDeltas().getType();
    SmallVector<Value> posDims, deltaDims;
    if (posType.isDynamicDim(1))
      posDims.push_back(batch);
    if (posType.isDynamicDim(2))
      posDims.push_back(seq);
    if (deltaType.isDynamicDim(0))
      deltaDims.push_back(batch);
    Value positions = memref::AllocOp::create(
        b, MemRefType::get(posType.getShape(), i64), posDims);
    Value deltas = memref::AllocOp::create(
        b, MemRefType::get(deltaType.getShape(), i64), deltaDims);

    Value zero = c64(0), one = c64(1), minusOne = c64(-1);
    Value merge = c64(op.getSpatialMerge());
    Value imageToken = c64(op.getImageToken());
    Value videoToken = c64(op.getVideoToken());
    Value seqI64 = arith::IndexCastOp::create(b, i64, seq);
    Value i0 = cIdx(0), i1 = cIdx(1), i2 = cIdx(2);

    // Rows in order; image and video counters run across the batch.
    auto rows = scf::ForOp::create(
        b, i0, batch, i1, ValueRange{zero, zero},
        [&](OpBuilder &ob, Location loc, Value bi, ValueRange counters) {
          ImplicitLocOpBuilder rb(loc, ob);
          // State: j, excess, local, offset, H, W, HW, prevKind, maxPos,
          // second-per-grid, image counter, video counter.
          SmallVector<Value> init = {
              zero,
              zero,
              zero,
              zero,
              one,
              one,
              one,
              zero,
              minusOne,
              arith::ConstantFloatOp::create(rb, cast<FloatType>(f32),
                                             APFloat(0.0f)),
              counters[0],
              counters[1]};
          auto tokens = scf::ForOp::create(
              rb, i0, seq, i1, init,
              [&](OpBuilder &tb, Location tloc, Value si, ValueRange st) {
                ImplicitLocOpBuilder t(tloc, tb);
                Value j = st[0], excess = st[1], local = st[2], offset = st[3],
                      h = st[4], w = st[5], hw = st[6], prevKind = st[7],
                      maxPos = st[8], sec = st[9], imgIdx = st[10],
                      vidIdx = st[11];
                auto eq = [&](Value a, Value c) {
                  return arith::CmpIOp::create(t, arith::CmpIPredicate::eq, a,
                                               c);
                };
                auto sel = [&](Value c, Value x, Value y) {
                  return arith::SelectOp::create(t, c, x, y);
                };
                Value id = memref::LoadOp::create(t, ids, ValueRange{bi, si});
                if (id.getType() != i64)
                  id = arith::ExtSIOp::create(t, i64, id);
                Value kept = arith::ConstantIntOp::create(t, t.getI1Type(), 1);
                if (mask) {
                  Value m = memref::LoadOp::create(t, mask, ValueRange{bi, si});
                  if (m.getType() != i64)
                    m = arith::ExtSIOp::create(t, i64, m);
                  kept = eq(m, one);
                }
                Value isImg =
                    arith::AndIOp::create(t, kept, eq(id, imageToken));
                Value isVid =
                    arith::AndIOp::create(t, kept, eq(id, videoToken));
                Value kind = sel(isImg, c64(1), sel(isVid, c64(2), zero));
                Value isVis = arith::CmpIOp::create(t, arith::CmpIPredicate::ne,
                                                    kind, zero);
                Value start = arith::AndIOp::create(
                    t, isVis,
                    arith::CmpIOp::create(t, arith::CmpIPredicate::ne, kind,
                                          prevKind));

                // A block starts: read its grid row (and its seconds).
                SmallVector<Type> gridTypes = {i64, i64, i64, f32};
                auto startIf = scf::IfOp::create(t, gridTypes, start, true);
                {
                  OpBuilder::InsertionGuard guard(t);
                  t.setInsertionPointToStart(&startIf.getThenRegion().front());
                  // Row `row` of a grid, or the dummy [1, m, m] when there is
                  // no such row (more blocks than rows: malformed input).
                  auto loadRow = [&](Value grid,
                                     Value row) -> SmallVector<Value> {
                    SmallVector<Value> dummy = {one, merge, merge};
                    if (!grid)
                      return dummy;
                    Value r = toIndex(t, tloc, row);
                    Value inRange = arith::CmpIOp::create(
                        t, arith::CmpIPredicate::ult, r,
                        memref::DimOp::create(t, grid, 0));
                    auto ifRow = scf::IfOp::create(t, TypeRange{i64, i64, i64},
                                                   inRange, true);
                    OpBuilder::InsertionGuard g(t);
                    t.setInsertionPointToStart(&ifRow.getThenRegion().front());
                    SmallVector<Value> cols;
                    for (int64_t c = 0; c < 3; ++c) {
                      Value v = memref::LoadOp::create(t, grid,
                                                       ValueRange{r, cIdx(c)});
                      cols.push_back(v.getType() == i64
                                         ? v
                                         : arith::ExtSIOp::create(t, i64, v));
                    }
                    scf::YieldOp::create(t, cols);
                    t.setInsertionPointToStart(&ifRow.getElseRegion().front());
                    scf::YieldOp::create(t, dummy);
                    return SmallVector<Value>(ifRow.getResults());
                  };
                  // qwen3_vl: video block k is frame k of all videos' frames:
                  // the row r with cumsum(t)[r-1] <= k < cumsum(t)[r].
                  auto frameRow = [&](Value k) -> Value {
                    Value n = memref::DimOp::create(t, videos, 0);
                    auto scan = scf::ForOp::create(
                        t, i0, n, i1, ValueRange{zero, zero},
                        [&](OpBuilder &sb, Location sloc, Value ri,
                            ValueRange acc) {
                          ImplicitLocOpBuilder x(sloc, sb);
                          Value ft = memref::LoadOp::create(
                              x, videos, ValueRange{ri, cIdx(0)});
                          if (ft.getType() != i64)
                            ft = arith::ExtSIOp::create(x, i64, ft);
                          Value end = arith::AddIOp::create(x, acc[0], ft);
                          Value before = arith::CmpIOp::create(
                              x, arith::CmpIPredicate::sle, end, k);
                          Value r = arith::SelectOp::create(
                              x, before, arith::AddIOp::create(x, acc[1], one),
                              acc[1]);
                          scf::YieldOp::create(x, ValueRange{end, r});
                        });
                    return scan.getResult(1);
                  };
                  auto pick = scf::IfOp::create(t, gridTypes, isImg, true);
                  {
                    OpBuilder::InsertionGuard g2(t);
                    t.setInsertionPointToStart(&pick.getThenRegion().front());
                    Value zeroF = arith::ConstantFloatOp::create(
                        t, cast<FloatType>(f32), APFloat(0.0f));
                    SmallVector<Value> img = loadRow(images, imgIdx);
                    scf::YieldOp::create(
                        t, ValueRange{img[0], img[1], img[2], zeroF});
                    t.setInsertionPointToStart(&pick.getElseRegion().front());
                    Value s = arith::ConstantFloatOp::create(
                        t, cast<FloatType>(f32), APFloat(1.0f));
                    if (seconds) {
                      Value r = toIndex(t, tloc, vidIdx);
                      Value inRange = arith::CmpIOp::create(
                          t, arith::CmpIPredicate::ult, r,
                          memref::DimOp::create(t, seconds, 0));
                      auto ifSec =
                          scf::IfOp::create(t, TypeRange{f32}, inRange, true);
                      OpBuilder::InsertionGuard g3(t);
                      t.setInsertionPointToStart(
                          &ifSec.getThenRegion().front());
                      scf::YieldOp::create(t, ValueRange{memref::LoadOp::create(
                                                  t, seconds, ValueRange{r})});
                      t.setInsertionPointToStart(
                          &ifSec.getElseRegion().front());
                      scf::YieldOp::create(t, ValueRange{s});
                      s = ifSec.getResult(0);
                    }
                    SmallVector<Value> vid;
                    if (splitFrames && videos) {
                      vid = loadRow(videos, frameRow(vidIdx));
                      vid[0] = one;
                    } else {
                      vid = loadRow(videos, vidIdx);
                    }
                    scf::YieldOp::create(t,
                                         ValueRange{vid[0], vid[1], vid[2], s});
                  }
                  scf::YieldOp::create(t, pick.getResults());
                  t.setInsertionPointToStart(&startIf.getElseRegion().front());
                  scf::YieldOp::create(t, ValueRange{one, h, w, sec});
                }
                Value gt = startIf.getResult(0);
                // The time row of an index: i, or int(f32(f32(i) * sec) * tps).
                auto temporal = [&](Value i, Value s) -> Value {
                  if (!tps)
                    return i;
                  Value f = arith::SIToFPOp::create(t, f32, i);
                  f = arith::MulFOp::create(t, f, s);
                  f = arith::MulFOp::create(
                      t, f,
                      arith::ConstantFloatOp::create(t, cast<FloatType>(f32),
                                                     APFloat(*tps)));
                  return arith::FPToSIOp::create(t, i64, f);
                };
                Value gh =
                    arith::DivSIOp::create(t, startIf.getResult(1), merge);
                Value gw =
                    arith::DivSIOp::create(t, startIf.getResult(2), merge);
                Value newSec = startIf.getResult(3);
                Value ghw = arith::MulIOp::create(t, gh, gw);
                Value len = arith::MulIOp::create(t, gt, ghw);
                Value tmax =
                    temporal(arith::SubIOp::create(t, gt, one), newSec);
                Value span = arith::MaxSIOp::create(
                    t, arith::AddIOp::create(t, tmax, one),
                    arith::MaxSIOp::create(t, gh, gw));
                Value blockOffset = arith::SubIOp::create(t, j, excess);
                Value blockExcess = arith::AddIOp::create(
                    t, excess, arith::SubIOp::create(t, len, span));
                offset = sel(start, blockOffset, offset);
                excess = sel(start, blockExcess, excess);
                h = sel(start, gh, h);
                w = sel(start, gw, w);
                hw = sel(start, ghw, hw);
                sec = sel(start, newSec, sec);
                local = sel(start, zero, local);
                imgIdx = sel(arith::AndIOp::create(t, start, isImg),
                             arith::AddIOp::create(t, imgIdx, one), imgIdx);
                vidIdx = sel(arith::AndIOp::create(t, start, isVid),
                             arith::AddIOp::create(t, vidIdx, one), vidIdx);

                // The three rows of this token.
                Value safeHw = arith::MaxSIOp::create(t, hw, one);
                Value safeW = arith::MaxSIOp::create(t, w, one);
                Value safeH = arith::MaxSIOp::create(t, h, one);
                Value ti =
                    temporal(arith::DivSIOp::create(t, local, safeHw), sec);
                Value hi = arith::RemSIOp::create(
                    t, arith::DivSIOp::create(t, local, safeW), safeH);
                Value wi = arith::RemSIOp::create(t, local, safeW);
                Value text = arith::SubIOp::create(t, j, excess);
                SmallVector<Value> row;
                for (Value part : {ti, hi, wi}) {
                  Value p =
                      sel(isVis, arith::AddIOp::create(t, offset, part), text);
                  row.push_back(sel(kept, p, one));
                }
                for (auto [r, p] : llvm::enumerate(row))
                  memref::StoreOp::create(t, p, positions,
                                          ValueRange{cIdx(r), bi, si});
                Value rowMax = arith::MaxSIOp::create(
                    t, row[0], arith::MaxSIOp::create(t, row[1], row[2]));
                maxPos = sel(kept, arith::MaxSIOp::create(t, maxPos, rowMax),
                             maxPos);
                local = sel(isVis, arith::AddIOp::create(t, local, one), local);
                j = sel(kept, arith::AddIOp::create(t, j, one), j);
                prevKind = sel(kept, kind, prevKind);
                scf::YieldOp::create(t, ValueRange{j, excess, local, offset, h,
                                                   w, hw, prevKind, maxPos, sec,
                                                   imgIdx, vidIdx});
              });
          Value maxPos = tokens.getResult(8);
          Value delta = arith::SubIOp::create(
              rb, arith::AddIOp::create(rb, maxPos, one), seqI64);
          memref::StoreOp::create(rb, delta, deltas, ValueRange{bi, i0});
          scf::YieldOp::create(
              rb, ValueRange{tokens.getResult(10), tokens.getResult(11)});
        });
    (void)rows;
    (void)i2;
    Value posTensor = bufferization::ToTensorOp::create(
        b, posType, positions, b.getUnitAttr(), b.getUnitAttr());
    Value deltaTensor = bufferization::ToTensorOp::create(
        b, deltaType, deltas, b.getUnitAttr(), b.getUnitAttr());
    rewriter.replaceOp(op, {posTensor, deltaTensor});
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
