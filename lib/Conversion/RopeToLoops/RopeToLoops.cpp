//===- RopeToLoops.cpp - in-place rope.apply -> fused vector loops --------===//
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

struct LowerApplyToLoops : OpRewritePattern<ApplyOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ApplyOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasBufferSemantics())
      return rewriter.notifyMatchFailure(
          op, "bufferize first: only in-place rope.apply on memrefs lowers");
    SemanticsAttr sem = op.getSemantics();
    auto firstType = cast<MemRefType>(op.getInputs().front().getType());
    Type elemType = firstType.getElementType();
    if (!isa<Float32Type, Float16Type, BFloat16Type>(elemType))
      return rewriter.notifyMatchFailure(op, "element type must be f32/f16/bf16");
    for (Value input : op.getInputs()) {
      auto type = cast<MemRefType>(input.getType());
      if (!hasUnitInnerStride(type))
        return rewriter.notifyMatchFailure(op, "channel dim is not contiguous");
    }

    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    const int64_t numFreqs = sem.getNumFreqs();
    const int64_t numAxes = sem.getNumAxes();
    auto f32 = b.getF32Type();
    auto freqVec = VectorType::get({numFreqs}, f32);
    auto idx = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, v);
    };
    Value c0 = idx(0), c1 = idx(1);

    // Token-invariant values, built once before the loop.
    Value invFreq = buildInvFreq(b, op, freqVec);
    SmallVector<Value> axisMasks; // lane mask per axis > 0
    for (int64_t a = 1; a < numAxes; ++a) {
      SmallVector<bool> lanes(numFreqs);
      for (int64_t i = 0; i < numFreqs; ++i)
        lanes[i] = sem.axisOfFreq(i) == a;
      axisMasks.push_back(arith::ConstantOp::create(
          b, DenseElementsAttr::get(freqVec.clone(b.getI1Type()),
                                    ArrayRef<bool>(lanes))));
    }

    Value anyInput = op.getInputs().front();
    Value batch = memref::DimOp::create(b, anyInput, 0);
    Value seq = memref::DimOp::create(b, anyInput, 2);
    Value positions = op.getPositions();
    bool rowsFirst = cast<MemRefType>(positions.getType()).getRank() == 3;
    Type posElem = cast<MemRefType>(positions.getType()).getElementType();

    scf::ParallelOp::create(
        b, ValueRange{c0, c0}, ValueRange{batch, seq}, ValueRange{c1, c1},
        [&](OpBuilder &nested, Location loc, ValueRange ivs) {
          ImplicitLocOpBuilder nb(loc, nested);
          Value bi = ivs[0], si = ivs[1];
          // f32(p) per axis; the lane of each frequency picks its axis.
          auto loadPos = [&](int64_t axis) -> Value {
            SmallVector<Value> indices;
            if (rowsFirst)
              indices.push_back(arith::ConstantIndexOp::create(nb, axis));
            indices.append({bi, si});
            Value p = memref::LoadOp::create(nb, positions, indices);
            Value pf = arith::SIToFPOp::create(nb, f32, p);
            (void)posElem;
            return vector::BroadcastOp::create(nb, freqVec, pf);
          };
          Value pos = loadPos(0);
          for (int64_t a = 1; a < numAxes; ++a)
            pos = arith::SelectOp::create(nb, axisMasks[a - 1], loadPos(a), pos);
          Value angle = arith::MulFOp::create(nb, pos, invFreq);
          auto [sinV, cosV] = emitSinCos(nb, angle);

          if (sem.getLayout() == PairLayout::neox)
            rotateNeox(nb, op, bi, si, cosV, sinV, numFreqs);
          else
            rotateGptj(nb, op, bi, si, cosV, sinV, numFreqs);
          scf::ReduceOp::create(nb);
        });
    rewriter.eraseOp(op);
    return success();
  }

