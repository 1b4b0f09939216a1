//===- Decompose.cpp - rope.apply -> rope.cos_sin + rope.rotate -----------===//
#include "mrope/Dialect/Rope/IR/RopeOps.h"
#include "mrope/Dialect/Rope/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mrope::rope {
#define GEN_PASS_DEF_ROPEDECOMPOSE
#include "mrope/Dialect/Rope/Transforms/Passes.h.inc"
} // namespace mrope::rope

using namespace mlir;
using namespace mrope::rope;

namespace {

struct DecomposeApply : OpRewritePattern<ApplyOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ApplyOp op,
                                PatternRewriter &rewriter) const override {
    if (op.hasBufferSemantics())
      return rewriter.notifyMatchFailure(op, "works on tensors only");
    SemanticsAttr semantics = op.getSemantics();
    auto first = cast<RankedTensorType>(op.getInputs().front().getType());
    // Tables are [B, S, R] in the element type of the rotated tensors.
    auto tableType = RankedTensorType::get(
        {first.getDimSize(0), first.getDimSize(2), semantics.getRotaryDim()},
        first.getElementType());
    auto cosSin =
        CosSinOp::create(rewriter, op.getLoc(), tableType, tableType,
                         op.getPositions(), op.getInvFreq(), semantics);
    auto layout = PairLayoutAttr::get(getContext(), semantics.getLayout());
    SmallVector<Value> rotated;
    for (Value input : op.getInputs())
      rotated.push_back(RotateOp::create(rewriter, op.getLoc(), input.getType(),
                                         layout, input, cosSin.getCos(),
                                         cosSin.getSin()));
    rewriter.replaceOp(op, rotated);
    return success();
  }
};

struct RopeDecomposePass
    : mrope::rope::impl::RopeDecomposeBase<RopeDecomposePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<DecomposeApply>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
