//===- FixSites.cpp - rewrite buggy RoPE sites to true M-RoPE -------------===//
#include "mrope/Transforms/FixSites.h"

#include "mrope/Conversion/RopeToOnnx/RopeToOnnx.h"
#include "mrope/Dialect/Onnx/IR/OnnxBuilder.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/Rewrite/FrozenRewritePatternSet.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace mrope;
using onnx::NodeOp;

namespace {

/// The architecture's M-RoPE sections scaled to `numFreqs` frequencies.
std::optional<SmallVector<int64_t>> defaultSections(Arch arch,
                                                    int64_t numFreqs) {
  SmallVector<int64_t> base = arch == Arch::Qwen3VL
                                  ? SmallVector<int64_t>{24, 20, 20}
                                  : SmallVector<int64_t>{16, 24, 24};
  SmallVector<int64_t> sections;
  for (int64_t s : base) {
    if ((s * numFreqs) % 64)
      return std::nullopt;
    sections.push_back(s * numFreqs / 64);
  }
  return sections;
}

std::string nameOf(Operation *op) {
  if (auto node = dyn_cast_or_null<NodeOp>(op))
    return nodeLabel(node);
  return "?";
}

/// (batch, seq) dims for the new input: from the old [B, S] positions input
/// when there is one, else from the first graph input of rank >= 2.
void positionDims(onnx::GraphOp graph, Value oldPositions,
                  SmallVectorImpl<int64_t> &shape,
                  SmallVectorImpl<std::string> &params) {
  shape.assign({3, ShapedType::kDynamic, ShapedType::kDynamic});
  params.assign({"", "batch", "sequence"});
  auto take = [&](BlockArgument arg) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || type.getRank() < 2)
      return false;
    shape[1] = type.getDimSize(0);
    shape[2] = type.getDimSize(1);
    if (auto dims = graph.getArgAttrOfType<ArrayAttr>(arg.getArgNumber(),
                                                      onnx::attr::kDimParams))
      for (int i = 0; i < 2 && i < static_cast<int>(dims.size()); ++i)
        if (auto s = dyn_cast<StringAttr>(dims[i]))
          params[i + 1] = s.getValue().str();
    return true;
  };
  if (auto arg = dyn_cast_or_null<BlockArgument>(oldPositions);
      arg && arg.getOwner() == &graph.getBodyBlock() && take(arg))
    return;
  for (BlockArgument arg : graph.getBodyBlock().getArguments())
    if (take(arg))
      return;
}

