//===- FixSites.cpp - rewrite buggy RoPE sites to true M-RoPE -------------===//
#include "mrope/Transforms/FixSites.h"

#include "mrope/Conversion/RopeToOnnx/RopeToOnnx.h"
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
  BlockArgument positions =
      graph.addInput("mrope_fix.position_ids", positionsType, paramRefs);

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
      Value rows = positions;
      Type want = cast<ShapedType>(site->builtRows.getType()).getElementType();
      if (want && want != b.getI64Type()) {
        error = siteName + ": the in-graph rows are not int64";
        return failure();
      }
      site->builtRows.replaceAllUsesWith(rows);
      replaced.push_back(builder);
      result.changes.push_back(
          siteName + " (mrope-degenerate): rows built by " + nameOf(builder) +
          " from " + site->positionsName() + " replaced by input '" +
          options.positionsName + "' [3, batch, seq]");
    } else if (site->kind == "1d" && site->vision) {
      error = siteName + ": rewriting the vision tower's flattened patch "
                         "index into (h, w) positions is not implemented yet";
      return failure();
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

      b.setInsertionPointToStart(&graph.getBodyBlock());
      auto invType = RankedTensorType::get({numFreqs}, b.getF32Type());
      Value inv = onnx::InitializerOp::create(
          b, loc, invType, "mrope_fix.inv_freq_table",
          DenseElementsAttr::get(invType, ArrayRef<float>(site->invFreq)),
          nullptr);
      b.setInsertionPoint(site->cosNode);
      Value oldCos = site->cosNode.getResults()[0];
      auto oldType = dyn_cast<RankedTensorType>(oldCos.getType());
      auto tableType = RankedTensorType::get(
          {shape[1], shape[2], 2 * numFreqs},
          oldType ? oldType.getElementType() : b.getF32Type());
      auto cosSin = rope::CosSinOp::create(b, site->cosNode.getLoc(), tableType,
                                           tableType, positions, inv, semantics);
      oldCos.replaceAllUsesWith(cosSin.getCos());
      site->sinNode.getResults()[0].replaceAllUsesWith(cosSin.getSin());
      replaced.push_back(site->cosNode);
      replaced.push_back(site->sinNode);
      std::string text;
      llvm::raw_string_ostream os(text);
      os << siteName << " (1d): tables rebuilt as M-RoPE [";
      llvm::interleaveComma(sections, os);
      os << "]" << (order == rope::SectionOrder::interleaved ? " interleaved" : "")
         << " from input '" << options.positionsName
         << "' [3, batch, seq] (was " << site->positionsName() << ")";
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
    graph.walk([&](rope::CosSinOp op) { cosSinOps.push_back(op); });
    GreedyRewriteConfig config;
    config.setStrictness(GreedyRewriteStrictness::ExistingOps);
    if (!cosSinOps.empty() &&
        failed(applyOpPatternsGreedily(cosSinOps, frozen, config))) {
      error = "lowering the new M-RoPE tables to ONNX nodes failed";
      return failure();
    }
    bool left = false;
    graph.walk([&](rope::CosSinOp) { left = true; });
    if (left) {
      error = "lowering the new M-RoPE tables to ONNX nodes failed";
      return failure();
    }
  }

  int64_t erased = eraseDeadProducers(graph, replaced);
  result.changes.push_back("removed " + std::to_string(erased) +
                           " node(s) only the old tables used");

  // The new input takes the old positions input's place when that one is
  // now unused; otherwise it is appended under its own name.
  unsigned newIndex = positions.getArgNumber();
  auto oldArg = dyn_cast<BlockArgument>(oldPositions);
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
