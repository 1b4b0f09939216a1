//===- FixTableSites.cpp - fallback: fix sites rope-raise left as ONNX ----===//
//
// rope-raise turns a site into rope.apply when it can; the sites it leaves
// as ONNX nodes (with a remark saying why) are fixed here, on their cos/sin
// tables: degenerate M-RoPE gets true rows in place of the built ones, 1D
// text RoPE gets M-RoPE tables (rope.cos_sin), the vision tower's flat patch
// index gets 2D (h, w) tables. The new rope ops are lowered by
// convert-rope-to-onnx, after the fix.
//
//===----------------------------------------------------------------------===//
#include "FixSitesImpl.h"

#include "mrope/Analysis/ArchTraits.h"
#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Dialect/Onnx/IR/OnnxBuilder.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mrope;
using namespace mrope::fix;
using namespace mrope::match;
using onnx::NodeOp;

InFlightDiagnostic fix::siteError(const RopeSite &site) {
  NodeOp node = site.cosNode;
  return mlir::emitError(node.getLoc()) << "site " << nodeLabel(node) << ": ";
}

static std::string nameOf(Operation *op) {
  if (auto node = dyn_cast_or_null<NodeOp>(op))
    return nodeLabel(node);
  return "?";
}

/// Degenerate M-RoPE: the three rows the graph builds from one 1D tensor
/// are replaced by true [3, B, S] positions.
LogicalResult fix::fixDegenerateTables(RopeSite &site,
                                       DecoderPositions &positions,
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
      "site " + nodeLabel(site.cosNode) +
      " (mrope-degenerate): rows built by " + nameOf(builder) + " from " +
      positionsName(site) + " replaced by " + positions.describe());
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
LogicalResult fix::fixTextTables(RopeSite &site, const FixOptions &options,
                                 DecoderPositions &positions,
                                 SmallVectorImpl<Operation *> &replaced) {
  onnx::GraphOp graph = positions.graph;
  MLIRContext *ctx = graph.getContext();
  int64_t numFreqs = site.invFreq.size();
  if (site.hasPerSectionFreqs() || site.getSections().size() != 1)
    return siteError(site) << "only 1D text RoPE can be rewritten to M-RoPE";
  RankedTensorType oldType = rankedTypeOf(site.cosTable);
  if (!oldType || !isa<FloatType>(oldType.getElementType()) || !site.sinTable ||
      site.sinTable.getType() != oldType)
    return siteError(site) << "its cos/sin tables have no known float type "
                              "(shape inference could not type them), so "
                              "they cannot be rebuilt as [batch, seq, dim] "
                              "M-RoPE tables (a vision tower's tables are "
                              "[patches, dim]); no model written";
  if (oldType.getRank() != 3)
    return siteError(site) << "its tables have rank " << oldType.getRank()
                           << "; only a decoder's [batch, seq, dim] tables "
                              "are rebuilt as M-RoPE; no model written";
  FailureOr<SmallVector<int64_t>> sections =
      textSections(options, numFreqs, [&] { return siteError(site); });
  if (failed(sections))
    return failure();
  int64_t width = oldType.getDimSize(2);
  bool perFrequency = width == numFreqs;
  if (!perFrequency && width != 2 * numFreqs)
    return siteError(site) << "its tables are " << width << " wide for "
                           << numFreqs
                           << " frequencies (neither one column per "
                              "frequency nor one per channel)";
  rope::SectionOrder order = sectionOrderOf(options.arch);
  rope::PairLayout layout =
      perFrequency ? rope::PairLayout::neox : site.getLayout();
  auto semantics = rope::SemanticsAttr::getChecked(
      [&] { return siteError(site); }, ctx, ArrayRef<int64_t>(*sections),
      2 * numFreqs, APFloat(site.getTheta()), layout, order,
      rope::FreqIndex::global);
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
  auto tableType = RankedTensorType::get(
      {positions.shape[1], positions.shape[2], 2 * numFreqs},
      oldType.getElementType());
  auto cosSin = rope::CosSinOp::create(b, loc, tableType, tableType, *rows, inv,
                                       semantics);
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
  positions.result.changes.push_back(describeTextFix(
      "site " + nodeLabel(site.cosNode), site.getLayout(),
      "tables rebuilt as M-RoPE", *sections, order, positions, site));
  return success();
}

/// The vision tower's flattened 1D patch index -> (h, w) positions per
/// patch (visionPositions); the tables become the 2D vision RoPE of
/// visionFreqs.
LogicalResult fix::fixVisionTables(onnx::GraphOp graph, RopeSite &site,
                                   const FixOptions &options, FixResult &result,
                                   SmallVectorImpl<Operation *> &replaced) {
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
  int64_t patches = oldType.getDimSize(0);
  bool compute = options.computePositions;
  FailureOr<Value> rows = visionPositions(graph, patches, compute, result,
                                          [&] { return siteError(site); });
  if (failed(rows))
    return failure();

  SmallVector<float> table = visionFreqs(site.invFreq);
  int64_t half = table.size();
  auto semantics = rope::SemanticsAttr::get(
      ctx, {half, half}, 2 * numFreqs, APFloat(site.getTheta()),
      rope::PairLayout::neox, rope::SectionOrder::contiguous,
      rope::FreqIndex::per_section);

  b.setInsertionPoint(site.cosNode);
  onnx::OnnxBuilder emit(b, graph, loc, "mrope_fix/vision", "mrope_fix");
  auto invType = RankedTensorType::get({half}, b.getF32Type());
  Value inv =
      emit.constant(DenseElementsAttr::get(invType, ArrayRef<float>(table)),
                    "vision_inv_freq");
  Value axes0 = emit.ints({0}, {1}, "vision_axes0");
  auto tableType = RankedTensorType::get({1, patches, oldType.getDimSize(1)},
                                         oldType.getElementType());
  auto cosSin = rope::CosSinOp::create(b, loc, tableType, tableType, *rows, inv,
                                       semantics);
  for (auto [old, table] :
       {std::pair<Value, Value>{site.cosTable, cosSin.getCos()},
        {site.sinTable, cosSin.getSin()}})
    old.replaceAllUsesWith(emit.node("Squeeze", oldType, {table, axes0}));
  replaced.push_back(site.cosNode);
  replaced.push_back(site.sinNode);
  result.changes.push_back(
      "site " + nodeLabel(site.cosNode) +
      " (vision 1d): tables rebuilt as 2D (h, w) RoPE [" +
      std::to_string(half) + ", " + std::to_string(half) + "] from " +
      (compute ? std::string("(h, w) computed from grid_thw")
               : std::string("input 'vision_position_ids'")) +
      " (was " + positionsName(site) + ")");
  return success();
}
