//===- RopeToLoops.cpp - in-place rope.apply -> blocked vector loops ------===//
//
// The loop nest (docs/lowering.md explains the choices):
//
//   for b:
//     table rows of the first block of T tokens
//     for each block of T tokens:
//       stream the block through its table rows, in place:
//         [B,H,S,D] storage: for each tensor, head: for each token of the block
//         [B,S,H,D] storage: for each token: for each tensor, head
//         and per row W-lane chunks: x1, x2, cos, sin -> y1, y2;
//       between those runs, the next block's table rows (double-buffered),
//       one token at a time: the W-lane sin/cos (accurate f64 reduction)
//       hides behind the memory traffic instead of stalling it.
//
// Nothing in the inner loops is wider than the target's vector registers, so
// what is live fits AVX2's 16 registers as well as AVX-512's 32; one head's
// block (or one token's heads) is one contiguous stream.
//
//===----------------------------------------------------------------------===//
#include "mrope/Conversion/RopeToLoops/RopeToLoops.h"
#include "mrope/Conversion/RopeToLoops/NativeBF16.h"
#include "mrope/Conversion/RopeToLoops/RmsNormProducer.h"

#include "mrope/Conversion/Passes.h"
#include "mrope/Conversion/RopeCommon/RopeCommon.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/ADT/bit.h"

namespace mrope {
#define GEN_PASS_DEF_CONVERTROPETOLOOPS
#include "mrope/Conversion/Passes.h.inc"
} // namespace mrope

using namespace mlir;
using namespace mrope;
using namespace mrope::rope;

namespace {

/// One W-lane chunk [offset, offset + width) of the F frequencies.
struct Chunk {
  int64_t offset, width;
};

/// The stack buffers of the lowering: cos/sin rows of two token blocks
/// ([2T, F] or [2T, 2F] for gptj) and the angles of one token ([F]).
struct Tables {
  Value cos, sin, angles;
  /// With an RMSNorm: two slots of rows' sums of squares, then their
  /// rsqrt, for a group of heads ([B,H,S,D]; emitNormedHeads).
  Value rowScales;
};

/// The loop nest of one rope.apply: what is fixed at compile time (chunks,
/// block size, layout) and the values every loop reads (tables, inv_freq,
/// sizes). The emit* methods build it top-down, as the file comment shows.
struct LoopNest {
  LoopNest(ApplyOp op, const RopeToLoopsOptions &options,
           SmallVector<std::optional<RmsNormProducer>> norms);

  /// The stack tables, at the start of `scope`'s body.
  void allocateTables(RewriterBase &rewriter, Operation *scope);
  /// The whole nest, at b's insertion point (where `op` stands).
  void emit(ImplicitLocOpBuilder &b);

private:
  void emitBatchRow(ImplicitLocOpBuilder &b, Value bi);
  void emitBlock(ImplicitLocOpBuilder &b, Value bi, Value s0);
  void emitTokenMajorBlock(ImplicitLocOpBuilder &b, Value bi, Value s0, Value n,
                           Value cur, Value nextBase, Value nextS0,
                           Value nNext);
  void emitHeadMajorBlock(ImplicitLocOpBuilder &b, Value bi, Value s0, Value n,
                          Value cur, Value nextBase, Value nextS0, Value nNext);
  void fillRows(ImplicitLocOpBuilder &b, Value bi, Value s0, Value base,
                Value lo, Value hi);
  void fillRow(ImplicitLocOpBuilder &b, Value bi, Value si, Value row);
  void emitRowAngles(ImplicitLocOpBuilder &b, Value bi, Value si);
  void emitRowSinCos(ImplicitLocOpBuilder &b, Value row, Value offset,
                     int64_t width);
  void rotateRow(ImplicitLocOpBuilder &b, unsigned input, ValueRange prefix,
                 Value t, Value r = {});
  void emitNormedHeads(
      ImplicitLocOpBuilder &b, unsigned input, Value count, Value bi, Value s0,
      Value n,
      function_ref<void(ImplicitLocOpBuilder &, Value, Value)> rotateHead);
  Value rowSumOfSquares(ImplicitLocOpBuilder &b, const RmsNormProducer &norm,
                        ValueRange prefix);
  Value rowScaleOf(ImplicitLocOpBuilder &b, const RmsNormProducer &norm,
                   Value sum);
  /// Floats per slot of rowScales: a group of at most W + T - 1 rows,
  /// rounded up to whole W-lane vectors.
  int64_t scaleSlotSize() const { return (W + T + W - 1) / W * W; }
  void buildInvFreq(ImplicitLocOpBuilder &b);
  Value loadF32(ImplicitLocOpBuilder &b, Value buffer, ValueRange prefix,
                int64_t offset, int64_t width) const;
  void storeF32(ImplicitLocOpBuilder &b, Value value, Value buffer,
                ValueRange prefix, int64_t offset,
                bool streaming = false) const;
  void prefetchRow(ImplicitLocOpBuilder &b, Value buffer,
                   ValueRange prefix) const;

