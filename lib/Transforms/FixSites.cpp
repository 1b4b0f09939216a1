//===- FixSites.cpp - rewrite buggy RoPE sites to true M-RoPE -------------===//
#include "mrope/Transforms/FixSites.h"

#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Conversion/RopeToOnnx/RopeToOnnx.h"
#include "mrope/Dialect/Onnx/IR/OnnxBuilder.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Rewrite/FrozenRewritePatternSet.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SetVector.h"

#include <numeric>

using namespace mlir;
using namespace mrope;
using onnx::NodeOp;
using namespace mrope::match;

/// The get_rope_index rule of the declared architecture (Qwen2-VL's for
/// Auto, as the fix's default sections are).
static rope::IndexArch indexArch(Arch arch) {
  switch (arch) {
  case Arch::Qwen25VL:
    return rope::IndexArch::qwen2_5_vl;
  case Arch::Qwen3VL:
    return rope::IndexArch::qwen3_vl;
  default:
    return rope::IndexArch::qwen2_vl;
  }
}

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

/// Errors are located at the site's node, without dumping it.
InFlightDiagnostic siteError(const RopeSite &site) {
  NodeOp node = site.cosNode;
  return mlir::emitError(node.getLoc()) << "site " << nodeLabel(node) << ": ";
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
    // [B, S], or already [3, B, S] (a correct model computing its own).
    int first = type.getRank() == 3 && type.getDimSize(0) == 3 ? 1 : 0;
    shape[1] = type.getDimSize(first);
    shape[2] = type.getDimSize(first + 1);
    if (auto dims = graph.getArgAttrOfType<ArrayAttr>(arg.getArgNumber(),
                                                      onnx::attr::kDimParams))
      for (int i = 0; i < 2 && first + i < static_cast<int>(dims.size()); ++i)
        if (auto s = dyn_cast<StringAttr>(dims[first + i]))
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
                                         FixResult &result) {
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
      b.getI64IntegerAttr(151652), b.getI64IntegerAttr(2), tokensPerSecond,
      rope::IndexArchAttr::get(b.getContext(), indexArch(options.arch)));
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