/// --positions compute: rope.mrope_index over graph inputs (found by name
/// or added), rope_deltas as a new output; returns the [3, B, S] positions.
FailureOr<Value> computePositionsInGraph(onnx::GraphOp graph,
                                         const FixOptions &options,
                                         ArrayRef<int64_t> shape,
                                         ArrayRef<std::string> params,
                                         FixResult &result,
                                         std::string &error) {
  OpBuilder b(graph.getContext());
  Location loc = graph.getLoc();
  // A KV-cache decoder: [batch, kv_heads, past, dim] past keys.
  Value pastKey;
  for (unsigned i = 0, e = graph.getNumArguments(); i < e; ++i)
    if (graph.getInputName(i).starts_with("past_key_values") && !pastKey)
      pastKey = graph.getArgument(i);
  auto input = [&](StringRef name, Type type,
                   ArrayRef<StringRef> dims) -> Value {
    for (unsigned i = 0, e = graph.getNumArguments(); i < e; ++i)
      if (graph.getInputName(i) == name)
        return graph.getArgument(i);
    result.changes.push_back("added input '" + name.str() + "'");
    return graph.addInput(name, type, dims);
  };
  Type i64 = b.getI64Type();
  StringRef batch = params[1], seq = params[2];
  auto tokens = RankedTensorType::get({shape[1], shape[2]}, i64);
  auto grids = RankedTensorType::get({ShapedType::kDynamic, 3}, i64);
  Value ids = input("input_ids", tokens, {batch, seq});
  Value mask = input("attention_mask", tokens, {batch, seq});
  Value images = input("image_grid_thw", grids, {"num_images", ""});
  Value videos = input("video_grid_thw", grids, {"num_videos", ""});
  Value seconds;
  FloatAttr tokensPerSecond;
  if (options.arch == Arch::Qwen25VL) {
    seconds = input("second_per_grid_ts",
                    RankedTensorType::get({ShapedType::kDynamic}, b.getF32Type()),
                    {"num_videos"});
    tokensPerSecond = b.getF32FloatAttr(2.0f); // released Qwen2.5-VL configs
  }
  b.setInsertionPointToStart(&graph.getBodyBlock());
  int64_t dyn = ShapedType::kDynamic;
  onnx::OnnxBuilder emit(b, graph, loc, "mrope_fix/positions",
                         "mrope_fix.positions");
  auto node = [&](StringRef opType, Type type, ValueRange inputs,
                  ArrayRef<NamedAttribute> attrs = {}) {
    return emit.node(opType, type, inputs, attrs);
  };
  auto ints = [&](ArrayRef<int64_t> values, ArrayRef<int64_t> shape) {
    return emit.ints(values, shape);
  };
  auto scalarType = RankedTensorType::get({}, i64);
  auto bsType = RankedTensorType::get({shape[1], shape[2]}, i64);
  Value seqLen, indexMask = mask;
  if (pastKey) {
    // The mask covers past and new tokens; the index wants the new ones.
    Value idsShape = node("Shape", RankedTensorType::get({2}, i64), {ids});
    seqLen = node("Gather", scalarType, {idsShape, ints({1}, {})},
                  {b.getNamedAttr("axis", b.getI64IntegerAttr(0))});
    Value start = node("Unsqueeze", RankedTensorType::get({1}, i64),
                       {node("Neg", scalarType, {seqLen}), ints({0}, {1})});
    indexMask = node("Slice", RankedTensorType::get({shape[1], dyn}, i64),
                     {mask, start, ints({INT64_MAX}, {1}), ints({1}, {1})});
  }
  auto index = rope::MRopeIndexOp::create(
      b, loc, RankedTensorType::get(shape, i64),
      RankedTensorType::get({shape[1], 1}, i64), ids, indexMask, images, videos,
      seconds, b.getI64IntegerAttr(151655), b.getI64IntegerAttr(151656),
      b.getI64IntegerAttr(151652), b.getI64IntegerAttr(2), tokensPerSecond);
  if (!pastKey) {
    graph.addOutput("rope_deltas", index.getRopeDeltas(), {batch, ""});
    result.changes.push_back(
        "positions computed in the graph from input_ids, attention_mask and "
        "the grids (get_rope_index); added output 'rope_deltas'");
    return index.getPositions();
  }
  // Decode steps (past > 0) continue as text: past + arange(S) + the
  // rope_deltas of the prefill on all three rows; the prefill (past = 0)
  // computes positions and deltas from the prompt.
  Value pastDeltas = input("past_rope_deltas",
                           RankedTensorType::get({shape[1], 1}, i64),
                           {batch, ""});
  Value pastShape = node("Shape", RankedTensorType::get({4}, i64), {pastKey});
  Value pastLen = node("Gather", scalarType, {pastShape, ints({2}, {})},
                       {b.getNamedAttr("axis", b.getI64IntegerAttr(0))});
  Value steps = node("Range", RankedTensorType::get({shape[2]}, i64),
                     {ints({0}, {}), seqLen, ints({1}, {})});
  Value decode = node("Add", bsType,
                      {node("Add", RankedTensorType::get({shape[2]}, i64),
                            {steps, pastLen}),
                       pastDeltas});
  Value decode3 = node(
      "Expand", RankedTensorType::get(shape, i64),
      {node("Unsqueeze", RankedTensorType::get({1, shape[1], shape[2]}, i64),
            {decode, ints({0}, {1})}),
       ints({3, 1, 1}, {3})});
  Value prefill = node("Equal", RankedTensorType::get({}, b.getI1Type()),
                       {pastLen, ints({0}, {})});
  Value positions = node("Where", RankedTensorType::get(shape, i64),
                         {prefill, index.getPositions(), decode3});
  Value deltas = node("Where", RankedTensorType::get({shape[1], 1}, i64),
                      {prefill, index.getRopeDeltas(), pastDeltas});
  graph.addOutput("rope_deltas", deltas, {batch, ""});
  result.changes.push_back(
      "positions computed in the graph: from input_ids, attention_mask and "
      "the grids (get_rope_index) when the past is empty, else past length + "
      "arange + input 'past_rope_deltas'; added output 'rope_deltas' (feed it "
      "back as past_rope_deltas)");
  return positions;
}