  ApplyOp op;
  const RopeToLoopsOptions &options;
  SemanticsAttr sem;
  int64_t numFreqs, tableWidth, T, W;
  bool neox, tokenMajor;
  SmallVector<Chunk> chunks;
  Tables tables;
  SmallVector<Value> invFreq;
  Value c0, c1, cT, seq;
  SmallVector<Value> heads;
  /// Per input: the RMSNorm to apply to each row as it is read.
  SmallVector<std::optional<RmsNormProducer>> norms;
  int64_t headDim;
  /// Rows a norm writes out of place (the fused kernel's cache slot) are
  /// stored non-temporally: the function asks for it (kStreamingAttr).
  bool streamingOut = false;
  /// f32 -> bf16 with arith.truncf (kNativeBF16Attr), not integer code.
  bool nativeBF16 = false;
  Value truncFromF32(ImplicitLocOpBuilder &b, Value v, Type elem) const;
};

/// A for loop without results whose body `body` builds.
void forLoop(ImplicitLocOpBuilder &at, Value lb, Value ub, Value step,
             function_ref<void(ImplicitLocOpBuilder &, Value)> body) {
  scf::ForOp::create(
      at, lb, ub, step, ValueRange{},
      [&](OpBuilder &nested, Location loc, Value iv, ValueRange) {
        ImplicitLocOpBuilder nb(loc, nested);
        body(nb, iv);
        scf::YieldOp::create(nb);
      });
}

Value idx(ImplicitLocOpBuilder &at, int64_t v) {
  return arith::ConstantIndexOp::create(at, v);
}

LoopNest::LoopNest(ApplyOp op, const RopeToLoopsOptions &options,
                   SmallVector<std::optional<RmsNormProducer>> norms)
    : op(op), options(options), sem(op.getSemantics()),
      norms(std::move(norms)) {
  headDim =
      cast<MemRefType>(op.getInputs().front().getType()).getShape().back();
  numFreqs = sem.getNumFreqs();
  neox = sem.getLayout() == PairLayout::neox;
  tableWidth = neox ? numFreqs : 2 * numFreqs;
  T = std::max<int64_t>(1, options.tokensPerBlock);
  // GPT-J chunks cover whole pairs.
  W = std::max<int64_t>(2, options.vectorWidth) & ~int64_t{1};
  for (int64_t o = 0; o < numFreqs; o += W)
    chunks.push_back({o, std::min(W, numFreqs - o)});
  tokenMajor = llvm::all_of(op.getInputs(), [](Value input) {
    return isTokenMajor(cast<MemRefType>(input.getType()));
  });
  for (Operation *p = op->getParentOp(); p; p = p->getParentOp()) {
    streamingOut |= p->hasAttr(kStreamingOutAttr);
    nativeBF16 |= p->hasAttr(kNativeBF16Attr);
  }
}

Value LoopNest::truncFromF32(ImplicitLocOpBuilder &b, Value v,
                             Type elem) const {
  if (nativeBF16 && elem.isBF16())
    return arith::TruncFOp::create(b, cast<VectorType>(v.getType()).clone(elem),
                                   v);
  return emitTruncFromF32(b, v, elem, options.nativeF16);
}

// Two blocks' cos/sin tables (the block being rotated and the next one) and
// one token's angles live on the stack of the function.
void LoopNest::allocateTables(RewriterBase &rewriter, Operation *scope) {
  auto f32 = rewriter.getF32Type();
  auto tableType = MemRefType::get({2 * T, tableWidth}, f32);
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPointToStart(&scope->getRegion(0).front());
  ImplicitLocOpBuilder sb(op.getLoc(), rewriter);
  auto align = sb.getI64IntegerAttr(64);
  tables.cos = memref::AllocaOp::create(sb, tableType, align);
  tables.sin = memref::AllocaOp::create(sb, tableType, align);
  tables.angles =
      memref::AllocaOp::create(sb, MemRefType::get({numFreqs}, f32), align);
  if (llvm::any_of(norms, [](auto &norm) { return norm.has_value(); })) {
    // Zeroed once: the rsqrt of a slot reads whole vectors, past the rows
    // of a short group too (never garbage, which could be a slow subnormal).
    int64_t size = 2 * scaleSlotSize();
    tables.rowScales =
        memref::AllocaOp::create(sb, MemRefType::get({size}, f32), align);
    auto vec = VectorType::get({W}, f32);
    Value zeros = arith::ConstantOp::create(
        sb, DenseElementsAttr::get(vec, sb.getF32FloatAttr(0.0f)));
    forLoop(sb, idx(sb, 0), idx(sb, size), idx(sb, W),
            [&](ImplicitLocOpBuilder &zb, Value i) {
              vector::StoreOp::create(zb, zeros, tables.rowScales,
                                      ValueRange{i});
            });
  }
}

void LoopNest::emit(ImplicitLocOpBuilder &b) {
  c0 = idx(b, 0);
  c1 = idx(b, 1);
  cT = idx(b, T);
  buildInvFreq(b);
  Value anyInput = op.getInputs().front();
  Value batch = memref::DimOp::create(b, anyInput, 0);
  seq = memref::DimOp::create(b, anyInput, 2);
  for (Value buffer : op.getInputs())
    heads.push_back(memref::DimOp::create(b, buffer, 1));
  forLoop(b, c0, batch, c1,
          [&](ImplicitLocOpBuilder &bb, Value bi) { emitBatchRow(bb, bi); });
}

// The first block's table; every later one is filled while the block before
// it is rotated.
void LoopNest::emitBatchRow(ImplicitLocOpBuilder &b, Value bi) {
  fillRows(b, bi, c0, c0, c0, arith::MinSIOp::create(b, cT, seq));
  forLoop(b, c0, seq, cT,
          [&](ImplicitLocOpBuilder &kb, Value s0) { emitBlock(kb, bi, s0); });
}

// Rows [cur, cur + T) of the tables hold this block, [next, next + T) the
// next one.
void LoopNest::emitBlock(ImplicitLocOpBuilder &b, Value bi, Value s0) {
  Value n = arith::MinSIOp::create(b, cT, arith::SubIOp::create(b, seq, s0));
  Value cur = arith::MulIOp::create(
      b,
      arith::RemUIOp::create(b, arith::DivUIOp::create(b, s0, cT), idx(b, 2)),
      cT);
  Value nextBase = arith::SubIOp::create(b, cT, cur);
  Value nextS0 = arith::AddIOp::create(b, s0, cT);
  Value nNext = arith::MaxSIOp::create(
      b, c0,
      arith::MinSIOp::create(b, cT, arith::SubIOp::create(b, seq, nextS0)));
  if (tokenMajor)
    emitTokenMajorBlock(b, bi, s0, n, cur, nextBase, nextS0, nNext);
  else
    emitHeadMajorBlock(b, bi, s0, n, cur, nextBase, nextS0, nNext);
}

// Token t's heads are one contiguous run; then row t of the next block's
// table.
void LoopNest::emitTokenMajorBlock(ImplicitLocOpBuilder &b, Value bi, Value s0,
                                   Value n, Value cur, Value nextBase,
                                   Value nextS0, Value nNext) {
  forLoop(b, c0, n, c1, [&](ImplicitLocOpBuilder &tb, Value t) {
    for (auto [input, count] : llvm::enumerate(heads))
      forLoop(tb, c0, count, c1, [&](ImplicitLocOpBuilder &hb, Value hi) {
        Value si = arith::AddIOp::create(hb, s0, t);
        rotateRow(hb, input, ValueRange{bi, hi, si},
                  arith::AddIOp::create(hb, cur, t));
      });
    Value hi =
        arith::MinSIOp::create(tb, nNext, arith::AddIOp::create(tb, t, c1));
    fillRows(tb, bi, nextS0, nextBase, t, hi);
  });
}

// Head h's rows of the block are one contiguous run; after the g-th of all G
// heads, rows [g n' / G, (g + 1) n' / G) of the next block's table.
void LoopNest::emitHeadMajorBlock(ImplicitLocOpBuilder &b, Value bi, Value s0,
                                  Value n, Value cur, Value nextBase,
                                  Value nextS0, Value nNext) {
  Value total = heads.front();
  for (Value count : ArrayRef<Value>(heads).drop_front())
    total = arith::AddIOp::create(b, total, count);
  Value first = c0;
  for (auto [input, count] : llvm::enumerate(heads)) {
    // Rotates head `hi`'s n rows (with a norm, row t scaled by
    // rowScales[scales + t]), then fills its share of the next table.
    auto rotateHead = [&, input = input](ImplicitLocOpBuilder &hb, Value hi,
                                         Value scales) {
      forLoop(hb, c0, n, c1, [&](ImplicitLocOpBuilder &tb, Value t) {
        Value si = arith::AddIOp::create(tb, s0, t);
        Value r = scales ? memref::LoadOp::create(
                               tb, tables.rowScales,
                               ValueRange{arith::AddIOp::create(tb, scales, t)})
                               .getResult()
                         : Value();
        rotateRow(tb, input, ValueRange{bi, hi, si},
                  arith::AddIOp::create(tb, cur, t), r);
      });
      Value g = arith::AddIOp::create(hb, first, hi);
      auto share = [&](Value gi) -> Value {
        return arith::DivUIOp::create(hb, arith::MulIOp::create(hb, gi, nNext),
                                      total);
      };
      fillRows(hb, bi, nextS0, nextBase, share(g),
               share(arith::AddIOp::create(hb, g, c1)));
    };
    if (norms[input])
      emitNormedHeads(b, input, count, bi, s0, n, rotateHead);
    else
      forLoop(b, c0, count, c1, [&](ImplicitLocOpBuilder &hb, Value hi) {
        rotateHead(hb, hi, Value());
      });
    first = arith::AddIOp::create(b, first, count);
  }
}

// With an RMSNorm, the heads go in groups of ceil(W / n) (at least W rows:
// one head of a prefill block, W heads of a decode step's single token).
// A group's rows are summed into a slot of rowScales, the slot's rsqrt is
// taken W lanes at a time (one vector sqrt and division for W rows: scalar,
// each row's sqrt and division ended a long dependent chain that the
// rotation waited on, a quarter of a decode call's time), then the group's
// rows are scaled and rotated, re-read from L1. Sums and rotation stay two
// loops: one loop over both would let LLVM keep a whole row in registers
// between them, which spills with 16 vector registers. The sums run one
// group ahead of the rotation (two slots, group 0 before the loop) so that
// the rotation never waits on them; each row summed prefetches the same row
// of the head a group later: heads of a [B,H,S,D] tile are S rows apart, too
// far for the hardware's stream prefetcher.
void LoopNest::emitNormedHeads(
    ImplicitLocOpBuilder &b, unsigned input, Value count, Value bi, Value s0,
    Value n,
    function_ref<void(ImplicitLocOpBuilder &, Value, Value)> rotateHead) {
  const RmsNormProducer &norm = *norms[input];
  Value cW = idx(b, W);
  Value group = arith::MinSIOp::create(
      b, count,
      arith::DivUIOp::create(
          b, arith::AddIOp::create(b, cW, arith::SubIOp::create(b, n, c1)), n));
  Value slotSize = idx(b, scaleSlotSize());
  auto slotOf = [&](ImplicitLocOpBuilder &at, Value g0) -> Value {
    return arith::MulIOp::create(
        at,
        arith::RemUIOp::create(at, arith::DivUIOp::create(at, g0, group),
                               idx(at, 2)),
        slotSize);
  };
  auto groupEnd = [&](ImplicitLocOpBuilder &at, Value g0) -> Value {
    return arith::MinSIOp::create(at, count,
                                  arith::AddIOp::create(at, g0, group));
  };
  // Heads [g0, end) summed into their slot, then the slot's rsqrt. Past
  // the last group the loops are empty.
  auto sumGroup = [&](ImplicitLocOpBuilder &at, Value g0) {
    Value slot = slotOf(at, g0), end = groupEnd(at, g0);
    Value last = arith::SubIOp::create(at, count, c1);
    forLoop(at, g0, end, c1, [&](ImplicitLocOpBuilder &hb, Value h) {
      Value row0 = arith::AddIOp::create(
          hb, slot,
          arith::MulIOp::create(hb, arith::SubIOp::create(hb, h, g0), n));
      Value later =
          arith::MinSIOp::create(hb, arith::AddIOp::create(hb, h, group), last);
      forLoop(hb, c0, n, c1, [&](ImplicitLocOpBuilder &tb, Value t) {
        Value si = arith::AddIOp::create(tb, s0, t);
        prefetchRow(tb, norm.source, ValueRange{bi, later, si});
        memref::StoreOp::create(
            tb, rowSumOfSquares(tb, norm, ValueRange{bi, h, si}),
            tables.rowScales, ValueRange{arith::AddIOp::create(tb, row0, t)});
      });
    });
    Value rows =
        arith::MulIOp::create(at, arith::SubIOp::create(at, end, g0), n);
    forLoop(at, c0, rows, cW, [&](ImplicitLocOpBuilder &vb, Value j) {
      auto vec = VectorType::get({W}, vb.getF32Type());
      Value at0 = arith::AddIOp::create(vb, slot, j);
      Value sums =
          vector::LoadOp::create(vb, vec, tables.rowScales, ValueRange{at0});
      vector::StoreOp::create(vb, rowScaleOf(vb, norm, sums), tables.rowScales,
                              ValueRange{at0});
    });
  };
  sumGroup(b, c0);
  forLoop(b, c0, count, group, [&](ImplicitLocOpBuilder &gb, Value g0) {
    sumGroup(gb, arith::AddIOp::create(gb, g0, group));
    Value slot = slotOf(gb, g0);
    forLoop(
        gb, g0, groupEnd(gb, g0), c1, [&](ImplicitLocOpBuilder &hb, Value hi) {
          Value scales = arith::AddIOp::create(
              hb, slot,
              arith::MulIOp::create(hb, arith::SubIOp::create(hb, hi, g0), n));
          rotateHead(hb, hi, scales);
        });
  });
}

// Table rows [lo, hi) of the block at s0 into rows base + .. .
void LoopNest::fillRows(ImplicitLocOpBuilder &b, Value bi, Value s0, Value base,
                        Value lo, Value hi) {
  forLoop(b, lo, hi, c1, [&](ImplicitLocOpBuilder &tb, Value t) {
    fillRow(tb, bi, arith::AddIOp::create(tb, s0, t),
            arith::AddIOp::create(tb, base, t));
  });
}

/// inv_freq of each chunk's lanes: the op's table (indexed per section when
/// frequencies restart) or the f32 recomputation from theta.
void LoopNest::buildInvFreq(ImplicitLocOpBuilder &b) {
  auto f32 = b.getF32Type();
  if (!op.getInvFreq()) {
    SmallVector<float> table = invFreqOfEachFreq(sem);
    for (Chunk c : chunks)
      invFreq.push_back(arith::ConstantOp::create(
          b, DenseElementsAttr::get(
                 VectorType::get({c.width}, f32),
                 ArrayRef<float>(table).slice(c.offset, c.width))));
    return;
  }
  int64_t tableSize = sem.getTableSize();
  Value table = vector::LoadOp::create(
      b, VectorType::get({tableSize}, f32), op.getInvFreq(),
      ValueRange{arith::ConstantIndexOp::create(b, 0)});
  for (Chunk c : chunks) {
    SmallVector<int64_t> mask;
    for (int64_t i = c.offset; i < c.offset + c.width; ++i)
      mask.push_back(sem.tableIndexOfFreq(i));
    invFreq.push_back(vector::ShuffleOp::create(b, table, table, mask));
  }
}

/// cos/sin of token (bi, si) into table row `row`: the angles of all chunks
/// first, then one loop over the full W-lane chunks takes sin/cos of one
/// chunk per iteration. That body is small enough for the vector registers
/// (chunks unrolled into one body spill on AVX2) and runs once per token and
/// chunk.
void LoopNest::fillRow(ImplicitLocOpBuilder &b, Value bi, Value si, Value row) {
  emitRowAngles(b, bi, si);
  int64_t full = numFreqs / W * W;
  if (full > 0)
    forLoop(b, idx(b, 0), idx(b, full), idx(b, W),
            [&](ImplicitLocOpBuilder &cb, Value offset) {
              emitRowSinCos(cb, row, offset, W);
            });
  if (full < numFreqs)
    emitRowSinCos(b, row, idx(b, full), numFreqs - full);
}

/// f32(p[axis(i)]) * inv_freq[i] of token (bi, si) into the angles buffer.
/// The axis of each lane is known here: a broadcast per axis present, merged
/// by constant lane masks.
void LoopNest::emitRowAngles(ImplicitLocOpBuilder &b, Value bi, Value si) {
  auto f32 = b.getF32Type();
  SmallVector<Value> pos;
  for (int64_t a = 0; a < sem.getNumAxes(); ++a)
    pos.push_back(loadPositionF32(b, op.getPositions(), a, bi, si));
  for (auto [chunk, inv] : llvm::zip(chunks, invFreq)) {
    auto vec = VectorType::get({chunk.width}, f32);
    SmallVector<int64_t> axisOf;
    for (int64_t i = chunk.offset; i < chunk.offset + chunk.width; ++i)
      axisOf.push_back(sem.axisOfFreq(i));
    Value p = vector::BroadcastOp::create(b, vec, pos[axisOf.front()]);
    for (int64_t a = 0; a < sem.getNumAxes(); ++a) {
      if (a == axisOf.front() || !llvm::is_contained(axisOf, a))
        continue;
      SmallVector<bool> lanes;
      for (int64_t ax : axisOf)
        lanes.push_back(ax == a);
      Value mask = arith::ConstantOp::create(
          b, DenseElementsAttr::get(vec.clone(b.getI1Type()),
                                    ArrayRef<bool>(lanes)));
      p = arith::SelectOp::create(
          b, mask, vector::BroadcastOp::create(b, vec, pos[a]), p);
    }
    vector::StoreOp::create(b, arith::MulFOp::create(b, p, inv), tables.angles,
                            ValueRange{idx(b, chunk.offset)});
  }
}

/// sin/cos of `width` angles from `offset` into table row `row`. neox: lane
/// i holds frequency i; gptj: lanes 2i, 2i+1 hold cos_i, cos_i and -sin_i,
/// sin_i.
void LoopNest::emitRowSinCos(ImplicitLocOpBuilder &b, Value row, Value offset,
                             int64_t width) {
  Value angle =
      vector::LoadOp::create(b, VectorType::get({width}, b.getF32Type()),
                             tables.angles, ValueRange{offset});
  auto [cosV, sinV] = emitTableEntries(b, angle, neox);
  Value col = neox ? offset : arith::MulIOp::create(b, offset, idx(b, 2));
  vector::StoreOp::create(b, cosV, tables.cos, ValueRange{row, col});
  vector::StoreOp::create(b, sinV, tables.sin, ValueRange{row, col});
}

Value LoopNest::loadF32(ImplicitLocOpBuilder &b, Value buffer,
                        ValueRange prefix, int64_t offset,
                        int64_t width) const {
  Type elem = cast<MemRefType>(buffer.getType()).getElementType();
  SmallVector<Value> indices(prefix);
  indices.push_back(arith::ConstantIndexOp::create(b, offset));
  Value v = vector::LoadOp::create(b, VectorType::get({width}, elem), buffer,
                                   indices);
  return emitExtToF32(b, v, options.nativeF16);
}

void LoopNest::storeF32(ImplicitLocOpBuilder &b, Value value, Value buffer,
                        ValueRange prefix, int64_t offset,
                        bool streaming) const {
  Type elem = cast<MemRefType>(buffer.getType()).getElementType();
  value = truncFromF32(b, value, elem);
  SmallVector<Value> indices(prefix);
  indices.push_back(arith::ConstantIndexOp::create(b, offset));
  if (!streaming) {
    vector::StoreOp::create(b, value, buffer, indices);
    return;
  }
  // The row starts 64-byte aligned (kStreamingOutAttr); the store is aligned
  // to the largest power of two dividing its offset, at most its size (a
  // non-temporal store needs its own size: x86 emits MOVNTPS only then).
  int64_t bytes = cast<VectorType>(value.getType()).getNumElements() *
                  elem.getIntOrFloatBitWidth() / 8;
  uint64_t at = offset * elem.getIntOrFloatBitWidth() / 8;
  uint64_t align =
      std::min<uint64_t>({64, llvm::bit_floor(static_cast<uint64_t>(bytes)),
                          at ? at & (~at + 1) : 64});
  vector::StoreOp::create(b, value, buffer, indices, /*nontemporal=*/true,
                          llvm::MaybeAlign(align));
}

/// A prefetch into L2 of every 64-byte line of row `prefix` of `buffer`: the
/// next head's row while this one is summed. Heads of a [B,H,S,D] tile are
/// S rows apart, too far for the hardware's stream prefetcher to follow
/// from one head's block of T rows to the next.
void LoopNest::prefetchRow(ImplicitLocOpBuilder &b, Value buffer,
                           ValueRange prefix) const {
  Type elem = cast<MemRefType>(buffer.getType()).getElementType();
  int64_t perLine = std::max<int64_t>(1, 512 / elem.getIntOrFloatBitWidth());
  for (int64_t o = 0; o < headDim; o += perLine) {
    SmallVector<Value> indices(prefix);
    indices.push_back(arith::ConstantIndexOp::create(b, o));
    memref::PrefetchOp::create(b, buffer, indices, /*isWrite=*/false,
                               /*localityHint=*/2, /*isDataCache=*/true);
  }
}

/// The sum of squares of the source row: read W lanes at a time into four
/// accumulators (chunk i into i mod 4), then a tree and one reduction, so
/// the rotation that follows reads the row again from L1, not from memory.
/// The accumulators' adds are `contract` only (fused with the squares into
/// FMAs): with `reassoc` LLVM folds them back into one chain.
Value LoopNest::rowSumOfSquares(ImplicitLocOpBuilder &b,
                                const RmsNormProducer &norm,
                                ValueRange prefix) {
  auto f32 = b.getF32Type();
  auto fast = arith::FastMathFlags::contract | arith::FastMathFlags::reassoc;
  auto chain = arith::FastMathFlags::contract;
  constexpr int kAccs = 4;
  Value accs[kAccs], sum;
  int chunk = 0;
  for (int64_t o = 0; o < headDim; o += W) {
    int64_t w = std::min(W, headDim - o);
    Value x = loadF32(b, norm.source, prefix, o, w);
    Value sq = arith::MulFOp::create(b, x, x, chain);
    if (w == W) {
      Value &acc = accs[chunk++ % kAccs];
      acc = acc ? arith::AddFOp::create(b, acc, sq, chain).getResult() : sq;
      continue;
    }
    sum = vector::ReductionOp::create(b, vector::CombiningKind::ADD, sq,
                                      Value(), fast);
  }
  for (int stride = 1; stride < kAccs; stride *= 2)
    for (int i = 0; i + stride < kAccs; i += 2 * stride)
      if (accs[i + stride])
        accs[i] = arith::AddFOp::create(b, accs[i], accs[i + stride], chain);
  if (Value acc = accs[0]) {
    Value part = vector::ReductionOp::create(b, vector::CombiningKind::ADD, acc,
                                             Value(), fast);
    sum = sum ? arith::AddFOp::create(b, part, sum, fast).getResult() : part;
  }
  if (!sum)
    sum = arith::ConstantOp::create(b, b.getFloatAttr(f32, 0.0));
  return sum;
}

/// rsqrt(sum / divisor + eps), the linalg op's order, of a scalar or of each
/// lane of a vector of sums.
Value LoopNest::rowScaleOf(ImplicitLocOpBuilder &b, const RmsNormProducer &norm,
                           Value sum) {
  Value divisor = norm.divisor, eps = norm.eps;
  if (auto vec = dyn_cast<VectorType>(sum.getType())) {
    divisor = vector::BroadcastOp::create(b, vec, divisor);
    eps = vector::BroadcastOp::create(b, vec, eps);
  }
  Value mean = arith::DivFOp::create(b, sum, divisor);
  return math::RsqrtOp::create(b, arith::AddFOp::create(b, mean, eps));
}

/// x1 c - x2 s, x2 c + x1 s with each product of x2 (x1) fused into the
/// sum (`contract`: one FMA each; more exact than the two roundings of a
/// product and a sum). For the normalized rows only: the plain kernel keeps
/// the rounding of emitRotateHalves.
static std::pair<Value, Value> rotateHalvesFused(ImplicitLocOpBuilder &b,
                                                 Value x1, Value x2, Value cos,
                                                 Value sin) {
  auto fma = arith::FastMathFlags::contract;
  Value x1c = arith::MulFOp::create(b, x1, cos, fma);
  Value x2s = arith::MulFOp::create(b, x2, sin, fma);
  Value y1 = arith::SubFOp::create(b, x1c, x2s, fma);
  Value x2c = arith::MulFOp::create(b, x2, cos, fma);
  Value x1s = arith::MulFOp::create(b, x1, sin, fma);
  Value y2 = arith::AddFOp::create(b, x2c, x1s, fma);
  return {y1, y2};
}

/// The buffer `v` views (through subviews and casts): q's norm reads and
/// writes different views of q.
static Value rootBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

/// Rotates one row (b, h, s) of input `input` with table row t, W lanes at
/// a time: neox on the halves [0, F), [F, 2F); gptj with the two lanes of
/// every pair swapped in registers. With an RMSNorm producer the lanes are
/// read from its source, scaled (x * r * w, the order of the linalg op,
/// rounded to a narrow storage type as it rounds) and the channels the
/// rotation leaves alone are written too.
void LoopNest::rotateRow(ImplicitLocOpBuilder &b, unsigned input,
                         ValueRange prefix, Value t, Value r) {
  auto f32 = b.getF32Type();
  Value buffer = op.getInputs()[input];
  const std::optional<RmsNormProducer> &norm = norms[input];
  if (norm && !r)
    r = rowScaleOf(b, *norm, rowSumOfSquares(b, *norm, prefix));
  bool streaming =
      streamingOut && norm && rootBuffer(norm->source) != rootBuffer(buffer);
  auto read = [&](int64_t o, int64_t w) -> Value {
    if (!norm)
      return loadF32(b, buffer, prefix, o, w);
    auto vec = VectorType::get({w}, f32);
    Value x = loadF32(b, norm->source, prefix, o, w);
    Value g =
        vector::LoadOp::create(b, vec, norm->weight, ValueRange{idx(b, o)});
    Value n =
        arith::MulFOp::create(b, x, vector::BroadcastOp::create(b, vec, r));
    Value y = arith::MulFOp::create(b, n, g);
    // A bf16/f16 norm stores its result rounded (the linalg op's truncf):
    // round here too, so the rotation sees the same values.
    Type elem = cast<MemRefType>(buffer.getType()).getElementType();
    if (elem.isF32())
      return y;
    return emitExtToF32(b, truncFromF32(b, y, elem), options.nativeF16);
  };
  for (Chunk chunk : chunks) {
    int64_t o = neox ? chunk.offset : 2 * chunk.offset;
    int64_t w = neox ? chunk.width : 2 * chunk.width;
    auto vec = VectorType::get({w}, f32);
    Value col = arith::ConstantIndexOp::create(b, o);
    Value c = vector::LoadOp::create(b, vec, tables.cos, ValueRange{t, col});
    Value s = vector::LoadOp::create(b, vec, tables.sin, ValueRange{t, col});
    if (neox) {
      Value x1 = read(o, w);
      Value x2 = read(numFreqs + o, w);
      auto [y1, y2] = norm ? rotateHalvesFused(b, x1, x2, c, s)
                           : emitRotateHalves(b, x1, x2, c, s);
      storeF32(b, y1, buffer, prefix, o, streaming);
      storeF32(b, y2, buffer, prefix, numFreqs + o, streaming);
      continue;
    }
    storeF32(b, emitRotatePairs(b, read(o, w), c, s), buffer, prefix, o,
             streaming);
  }
  if (!norm)
    return;
  for (int64_t o = 2 * numFreqs; o < headDim; o += W)
    storeF32(b, read(o, std::min(W, headDim - o)), buffer, prefix, o,
             streaming);
}

/// The loop nest above for an in-place rope.apply; the tables go on the
/// stack of the enclosing allocation scope.
struct LowerApplyToLoops : OpRewritePattern<ApplyOp> {
  LowerApplyToLoops(MLIRContext *ctx, const RopeToLoopsOptions &options)
      : OpRewritePattern(ctx), options(options) {}

