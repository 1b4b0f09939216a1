//===- LowerApply.cpp - rope.apply -> ONNX nodes --------------------------===//
//
// rope.apply on tensors inside an onnx.graph, in one of three forms:
//
//   plain   cos/sin [B, 1, S, R] per token (Gather of the position rows, one
//           f32 product, Cos, Sin), then x * cos + rotate(x) * sin with
//           Slice/Neg/Concat (rotate-half) or Reshape/Slice/Concat (GPT-J
//           pairs), untouched channels concatenated back;
//   ort     com.microsoft.RotaryEmbedding: over [max_pos + 1, F] caches
//           built from the positions for integer 1D, over merged per-token
//           caches [B*S, F] indexed by b * S + s for M-RoPE, 2D,
//           per-section frequencies and f32 positions (the op's position
//           ids are int64, so fractional positions cannot index a cache);
//   onnx23  RotaryEmbedding (opset 23) over merged per-token caches [B, S, F]
//           without position_ids.
//
// The tables are built once per group of rope.apply ops that rotate by the
// same positions with the same semantics and frequencies (every layer of a
// decoder), right after the positions. The fused ops read [B, S, H * D]
// views when the input is the usual Transpose of [B, S, H, D].
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
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace mrope;
using namespace mrope::rope_to_onnx;

StringRef mrope::emitModeName(EmitMode mode) {
  switch (mode) {
  case EmitMode::Plain:
    return "plain";
  case EmitMode::Ort:
    return "ort";
  case EmitMode::Onnx23:
    return "onnx23";
  }
  llvm_unreachable("unknown emit mode");
}

std::optional<EmitMode> mrope::parseEmitMode(StringRef name) {
  return llvm::StringSwitch<std::optional<EmitMode>>(name)
      .Case("plain", EmitMode::Plain)
      .Case("ort", EmitMode::Ort)
      .Case("onnx23", EmitMode::Onnx23)
      .Default(std::nullopt);
}

