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

#include "mrope/Conversion/Passes.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/StringSet.h"

namespace mrope {
#define GEN_PASS_DEF_CONVERTROPETOONNX
#include "mrope/Conversion/Passes.h.inc"
} // namespace mrope

using namespace mlir;
using namespace mrope;

namespace {

/// ONNX TensorProto.DataType of a float element type.
int64_t onnxFloatType(Type type) {
  if (type.isF16())
    return 10;
  if (type.isBF16())
    return 16;
  if (type.isF64())
    return 11;
  return 1;
}

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
    SmallVector<float> table;
    if (Value inv = op.getInvFreq()) {
      std::optional<DenseElementsAttr> values = onnx::getConstantValue(inv);
      if (!values)
        return rewriter.notifyMatchFailure(op, "frequency table is not constant");
      for (float f : values->getValues<float>())
        table.push_back(f);
    } else {
      table = sem.computeInvFreq();
    }
    SmallVector<int64_t> rows(rotary);
    SmallVector<float> inv(rotary);
    for (int64_t c = 0; c < rotary; ++c) {
      int64_t freq = sem.getLayout() == rope::PairLayout::neox ? c % numFreqs
                                                                : c / 2;
      rows[c] = sem.axisOfFreq(freq);
      inv[c] = table[sem.tableIndexOfFreq(freq)];
    }

    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Block &body = graph.getBodyBlock();
    std::string base = uniqueName(graph, prefix + "/cos_sin");
    Type i64 = rewriter.getI64Type(), f32 = rewriter.getF32Type();

    // Initializers go first in the graph, like the importer's.
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(&body);
    auto rowsType = RankedTensorType::get({rotary}, i64);
    auto invType = RankedTensorType::get({rotary}, f32);
    Value rowsInit = onnx::InitializerOp::create(
        rewriter, loc, rowsType, uniqueName(graph, prefix + ".rows"),
        DenseElementsAttr::get(rowsType, ArrayRef<int64_t>(rows)), nullptr);
    Value invInit = onnx::InitializerOp::create(
        rewriter, loc, invType, uniqueName(graph, prefix + ".inv_freq"),
        DenseElementsAttr::get(invType, ArrayRef<float>(inv)), nullptr);

    rewriter.setInsertionPoint(op);
    auto node = [&](StringRef opType, Type result, ValueRange inputs,
                    ArrayRef<NamedAttribute> attrs = {}) -> Value {
      return onnx::NodeOp::create(rewriter, loc, TypeRange{result}, opType,
                                  inputs, attrs, base + "/" + opType.str())
          .getResults()[0];
    };
    auto tableType = cast<RankedTensorType>(op.getCos().getType());
    int64_t b = tableType.getDimSize(0), s = tableType.getDimSize(1);

    Value positions = op.getPositions();
    if (cast<ShapedType>(positions.getType()).getRank() == 2) {
      // One axis given as [B, S]: make it [1, B, S].
      auto axesType = RankedTensorType::get({1}, i64);
      Value axes = onnx::InitializerOp::create(
          rewriter, loc, axesType, uniqueName(graph, prefix + ".axes"),
          DenseElementsAttr::get(axesType, ArrayRef<int64_t>{0}), nullptr);
      positions = node("Unsqueeze",
                       RankedTensorType::get({1, b, s},
                                             cast<ShapedType>(positions.getType()).getElementType()),
                       {positions, axes});
    }
    Type posElem = cast<ShapedType>(positions.getType()).getElementType();
    Value gathered = node("Gather", RankedTensorType::get({rotary, b, s}, posElem),
                          {positions, rowsInit},
                          {rewriter.getNamedAttr("axis", rewriter.getI64IntegerAttr(0))});
    Value perToken = node(
        "Transpose", RankedTensorType::get({b, s, rotary}, posElem), {gathered},
        {rewriter.getNamedAttr("perm", DenseI64ArrayAttr::get(ctx, {1, 2, 0}))});
    auto angleType = RankedTensorType::get({b, s, rotary}, f32);
    Value asFloat = node("Cast", angleType, {perToken},
                         {rewriter.getNamedAttr("to", rewriter.getI64IntegerAttr(1))});
    Value angle = node("Mul", angleType, {asFloat, invInit});
    Value cos = node("Cos", angleType, {angle});
    Value sin = node("Sin", angleType, {angle});
    if (!tableType.getElementType().isF32()) {
      auto to = rewriter.getNamedAttr(
          "to", rewriter.getI64IntegerAttr(onnxFloatType(tableType.getElementType())));
      cos = node("Cast", tableType, {cos}, {to});
      sin = node("Cast", tableType, {sin}, {to});
    }
    Value tableOperand = op.getInvFreq();
    rewriter.replaceOp(op, {cos, sin});
    // Its values now live in the per-channel initializer.
    if (auto init = tableOperand
                        ? tableOperand.getDefiningOp<onnx::InitializerOp>()
                        : onnx::InitializerOp();
        init && init->use_empty())
      rewriter.eraseOp(init);
    return success();
  }

  std::string prefix;
};

struct ConvertRopeToOnnxPass
    : mrope::impl::ConvertRopeToOnnxBase<ConvertRopeToOnnxPass> {
  using Base::Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateRopeToOnnxPatterns(patterns, prefix);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    WalkResult left = getOperation()->walk([](rope::CosSinOp op) {
      op.emitError("could not lower rope.cos_sin to ONNX: it must sit in an "
                   "onnx.graph with a constant frequency table");
      return WalkResult::interrupt();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace

void mrope::populateRopeToOnnxPatterns(RewritePatternSet &patterns,
                                       StringRef prefix) {
  patterns.add<LowerCosSin>(patterns.getContext(), prefix);
}
