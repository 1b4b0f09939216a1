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

#include "mrope/Conversion/Passes.h"
#include "mrope/Conversion/RopeCommon/RopeCommon.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mrope {
#define GEN_PASS_DEF_CONVERTROPETOLOOPS
#include "mrope/Conversion/Passes.h.inc"
} // namespace mrope

using namespace mlir;
using namespace mrope;
using namespace mrope::rope;

namespace {

/// Vector loads and stores need the channel dim to be contiguous.
bool hasUnitInnerStride(MemRefType type) {
  auto [strides, offset] = type.getStridesAndOffset();
  return !strides.empty() && strides.back() == 1;
}

/// One W-lane chunk [offset, offset + width) of the F frequencies.
struct Chunk {
  int64_t offset, width;
};

/// The stack buffers of the lowering: cos/sin rows of two token blocks
/// ([2T, F] or [2T, 2F] for gptj) and the angles of one token ([F]).
struct Tables {
  Value cos, sin, angles;
};

struct LowerApplyToLoops : OpRewritePattern<ApplyOp> {
  LowerApplyToLoops(MLIRContext *ctx, const RopeToLoopsOptions &options)
      : OpRewritePattern(ctx), options(options) {}

  LogicalResult matchAndRewrite(ApplyOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasBufferSemantics())
      return rewriter.notifyMatchFailure(
          op, "bufferize first: only in-place rope.apply on memrefs lowers");
    auto firstType = cast<MemRefType>(op.getInputs().front().getType());
    Type elemType = firstType.getElementType();
    if (!isa<Float32Type, Float16Type, BFloat16Type>(elemType))
      return rewriter.notifyMatchFailure(op,
                                         "element type must be f32/f16/bf16");
    bool tokenMajor = true;
    for (Value input : op.getInputs()) {
      auto type = cast<MemRefType>(input.getType());
      if (!hasUnitInnerStride(type))
        return rewriter.notifyMatchFailure(op, "channel dim is not contiguous");
      tokenMajor &= isTokenMajor(type);
    }
    Operation *scope =
        op->getParentWithTrait<OpTrait::AutomaticAllocationScope>();
    if (!scope || scope->getNumRegions() == 0 || scope->getRegion(0).empty())
      return rewriter.notifyMatchFailure(op, "no allocation scope for tables");

    SemanticsAttr sem = op.getSemantics();
    const int64_t numFreqs = sem.getNumFreqs();
    const bool neox = sem.getLayout() == PairLayout::neox;
    const int64_t tableWidth = neox ? numFreqs : 2 * numFreqs;
    const int64_t T = std::max<int64_t>(1, options.tokensPerBlock);
    // GPT-J chunks cover whole pairs.
    const int64_t W = std::max<int64_t>(2, options.vectorWidth) & ~int64_t{1};
    SmallVector<Chunk> chunks;
    for (int64_t o = 0; o < numFreqs; o += W)
      chunks.push_back({o, std::min(W, numFreqs - o)});

    // Two blocks' cos/sin tables (the block being rotated and the next one)
    // and one token's angles live on the stack of the function.
    auto f32 = rewriter.getF32Type();
    auto tableType = MemRefType::get({2 * T, tableWidth}, f32);
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(&scope->getRegion(0).front());
    ImplicitLocOpBuilder sb(op.getLoc(), rewriter);
    auto align = sb.getI64IntegerAttr(64);
    Tables tables;
    tables.cos = memref::AllocaOp::create(sb, tableType, align);
    tables.sin = memref::AllocaOp::create(sb, tableType, align);
    tables.angles =
        memref::AllocaOp::create(sb, MemRefType::get({numFreqs}, f32), align);

    rewriter.setInsertionPoint(op);
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    auto idx = [&](ImplicitLocOpBuilder &at, int64_t v) -> Value {
      return arith::ConstantIndexOp::create(at, v);
    };
    Value c0 = idx(b, 0), c1 = idx(b, 1), cT = idx(b, T);
    SmallVector<Value> invFreq = buildInvFreq(b, op, chunks);