private:
  /// inv_freq per frequency lane: the op's table (indexed per section when
  /// frequencies restart) or the f32 recomputation from theta.
  static Value buildInvFreq(ImplicitLocOpBuilder &b, ApplyOp op,
                            VectorType freqVec) {
    SemanticsAttr sem = op.getSemantics();
    int64_t numFreqs = sem.getNumFreqs();
    if (!op.getInvFreq()) {
      SmallVector<float> table = sem.computeInvFreq();
      SmallVector<float> lanes(numFreqs);
      for (int64_t i = 0; i < numFreqs; ++i)
        lanes[i] = table[sem.tableIndexOfFreq(i)];
      return arith::ConstantOp::create(
          b, DenseElementsAttr::get(freqVec, ArrayRef<float>(lanes)));
    }
    int64_t tableSize = sem.getTableSize();
    Value table = vector::LoadOp::create(
        b, VectorType::get({tableSize}, b.getF32Type()), op.getInvFreq(),
        ValueRange{arith::ConstantIndexOp::create(b, 0)});
    if (tableSize == numFreqs)
      return table;
    SmallVector<int64_t> mask(numFreqs);
    for (int64_t i = 0; i < numFreqs; ++i)
      mask[i] = sem.tableIndexOfFreq(i);
    return vector::ShuffleOp::create(b, table, table, mask);
  }

  /// Loads `width` channels at `offset` as f32, whatever the element type.
  static Value loadF32(ImplicitLocOpBuilder &b, Value buffer,
                       ValueRange prefix, int64_t offset, int64_t width) {
    Type elem = cast<MemRefType>(buffer.getType()).getElementType();
    SmallVector<Value> indices(prefix);
    indices.push_back(arith::ConstantIndexOp::create(b, offset));
    Value v = vector::LoadOp::create(b, VectorType::get({width}, elem), buffer,
                                     indices);
    if (!elem.isF32())
      v = arith::ExtFOp::create(b, VectorType::get({width}, b.getF32Type()), v);
    return v;
  }

  static void storeF32(ImplicitLocOpBuilder &b, Value value, Value buffer,
                       ValueRange prefix, int64_t offset) {
    Type elem = cast<MemRefType>(buffer.getType()).getElementType();
    auto type = cast<VectorType>(value.getType());
    if (!elem.isF32())
      value = arith::TruncFOp::create(b, type.clone(elem), value);
    SmallVector<Value> indices(prefix);
    indices.push_back(arith::ConstantIndexOp::create(b, offset));
    vector::StoreOp::create(b, value, buffer, indices);
  }

  /// Runs `body(buffer, prefix)` for every head of every rotated buffer,
  /// prefix being the (b, h, s) indices.
  template <typename Body>
  static void forEachHead(ImplicitLocOpBuilder &b, ApplyOp op, Value bi,
                          Value si, Body body) {
    Value c0 = arith::ConstantIndexOp::create(b, 0);
    Value c1 = arith::ConstantIndexOp::create(b, 1);
    for (Value buffer : op.getInputs()) {
      Value heads = memref::DimOp::create(b, buffer, 1);
      scf::ForOp::create(b, c0, heads, c1, ValueRange{},
                         [&](OpBuilder &nested, Location loc, Value hi,
                             ValueRange) {
                           ImplicitLocOpBuilder hb(loc, nested);
                           body(hb, buffer, ValueRange{bi, hi, si});
                           scf::YieldOp::create(hb);
                         });
    }
  }

  /// Rotate-half: y1 = x1 c - x2 s, y2 = x2 c + x1 s on the two contiguous
  /// halves [0, F) and [F, 2F).
  static void rotateNeox(ImplicitLocOpBuilder &b, ApplyOp op, Value bi,
                         Value si, Value cosV, Value sinV, int64_t numFreqs) {
    forEachHead(b, op, bi, si,
                [&](ImplicitLocOpBuilder &hb, Value buffer, ValueRange prefix) {
                  Value x1 = loadF32(hb, buffer, prefix, 0, numFreqs);
                  Value x2 = loadF32(hb, buffer, prefix, numFreqs, numFreqs);
                  Value y1 = arith::SubFOp::create(
                      hb, arith::MulFOp::create(hb, x1, cosV),
                      arith::MulFOp::create(hb, x2, sinV));
                  Value y2 = arith::AddFOp::create(
                      hb, arith::MulFOp::create(hb, x2, cosV),
                      arith::MulFOp::create(hb, x1, sinV));
                  storeF32(hb, y1, buffer, prefix, 0);
                  storeF32(hb, y2, buffer, prefix, numFreqs);
                });
  }

  /// GPT-J pairs: y = x * [c0 c0 c1 c1 ..] + swap(x) * [-s0 s0 -s1 s1 ..]
  /// where swap exchanges the two lanes of every pair, all in registers.
  static void rotateGptj(ImplicitLocOpBuilder &b, ApplyOp op, Value bi,
                         Value si, Value cosV, Value sinV, int64_t numFreqs) {
    int64_t width = 2 * numFreqs;
    SmallVector<int64_t> dup(width), pairSwap(width), signedSin(width);
    for (int64_t i = 0; i < numFreqs; ++i) {
      dup[2 * i] = dup[2 * i + 1] = i;
      pairSwap[2 * i] = 2 * i + 1;
      pairSwap[2 * i + 1] = 2 * i;
      signedSin[2 * i] = numFreqs + i; // lane i of -sin
      signedSin[2 * i + 1] = i;        // lane i of sin
    }
    Value cos2 = vector::ShuffleOp::create(b, cosV, cosV, dup);
    Value sin2 = vector::ShuffleOp::create(
        b, sinV, arith::NegFOp::create(b, sinV), signedSin);
    forEachHead(b, op, bi, si,
                [&](ImplicitLocOpBuilder &hb, Value buffer, ValueRange prefix) {
                  Value x = loadF32(hb, buffer, prefix, 0, width);
                  Value xs = vector::ShuffleOp::create(hb, x, x, pairSwap);
                  Value y = arith::AddFOp::create(
                      hb, arith::MulFOp::create(hb, x, cos2),
                      arith::MulFOp::create(hb, xs, sin2));
                  storeF32(hb, y, buffer, prefix, 0);
                });
  }
};

struct ConvertRopeToLoopsPass
    : mrope::impl::ConvertRopeToLoopsBase<ConvertRopeToLoopsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateRopeToLoopsPatterns(patterns);
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

void mrope::populateRopeToLoopsPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerApplyToLoops>(patterns.getContext());
}
