//===- Raise.cpp - RoPE tables in ONNX graphs -> rope.cos_sin -------------===//
#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/RopeSites.h"
#include "mrope/Dialect/Onnx/IR/OnnxBuilder.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"
#include "mrope/Transforms/FixSites.h"
#include "mrope/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

namespace mrope {
#define GEN_PASS_DEF_ROPERAISE
#include "mrope/Transforms/Passes.h.inc"
} // namespace mrope

using namespace mlir;
using namespace mrope;
using onnx::NodeOp;

namespace {

/// The value holding a site's merged per-token table, starting from its
/// Cos or Sin node: the node itself, or the Concat of HF's section merge
/// reached through identity scaling (Mul by 1) and same-type Casts.
/// Null when something between changes the values.
Value mergedTable(NodeOp trig, bool hasMerge) {
  Value v = trig.getResults()[0];
  if (!hasMerge)
    return v;
  while (v.hasOneUse()) {
    NodeOp user = dyn_cast<NodeOp>(*v.getUsers().begin());
    if (!user)
      return {};
    if (user.isOnnx("Split")) {
      // Split -> Gather(row) -> Concat: the Concat is the merged table.
      for (Operation *g : user.getResult(0).getUsers())
        for (Operation *c : g->getResult(0).getUsers())
          if (auto concat = dyn_cast<NodeOp>(c); concat && concat.isOnnx("Concat"))
            return concat.getResults()[0];
      return {};
    }
    if (user.isOnnx("Cast")) {
      if (user.getResults()[0].getType() != v.getType())
        return {};
    } else if (user.isOnnx("Mul")) {
      Value other = user.getInputs()[0] == v ? user.getInputs()[1]
                                             : user.getInputs()[0];
      std::optional<DenseElementsAttr> scale = onnx::getConstantValue(other, 1);
      if (!scale || !scale->isSplat() ||
          !scale->getSplatValue<APFloat>().isExactlyValue(1.0))
        return {};
    } else {
      return {};
    }
    v = user.getResults()[0];
  }
  return {};
}

struct RopeRaisePass : mrope::impl::RopeRaiseBase<RopeRaisePass> {
  void runOnOperation() override {
    SmallVector<onnx::GraphOp> graphs(getOperation().getOps<onnx::GraphOp>());
    for (onnx::GraphOp graph : graphs)
      raise(graph);
  }

  void raise(onnx::GraphOp graph) {
    OpBuilder b(&getContext());
    for (RopeSite &site : findRopeSites(graph, Arch::Auto)) {
      Location loc = site.cosNode.getLoc();
      auto skip = [&](StringRef why) {
        mlir::emitRemark(loc) << "rope-raise: site " << nodeLabel(site.cosNode)
                              << " left as is: " << why;
      };
      if (!site.cosNode.isOnnx("Cos"))
        { skip("tables gathered from constant caches"); continue; }
      if (site.kind == PositionKind::TwoD || site.vision)
        { skip("vision tower positions are [tokens, 2]"); continue; }
      // Qwen3-VL merges the angles before Cos; contiguous M-RoPE after.
      bool hasMerge = site.getSections().size() > 1 && !site.isInterleaved();
      Value cosTable = mergedTable(site.cosNode, hasMerge);
      Value sinTable = mergedTable(site.sinNode, hasMerge);
      Value positions = site.kind == PositionKind::MRopeDegenerate
                            ? site.builtRows
                            : site.positions;
      RankedTensorType tableType = match::rankedTypeOf(cosTable);
      if (!cosTable || !sinTable || cosTable.getType() != sinTable.getType())
        { skip("the tables are scaled or cast before the merge"); continue; }
      if (!tableType || tableType.getRank() != 3 ||
          !isa<FloatType>(tableType.getElementType()) ||
          match::rankOf(positions) < 2 || !match::isIntTensor(positions))
        { skip("table or position shapes are not known"); continue; }

      rope::SemanticsAttr semantics = site.semantics;
      auto invType = RankedTensorType::get(
          {static_cast<int64_t>(site.invFreq.size())}, b.getF32Type());
      Value inv = onnx::OnnxBuilder(b, graph, loc, "mrope_raise", "mrope_raise")
                      .constant(DenseElementsAttr::get(
                                    invType, ArrayRef<float>(site.invFreq)),
                                "inv_freq");
      // Before the first of the old tables: after the positions (they are
      // computed from them), before every consumer.
      Operation *oldCos = cosTable.getDefiningOp();
      Operation *oldSin = sinTable.getDefiningOp();
      b.setInsertionPoint(oldCos->isBeforeInBlock(oldSin) ? oldCos : oldSin);
      std::string label = nodeLabel(site.cosNode);
      auto cosSin = rope::CosSinOp::create(b, loc, tableType, tableType,
                                           positions, inv, semantics);
      if (failed(mlir::verify(cosSin))) {
        cosSin.erase();
        skip("the recovered semantics do not fit the shapes");
        continue;
      }
      cosTable.replaceAllUsesWith(cosSin.getCos());
      sinTable.replaceAllUsesWith(cosSin.getSin());
      eraseDeadProducers(graph, {oldCos, oldSin});
      mlir::emitRemark(loc) << "rope-raise: site " << label
                            << " raised to rope.cos_sin";
    }
  }
};

} // namespace
