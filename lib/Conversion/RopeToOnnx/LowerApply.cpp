//===- LowerApply.cpp - rope.apply -> ONNX nodes --------------------------===//
//
// rope.apply on tensors inside an onnx.graph, in one of three forms:
//
//   plain   cos/sin [B, S, R] per token (Gather of the position rows, one f32
//           product, Cos, Sin), then x * cos + rotate(x) * sin with
//           Slice/Neg/Concat (rotate-half) or Reshape/Slice/Concat (GPT-J
//           pairs), untouched channels concatenated back;
//   ort     com.microsoft.MRotaryEmbedding (3-axis M-RoPE, global
//           frequencies) or com.microsoft.RotaryEmbedding (1D) over
//           [max_pos + 1, F] caches built from the positions, or
//           RotaryEmbedding over merged per-token caches [B*S, F] indexed by
//           b * S + s for what MRotaryEmbedding cannot say (2D, per-section
//           frequencies);
//   onnx23  RotaryEmbedding (opset 23) over merged per-token caches [B, S, F]
//           without position_ids.
//
// The caches hold the same f32 angles the reference forms, so every form
// computes the same rotation; only the runtime's float order differs.
//
//===----------------------------------------------------------------------===//
#include "Tables.h"

#include "mrope/Conversion/RopeToOnnx/RopeToOnnx.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/IR/BuiltinOps.h"

using namespace mlir;
using namespace mrope;
using namespace mrope::rope_to_onnx;

std::optional<RopeEmit> mrope::parseRopeEmit(StringRef name) {
  if (name == "plain")
    return RopeEmit::Plain;
  if (name == "ort")
    return RopeEmit::Ort;
  if (name == "onnx23")
    return RopeEmit::Onnx23;
  return std::nullopt;
}

namespace {

/// Adds `domain` version `version` to the model's opset imports when absent.
void importOpset(Operation *op, StringRef domain, int64_t version) {
  if (onnx::getOpsetVersion(op, domain))
    return;
  auto module = op->getParentOfType<ModuleOp>();
  if (!module)
    return;
  SmallVector<Attribute> opsets;
  if (auto list = module->getAttrOfType<ArrayAttr>(onnx::attr::kOpsetImport))
    opsets.append(list.begin(), list.end());
  opsets.push_back(onnx::OpsetAttr::get(op->getContext(), domain, version));
  module->setAttr(onnx::attr::kOpsetImport,
                  ArrayAttr::get(op->getContext(), opsets));
}

struct LowerApply : OpRewritePattern<rope::ApplyOp> {
  LowerApply(MLIRContext *ctx, StringRef prefix, RopeEmit emit)
      : OpRewritePattern(ctx), prefix(prefix.str()), form(emit) {}

  LogicalResult matchAndRewrite(rope::ApplyOp op,
                                PatternRewriter &rewriter) const override {
    if (op.hasBufferSemantics())
      return rewriter.notifyMatchFailure(op, "rotates memrefs in place");
    auto graph = op->getParentOfType<onnx::GraphOp>();
    if (!graph)
      return rewriter.notifyMatchFailure(op, "not inside an onnx.graph");
    rope::SemanticsAttr sem = op.getSemantics();
    std::optional<SmallVector<float>> table =
        frequencyTable(op.getInvFreq(), sem);
    if (!table)
      return rewriter.notifyMatchFailure(op, "frequency table is not constant");
    if (form == RopeEmit::Onnx23 &&
        onnx::getOpsetVersion(op).value_or(0) < 23)
      return rewriter.notifyMatchFailure(op, "opset older than 23");
    rewriter.setInsertionPoint(op);
    // One name scope per op: layers do not share node names.
    std::string scope = prefix + "/rope_" + std::to_string(counter++);
    onnx::OnnxBuilder emit(rewriter, graph, op.getLoc(), scope, prefix);
    SmallVector<Value> results;
    switch (form) {
    case RopeEmit::Plain:
      results = lowerPlain(op, emit, rewriter, *table);
      break;
    case RopeEmit::Ort:
      results = lowerOrt(op, emit, rewriter, *table, scope);
      break;
    case RopeEmit::Onnx23:
      results = lowerOnnx23(op, emit, rewriter, *table);
      break;
    }
    replaceDroppingTable(rewriter, op, results, op.getInvFreq());
    return success();
  }

private:
  /// Axis and inverse frequency of each of the F frequencies.
  static void perFreq(rope::SemanticsAttr sem, ArrayRef<float> table,
                      SmallVectorImpl<int64_t> &rows,
                      SmallVectorImpl<float> &inv) {
    for (int64_t i = 0, f = sem.getNumFreqs(); i < f; ++i) {
      rows.push_back(sem.axisOfFreq(i));
      inv.push_back(table[sem.tableIndexOfFreq(i)]);
    }
  }

