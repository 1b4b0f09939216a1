//===- Raise.cpp - whole RoPE sites in ONNX graphs -> rope.apply ----------===//
//
// Every rotation of an analysed site (out = x * cos + rotate(x) * sin, with
// the site's tables) becomes `rope.apply` on tensors inside the onnx.graph;
// the rotations of one layer (q and k) share one op. The op rotates by the
// positions the graph already has (or the rows it builds, for degenerate
// M-RoPE) under the recovered semantics and the graph's own frequency
// table, so it computes what the graph computed. Checking that a site fits
// that form is RaiseChecks.cpp; this file builds the ops.
//
//===----------------------------------------------------------------------===//
#include "RaiseChecks.h"

#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/RopeSites.h"
#include "mrope/Dialect/Onnx/IR/OnnxBuilder.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"
#include "mrope/Transforms/FixSites.h"
#include "mrope/Transforms/Passes.h"
#include "mrope/Transforms/RopeRaise.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

namespace mrope {
#define GEN_PASS_DEF_ROPERAISE
#include "mrope/Transforms/Passes.h.inc"
} // namespace mrope

using namespace mlir;
using namespace mrope;
using namespace mrope::raise;
using onnx::NodeOp;

namespace {

/// Rotations of one site grouped into ops: in block order, a rotation joins
/// the current group when everything it rotates is already defined where
/// the group's first rotation is combined. q and k of a layer group
/// together; the next layer's q is computed from this layer's output, so it
/// starts a new group.
SmallVector<SmallVector<const RaisedRotation *>>
groupRotations(ArrayRef<RaisedRotation> rotations) {
  SmallVector<const RaisedRotation *> order;
  for (const RaisedRotation &r : rotations)
    order.push_back(&r);
  llvm::sort(order, [](const RaisedRotation *a, const RaisedRotation *b) {
    return a->rotation.combine->isBeforeInBlock(b->rotation.combine);
  });
  SmallVector<SmallVector<const RaisedRotation *>> groups;
  for (const RaisedRotation *r : order) {
    bool joins = false;
    if (!groups.empty()) {
      Operation *first = groups.back().front()->rotation.combine;
      Value x = r->rotation.x;
      Operation *def = x.getDefiningOp();
      joins = (!def || def->isBeforeInBlock(first)) &&
              canShareOp(groups.back().front()->type, r->type);
    }
    if (joins)
      groups.back().push_back(r);
    else
      groups.push_back({r});
  }
  return groups;
}

/// Replaces the uses of `old` by `now`; users that are not ONNX nodes (the
/// graph's return) keep `old`'s type through an Identity.
void replaceCombine(OpBuilder &b, onnx::OnnxBuilder &emit, Value old,
                    Value now) {
  for (OpOperand &use : llvm::make_early_inc_range(old.getUses())) {
    if (isa<NodeOp>(use.getOwner()) || old.getType() == now.getType()) {
      use.set(now);
      continue;
    }
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointAfterValue(now);
    use.set(emit.node("Identity", old.getType(), {now}));
  }
}

struct RopeRaisePass : mrope::impl::RopeRaiseBase<RopeRaisePass> {
  void runOnOperation() override {
    SmallVector<onnx::GraphOp> graphs(getOperation().getOps<onnx::GraphOp>());
    for (onnx::GraphOp graph : graphs)
      if (failed(raiseGraph(graph)))
        return signalPassFailure();
  }

  LogicalResult raiseGraph(onnx::GraphOp graph) {
    std::vector<RopeSite> sites = findRopeSites(graph, Arch::Auto);
    for (auto [index, site] : llvm::enumerate(sites)) {
      FailureOr<RaisePlan> plan = planSite(site, index);
      if (failed(plan))
        continue; // planSite emitted the remark
      if (failed(raiseSite(graph, site, index, *plan)))
        return failure();
    }
    return success();
  }

  LogicalResult raiseSite(onnx::GraphOp graph, RopeSite &site,
                          int64_t index, const RaisePlan &plan) {
    OpBuilder b(&getContext());
    Location siteLoc = site.cosNode.getLoc();
    std::string label = nodeLabel(site.cosNode);
    std::string prefix = "mrope_raise/site_" + std::to_string(index);
    onnx::OnnxBuilder emit(b, graph, siteLoc, prefix, "mrope_raise");
    auto invType = RankedTensorType::get(
        {static_cast<int64_t>(site.invFreq.size())}, b.getF32Type());
    Value inv = emit.constant(
        DenseElementsAttr::get(invType, ArrayRef<float>(site.invFreq)),
        "inv_freq");

    // [S] positions (a Range) as [1, S]: one sequence for the whole batch.
    Value positions = plan.positions;
    if (match::rankOf(positions) == 1) {
      OpBuilder::InsertionGuard guard(b);
      if (Operation *def = positions.getDefiningOp())
        b.setInsertionPointAfter(def);
      else
        b.setInsertionPointToStart(&graph.getBodyBlock());
      auto type = RankedTensorType::get({1, match::dimOf(positions, 0)},
                                        match::elementTypeOf(positions));
      positions = emit.node("Unsqueeze", type,
                            {positions, emit.ints({0}, {1}, "axes")});
    }

    SmallVector<Operation *> dead;
    auto groups = groupRotations(plan.rotations);
    for (ArrayRef<const RaisedRotation *> group : groups) {
      Operation *first = group.front()->rotation.combine;
      b.setInsertionPoint(first);
      SmallVector<Value> inputs;
      SmallVector<Attribute> names;
      for (const RaisedRotation *r : group) {
        Value x = r->rotation.x;
        // Unranked q/k (shape inference stopped at a Reshape) get the
        // [B, H, S, R] type the table broadcast proves.
        if (x.getType() != r->type)
          x = emit.node("Identity", r->type, {x});
        inputs.push_back(x);
        names.push_back(b.getStringAttr(nodeLabel(r->rotation.combine)));
      }
      auto apply = rope::ApplyOp::create(b, first->getLoc(), inputs, positions,
                                         inv, site.semantics);
      apply->setAttr(kRaisedSiteAttr, b.getI64IntegerAttr(index));
      apply->setAttr(kRaisedRotationsAttr, b.getArrayAttr(names));
      if (failed(mlir::verify(apply)))
        return apply.emitError("rope-raise: the raised op of site ")
               << label << " does not verify";
      for (auto [r, result] : llvm::zip(group, apply.getResults())) {
        NodeOp combine = r->rotation.combine;
        replaceCombine(b, emit, combine.getResults()[0], result);
        dead.push_back(combine);
      }
    }
    int64_t erased = eraseDeadProducers(graph, dead);
    mlir::emitRemark(siteLoc)
        << "rope-raise: site " << index << " (" << label << ") raised: "
        << plan.rotations.size() << " rotation(s) in " << groups.size()
        << " rope.apply, " << erased << " node(s) removed";
    return success();
  }
};

} // namespace