    Value anyInput = op.getInputs().front();
    Value batch = memref::DimOp::create(b, anyInput, 0);
    Value seq = memref::DimOp::create(b, anyInput, 2);
    SmallVector<Value> heads;
    for (Value buffer : op.getInputs())
      heads.push_back(memref::DimOp::create(b, buffer, 1));
    auto forLoop = [&](ImplicitLocOpBuilder &at, Value lb, Value ub, Value step,
                       function_ref<void(ImplicitLocOpBuilder &, Value)> body) {
      scf::ForOp::create(
          at, lb, ub, step, ValueRange{},
          [&](OpBuilder &nested, Location loc, Value iv, ValueRange) {
            ImplicitLocOpBuilder nb(loc, nested);
            body(nb, iv);
            scf::YieldOp::create(nb);
          });
    };
    // Table rows [lo, hi) of the block at s0 into rows base + .. .
    auto fillRows = [&](ImplicitLocOpBuilder &at, Value bi, Value s0,
                        Value base, Value lo, Value hi) {
      forLoop(at, lo, hi, c1, [&](ImplicitLocOpBuilder &tb, Value t) {
        fillRow(tb, op, bi, arith::AddIOp::create(tb, s0, t),
                arith::AddIOp::create(tb, base, t), chunks, invFreq, W, tables);
      });
    };

    forLoop(b, c0, batch, c1, [&](ImplicitLocOpBuilder &bb, Value bi) {
      // The first block's table; every later one is filled while the block
      // before it is rotated.
      fillRows(bb, bi, c0, c0, c0, arith::MinSIOp::create(bb, cT, seq));
      forLoop(bb, c0, seq, cT, [&](ImplicitLocOpBuilder &kb, Value s0) {
        Value n =
            arith::MinSIOp::create(kb, cT, arith::SubIOp::create(kb, seq, s0));
        // Rows [cur, cur + T) hold this block, [next, next + T) the next.
        Value cur = arith::MulIOp::create(
            kb,
            arith::RemUIOp::create(kb, arith::DivUIOp::create(kb, s0, cT),
                                   idx(kb, 2)),
            cT);
        Value nextBase = arith::SubIOp::create(kb, cT, cur);
        Value nextS0 = arith::AddIOp::create(kb, s0, cT);
        Value nNext = arith::MaxSIOp::create(
            kb, c0,
            arith::MinSIOp::create(kb, cT,
                                   arith::SubIOp::create(kb, seq, nextS0)));
        auto rotateRows = [&](ImplicitLocOpBuilder &rb, Value buffer, Value hi,
                              Value t) {
          Value si = arith::AddIOp::create(rb, s0, t);
          rotateRow(rb, buffer, ValueRange{bi, hi, si},
                    arith::AddIOp::create(rb, cur, t), chunks, numFreqs, neox,
                    tables);
        };
        if (tokenMajor) {
          // Token t's heads are one contiguous run; then row t of the next
          // block's table.
          forLoop(kb, c0, n, c1, [&](ImplicitLocOpBuilder &tb, Value t) {
            for (auto [buffer, count] : llvm::zip(op.getInputs(), heads))
              forLoop(tb, c0, count, c1,
                      [&](ImplicitLocOpBuilder &hb, Value hi) {
                        rotateRows(hb, buffer, hi, t);
                      });
            Value hi = arith::MinSIOp::create(tb, nNext,
                                              arith::AddIOp::create(tb, t, c1));
            fillRows(tb, bi, nextS0, nextBase, t, hi);
          });
        } else {
          // Head h's rows of the block are one contiguous run; after the
          // g-th of all G heads, rows [g n' / G, (g + 1) n' / G) of the next
          // block's table.
          Value total = heads.front();
          for (Value count : ArrayRef<Value>(heads).drop_front())
            total = arith::AddIOp::create(kb, total, count);
          Value first = c0;
          for (auto [buffer, count] : llvm::zip(op.getInputs(), heads)) {
            forLoop(kb, c0, count, c1, [&](ImplicitLocOpBuilder &hb, Value hi) {
              forLoop(hb, c0, n, c1, [&](ImplicitLocOpBuilder &tb, Value t) {
                rotateRows(tb, buffer, hi, t);
              });
              Value g = arith::AddIOp::create(hb, first, hi);
              auto share = [&](Value gi) -> Value {
                return arith::DivUIOp::create(
                    hb, arith::MulIOp::create(hb, gi, nNext), total);
              };
              fillRows(hb, bi, nextS0, nextBase, share(g),
                       share(arith::AddIOp::create(hb, g, c1)));
            });
            first = arith::AddIOp::create(kb, first, count);
          }
        }
      });
    });
    rewriter.eraseOp(op);
    return success();
  }

private:
  RopeToLoopsOptions options;