  static Type elementType(rope::ApplyOp op) {
    return cast<ShapedType>(op.getInputs().front().getType()).getElementType();
  }

  /// Attributes every fused form shares: pair layout and, for partial
  /// rotary, the rotated width.
  static SmallVector<NamedAttribute> rotaryAttrs(rope::ApplyOp op,
                                                 onnx::OnnxBuilder &emit) {
    rope::SemanticsAttr sem = op.getSemantics();
    SmallVector<NamedAttribute> attrs{emit.intAttr(
        "interleaved", sem.getLayout() == rope::PairLayout::gptj ? 1 : 0)};
    int64_t head = cast<ShapedType>(op.getInputs().front().getType()).getDimSize(3);
    if (ShapedType::isDynamic(head) || head != sem.getRotaryDim())
      attrs.push_back(emit.intAttr("rotary_embedding_dim", sem.getRotaryDim()));
    return attrs;
  }

  SmallVector<Value> lowerPlain(rope::ApplyOp op, onnx::OnnxBuilder &emit,
                                PatternRewriter &b,
                                ArrayRef<float> table) const {
    rope::SemanticsAttr sem = op.getSemantics();
    int64_t rotary = sem.getRotaryDim(), numFreqs = sem.getNumFreqs();
    bool neox = sem.getLayout() == rope::PairLayout::neox;
    SmallVector<int64_t> rows;
    SmallVector<float> inv;
    for (int64_t c = 0; c < rotary; ++c) {
      int64_t freq = neox ? c % numFreqs : c / 2;
      rows.push_back(sem.axisOfFreq(freq));
      inv.push_back(table[sem.tableIndexOfFreq(freq)]);
    }
    Type elem = elementType(op);
    auto [cos, sin] =
        emitTokenTables(emit, b, op.getPositions(), rows, inv, elem);
    auto tableType = cast<RankedTensorType>(cos.getType());
    auto headsType = RankedTensorType::get(
        {tableType.getDimSize(0), 1, tableType.getDimSize(1), rotary}, elem);
    Value axis1 = emit.ints({1}, {1}, "axes");
    cos = emit.node("Unsqueeze", headsType, {cos, axis1});
    sin = emit.node("Unsqueeze", headsType, {sin, axis1});

    Value axis3 = emit.ints({3}, {1}, "axis3");
    auto slice = [&](Value x, int64_t from, int64_t to, Value axis,
                     int64_t dim) {
      auto type = cast<RankedTensorType>(x.getType());
      SmallVector<int64_t> shape(type.getShape());
      shape[dim] = to == INT64_MAX ? ShapedType::kDynamic : to - from;
      if (to == INT64_MAX && !type.isDynamicDim(dim))
        shape[dim] = type.getDimSize(dim) - from;
      return emit.node("Slice", type.clone(shape),
                       {x, emit.ints({from}, {1}, "start"),
                        emit.ints({to}, {1}, "end"), axis});
    };
    SmallVector<Value> results;
    for (Value x : op.getInputs()) {
      auto type = cast<RankedTensorType>(x.getType());
      int64_t head = type.getDimSize(3);
      bool partial = ShapedType::isDynamic(head) || head != rotary;
      Value xr = partial ? slice(x, 0, rotary, axis3, 3) : x;
      auto rType = cast<RankedTensorType>(xr.getType());
      Value rotated;
      if (neox) {
        Value lo = slice(xr, 0, numFreqs, axis3, 3);
        Value hi = slice(xr, numFreqs, rotary, axis3, 3);
        rotated = emit.node("Concat", rType,
                            {emit.node("Neg", hi.getType(), {hi}), lo},
                            {emit.intAttr("axis", 3)});
      } else {
        // Pairs (2i, 2i + 1) -> (-x[2i + 1], x[2i]) on a [.., F, 2] view.
        SmallVector<int64_t> pairShape(rType.getShape());
        pairShape[3] = numFreqs;
        pairShape.push_back(2);
        auto pairType = rType.clone(pairShape);
        Value pairs = emit.node("Reshape", pairType,
                                {xr, emit.ints({0, 0, 0, numFreqs, 2}, {5}, "pairs")});
        Value axis4 = emit.ints({4}, {1}, "axis4");
        Value even = slice(pairs, 0, 1, axis4, 4);
        Value odd = slice(pairs, 1, 2, axis4, 4);
        Value swapped = emit.node("Concat", pairType,
                                  {emit.node("Neg", odd.getType(), {odd}), even},
                                  {emit.intAttr("axis", 4)});
        rotated = emit.node("Reshape", rType,
                            {swapped, emit.ints({0, 0, 0, rotary}, {4}, "unpairs")});
      }
      Value y = emit.node("Add", rType,
                          {emit.node("Mul", rType, {xr, cos}),
                           emit.node("Mul", rType, {rotated, sin})});
      if (partial)
        y = emit.node("Concat", type,
                      {y, slice(x, rotary, INT64_MAX, axis3, 3)},
                      {emit.intAttr("axis", 3)});
      results.push_back(y);
    }
    return results;
  }