/// The vision tower's flattened 1D patch index -> (h, w) positions per
/// patch from a `vision_position_ids` [patches, 2] input (found or added;
/// python: mrope.reference.vision_positions(grid_thw) gives them in 2x2
/// merge-block order). The tables become the Qwen2-VL vision RoPE: h and w
/// each own half the frequencies, which restart per axis; the table is the
/// graph's own, every other entry (theta^(-2j/(D/2)) = theta^(-4j/D) bit for
/// bit).
/// (h, w) of every patch from `grid_thw` [images, 3] in the graph, as
/// Qwen2VisionTransformer.rot_pos_emb orders them: image by image, frame by
/// frame, m x m merge block by block (row-major), row-major inside a block.
/// Closed form per patch p: image k = #ends <= p, r = (p - start_k) mod h*w,
/// block = r / m^2, e = r mod m^2, h = (block / (w/m)) m + e / m,
/// w = (block mod (w/m)) m + e mod m.
Value visionPositionsInGraph(onnx::GraphOp graph, Value gridThw,
                             Value patchesOf, int64_t patches, int64_t merge,
                             Location loc) {
  OpBuilder b(graph.getContext());
  Type i64 = b.getI64Type();
  int64_t dyn = ShapedType::kDynamic;
  auto vec = RankedTensorType::get({patches}, i64);
  auto perImage = RankedTensorType::get({dyn}, i64);
  auto scalarType = RankedTensorType::get({}, i64);
  b.setInsertionPointToStart(&graph.getBodyBlock());
  onnx::OnnxBuilder emit(b, graph, loc, "mrope_fix/vision_positions",
                         "mrope_fix.vision");
  auto node = [&](StringRef opType, Type type, ValueRange inputs,
                  ArrayRef<NamedAttribute> attrs = {}) {
    return emit.node(opType, type, inputs, attrs);
  };
  auto ints = [&](ArrayRef<int64_t> values, ArrayRef<int64_t> shape) {
    return emit.ints(values, shape);
  };
  auto axis = [&](int64_t a) {
    return b.getNamedAttr("axis", b.getI64IntegerAttr(a));
  };
  Value zero = ints({0}, {}), one = ints({1}, {}), m = ints({merge}, {});
  Value mm = ints({merge * merge}, {});
  Value shape = node("Shape", RankedTensorType::get({dyn}, i64), {patchesOf});
  Value n = node("Gather", scalarType, {shape, zero}, {axis(0)});
  Value p = node("Range", vec, {zero, n, one});
  auto column = [&](int64_t c) {
    return node("Gather", perImage, {gridThw, ints({c}, {})}, {axis(1)});
  };
  Value t = column(0), h = column(1), w = column(2);
  Value hw = node("Mul", perImage, {h, w});
  Value count = node("Mul", perImage, {t, hw});
  Value ends = node("CumSum", perImage, {count, zero});
  Value starts = node("Sub", perImage, {ends, count});
  Value endsRow = node("Unsqueeze", RankedTensorType::get({1, dyn}, i64),
                       {ends, ints({0}, {1})});
  Value pCol = node("Unsqueeze", RankedTensorType::get({patches, 1}, i64),
                    {p, ints({1}, {1})});
  Value done = node("Cast", RankedTensorType::get({patches, dyn}, i64),
                    {node("LessOrEqual",
                          RankedTensorType::get({patches, dyn}, b.getI1Type()),
                          {endsRow, pCol})},
                    {b.getNamedAttr("to", b.getI64IntegerAttr(7))});
  Value k = node("ReduceSum", vec, {done, ints({1}, {1})},
                 {b.getNamedAttr("keepdims", b.getI64IntegerAttr(0))});
  auto at = [&](Value perImageValue) {
    return node("Gather", vec, {perImageValue, k}, {axis(0)});
  };
  Value r = node("Mod", vec, {node("Sub", vec, {p, at(starts)}), at(hw)});
  Value block = node("Div", vec, {r, mm});
  Value e = node("Mod", vec, {r, mm});
  Value blocksPerRow = node("Div", vec, {at(w), m});
  Value hpos = node("Add", vec,
                    {node("Mul", vec, {node("Div", vec, {block, blocksPerRow}), m}),
                     node("Div", vec, {e, m})});
  Value wpos = node("Add", vec,
                    {node("Mul", vec, {node("Mod", vec, {block, blocksPerRow}), m}),
                     node("Mod", vec, {e, m})});
  auto col = RankedTensorType::get({patches, 1}, i64);
  Value axes1 = ints({1}, {1});
  return node("Concat", RankedTensorType::get({patches, 2}, i64),
              {node("Unsqueeze", col, {hpos, axes1}),
               node("Unsqueeze", col, {wpos, axes1})},
              {axis(1)});
}