  LogicalResult matchAndRewrite(ApplyOp op,
                                PatternRewriter &rewriter) const override {
    std::string why;
    if (failed(checkLowerableApply(op, why)))
      return rewriter.notifyMatchFailure(op, why);
    Operation *scope =
        op->getParentWithTrait<OpTrait::AutomaticAllocationScope>();
    if (!scope || scope->getNumRegions() == 0 || scope->getRegion(0).empty())
      return rewriter.notifyMatchFailure(op, "no allocation scope for tables");
    // An RMSNorm tiled into the same loop becomes part of the row loop.
    SmallVector<std::optional<RmsNormProducer>> norms =
        findRmsNormProducers(op);
    LoopNest nest(op, options, norms);
    nest.allocateTables(rewriter, scope);
    rewriter.setInsertionPoint(op);
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    nest.emit(b);
    rewriter.eraseOp(op);
    for (const std::optional<RmsNormProducer> &norm : llvm::reverse(norms))
      if (norm)
        for (Operation *absorbed : llvm::reverse(norm->ops))
          rewriter.eraseOp(absorbed);
    return success();
  }

private:
  RopeToLoopsOptions options;
};

struct ConvertRopeToLoopsPass
    : mrope::impl::ConvertRopeToLoopsBase<ConvertRopeToLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (tokensPerBlock < 1 || vectorWidth < 2) {
      getOperation()->emitError("convert-rope-to-loops: tokens-per-block must "
                                "be >= 1 and vector-width >= 2");
      return signalPassFailure();
    }
    RopeToLoopsOptions options;
    options.tokensPerBlock = tokensPerBlock;
    options.vectorWidth = vectorWidth;
    options.nativeF16 = nativeF16;
    RewritePatternSet patterns(&getContext());
    populateRopeToLoopsPatterns(patterns, options);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // A rope.apply left behind could not be lowered: say why, by name.
    WalkResult left = getOperation()->walk([](ApplyOp op) {
      op.emitError("could not lower rope.apply to loops: ")
          << (op.hasBufferSemantics()
                  ? "needs f32/f16/bf16 buffers with a contiguous channel dim"
                  : "it works on tensors; bufferize first");
      return WalkResult::interrupt();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace

void mrope::populateRopeToLoopsPatterns(RewritePatternSet &patterns,
                                        const RopeToLoopsOptions &options) {
  patterns.add<LowerApplyToLoops>(patterns.getContext(), options);
}
