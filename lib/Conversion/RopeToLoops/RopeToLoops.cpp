//===- RopeToLoops.cpp - in-place rope.apply -> blocked vector loops ------===//
//
// The loop nest (docs/lowering.md explains the choices):
//
//   for b, for each block of T tokens:
//     phase 1: cos/sin of the block's T x F angles into a small stack table
//              (W lanes at a time, accurate f64 reduction);
//     phase 2: stream the block through the table, in place:
//       [B,H,S,D] storage: for each tensor, head: for each token of the block
//       [B,S,H,D] storage: for each token: for each tensor, head
//       and per row W-lane chunks: x1, x2, cos, sin -> y1, y2.
//
// Nothing in the inner loop is wider than the target's vector registers, so
// what is live fits AVX2's 16 registers as well as AVX-512's 32; one head's
// block (or one token's heads) is one contiguous stream.
//
//===----------------------------------------------------------------------===//
#include "mrope/Conversion/RopeToLoops/RopeToLoops.h"

#include "mrope/Conversion/Passes.h"
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

/// True when the heads of one token are closer in memory than the tokens of
/// one head: [B, S, H, D] storage seen as [B, H, S, D] through strides
/// (e.g. memref.transpose of the [B, S, H, D] buffer). Decided from static
/// strides only; dynamic ones mean [B, H, S, D].
bool isTokenMajor(MemRefType type) {
  auto [strides, offset] = type.getStridesAndOffset();
  if (ShapedType::isDynamic(strides[1]))
    return false;
  return ShapedType::isDynamic(strides[2]) || strides[2] > strides[1];
}

/// One W-lane chunk [offset, offset + width) of the F frequencies.
struct Chunk {
  int64_t offset, width;
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
      return rewriter.notifyMatchFailure(op, "element type must be f32/f16/bf16");
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

    // The cos/sin tables of one block live on the stack of the function.
    auto f32 = rewriter.getF32Type();
    auto tableType = MemRefType::get({T, tableWidth}, f32);
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(&scope->getRegion(0).front());
    ImplicitLocOpBuilder sb(op.getLoc(), rewriter);
    auto align = sb.getI64IntegerAttr(64);
    Value cosTab = memref::AllocaOp::create(sb, tableType, align);
    Value sinTab = memref::AllocaOp::create(sb, tableType, align);