LogicalResult fixVisionSite(onnx::GraphOp graph, RopeSite &site,
                            bool compute, FixResult &result,
                            std::string &error) {
  MLIRContext *ctx = graph.getContext();
  OpBuilder b(ctx);
  Location loc = site.cosNode.getLoc();
  int64_t numFreqs = site.invFreq.size();
  auto oldType = dyn_cast<RankedTensorType>(site.cosNode.getResults()[0].getType());
  if (numFreqs % 2 || !oldType || oldType.getRank() != 2) {
    error = "site " + nodeLabel(site.cosNode) +
            ": the vision tables are not [patches, dim] with an even number "
            "of frequencies";
    return failure();
  }
  Type i64 = b.getI64Type();
  int64_t patches = oldType.getDimSize(0);
  Value hw;
  for (unsigned i = 0, e = graph.getNumArguments(); i < e && !compute; ++i)
    if (graph.getInputName(i) == "vision_position_ids")
      hw = graph.getArgument(i);
  if (compute) {
    // The patches: the first input with a [patches, ...] shape.
    Value patchesOf;
    for (BlockArgument arg : graph.getBodyBlock().getArguments())
      if (auto type = dyn_cast<RankedTensorType>(arg.getType());
          type && type.getRank() >= 1 && !patchesOf)
        patchesOf = arg;
    Value grid;
    for (unsigned i = 0, e = graph.getNumArguments(); i < e; ++i)
      if (graph.getInputName(i) == "grid_thw")
        grid = graph.getArgument(i);
    if (!grid) {
      grid = graph.addInput("grid_thw",
                            RankedTensorType::get({ShapedType::kDynamic, 3}, i64),
                            {StringRef("num_images"), StringRef("")});
      result.changes.push_back("added input 'grid_thw' int64 [images, 3]");
    }
    hw = visionPositionsInGraph(graph, grid, patchesOf, patches, 2, loc);
    result.changes.push_back("(h, w) of every patch computed in the graph from "
                             "grid_thw (2x2 merge-block order)");
  } else if (!hw) {
    std::string patchDim = "patches";
    for (BlockArgument arg : graph.getBodyBlock().getArguments())
      if (auto dims = graph.getArgAttrOfType<ArrayAttr>(arg.getArgNumber(),
                                                        onnx::attr::kDimParams))
        if (!dims.empty())
          if (auto name = dyn_cast<StringAttr>(dims[0]);
              name && !name.getValue().empty()) {
            patchDim = name.getValue().str();
            break;
          }
    hw = graph.addInput("vision_position_ids",
                        RankedTensorType::get({patches, 2}, i64),
                        {StringRef(patchDim), StringRef("")});
    result.changes.push_back("added input 'vision_position_ids' int64 "
                             "[patches, 2] ((h, w) per patch)");
  }

  SmallVector<float> table;
  for (int64_t j = 0; j < numFreqs; j += 2)
    table.push_back(site.invFreq[j]);
  int64_t half = table.size();
  auto semantics = rope::SemanticsAttr::get(
      ctx, {half, half}, 2 * numFreqs, APFloat(site.theta),
      rope::PairLayout::neox, rope::SectionOrder::contiguous,
      rope::FreqIndex::per_section);

  b.setInsertionPoint(site.cosNode);
  onnx::OnnxBuilder emit(b, graph, loc, "mrope_fix/vision", "mrope_fix");
  auto invType = RankedTensorType::get({half}, b.getF32Type());
  Value inv = emit.constant(
      DenseElementsAttr::get(invType, ArrayRef<float>(table)), "vision_inv_freq");
  Value axes = emit.ints({1}, {1}, "vision_axes");
  Value axes0 = emit.ints({0}, {1}, "vision_axes0");
  // [patches, 2] -> [2, 1, patches]: two position rows of one "batch".
  Value rows = emit.node(
      "Transpose", RankedTensorType::get({2, patches}, i64), {hw},
      {b.getNamedAttr("perm", DenseI64ArrayAttr::get(ctx, {1, 0}))});
  rows = emit.node("Unsqueeze", RankedTensorType::get({2, 1, patches}, i64),
                   {rows, axes});
  auto tableType =
      RankedTensorType::get({1, patches, oldType.getDimSize(1)},
                            oldType.getElementType());
  auto cosSin = rope::CosSinOp::create(b, loc, tableType, tableType, rows, inv,
                                       semantics);
  for (auto [old, table] : {std::pair<Value, Value>{site.cosNode.getResults()[0],
                                                    cosSin.getCos()},
                            {site.sinNode.getResults()[0], cosSin.getSin()}})
    old.replaceAllUsesWith(emit.node("Squeeze", oldType, {table, axes0}));
  result.changes.push_back("site " + nodeLabel(site.cosNode) +
                           " (vision 1d): tables rebuilt as 2D (h, w) RoPE [" +
                           std::to_string(half) + ", " + std::to_string(half) +
                           "] from " +
                           (compute ? std::string("(h, w) computed from grid_thw")
                                    : std::string("input 'vision_position_ids'")) +
                           " (was " +
                           site.positionsName() + ")");
  return success();
}

} // namespace

