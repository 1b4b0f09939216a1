//===- FixApplySites.cpp - fix raised RoPE sites on their rope.apply ------===//
//
// A site rope-raise turned into rope.apply says everything the fix needs in
// the op: the semantics (sections, rotary dim, theta, pair layout, order),
// the graph's own inv_freq as `freqs`, and the positions as the graph
// computes them. So each fixer below changes only `#rope.semantics` and the
// positions operand; the rotated range, the frequency values and the pair
// layout stay as the graph had them, and no table is rebuilt (the tables
// come from convert-rope-to-onnx afterwards).
//
//===----------------------------------------------------------------------===//
#include "FixSitesImpl.h"
#include "TokenReorder.h"

#include "mrope/Analysis/ArchTraits.h"
#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/PositionProbe.h"
#include "mrope/Analysis/PositionWalk.h"
#include "mrope/Analysis/RopeClassify.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Dialect/Onnx/IR/OnnxBuilder.h"
#include "mrope/Transforms/RopeRaise.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mrope;
using namespace mrope::fix;
using namespace mrope::match;

InFlightDiagnostic ApplySite::error() const {
  return mlir::emitError(const_cast<rope::ApplyOp &>(op).getLoc())
         << label << ": ";
}

/// A vision tower's rotation: marked, or q/k that rope-raise made from the
/// tower's rank-3 [tokens, heads, dim] by a Transpose and an Unsqueeze (in
/// either order) to [1, heads, tokens, dim].
static bool isVisionApply(rope::ApplyOp op) {
  if (op->hasAttr(kRaisedVisionAttr))
    return true;
  return llvm::all_of(op.getInputs(), [](Value x) {
    // The rank-3 view may be the Transpose's result (its input may be
    // unranked where shape inference stopped).
    bool transposed = false, unsqueezed = false, rank3 = false;
    for (int step = 0; step < 2; ++step) {
      auto node = dyn_cast_or_null<onnx::NodeOp>(x.getDefiningOp());
      if (!node || node.getInputs().empty() ||
          !(node.isOnnx("Transpose") || node.isOnnx("Unsqueeze")))
        return false;
      transposed |= node.isOnnx("Transpose");
      unsqueezed |= node.isOnnx("Unsqueeze");
      x = node.getInputs()[0];
      rank3 |= rankOf(x) == 3;
    }
    return transposed && unsqueezed && rank3;
  });
}

ApplySite fix::analyseApply(rope::ApplyOp op, Arch arch) {
  ApplySite apply{op, RopeSite(), "site rope.apply"};
  // The index rope-raise gives the op is the site's in the report.
  if (std::optional<int64_t> index = raisedSiteIndex(op))
    apply.label = "site " + std::to_string(*index);
  RopeSite &site = apply.site;
  site.semantics = op.getSemantics();
  if (Value inv = op.getInvFreq())
    if (std::optional<SmallVector<float>> values = floatsOf(inv))
      site.invFreq = *values;
  site.vision = isVisionApply(op);
  Value rows = op.getPositions();
  site.positions = rows;
  site.source = isa<BlockArgument>(rows) ? PositionSource::GraphInput
                                         : PositionSource::Range;
  bool perSection = site.hasPerSectionFreqs();
  int64_t axes = site.getSections().size();
  if (axes == 1) {
    // [B, S] as the graph computes it: named by the input (or Range) it
    // comes from, which is what the fix may retype.
    site.kind = PositionKind::OneD;
    // A window reorder rope-raise moved onto the positions: they are named
    // by what it reorders, not by its index.
    std::optional<raise::TokenReorder> reorder =
        raise::positionsReorderOf(rows);
    PositionWalk walk;
    walk.walk(reorder ? reorder->rows : rows);
    if (Value leaf = walk.positionsLeaf()) {
      site.positions = leaf;
      site.source = isa<BlockArgument>(leaf) ? PositionSource::GraphInput
                                             : PositionSource::Range;
    }
  } else if (perSection) {
    site.kind = PositionKind::TwoD;
  } else if (isa_and_nonnull<rope::MRopeIndexOp>(rows.getDefiningOp()) ||
             (isa<BlockArgument>(rows) && rankOf(rows) == 3 &&
              dimOf(rows, 0) == axes)) {
    // True rows: an input, or computed from the tokens (rope.mrope_index).
    site.kind = site.isInterleaved() ? PositionKind::MRopeInterleaved
                                     : PositionKind::MRope;
    if (!isa<BlockArgument>(rows))
      site.source = PositionSource::GetRopeIndex;
  } else {
    // Rows computed in the graph: the same walk the analysis does on an
    // angle. Rows that depend on [N, 3] grids come from get_rope_index;
    // rows that depend on nothing but one [B, S] tensor or a Range are the
    // degenerate M-RoPE.
    PositionWalk walk;
    walk.walk(rows);
    bool fromGrids = llvm::any_of(walk.intInputs, [](Value in) {
      return rankOf(in) == 2 && dimOf(in, 1) == 3;
    });
    if (fromGrids) {
      site.kind = site.isInterleaved() ? PositionKind::MRopeInterleaved
                                       : PositionKind::MRope;
      site.source = PositionSource::GetRopeIndex;
    } else {
      site.kind = PositionKind::MRopeDegenerate;
      site.builtRows = rows;
      if (Value leaf = walk.positionsLeaf()) {
        site.positions = leaf;
        site.source = isa<BlockArgument>(leaf) ? PositionSource::GraphInput
                                               : PositionSource::Range;
        if (probeLeafMeaning(leaf, rows) == LeafMeaning::Segments)
          site.source = PositionSource::Segments;
      }
    }
  }
  classify(site, arch);
  return apply;
}