    rewriter.setInsertionPoint(op);
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    auto idx = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, v);
    };
    Value c0 = idx(0), c1 = idx(1), cT = idx(T);
    SmallVector<Value> invFreq = buildInvFreq(b, op, chunks);

    Value anyInput = op.getInputs().front();
    Value batch = memref::DimOp::create(b, anyInput, 0);
    Value seq = memref::DimOp::create(b, anyInput, 2);
    auto forLoop = [&](ImplicitLocOpBuilder &at, Value lb, Value ub, Value step,
                       function_ref<void(ImplicitLocOpBuilder &, Value)> body) {
      scf::ForOp::create(at, lb, ub, step, ValueRange{},
                         [&](OpBuilder &nested, Location loc, Value iv,
                             ValueRange) {
                           ImplicitLocOpBuilder nb(loc, nested);
                           body(nb, iv);
                           scf::YieldOp::create(nb);
                         });
    };

    forLoop(b, c0, batch, c1, [&](ImplicitLocOpBuilder &bb, Value bi) {
      forLoop(bb, c0, seq, cT, [&](ImplicitLocOpBuilder &kb, Value s0) {
        Value n = arith::MinSIOp::create(
            kb, cT, arith::SubIOp::create(kb, seq, s0));
        // Phase 1: the block's cos/sin table.
        forLoop(kb, c0, n, c1, [&](ImplicitLocOpBuilder &tb, Value t) {
          Value si = arith::AddIOp::create(tb, s0, t);
          fillTables(tb, op, bi, si, t, chunks, invFreq, cosTab, sinTab);
        });
        // Phase 2: rotate every row of the block in place.
        auto rotateRows = [&](ImplicitLocOpBuilder &rb, Value buffer, Value hi,
                              Value t) {
          Value si = arith::AddIOp::create(rb, s0, t);
          rotateRow(rb, buffer, ValueRange{bi, hi, si}, t, chunks, numFreqs,
                    neox, cosTab, sinTab);
        };
        if (tokenMajor) {
          forLoop(kb, c0, n, c1, [&](ImplicitLocOpBuilder &tb, Value t) {
            for (Value buffer : op.getInputs())
              forLoop(tb, c0, memref::DimOp::create(tb, buffer, 1), c1,
                      [&](ImplicitLocOpBuilder &hb, Value hi) {
                        rotateRows(hb, buffer, hi, t);
                      });
          });
        } else {
          for (Value buffer : op.getInputs())
            forLoop(kb, c0, memref::DimOp::create(kb, buffer, 1), c1,
                    [&](ImplicitLocOpBuilder &hb, Value hi) {
                      forLoop(hb, c0, n, c1,
                              [&](ImplicitLocOpBuilder &tb, Value t) {
                                rotateRows(tb, buffer, hi, t);
                              });
                    });
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

  /// cos/sin of token (bi, si) into row t of the tables. neox: lane i holds
  /// frequency i; gptj: lanes 2i, 2i+1 hold cos_i, cos_i and -sin_i, sin_i.
  static void fillTables(ImplicitLocOpBuilder &b, ApplyOp op, Value bi,
                         Value si, Value t, ArrayRef<Chunk> chunks,
                         ArrayRef<Value> invFreq, Value cosTab, Value sinTab) {
    SemanticsAttr sem = op.getSemantics();
    Value positions = op.getPositions();
    bool rowsFirst = cast<MemRefType>(positions.getType()).getRank() == 3;
    auto f32 = b.getF32Type();
    // f32(p) per axis, loaded once per token.
    SmallVector<Value> pos;
    for (int64_t a = 0; a < sem.getNumAxes(); ++a) {
      SmallVector<Value> indices;
      if (rowsFirst)
        indices.push_back(arith::ConstantIndexOp::create(b, a));
      indices.append({bi, si});
      Value p = memref::LoadOp::create(b, positions, indices);
      pos.push_back(arith::SIToFPOp::create(b, f32, p));
    }
    bool neox = sem.getLayout() == PairLayout::neox;
    for (auto [chunk, inv] : llvm::zip(chunks, invFreq)) {
      auto vec = VectorType::get({chunk.width}, f32);
      // The axis of each lane is known here: a broadcast per axis present,
      // merged by constant lane masks.
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
      Value angle = arith::MulFOp::create(b, p, inv);
      auto [sinV, cosV] = emitSinCos(b, angle);
      Value col = arith::ConstantIndexOp::create(
          b, neox ? chunk.offset : 2 * chunk.offset);
      if (!neox) {
        int64_t w = chunk.width;
        SmallVector<int64_t> dup(2 * w), signedSin(2 * w);
        for (int64_t i = 0; i < w; ++i) {
          dup[2 * i] = dup[2 * i + 1] = i;
          signedSin[2 * i] = w + i; // lane i of -sin
          signedSin[2 * i + 1] = i; // lane i of sin
        }
        cosV = vector::ShuffleOp::create(b, cosV, cosV, dup);
        sinV = vector::ShuffleOp::create(b, sinV,
                                         arith::NegFOp::create(b, sinV),
                                         signedSin);
      }
      vector::StoreOp::create(b, cosV, cosTab, ValueRange{t, col});
      vector::StoreOp::create(b, sinV, sinTab, ValueRange{t, col});
    }
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
                 Value cosTab, Value sinTab) const {
    auto f32 = b.getF32Type();
    for (Chunk chunk : chunks) {
      int64_t o = neox ? chunk.offset : 2 * chunk.offset;
      int64_t w = neox ? chunk.width : 2 * chunk.width;
      auto vec = VectorType::get({w}, f32);
      Value col = arith::ConstantIndexOp::create(b, o);
      Value c = vector::LoadOp::create(b, vec, cosTab, ValueRange{t, col});
      Value s = vector::LoadOp::create(b, vec, sinTab, ValueRange{t, col});
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
      SmallVector<int64_t> pairSwap(w);
      for (int64_t i = 0; i < w; i += 2) {
        pairSwap[i] = i + 1;
        pairSwap[i + 1] = i;
      }
      Value x = loadF32(b, buffer, prefix, o, w);
      Value xs = vector::ShuffleOp::create(b, x, x, pairSwap);
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