  /// inv_freq of each chunk's lanes: the op's table (indexed per section
  /// when frequencies restart) or the f32 recomputation from theta.
  static SmallVector<Value> buildInvFreq(ImplicitLocOpBuilder &b, ApplyOp op,
                                         ArrayRef<Chunk> chunks) {
    SemanticsAttr sem = op.getSemantics();
    SmallVector<Value> result;
    auto f32 = b.getF32Type();
    if (!op.getInvFreq()) {
      SmallVector<float> table = sem.computeInvFreq();
      for (Chunk c : chunks) {
        SmallVector<float> lanes;
        for (int64_t i = c.offset; i < c.offset + c.width; ++i)
          lanes.push_back(table[sem.tableIndexOfFreq(i)]);
        result.push_back(arith::ConstantOp::create(
            b, DenseElementsAttr::get(VectorType::get({c.width}, f32),
                                      ArrayRef<float>(lanes))));
      }
      return result;
    }
    int64_t tableSize = sem.getTableSize();
    Value table = vector::LoadOp::create(
        b, VectorType::get({tableSize}, f32), op.getInvFreq(),
        ValueRange{arith::ConstantIndexOp::create(b, 0)});
    for (Chunk c : chunks) {
      SmallVector<int64_t> mask;
      for (int64_t i = c.offset; i < c.offset + c.width; ++i)
        mask.push_back(sem.tableIndexOfFreq(i));
      result.push_back(vector::ShuffleOp::create(b, table, table, mask));
    }
    return result;
  }