  SmallVector<Value> lowerOrt(rope::ApplyOp op, onnx::OnnxBuilder &emit,
                              PatternRewriter &b, ArrayRef<float> table,
                              StringRef scope) const {
    rope::SemanticsAttr sem = op.getSemantics();
    importOpset(op, "com.microsoft", 1);
    SmallVector<int64_t> rows;
    SmallVector<float> inv;
    perFreq(sem, table, rows, inv);
    Type elem = elementType(op);
    Value positions = op.getPositions();
    auto posType = cast<RankedTensorType>(positions.getType());
    int64_t numAxes = sem.getNumAxes();
    bool global = sem.getFreqs() == rope::FreqIndex::global;
    SmallVector<NamedAttribute> attrs = rotaryAttrs(op, emit);
    StringRef opType = "RotaryEmbedding";
    Value ids, cos, sin;
    if (global && numAxes == 3) {
      opType = "MRotaryEmbedding";
      std::tie(cos, sin) = emitPositionCaches(emit, b, positions, inv, elem);
      ids = positions;
      attrs.push_back(
          b.getNamedAttr("mrope_section", b.getDenseI64ArrayAttr(sem.getSections())));
      attrs.push_back(emit.intAttr(
          "mrope_layout",
          sem.getOrder() == rope::SectionOrder::interleaved ? 1 : 0));
    } else if (global && numAxes == 1) {
      std::tie(cos, sin) = emitPositionCaches(emit, b, positions, inv, elem);
      ids = positions;
      if (posType.getRank() == 3) // [1, B, S] -> [B, S]
        ids = emit.node("Squeeze",
                        RankedTensorType::get(posType.getShape().drop_front(),
                                              posType.getElementType()),
                        {positions, emit.ints({0}, {1}, "axes")});
    } else {
      // Merged per-token caches, row b * S + s for token (b, s).
      auto [tokCos, tokSin] =
          emitTokenTables(emit, b, positions, rows, inv, elem);
      int64_t dyn = ShapedType::kDynamic, numFreqs = sem.getNumFreqs();
      auto flatType = RankedTensorType::get({dyn, numFreqs}, elem);
      Value flat = emit.ints({-1, numFreqs}, {2}, "flat");
      cos = emit.node("Reshape", flatType, {tokCos, flat});
      sin = emit.node("Reshape", flatType, {tokSin, flat});
      Type i64 = b.getI64Type();
      Value bs = emit.node("Shape", RankedTensorType::get({3}, i64), {tokCos});
      Value bsOnly = emit.node("Slice", RankedTensorType::get({2}, i64),
                               {bs, emit.ints({0}, {1}, "start"),
                                emit.ints({2}, {1}, "end")});
      Value count = emit.node(
          "ReduceProd", RankedTensorType::get({}, i64), {bsOnly},
          {emit.intAttr("keepdims", 0)});
      Value one = emit.ints({1}, {}, "one");
      Value index = emit.node("Range", RankedTensorType::get({dyn}, i64),
                              {emit.ints({0}, {}, "zero"), count, one});
      auto tokType = cast<RankedTensorType>(tokCos.getType());
      ids = emit.node("Reshape",
                      RankedTensorType::get({tokType.getDimSize(0),
                                             tokType.getDimSize(1)},
                                            i64),
                      {index, bsOnly});
    }
    SmallVector<Value> results;
    for (Value x : op.getInputs()) {
      // ONNX Runtime's kernels want num_heads with a partial rotary dim.
      SmallVector<NamedAttribute> nodeAttrs(attrs);
      int64_t heads = cast<ShapedType>(x.getType()).getDimSize(1);
      if (!ShapedType::isDynamic(heads))
        nodeAttrs.push_back(emit.intAttr("num_heads", heads));
      results.push_back(
          onnx::NodeOp::create(b, op.getLoc(), TypeRange{x.getType()}, opType,
                               ValueRange{x, ids, cos, sin}, nodeAttrs,
                               (scope + "/" + opType + "_" +
                                Twine(results.size()))
                                   .str(),
                               "com.microsoft")
              .getResults()[0]);
    }
    return results;
  }