/// Replaces the op's positions operand.
static void setPositions(rope::ApplyOp op, Value rows) {
  op.getPositionsMutable().assign(rows);
}

LogicalResult fix::fixDegenerateApply(ApplySite &apply,
                                      DecoderPositions &positions,
                                      SmallVectorImpl<Operation *> &dead) {
  RopeSite &site = apply.site;
  if (!site.positions)
    return apply.error() << "its position rows depend on no integer graph "
                            "input and no Range";
  FailureOr<Value> rows = positions.get();
  if (failed(rows))
    return failure();
  Operation *builder = site.builtRows.getDefiningOp();
  setPositions(apply.op, *rows);
  if (builder)
    dead.push_back(builder);
  std::string by;
  if (auto node = dyn_cast_or_null<onnx::NodeOp>(builder))
    by = "by " + nodeLabel(node) + " ";
  positions.result.changes.push_back(
      apply.label + " (mrope-degenerate): rows built " + by + "from " +
      positionsName(site) + " replaced by " + positions.describe());
  return success();
}

LogicalResult fix::fixTextApply(ApplySite &apply, const FixOptions &options,
                                DecoderPositions &positions,
                                SmallVectorImpl<Operation *> &dead) {
  RopeSite &site = apply.site;
  rope::SemanticsAttr old = site.semantics;
  if (old.getSections().size() != 1 || site.hasPerSectionFreqs())
    return apply.error() << "only 1D text RoPE can be rewritten to M-RoPE";
  int64_t numFreqs = old.getRotaryDim() / 2;
  FailureOr<SmallVector<int64_t>> sections =
      textSections(options, numFreqs, [&] { return apply.error(); });
  if (failed(sections))
    return failure();
  rope::SectionOrder order = sectionOrderOf(options.arch);
  // Only the sections and their order change: rotary dim (partial rotary),
  // theta, pair layout and frequency indexing are the graph's.
  auto semantics = rope::SemanticsAttr::getChecked(
      [&] { return apply.error(); }, old.getContext(),
      ArrayRef<int64_t>(*sections), old.getRotaryDim(), old.getTheta(),
      old.getLayout(), order, old.getFreqs());
  if (!semantics)
    return failure();
  FailureOr<Value> rows = positions.get();
  if (failed(rows))
    return failure();
  Value oldRows = apply.op.getPositions();
  setPositions(apply.op, *rows);
  apply.op.setSemanticsAttr(semantics);
  if (Operation *producer = oldRows.getDefiningOp())
    dead.push_back(producer);
  positions.result.changes.push_back(
      describeTextFix(apply.label, old.getLayout(), "M-RoPE", *sections, order,
                      positions, site));
  return success();
}