  /// cos/sin of token (bi, si) into table row `row`. The angles of all
  /// chunks are formed first (the axis of each lane is known here: a
  /// broadcast per axis present, merged by constant lane masks) and stored;
  /// then one loop over the full W-lane chunks takes sin/cos of one chunk
  /// per iteration. That body is small enough for the vector registers
  /// (chunks unrolled into one body spill on AVX2) and runs once per token
  /// and chunk. neox: lane i holds frequency i; gptj: lanes 2i, 2i+1 hold
  /// cos_i, cos_i and -sin_i, sin_i.
  static void fillRow(ImplicitLocOpBuilder &b, ApplyOp op, Value bi, Value si,
                      Value row, ArrayRef<Chunk> chunks,
                      ArrayRef<Value> invFreq, int64_t W,
                      const Tables &tables) {
    SemanticsAttr sem = op.getSemantics();
    Value positions = op.getPositions();
    bool rowsFirst = cast<MemRefType>(positions.getType()).getRank() == 3;
    auto f32 = b.getF32Type();
    auto idx = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, v);
    };
    SmallVector<Value> pos;
    for (int64_t a = 0; a < sem.getNumAxes(); ++a) {
      SmallVector<Value> indices;
      if (rowsFirst)
        indices.push_back(idx(a));
      indices.append({bi, si});
      Value p = memref::LoadOp::create(b, positions, indices);
      pos.push_back(arith::SIToFPOp::create(b, f32, p));
    }
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
      vector::StoreOp::create(b, arith::MulFOp::create(b, p, inv),
                              tables.angles, ValueRange{idx(chunk.offset)});
    }
    bool neox = sem.getLayout() == PairLayout::neox;
    auto sinCos = [&](ImplicitLocOpBuilder &cb, Value offset, int64_t width) {
      Value angle = vector::LoadOp::create(cb, VectorType::get({width}, f32),
                                           tables.angles, ValueRange{offset});
      auto [sinV, cosV] = emitSinCos(cb, angle);
      Value col = offset;
      if (!neox) {
        std::tie(cosV, sinV) = emitPairTables(cb, cosV, sinV);
        col = arith::MulIOp::create(cb, offset,
                                    arith::ConstantIndexOp::create(cb, 2));
      }
      vector::StoreOp::create(cb, cosV, tables.cos, ValueRange{row, col});
      vector::StoreOp::create(cb, sinV, tables.sin, ValueRange{row, col});
    };
    int64_t numFreqs = sem.getNumFreqs();
    int64_t full = numFreqs / W * W;
    if (full > 0)
      scf::ForOp::create(
          b, idx(0), idx(full), idx(W), ValueRange{},
          [&](OpBuilder &nested, Location loc, Value offset, ValueRange) {
            ImplicitLocOpBuilder cb(loc, nested);
            sinCos(cb, offset, W);
            scf::YieldOp::create(cb);
          });
    if (full < numFreqs)
      sinCos(b, idx(full), numFreqs - full);
  }

  Value loadF32(ImplicitLocOpBuilder &b, Value buffer, ValueRange prefix,
                int64_t offset, int64_t width) const {
    Type elem = cast<MemRefType>(buffer.getType()).getElementType();
    SmallVector<Value> indices(prefix);
    indices.push_back(arith::ConstantIndexOp::create(b, offset));
    Value v = vector::LoadOp::create(b, VectorType::get({width}, elem), buffer,
                                     indices);
    return emitExtToF32(b, v, options.nativeF16);
  }

  void storeF32(ImplicitLocOpBuilder &b, Value value, Value buffer,
                ValueRange prefix, int64_t offset) const {
    Type elem = cast<MemRefType>(buffer.getType()).getElementType();
    value = emitTruncFromF32(b, value, elem, options.nativeF16);
    SmallVector<Value> indices(prefix);
    indices.push_back(arith::ConstantIndexOp::create(b, offset));
    vector::StoreOp::create(b, value, buffer, indices);
  }

  /// Rotates one row (b, h, s) with table row t, W lanes at a time.
  /// neox: y1 = x1 c - x2 s, y2 = x2 c + x1 s on the halves [0, F), [F, 2F);
  /// gptj: y = x * [c0 c0 ..] + swap(x) * [-s0 s0 ..], swap exchanging the
  /// two lanes of every pair in registers.
  void rotateRow(ImplicitLocOpBuilder &b, Value buffer, ValueRange prefix,
                 Value t, ArrayRef<Chunk> chunks, int64_t numFreqs, bool neox,
                 const Tables &tables) const {
    auto f32 = b.getF32Type();
    for (Chunk chunk : chunks) {
      int64_t o = neox ? chunk.offset : 2 * chunk.offset;
      int64_t w = neox ? chunk.width : 2 * chunk.width;
      auto vec = VectorType::get({w}, f32);
      Value col = arith::ConstantIndexOp::create(b, o);
      Value c = vector::LoadOp::create(b, vec, tables.cos, ValueRange{t, col});
      Value s = vector::LoadOp::create(b, vec, tables.sin, ValueRange{t, col});
      if (neox) {
        Value x1 = loadF32(b, buffer, prefix, o, w);
        Value x2 = loadF32(b, buffer, prefix, numFreqs + o, w);
        Value y1 = arith::SubFOp::create(b, arith::MulFOp::create(b, x1, c),
                                         arith::MulFOp::create(b, x2, s));
        Value y2 = arith::AddFOp::create(b, arith::MulFOp::create(b, x2, c),
                                         arith::MulFOp::create(b, x1, s));
        storeF32(b, y1, buffer, prefix, o);
        storeF32(b, y2, buffer, prefix, numFreqs + o);
        continue;
      }
      Value x = loadF32(b, buffer, prefix, o, w);
      Value xs = vector::ShuffleOp::create(b, x, x, pairSwapMask(w));
      Value y = arith::AddFOp::create(b, arith::MulFOp::create(b, x, c),
                                      arith::MulFOp::create(b, xs, s));
      storeF32(b, y, buffer, prefix, o);
    }
  }
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