  SmallVector<Value> lowerOnnx23(rope::ApplyOp op, onnx::OnnxBuilder &emit,
                                 PatternRewriter &b,
                                 ArrayRef<float> table) const {
    SmallVector<int64_t> rows;
    SmallVector<float> inv;
    perFreq(op.getSemantics(), table, rows, inv);
    auto [cos, sin] = emitTokenTables(emit, b, op.getPositions(), rows, inv,
                                      elementType(op));
    SmallVector<NamedAttribute> attrs = rotaryAttrs(op, emit);
    SmallVector<Value> results;
    for (Value x : op.getInputs())
      results.push_back(emit.node("RotaryEmbedding", x.getType(),
                                  {x, cos, sin}, attrs));
    return results;
  }

  std::string prefix;
  RopeEmit form;
  mutable int64_t counter = 0;
};

} // namespace

LogicalResult mrope::checkRopeEmitOpset(Operation *root, RopeEmit emit) {
  if (emit != RopeEmit::Onnx23)
    return success();
  WalkResult result = root->walk([](rope::ApplyOp op) {
    if (op.hasBufferSemantics() || !op->getParentOfType<onnx::GraphOp>())
      return WalkResult::advance();
    int64_t opset = onnx::getOpsetVersion(op).value_or(0);
    if (opset >= 23)
      return WalkResult::advance();
    op.emitError("emit=onnx23 needs the model's opset to be 23 or newer for "
                 "RotaryEmbedding (the model imports ")
        << opset << "); use emit=plain or emit=ort";
    return WalkResult::interrupt();
  });
  return failure(result.wasInterrupted());
}

void mrope::populateRopeApplyToOnnxPatterns(RewritePatternSet &patterns,
                                            StringRef prefix, RopeEmit emit) {
  patterns.add<LowerApply>(patterns.getContext(), prefix, emit);
}