/// Removes the nodes (and initializers) that only the replaced tables used:
/// the backward closure of `seeds` minus what is still used elsewhere.
int64_t mrope::eraseDeadProducers(onnx::GraphOp graph,
                                  ArrayRef<Operation *> seeds) {
  llvm::SetVector<Operation *> candidates;
  SmallVector<Operation *> work(seeds.begin(), seeds.end());
  while (!work.empty()) {
    Operation *op = work.pop_back_val();
    if (!op || !isa<NodeOp, onnx::InitializerOp, onnx::NoneOp>(op) ||
        !candidates.insert(op))
      continue;
    for (Value operand : op->getOperands())
      work.push_back(operand.getDefiningOp());
  }
  int64_t erased = 0;
  // The body is in topological order: users die before their producers.
  for (Operation &op :
       llvm::make_early_inc_range(llvm::reverse(graph.getBodyBlock()))) {
    if (candidates.contains(&op) && op.use_empty()) {
      erased += isa<NodeOp>(op);
      op.erase();
    }
  }
  return erased;
}

FailureOr<FixResult> mrope::fixRopeSites(onnx::GraphOp graph,
                                         const FixOptions &options,
                                         std::string &error) {
  std::vector<RopeSite> sites = findRopeSites(graph, options.arch);
  FixResult result;
  SmallVector<RopeSite *> buggy;
  for (RopeSite &site : sites)
    if (site.bug)
      buggy.push_back(&site);
  if (buggy.empty())
    return result;

  MLIRContext *ctx = graph.getContext();
  OpBuilder b(ctx);
  Location loc = graph.getLoc();

  // The true positions enter as a new input first; it takes the old input's
  // place at the end if nothing else needs the old one.
  Value oldPositions = buggy.front()->positions;
  SmallVector<int64_t> shape;
  SmallVector<std::string> params;
  positionDims(graph, oldPositions, shape, params);
  SmallVector<StringRef> paramRefs(params.begin(), params.end());
  auto positionsType = RankedTensorType::get(shape, b.getI64Type());
  // The decoder's [3, B, S] positions, made on first use: a new input (that
  // takes the old input's place at the end) or computed in the graph.
  Value positions;
  auto decoderPositions = [&]() -> FailureOr<Value> {
    if (positions)
      return positions;
    if (options.computePositions) {
      FailureOr<Value> computed = computePositionsInGraph(
          graph, options, shape, params, result, error);
      if (failed(computed))
        return failure();
      positions = *computed;
    } else {
      positions =
          graph.addInput("mrope_fix.position_ids", positionsType, paramRefs);
    }
    return positions;
  };

  SmallVector<Operation *> replaced;
  for (RopeSite *site : buggy) {
    std::string siteName = "site " + nameOf(site->cosNode);
    if (site->kind == "mrope-degenerate") {
      if (!site->builtRows) {
        error = siteName + ": could not find where the graph builds its " +
                "position rows from " + site->positionsName();
        return failure();
      }
      Operation *builder = site->builtRows.getDefiningOp();
      FailureOr<Value> rows = decoderPositions();
      if (failed(rows))
        return failure();
      Type want = cast<ShapedType>(site->builtRows.getType()).getElementType();
      if (want && want != b.getI64Type()) {
        error = siteName + ": the in-graph rows are not int64";
        return failure();
      }
      site->builtRows.replaceAllUsesWith(*rows);
      replaced.push_back(builder);
      result.changes.push_back(
          siteName + " (mrope-degenerate): rows built by " + nameOf(builder) +
          " from " + site->positionsName() + " replaced by " +
          (options.computePositions
               ? std::string("the positions computed in the graph")
               : "input '" + options.positionsName + "' [3, batch, seq]"));
    } else if (site->kind == "1d" && site->vision) {
      if (failed(fixVisionSite(graph, *site, options.computePositions, result,
                               error)))
        return failure();
      replaced.push_back(site->cosNode);
      replaced.push_back(site->sinNode);
    } else if (site->kind == "1d") {
      if (site->perSectionFreqs || site->sections.size() != 1 ||
          (!site->sinNode.isOnnx("Sin") && !site->sinNode.isOnnx("Gather"))) {
        error = siteName + ": only 1D text RoPE can be rewritten to M-RoPE";
        return failure();
      }
      int64_t numFreqs = site->invFreq.size();
      SmallVector<int64_t> sections;
      if (!options.sections.empty()) {
        sections.assign(options.sections.begin(), options.sections.end());
      } else if (auto def = defaultSections(options.arch, numFreqs)) {
        sections = *def;
      } else {
        error = siteName + ": no default M-RoPE sections for " +
                std::to_string(numFreqs) + " frequencies; pass --sections";
        return failure();
      }
      if (std::accumulate(sections.begin(), sections.end(), int64_t{0}) !=
          numFreqs) {
        error = siteName + ": --sections must sum to " +
                std::to_string(numFreqs) + " (rotary dim / 2)";
        return failure();
      }
      auto order = options.arch == Arch::Qwen3VL ? rope::SectionOrder::interleaved
                                                 : rope::SectionOrder::contiguous;
      auto layout = site->layout == "gptj" ? rope::PairLayout::gptj
                                           : rope::PairLayout::neox;
      auto semantics = rope::SemanticsAttr::get(
          ctx, sections, 2 * numFreqs, APFloat(site->theta), layout, order,
          rope::FreqIndex::global);

      b.setInsertionPoint(site->cosNode);
      auto invType = RankedTensorType::get({numFreqs}, b.getF32Type());
      Value inv = onnx::OnnxBuilder(b, graph, loc, "mrope_fix", "mrope_fix")
                      .constant(DenseElementsAttr::get(
                                    invType, ArrayRef<float>(site->invFreq)),
                                "inv_freq_table");
      Value oldCos = site->cosNode.getResults()[0];
      auto oldType = dyn_cast<RankedTensorType>(oldCos.getType());
      auto tableType = RankedTensorType::get(
          {shape[1], shape[2], 2 * numFreqs},
          oldType ? oldType.getElementType() : b.getF32Type());
      FailureOr<Value> rows = decoderPositions();
      if (failed(rows))
        return failure();
      auto cosSin = rope::CosSinOp::create(b, site->cosNode.getLoc(), tableType,
                                           tableType, *rows, inv, semantics);
      oldCos.replaceAllUsesWith(cosSin.getCos());
      site->sinNode.getResults()[0].replaceAllUsesWith(cosSin.getSin());
      replaced.push_back(site->cosNode);
      replaced.push_back(site->sinNode);
      std::string text;
      llvm::raw_string_ostream os(text);
      os << siteName << " (1d): tables rebuilt as M-RoPE [";
      llvm::interleaveComma(sections, os);
      os << "]" << (order == rope::SectionOrder::interleaved ? " interleaved" : "")
         << " from "
         << (options.computePositions
                 ? std::string("the positions computed in the graph")
                 : "input '" + options.positionsName + "' [3, batch, seq]")
         << " (was " << site->positionsName() << ")";
      result.changes.push_back(text);
    } else {
      error = siteName + ": cannot fix a '" + site->kind + "' site";
      return failure();
    }
    ++result.fixedSites;
  }

  // rope.cos_sin -> ONNX nodes, touching nothing else.
  {
    RewritePatternSet patterns(ctx);
    populateRopeToOnnxPatterns(patterns, "mrope_fix");
    FrozenRewritePatternSet frozen(std::move(patterns));
    SmallVector<Operation *> cosSinOps;
    graph.walk([&](Operation *op) {
      if (isa<rope::CosSinOp, rope::MRopeIndexOp>(op))
        cosSinOps.push_back(op);
    });
    GreedyRewriteConfig config;
    config.setStrictness(GreedyRewriteStrictness::ExistingOps);
    if (!cosSinOps.empty() &&
        failed(applyOpPatternsGreedily(cosSinOps, frozen, config))) {
      error = "lowering the new M-RoPE tables to ONNX nodes failed";
      return failure();
    }
    bool left = false;
    graph.walk([&](Operation *op) {
      left |= isa<rope::CosSinOp, rope::MRopeIndexOp>(op);
    });
    if (left) {
      error = "lowering the new M-RoPE tables to ONNX nodes failed";
      return failure();
    }
  }

  int64_t erased = eraseDeadProducers(graph, replaced);
  result.changes.push_back("removed " + std::to_string(erased) +
                           " node(s) only the old tables used");

  auto oldArg = dyn_cast<BlockArgument>(oldPositions);
  if (!positions)
    return result; // only vision sites: no decoder positions input
  if (options.computePositions) {
    // The graph computes its positions: an old positions input nothing
    // reads any more goes.
    if (oldArg && oldArg.getOwner() == &graph.getBodyBlock() &&
        oldArg.use_empty()) {
      std::string oldName = graph.getInputName(oldArg.getArgNumber()).str();
      if (failed(graph.eraseArgument(oldArg.getArgNumber()))) {
        error = "could not remove input '" + oldName + "'";
        return failure();
      }
      result.changes.push_back("removed input '" + oldName +
                               "' (the graph computes its positions now)");
    }
    return result;
  }

  // The new input takes the old positions input's place when that one is
  // now unused; otherwise it is appended under its own name.
  unsigned newIndex = cast<BlockArgument>(positions).getArgNumber();
  if (oldArg && oldArg.getOwner() == &graph.getBodyBlock() &&
      oldArg.use_empty()) {
    unsigned oldIndex = oldArg.getArgNumber();
    std::string oldName = graph.getInputName(oldIndex).str();
    graph.setInputType(oldIndex, positionsType, paramRefs);
    positions.replaceAllUsesWith(oldArg);
    if (failed(graph.eraseArgument(newIndex))) {
      error = "could not remove a temporary input";
      return failure();
    }
    result.changes.push_back("input '" + oldName +
                             "' is now int64 [3, batch, seq] (was [batch, seq])");
  } else {
    llvm::StringSet<> names;
    for (unsigned i = 0, e = graph.getNumArguments(); i < e; ++i)
      names.insert(graph.getInputName(i));
    std::string name = options.positionsName;
    if (names.contains(name))
      name += "_3d";
    graph.setArgAttr(newIndex, onnx::attr::kName, b.getStringAttr(name));
    result.changes.push_back("added input '" + name +
                             "' int64 [3, batch, seq]" +
                             (oldArg ? " (the old positions input is still "
                                       "used elsewhere and stays)"
                                     : ""));
  }
  return result;
}