/// The vision tower's flattened 1D patch index -> (h, w) positions per
/// patch, from a `vision_position_ids` [patches, 2] input (found or added;
/// python: mrope.reference.vision_positions(grid_thw) gives them in 2x2
/// merge-block order) or computed from `grid_thw` in the graph. The tables
/// become the Qwen2-VL vision RoPE: h and w each own half the frequencies,
/// which restart per axis; the table is the graph's own, every other entry
/// (theta^(-2j/(D/2)) = theta^(-4j/D) bit for bit).
LogicalResult fixVisionSite(onnx::GraphOp graph, RopeSite &site, bool compute,
                            FixResult &result) {
  MLIRContext *ctx = graph.getContext();
  OpBuilder b(ctx);
  Location loc = site.cosNode.getLoc();
  int64_t numFreqs = site.invFreq.size();
  RankedTensorType oldType = rankedTypeOf(site.cosTable);
  if (numFreqs % 2 || !oldType || oldType.getRank() != 2 ||
      !isa<FloatType>(oldType.getElementType()) ||
      site.sinTable.getType() != oldType)
    return siteError(site) << "the vision tables are not float [patches, dim] "
                              "with an even number of frequencies";
  Type i64 = b.getI64Type();
  int64_t patches = oldType.getDimSize(0);
  Value hw;
  for (unsigned i = 0, e = graph.getNumArguments(); i < e && !compute; ++i)
    if (graph.getInputName(i) == "vision_position_ids")
      hw = graph.getArgument(i);
  if (hw && (!isIntTensor(hw) || rankOf(hw) != 2 || dimOf(hw, 1) != 2))
    return siteError(site) << "input 'vision_position_ids' is not an integer "
                              "[patches, 2] tensor";
  // The patches the tables are for: the float [patches, ...] input (the
  // hidden states), never an unrelated input such as the grid.
  BlockArgument patchesOf;
  for (BlockArgument arg : graph.getBodyBlock().getArguments())
    if (!patchesOf && isFloatTensor(arg) && rankOf(arg) >= 2 &&
        (ShapedType::isDynamic(patches) || dimOf(arg, 0) == patches))
      patchesOf = arg;
  if (!patchesOf)
    return siteError(site) << "no float [patches, ...] graph input gives the "
                              "patch count of the vision tables";
  if (compute) {
    Value grid;
    for (unsigned i = 0, e = graph.getNumArguments(); i < e; ++i)
      if (graph.getInputName(i) == "grid_thw")
        grid = graph.getArgument(i);
    if (grid && (!isIntTensor(grid) || rankOf(grid) != 2 || dimOf(grid, 1) != 3 ||
                 elementTypeOf(grid) != i64))
      return siteError(site) << "input 'grid_thw' is not int64 [images, 3]";
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
    if (auto dims = graph.getArgAttrOfType<ArrayAttr>(
            patchesOf.getArgNumber(), onnx::attr::kDimParams);
        dims && !dims.empty())
      if (auto name = dyn_cast<StringAttr>(dims[0]);
          name && !name.getValue().empty())
        patchDim = name.getValue().str();
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
      ctx, {half, half}, 2 * numFreqs, APFloat(site.getTheta()),
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
  Type hwElem = elementTypeOf(hw);
  Value rows = emit.node(
      "Transpose", RankedTensorType::get({2, patches}, hwElem), {hw},
      {b.getNamedAttr("perm", DenseI64ArrayAttr::get(ctx, {1, 0}))});
  rows = emit.node("Unsqueeze", RankedTensorType::get({2, 1, patches}, hwElem),
                   {rows, axes});
  auto tableType = RankedTensorType::get({1, patches, oldType.getDimSize(1)},
                                         oldType.getElementType());
  auto cosSin = rope::CosSinOp::create(b, loc, tableType, tableType, rows, inv,
                                       semantics);
  for (auto [old, table] :
       {std::pair<Value, Value>{site.cosTable, cosSin.getCos()},
        {site.sinTable, cosSin.getSin()}})
    old.replaceAllUsesWith(emit.node("Squeeze", oldType, {table, axes0}));
  result.changes.push_back(
      "site " + nodeLabel(site.cosNode) +
      " (vision 1d): tables rebuilt as 2D (h, w) RoPE [" +
      std::to_string(half) + ", " + std::to_string(half) + "] from " +
      (compute ? std::string("(h, w) computed from grid_thw")
               : std::string("input 'vision_position_ids'")) +
      " (was " + positionsName(site) + ")");
  return success();
}

/// The decoder's [3, B, S] positions, made on first use: a new input (that
/// takes the old input's place at the end) or computed in the graph.
struct DecoderPositions {
  onnx::GraphOp graph;
  const FixOptions &options;
  FixResult &result;
  SmallVector<int64_t> shape;
  SmallVector<std::string> params;
  Value value;

  DecoderPositions(onnx::GraphOp graph, const FixOptions &options,
                   FixResult &result, Value oldPositions)
      : graph(graph), options(options), result(result) {
    positionDims(graph, oldPositions, shape, params);
  }
  RankedTensorType type() {
    return RankedTensorType::get(shape, IntegerType::get(graph.getContext(), 64));
  }
  std::string describe() const {
    return options.computePositions
               ? std::string("the positions computed in the graph")
               : "input '" + options.positionsName + "' [3, batch, seq]";
  }
  FailureOr<Value> get() {
    if (value)
      return value;
    if (options.computePositions) {
      FailureOr<Value> computed =
          computePositionsInGraph(graph, options, shape, params, result);
      if (failed(computed))
        return failure();
      value = *computed;
    } else {
      SmallVector<StringRef> refs(params.begin(), params.end());
      value = graph.addInput("mrope_fix.position_ids", type(), refs);
    }
    return value;
  }
};

/// Degenerate M-RoPE: the three rows the graph builds from one 1D tensor
/// are replaced by true [3, B, S] positions.
LogicalResult fixDegenerateSite(RopeSite &site, DecoderPositions &positions,
                                SmallVectorImpl<Operation *> &replaced) {
  if (!site.builtRows)
    return siteError(site) << "could not find where the graph builds its "
                              "position rows from "
                           << positionsName(site);
  Type elem = elementTypeOf(site.builtRows);
  if (!elem || !elem.isInteger(64))
    return siteError(site) << "the in-graph position rows have no known int64 "
                              "type (shape inference could not type them)";
  Operation *builder = site.builtRows.getDefiningOp();
  FailureOr<Value> rows = positions.get();
  if (failed(rows))
    return failure();
  site.builtRows.replaceAllUsesWith(*rows);
  replaced.push_back(builder);
  positions.result.changes.push_back(
      "site " + nodeLabel(site.cosNode) + " (mrope-degenerate): rows built by " +
      nameOf(builder) + " from " + positionsName(site) + " replaced by " +
      positions.describe());
  return success();
}

/// Plain 1D text RoPE under a Qwen VL arch: its tables are rebuilt as
/// M-RoPE of true [3, B, S] positions with the architecture's sections (or
/// --sections), keeping the graph's frequency table, pair layout and
/// rotated range. Per-channel tables ([B, S, 2F], rotate-half or GPT-J
/// pairs) are replaced as they are; per-frequency tables ([B, S, F], which
/// the graph itself spreads over the pairs, e.g. GPT-J's sin|cos cache) by
/// the first F channels of the rotate-half M-RoPE table, which hold
/// frequency i at channel i.
LogicalResult fixTextSite(onnx::GraphOp graph, RopeSite &site,
                          const FixOptions &options,
                          DecoderPositions &positions,
                          SmallVectorImpl<Operation *> &replaced) {
  MLIRContext *ctx = graph.getContext();
  int64_t numFreqs = site.invFreq.size();
  if (site.hasPerSectionFreqs() || site.getSections().size() != 1)
    return siteError(site) << "only 1D text RoPE can be rewritten to M-RoPE";
  RankedTensorType oldType = rankedTypeOf(site.cosTable);
  if (!oldType || !isa<FloatType>(oldType.getElementType()) ||
      !site.sinTable || site.sinTable.getType() != oldType)
    return siteError(site) << "its cos/sin tables have no known float type "
                              "(shape inference could not type them), so "
                              "they cannot be rebuilt as [batch, seq, dim] "
                              "M-RoPE tables (a vision tower's tables are "
                              "[patches, dim]); no model written";
  if (oldType.getRank() != 3)
    return siteError(site) << "its tables have rank " << oldType.getRank()
                           << "; only a decoder's [batch, seq, dim] tables "
                              "are rebuilt as M-RoPE; no model written";
  SmallVector<int64_t> sections;
  if (!options.sections.empty()) {
    sections.assign(options.sections.begin(), options.sections.end());
  } else if (auto def = defaultSections(options.arch, numFreqs)) {
    sections = *def;
  } else {
    return siteError(site) << "no default M-RoPE sections for " << numFreqs
                           << " frequencies; pass --sections";
  }
  if (std::accumulate(sections.begin(), sections.end(), int64_t{0}) !=
          numFreqs ||
      llvm::any_of(sections, [](int64_t s) { return s <= 0; }))
    return siteError(site) << "--sections must be positive and sum to "
                           << numFreqs << " (rotary dim / 2)";
  int64_t width = oldType.getDimSize(2);
  bool perFrequency = width == numFreqs;
  if (!perFrequency && width != 2 * numFreqs)
    return siteError(site) << "its tables are " << width << " wide for "
                           << numFreqs
                           << " frequencies (neither one column per "
                              "frequency nor one per channel)";
  auto order = options.arch == Arch::Qwen3VL ? rope::SectionOrder::interleaved
                                             : rope::SectionOrder::contiguous;
  rope::PairLayout layout =
      perFrequency ? rope::PairLayout::neox : site.getLayout();
  auto semantics = rope::SemanticsAttr::getChecked(
      [&] { return siteError(site); }, ctx, ArrayRef<int64_t>(sections),
      2 * numFreqs,
      APFloat(site.getTheta()), layout, order, rope::FreqIndex::global);
  if (!semantics)
    return failure();

  OpBuilder b(ctx);
  Location loc = site.cosNode.getLoc();
  b.setInsertionPoint(site.cosNode);
  onnx::OnnxBuilder emit(b, graph, loc, "mrope_fix", "mrope_fix");
  auto invType = RankedTensorType::get({numFreqs}, b.getF32Type());
  Value inv = emit.constant(
      DenseElementsAttr::get(invType, ArrayRef<float>(site.invFreq)),
      "inv_freq_table");
  FailureOr<Value> rows = positions.get();
  if (failed(rows))
    return failure();
  auto tableType =
      RankedTensorType::get({positions.shape[1], positions.shape[2],
                             2 * numFreqs},
                            oldType.getElementType());
  auto cosSin = rope::CosSinOp::create(b, loc, tableType, tableType, *rows,
                                       inv, semantics);
  Value cos = cosSin.getCos(), sin = cosSin.getSin();
  if (perFrequency) {
    auto sliced = RankedTensorType::get(
        {positions.shape[1], positions.shape[2], numFreqs},
        oldType.getElementType());
    Value starts = emit.ints({0}, {1}, "freq_begin");
    Value ends = emit.ints({numFreqs}, {1}, "freq_end");
    Value axes = emit.ints({-1}, {1}, "freq_axis");
    cos = emit.node("Slice", sliced, {cos, starts, ends, axes});
    sin = emit.node("Slice", sliced, {sin, starts, ends, axes});
  }
  site.cosTable.replaceAllUsesWith(cos);
  site.sinTable.replaceAllUsesWith(sin);
  replaced.push_back(site.cosNode);
  replaced.push_back(site.sinNode);
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "site " << nodeLabel(site.cosNode) << " (1d";
  if (site.getLayout() == rope::PairLayout::gptj)
    os << ", gptj pairs";
  os << "): tables rebuilt as M-RoPE [";
  llvm::interleaveComma(sections, os);
  os << "]" << (order == rope::SectionOrder::interleaved ? " interleaved" : "")
     << " from " << positions.describe() << " (was " << positionsName(site)
     << ")";
  positions.result.changes.push_back(text);
  return success();
}

/// The model as the fix may rewrite it: one default-domain opset import of
/// version 13 or newer (the fix writes Unsqueeze/Squeeze/Slice with axes
/// inputs), and every node in a domain the model imports.
LogicalResult checkModelForFix(onnx::GraphOp graph) {
  auto module = graph->getParentOfType<ModuleOp>();
  auto opsets =
      module ? module->getAttrOfType<ArrayAttr>(onnx::attr::kOpsetImport)
             : ArrayAttr();
  llvm::StringMap<int64_t> imported;
  int64_t defaults = 0;
  for (Attribute a : opsets ? opsets.getValue() : ArrayRef<Attribute>()) {
    auto opset = dyn_cast<onnx::OpsetAttr>(a);
    if (!opset)
      continue;
    bool isDefault = opset.getDomain().empty() || opset.getDomain() == "ai.onnx";
    defaults += isDefault;
    if (!imported.try_emplace(opset.getDomain(), opset.getVersion()).second)
      return mlir::emitError(graph.getLoc())
             << "the model imports opset domain '" << opset.getDomain()
             << "' twice";
  }
  if (defaults == 0)
    return mlir::emitError(graph.getLoc())
           << "the model imports no default ONNX opset (opset_import)";
  if (defaults > 1)
    return mlir::emitError(graph.getLoc())
           << "the model imports the default ONNX opset twice";
  std::optional<int64_t> version = onnx::getOpsetVersion(graph);
  if (!version || *version < 13)
    return mlir::emitError(graph.getLoc())
           << "the model's ONNX opset is " << version.value_or(0)
           << "; the fix writes opset 13 nodes (convert the model to opset 13 "
              "or newer first)";
  WalkResult walk = graph.walk([&](NodeOp node) {
    StringRef domain = node.getDomain();
    if (!domain.empty() && !imported.count(domain)) {
      mlir::emitError(node.getLoc())
          << "node " << nodeLabel(node) << " (" << node.getOpType()
          << ") is in domain '" << domain
          << "', which the model does not import";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

/// rope.cos_sin and rope.mrope_index -> ONNX nodes, touching nothing else.
LogicalResult lowerNewRopeOps(onnx::GraphOp graph) {
  MLIRContext *ctx = graph.getContext();
  RewritePatternSet patterns(ctx);
  populateRopeToOnnxPatterns(patterns, "mrope_fix");
  FrozenRewritePatternSet frozen(std::move(patterns));
  SmallVector<Operation *> ropeOps;
  graph.walk([&](Operation *op) {
    if (isa<rope::CosSinOp, rope::MRopeIndexOp>(op))
      ropeOps.push_back(op);
  });
  if (ropeOps.empty())
    return success();
  GreedyRewriteConfig config;
  config.setStrictness(GreedyRewriteStrictness::ExistingOps);
  // The patterns report why they cannot lower as errors of their own: one
  // line is enough.
  bool reported = false;
  {
    ScopedDiagnosticHandler seen(ctx, [&](Diagnostic &d) {
      reported |= d.getSeverity() == DiagnosticSeverity::Error;
      return failure(); // still shown by the enclosing handler
    });
    (void)applyOpPatternsGreedily(ropeOps, frozen, config);
  }
  Operation *left = nullptr;
  graph.walk([&](Operation *op) {
    if (!left && isa<rope::CosSinOp, rope::MRopeIndexOp>(op))
      left = op;
  });
  if (left && reported)
    return failure();
  if (left)
    return mlir::emitError(left->getLoc())
           << "lowering the new M-RoPE tables to ONNX nodes failed";
  return success();
}

} // namespace

/// Removes the nodes (and initializers) that only the replaced tables used:
/// the backward closure of `seeds` minus what is still used elsewhere.
std::string mrope::positionsInputName(onnx::GraphOp graph, StringRef base) {
  for (unsigned i = 0, e = graph.getNumArguments(); i < e; ++i)
    if (graph.getInputName(i) == base)
      return (base + "_3d").str();
  return base.str();
}

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

/// Drops a positions input the graph now computes itself.
static LogicalResult removeComputedInput(onnx::GraphOp graph,
                                         BlockArgument input,
                                         FixResult &result) {
  std::string name = graph.getInputName(input.getArgNumber()).str();
  if (failed(graph.eraseArgument(input.getArgNumber())))
    return mlir::emitError(graph.getLoc())
           << "could not remove input '" << name << "'";
  result.changes.push_back("removed input '" + name +
                           "' (the graph computes its positions now)");
  return success();
}

/// --positions compute on a model without bugs: M-RoPE sites that read
/// [3, B, S] positions from a graph input get them computed in the graph
/// instead (get_rope_index), and the input goes. Nothing else applies.
static FailureOr<FixResult> computePositionsOfCorrectModel(onnx::GraphOp graph,
                                                    ArrayRef<RopeSite> sites,
                                                    const FixOptions &options) {
  FixResult result;
  Value input;
  for (const RopeSite &site : sites) {
    bool mrope = site.kind == PositionKind::MRope ||
                 site.kind == PositionKind::MRopeInterleaved;
    if (!mrope || site.source != PositionSource::GraphInput)
      continue;
    if (input && input != site.positions)
      return mlir::emitError(graph.getLoc())
             << "--positions compute: the M-RoPE sites read their positions "
                "from different inputs";
    input = site.positions;
  }
  if (!input) {
    result.notes.push_back("--positions compute: nothing applies (no M-RoPE "
                           "site reads [3, batch, seq] positions from an "
                           "input)");
    return result;
  }
  auto arg = cast<BlockArgument>(input);
  std::string name = graph.getInputName(arg.getArgNumber()).str();
  if (rankOf(input) != 3 || dimOf(input, 0) != 3 ||
      !elementTypeOf(input).isInteger(64))
    return mlir::emitError(graph.getLoc())
           << "--positions compute: input '" << name
           << "' is not int64 [3, batch, seq]";
  if (failed(checkModelForFix(graph)))
    return failure();
  DecoderPositions positions(graph, options, result, input);
  FailureOr<Value> computed = positions.get();
  if (failed(computed))
    return failure();
  input.replaceAllUsesWith(*computed);
  if (failed(lowerNewRopeOps(graph)))
    return failure();
  if (failed(removeComputedInput(graph, arg, result)))
    return failure();
  return result;
}

FailureOr<FixResult> mrope::fixRopeSites(onnx::GraphOp graph,
                                         const FixOptions &options) {
  std::vector<RopeSite> sites = findRopeSites(graph, options.arch);
  FixResult result;
  SmallVector<RopeSite *> buggy;
  for (RopeSite &site : sites)
    if (site.bug)
      buggy.push_back(&site);
  if (buggy.empty())
    return options.computePositions
               ? computePositionsOfCorrectModel(graph, sites, options)
               : FailureOr<FixResult>(result);
  if (failed(checkModelForFix(graph)))
    return failure();

  // The true positions enter as a new input first; it takes the old input's
  // place at the end if nothing else needs the old one.
  Value oldPositions = buggy.front()->positions;
  DecoderPositions positions(graph, options, result, oldPositions);
  SmallVector<Operation *> replaced;
  for (RopeSite *site : buggy) {
    LogicalResult fixed = failure();
    switch (site->kind) {
    case PositionKind::MRopeDegenerate:
      fixed = fixDegenerateSite(*site, positions, replaced);
      break;
    case PositionKind::OneD:
      if (site->vision) {
        fixed = fixVisionSite(graph, *site, options.computePositions, result);
        replaced.push_back(site->cosNode);
        replaced.push_back(site->sinNode);
      } else {
        fixed = fixTextSite(graph, *site, options, positions, replaced);
      }
      break;
    case PositionKind::TwoD:
    case PositionKind::MRope:
    case PositionKind::MRopeInterleaved:
      fixed = siteError(*site) << "cannot fix a '"
                               << positionKindName(site->kind) << "' site";
      break;
    }
    if (failed(fixed))
      return failure();
    ++result.fixedSites;
  }

  if (failed(lowerNewRopeOps(graph)))
    return failure();

  // Read the old positions before erasing: a Range that produced them may
  // be among what goes, and its result must not be touched after that.
  auto oldArg = dyn_cast_or_null<BlockArgument>(oldPositions);
  int64_t erased = eraseDeadProducers(graph, replaced);
  result.changes.push_back("removed " + std::to_string(erased) +
                           " node(s) only the old tables used");

  bool oldUnused = oldArg && oldArg.getOwner() == &graph.getBodyBlock() &&
                   oldArg.use_empty();
  if (!positions.value)
    return result; // only vision sites: no decoder positions input
  if (options.computePositions) {
    // The graph computes its positions: an old positions input nothing
    // reads any more goes.
    if (oldUnused && failed(removeComputedInput(graph, oldArg, result)))
      return failure();
    return result;
  }

  // The new input takes the old positions input's place when that one is
  // now unused; otherwise it is appended under its own name.
  unsigned newIndex = cast<BlockArgument>(positions.value).getArgNumber();
  SmallVector<StringRef> paramRefs(positions.params.begin(),
                                   positions.params.end());
  if (oldUnused) {
    unsigned oldIndex = oldArg.getArgNumber();
    std::string oldName = graph.getInputName(oldIndex).str();
    graph.setInputType(oldIndex, positions.type(), paramRefs);
    positions.value.replaceAllUsesWith(oldArg);
    if (failed(graph.eraseArgument(newIndex)))
      return mlir::emitError(graph.getLoc())
             << "could not remove a temporary input";
    result.changes.push_back("input '" + oldName +
                             "' is now int64 [3, batch, seq] (was [batch, seq])");
  } else {
    std::string name = positionsInputName(graph, options.positionsName);
    graph.setArgAttr(newIndex, onnx::attr::kName,
                     StringAttr::get(graph.getContext(), name));
    result.changes.push_back("added input '" + name +
                             "' int64 [3, batch, seq]" +
                             (oldArg ? " (the old positions input is still "
                                       "used elsewhere and stays)"
                                     : ""));
  }
  return result;
}