LogicalResult fix::fixVisionApply(ApplySite &apply, const FixOptions &options,
                                  FixResult &result, Value &visionRows,
                                  SmallVectorImpl<Operation *> &dead) {
  RopeSite &site = apply.site;
  rope::ApplyOp op = apply.op;
  rope::SemanticsAttr old = site.semantics;
  int64_t numFreqs = old.getRotaryDim() / 2;
  if (old.getSections().size() != 1 || numFreqs % 2)
    return apply.error() << "the vision RoPE is not 1D with an even number of "
                            "frequencies";
  Value inv = op.getInvFreq();
  if (inv && static_cast<int64_t>(site.invFreq.size()) != numFreqs)
    return apply.error() << "its frequency table is not a constant of "
                         << numFreqs << " values";
  auto onnxGraph = op->getParentOfType<onnx::GraphOp>();
  auto q = cast<RankedTensorType>(op.getInputs().front().getType());
  int64_t patches = q.getDimSize(2);
  // Every layer's op rotates the same patches: one (h, w) for all of them.
  if (!visionRows) {
    FailureOr<Value> rows =
        visionPositions(onnxGraph, patches, options.computePositions, result,
                        [&] { return apply.error(); });
    if (failed(rows))
      return failure();
    visionRows = *rows;
  }
  int64_t half = numFreqs / 2;
  auto semantics = rope::SemanticsAttr::get(
      op.getContext(), {half, half}, old.getRotaryDim(), old.getTheta(),
      old.getLayout(), rope::SectionOrder::contiguous,
      rope::FreqIndex::per_section);
  if (inv) {
    // Each axis restarts the frequencies: every other entry of the graph's
    // table, bit for bit.
    OpBuilder b(op);
    onnx::OnnxBuilder emit(b, onnxGraph, op.getLoc(), "mrope_fix/vision",
                           "mrope_fix");
    SmallVector<float> table = visionFreqs(site.invFreq);
    auto type = RankedTensorType::get({half}, b.getF32Type());
    op.getInvFreqMutable().assign(
        emit.constant(DenseElementsAttr::get(type, ArrayRef<float>(table)),
                      "vision_inv_freq"));
    if (Operation *producer = inv.getDefiningOp())
      dead.push_back(producer);
  }
  Value oldRows = op.getPositions();
  Value rows = visionRows;
  if (std::optional<raise::TokenReorder> reorder =
          raise::positionsReorderOf(oldRows)) {
    // The tokens stay in window order: the (h, w) rows [2, 1, N] as pairs
    // [N, 2], reordered like the old positions, and back.
    OpBuilder b(op);
    onnx::OnnxBuilder emit(b, onnxGraph, op.getLoc(), "mrope_fix/window",
                           "mrope_fix");
    int64_t dyn = ShapedType::kDynamic;
    Type elem = elementTypeOf(rows);
    auto perm = b.getNamedAttr("perm", b.getDenseI64ArrayAttr({1, 0}));
    Value axis1 = emit.ints({1}, {1}, "axes");
    Value pairs =
        emit.node("Transpose", RankedTensorType::get({dyn, 2}, elem),
                  {emit.node("Squeeze", RankedTensorType::get({2, dyn}, elem),
                             {rows, axis1})},
                  {perm});
    pairs = raise::applyTokenReorder(emit, b, *reorder, pairs, 2);
    rows =
        emit.node("Unsqueeze", RankedTensorType::get({2, 1, dyn}, elem),
                  {emit.node("Transpose", RankedTensorType::get({2, dyn}, elem),
                             {pairs}, {perm}),
                   axis1});
  }
  setPositions(op, rows);
  op.setSemanticsAttr(semantics);
  if (Operation *producer = oldRows.getDefiningOp())
    dead.push_back(producer);
  result.changes.push_back(
      apply.label + " (vision 1d): 2D (h, w) RoPE [" + std::to_string(half) +
      ", " + std::to_string(half) + "] from " +
      (options.computePositions ? std::string("(h, w) computed from grid_thw")
                                : std::string("input 'vision_position_ids'")) +
      " (was " + positionsName(site) + ")");
  return success();
}