template <>
bool llvm::cl::parser<EmitMode>::parse(Option &option, StringRef, StringRef arg,
                                       EmitMode &value) {
  if (std::optional<EmitMode> parsed = parseEmitMode(arg)) {
    value = *parsed;
    return false;
  }
  llvm::errs() << "error: " << option.ArgStr
               << " must be plain, ort or onnx23, got '" << arg << "'\n";
  return true;
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

/// What every rope.apply of one group shares: cos/sin and, for ONNX
/// Runtime's com.microsoft ops, the position ids that index them.
struct Tables {
  Value cos, sin, ids;
};

struct LowerApply : OpRewritePattern<rope::ApplyOp> {
  LowerApply(MLIRContext *ctx, StringRef prefix, EmitMode emit)
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
    if (form == EmitMode::Onnx23 && onnx::getOpsetVersion(op).value_or(0) < 23)
      return rewriter.notifyMatchFailure(op, "opset older than 23");

    // Every layer rotates by the same positions: build the tables once,
    // right after the positions, and lower all of the group's ops on them.
    SmallVector<rope::ApplyOp> group = sameTables(op, *table);
    std::string scope = prefix + "/rope_" + std::to_string(counter++);
    rewriter.setInsertionPointAfterValue(op.getPositions());
    onnx::OnnxBuilder tableEmit(rewriter, graph, op.getLoc(), scope + "/tables",
                                prefix);
    Tables tables = buildTables(op, tableEmit, rewriter, *table);
    for (auto [i, member] : llvm::enumerate(group)) {
      rewriter.setInsertionPoint(member);
      std::string name = scope + "/apply_" + std::to_string(i);
      onnx::OnnxBuilder emit(rewriter, graph, member.getLoc(), name, prefix);
      SmallVector<Value> results;
      for (auto [j, x] : llvm::enumerate(member.getInputs()))
        results.push_back(
            form == EmitMode::Plain
                ? rotatePlain(member, x, tables, emit)
                : rotateFused(member, x, tables, emit, rewriter,
                              name + "/RotaryEmbedding" +
                                  (j ? "_" + std::to_string(j) : "")));
      SmallVector<Value> inputs(member.getInputs());
      replaceDroppingTable(rewriter, member, results, member.getInvFreq());
      // A Transpose the fused op looked through is read by nothing now.
      for (Value x : inputs)
        if (auto node = x.getDefiningOp<onnx::NodeOp>();
            node && node.isOnnx("Transpose") && node->use_empty())
          rewriter.eraseOp(node);
    }
    return success();
  }

private:
  /// `op` and every other rope.apply on tensors that rotates by the same
  /// positions, semantics, frequency table and element type, in block order.
  static SmallVector<rope::ApplyOp> sameTables(rope::ApplyOp op,
                                               ArrayRef<float> table) {
    SmallVector<rope::ApplyOp> group{op};
    for (Operation *user : op.getPositions().getUsers()) {
      auto other = dyn_cast<rope::ApplyOp>(user);
      if (!other || other == op || other.hasBufferSemantics() ||
          other.getPositions() != op.getPositions() ||
          other.getSemantics() != op.getSemantics() ||
          elementType(other) != elementType(op) ||
          other->getBlock() != op->getBlock() ||
          llvm::is_contained(group, other))
        continue;
      std::optional<SmallVector<float>> otherTable =
          frequencyTable(other.getInvFreq(), other.getSemantics());
      if (otherTable && ArrayRef<float>(*otherTable) == table)
        group.push_back(other);
    }
    llvm::sort(group, [](rope::ApplyOp a, rope::ApplyOp b) {
      return a->isBeforeInBlock(b);
    });
    return group;
  }

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

  Tables buildTables(rope::ApplyOp op, onnx::OnnxBuilder &emit,
                     PatternRewriter &b, ArrayRef<float> table) const {
    rope::SemanticsAttr sem = op.getSemantics();
    Type elem = elementType(op);
    Value positions = op.getPositions();
    SmallVector<int64_t> rows;
    SmallVector<float> inv;
    if (form == EmitMode::Plain) {
      // One row per rotated channel, broadcast over heads: [B, 1, S, R].
      int64_t numFreqs = sem.getNumFreqs();
      bool neox = sem.getLayout() == rope::PairLayout::neox;
      for (int64_t c = 0; c < sem.getRotaryDim(); ++c) {
        int64_t freq = neox ? c % numFreqs : c / 2;
        rows.push_back(sem.axisOfFreq(freq));
        inv.push_back(table[sem.tableIndexOfFreq(freq)]);
      }
      auto [cos, sin] = emitTokenTables(emit, b, positions, rows, inv, elem);
      auto type = cast<RankedTensorType>(cos.getType());
      auto headsType = RankedTensorType::get(
          {type.getDimSize(0), 1, type.getDimSize(1), type.getDimSize(2)},
          elem);
      Value axis1 = emit.ints({1}, {1}, "axes");
      return {emit.node("Unsqueeze", headsType, {cos, axis1}),
              emit.node("Unsqueeze", headsType, {sin, axis1}), Value()};
    }
    perFreq(sem, table, rows, inv);
    if (form == EmitMode::Onnx23) {
      // Per-token caches [B, S, F], no position_ids.
      auto [cos, sin] = emitTokenTables(emit, b, positions, rows, inv, elem);
      return {cos, sin, Value()};
    }
    importOpset(op, "com.microsoft", 1);
    auto posType = cast<RankedTensorType>(positions.getType());
    // f32 positions cannot index position caches (com.microsoft ops take
    // int64 position ids): they take the per-token caches below.
    if (sem.getFreqs() == rope::FreqIndex::global && sem.getNumAxes() == 1 &&
        !posType.getElementType().isF32()) {
      // 1D: position-indexed caches [max_pos + 1, F] and the positions.
      auto [cos, sin] = emitPositionCaches(emit, b, positions, inv, elem);
      Value ids = positions;
      if (posType.getRank() == 3) // [1, B, S] -> [B, S]
        ids = emit.node("Squeeze",
                        RankedTensorType::get(posType.getShape().drop_front(),
                                              posType.getElementType()),
                        {positions, emit.ints({0}, {1}, "axes")});
      return {cos, sin, ids};
    }
    // Several axes: merged per-token caches [B * S, F], row b * S + s for
    // token (b, s). Measured faster in ONNX Runtime than MRotaryEmbedding,
    // which merges the three rows again for every head (docs/benchmarks.md).
    auto [tokCos, tokSin] =
        emitTokenTables(emit, b, positions, rows, inv, elem);
    int64_t dyn = ShapedType::kDynamic, numFreqs = sem.getNumFreqs();
    auto flatType = RankedTensorType::get({dyn, numFreqs}, elem);
    Value flat = emit.ints({-1, numFreqs}, {2}, "flat");
    Value cos = emit.node("Reshape", flatType, {tokCos, flat});
    Value sin = emit.node("Reshape", flatType, {tokSin, flat});
    Type i64 = b.getI64Type();
    Value bs = emit.node("Shape", RankedTensorType::get({3}, i64), {tokCos});
    Value bsOnly = emit.node(
        "Slice", RankedTensorType::get({2}, i64),
        {bs, emit.ints({0}, {1}, "start"), emit.ints({2}, {1}, "end")});
    Value count = emit.node("ReduceProd", RankedTensorType::get({}, i64),
                            {bsOnly}, {emit.intAttr("keepdims", 0)});
    Value index = emit.node(
        "Range", RankedTensorType::get({dyn}, i64),
        {emit.ints({0}, {}, "zero"), count, emit.ints({1}, {}, "one")});
    auto tokType = cast<RankedTensorType>(tokCos.getType());
    Value ids =
        emit.node("Reshape",
                  RankedTensorType::get(
                      {tokType.getDimSize(0), tokType.getDimSize(1)}, i64),
                  {index, bsOnly});
    return {cos, sin, ids};
  }

  /// x * cos + rotate(x) * sin with standard ops; channels past the rotary
  /// dim are concatenated back.
  static Value rotatePlain(rope::ApplyOp op, Value x, const Tables &tables,
                           onnx::OnnxBuilder &emit) {
    rope::SemanticsAttr sem = op.getSemantics();
    int64_t rotary = sem.getRotaryDim(), numFreqs = sem.getNumFreqs();
    Value axis3 = emit.ints({3}, {1}, "axis3");
    auto slice = [&](Value v, int64_t from, int64_t to, Value axis,
                     int64_t dim) {
      auto type = cast<RankedTensorType>(v.getType());
      SmallVector<int64_t> shape(type.getShape());
      shape[dim] = to == INT64_MAX ? ShapedType::kDynamic : to - from;
      if (to == INT64_MAX && !type.isDynamicDim(dim))
        shape[dim] = type.getDimSize(dim) - from;
      return emit.node("Slice", type.clone(shape),
                       {v, emit.ints({from}, {1}, "start"),
                        emit.ints({to}, {1}, "end"), axis});
    };
    auto type = cast<RankedTensorType>(x.getType());
    int64_t head = type.getDimSize(3);
    bool partial = ShapedType::isDynamic(head) || head != rotary;
    Value xr = partial ? slice(x, 0, rotary, axis3, 3) : x;
    auto rType = cast<RankedTensorType>(xr.getType());
    Value rotated;
    if (sem.getLayout() == rope::PairLayout::neox) {
      Value lo = slice(xr, 0, numFreqs, axis3, 3);
      Value hi = slice(xr, numFreqs, rotary, axis3, 3);
      rotated =
          emit.node("Concat", rType, {emit.node("Neg", hi.getType(), {hi}), lo},
                    {emit.intAttr("axis", 3)});
    } else {
      // Pairs (2i, 2i + 1) -> (-x[2i + 1], x[2i]) on a [.., F, 2] view.
      SmallVector<int64_t> pairShape(rType.getShape());
      pairShape[3] = numFreqs;
      pairShape.push_back(2);
      auto pairType = rType.clone(pairShape);
      Value pairs =
          emit.node("Reshape", pairType,
                    {xr, emit.ints({0, 0, 0, numFreqs, 2}, {5}, "pairs")});
      Value axis4 = emit.ints({4}, {1}, "axis4");
      Value even = slice(pairs, 0, 1, axis4, 4);
      Value odd = slice(pairs, 1, 2, axis4, 4);
      Value swapped = emit.node("Concat", pairType,
                                {emit.node("Neg", odd.getType(), {odd}), even},
                                {emit.intAttr("axis", 4)});
      rotated =
          emit.node("Reshape", rType,
                    {swapped, emit.ints({0, 0, 0, rotary}, {4}, "unpairs")});
    }
    Value y = emit.node("Add", rType,
                        {emit.node("Mul", rType, {xr, tables.cos}),
                         emit.node("Mul", rType, {rotated, tables.sin})});
    if (partial)
      y = emit.node("Concat", type, {y, slice(x, rotary, INT64_MAX, axis3, 3)},
                    {emit.intAttr("axis", 3)});
    return y;
  }

  /// When `x` [B, H, S, D] is Transpose(y, [0, 2, 1, 3]) of y [B, S, H, D]
  /// read by nothing else, the [B, S, H * D] view of y: ONNX Runtime's
  /// kernels walk tokens, heads, channels, and in that layout read and write
  /// memory in order (about 2x faster than through [B, H, S, D] strides,
  /// docs/benchmarks.md). Null otherwise.
  static Value tokenMajorSource(Value x) {
    auto transpose = x.getDefiningOp<onnx::NodeOp>();
    if (!transpose || !transpose.isOnnx("Transpose") || !x.hasOneUse() ||
        transpose.getInputs().size() != 1 ||
        transpose.getIntsAttr("perm") != SmallVector<int64_t>{0, 2, 1, 3})
      return {};
    Value y = transpose.getInputs()[0];
    auto type = dyn_cast<RankedTensorType>(y.getType());
    if (!type || type.getRank() != 4 || type.isDynamicDim(2) ||
        type.isDynamicDim(3))
      return {};
    return y;
  }

  /// `tables` with one row of position ids (ort) or per-token caches
  /// (onnx23) per batch row of `input`: positions given for one sequence
  /// (a Range, [1, S]) broadcast over the batch in rope.apply, but ONNX
  /// Runtime's kernels want the input's batch size there.
  Tables perBatchRow(rope::ApplyOp op, Value input, const Tables &tables,
                     onnx::OnnxBuilder &emit, PatternRewriter &b) const {
    auto posType = cast<RankedTensorType>(op.getPositions().getType());
    int64_t batch = cast<RankedTensorType>(input.getType()).getDimSize(0);
    if (posType.getDimSize(posType.getRank() - 2) != 1 || batch == 1)
      return tables;
    Type i64 = b.getI64Type();
    Value inputBatch = emit.node(
        "Slice", RankedTensorType::get({1}, i64),
        {emit.node(
             "Shape",
             RankedTensorType::get(
                 {cast<RankedTensorType>(input.getType()).getRank()}, i64),
             {input}),
         emit.ints({0}, {1}, "start"), emit.ints({1}, {1}, "end")});
    auto expand = [&](Value v) {
      auto type = cast<RankedTensorType>(v.getType());
      SmallVector<int64_t> ones(type.getRank() - 1, 1), shape(type.getShape());
      shape[0] = batch;
      Value to =
          emit.node("Concat", RankedTensorType::get({type.getRank()}, i64),
                    {inputBatch, emit.ints(ones, {type.getRank() - 1}, "ones")},
                    {emit.intAttr("axis", 0)});
      return emit.node("Expand", type.clone(shape), {v, to});
    };
    if (form == EmitMode::Ort)
      return {tables.cos, tables.sin, expand(tables.ids)};
    return {expand(tables.cos), expand(tables.sin), Value()};
  }

  /// The fused op on `x`: com.microsoft.RotaryEmbedding (ort) or
  /// RotaryEmbedding-23 (onnx23), on the token-major view of x when there is
  /// one (then Reshape back and the Transpose x came from).
  Value rotateFused(rope::ApplyOp op, Value x, const Tables &tables,
                    onnx::OnnxBuilder &emit, PatternRewriter &b,
                    StringRef name) const {
    rope::SemanticsAttr sem = op.getSemantics();
    Value input = x;
    Value source = tokenMajorSource(x);
    auto type = cast<RankedTensorType>(x.getType());
    int64_t heads = type.getDimSize(1), head = type.getDimSize(3);
    if (source) {
      auto srcType = cast<RankedTensorType>(source.getType());
      heads = srcType.getDimSize(2);
      head = srcType.getDimSize(3);
      int64_t hidden = heads * head;
      input =
          emit.node("Reshape",
                    RankedTensorType::get(
                        {srcType.getDimSize(0), srcType.getDimSize(1), hidden},
                        srcType.getElementType()),
                    {source, emit.ints({0, 0, hidden}, {3}, "token_major")});
    }
    SmallVector<NamedAttribute> attrs{emit.intAttr(
        "interleaved", sem.getLayout() == rope::PairLayout::gptj ? 1 : 0)};
    if (ShapedType::isDynamic(head) || head != sem.getRotaryDim())
      attrs.push_back(emit.intAttr("rotary_embedding_dim", sem.getRotaryDim()));
    // A [B, S, H * D] input needs num_heads, and ONNX Runtime's
    // com.microsoft kernel wants it with a partial rotary dim too.
    if (!ShapedType::isDynamic(heads) && (source || form == EmitMode::Ort))
      attrs.push_back(emit.intAttr("num_heads", heads));
    Tables t = perBatchRow(op, input, tables, emit, b);
    Value y;
    if (form == EmitMode::Ort)
      y = onnx::NodeOp::create(b, op.getLoc(), TypeRange{input.getType()},
                               "RotaryEmbedding",
                               ValueRange{input, t.ids, t.cos, t.sin}, attrs,
                               name, "com.microsoft")
              .getResults()[0];
    else
      y = emit.node("RotaryEmbedding", input.getType(), {input, t.cos, t.sin},
                    attrs);
    if (!source)
      return y;
    Value shape = emit.node("Shape", RankedTensorType::get({4}, b.getI64Type()),
                            {source});
    Value back = emit.node("Reshape", source.getType(), {y, shape});
    // The model's Transpose, moved after the rotation: it keeps its name.
    auto transpose = x.getDefiningOp<onnx::NodeOp>();
    return onnx::NodeOp::create(
               b, transpose.getLoc(), TypeRange{x.getType()}, "Transpose",
               ValueRange{back},
               {b.getNamedAttr("perm", b.getDenseI64ArrayAttr({0, 2, 1, 3}))},
               transpose.getNodeName())
        .getResults()[0];
  }

  std::string prefix;
  EmitMode form;
  mutable int64_t counter = 0;
};

} // namespace

LogicalResult mrope::checkRopeEmitOpset(Operation *root, EmitMode emit) {
  if (emit != EmitMode::Onnx23)
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
                                            StringRef prefix, EmitMode emit) {
  patterns.add<LowerApply>(patterns.getContext(), prefix, emit);
}
