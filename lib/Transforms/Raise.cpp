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

#include "mrope/Analysis/Evaluate.h"
#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/RopeNeighbours.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/RopeSites.h"
#include "mrope/Dialect/Onnx/IR/DataType.h"
#include "mrope/Dialect/Onnx/IR/OnnxBuilder.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"
#include "mrope/Transforms/FixSites.h"
#include "mrope/Transforms/Passes.h"
#include "mrope/Transforms/RopeRaise.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
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

/// The rotated operand of `r` as rope.apply takes it, [B, H, S, R]:
/// transposed for [B, S, H, R], transposed and given a batch of one for the
/// vision tower's [S, H, R]. Where the graph left it unranked, a view typed
/// with what the table broadcast proves (an Identity for [B, H, S, R]).
Value toBHSD(onnx::OnnxBuilder &emit, OpBuilder &b, const RaisedRotation &r) {
  Value x = r.rotation.x;
  auto perm = [&](ArrayRef<int64_t> p) {
    return b.getNamedAttr("perm", b.getDenseI64ArrayAttr(p));
  };
  switch (r.layout) {
  case HeadLayout::BHSD:
    return x.getType() == r.type ? x : emit.node("Identity", r.type, {x});
  case HeadLayout::BSHD:
    return emit.node("Transpose", r.type, {x}, {perm({0, 2, 1, 3})});
  case HeadLayout::SHD: {
    Value hsd =
        emit.node("Transpose", r.type.clone(r.type.getShape().drop_front()),
                  {x}, {perm({1, 0, 2})});
    return emit.node("Unsqueeze", r.type, {hsd, emit.ints({0}, {1}, "axes")});
  }
  }
  llvm_unreachable("unknown head layout");
}

/// The inverse of toBHSD on a result of rope.apply.
Value fromBHSD(onnx::OnnxBuilder &emit, OpBuilder &b, const RaisedRotation &r,
               Value y) {
  auto perm = [&](ArrayRef<int64_t> p) {
    return b.getNamedAttr("perm", b.getDenseI64ArrayAttr(p));
  };
  switch (r.layout) {
  case HeadLayout::BHSD:
    return y;
  case HeadLayout::BSHD:
    return emit.node("Transpose", r.graphType, {y}, {perm({0, 2, 1, 3})});
  case HeadLayout::SHD: {
    Value hsd =
        emit.node("Squeeze", r.type.clone(r.type.getShape().drop_front()),
                  {y, emit.ints({0}, {1}, "axes")});
    return emit.node("Transpose", r.graphType, {hsd}, {perm({1, 0, 2})});
  }
  }
  llvm_unreachable("unknown head layout");
}

/// The sequence axis of a rotation's operand and result in the graph's
/// layout.
int64_t sequenceAxis(HeadLayout layout) {
  switch (layout) {
  case HeadLayout::BHSD:
    return 2;
  case HeadLayout::BSHD:
    return 1;
  case HeadLayout::SHD:
    return 0;
  }
  llvm_unreachable("unknown head layout");
}

/// Records on `apply` the RMSNorm before each operand and the cache write
/// after each result (kRaisedNormsAttr, kRaisedCacheWritesAttr); returns
/// how many of each it found.
std::pair<int64_t, int64_t>
recordNeighbours(OpBuilder &b, rope::ApplyOp apply,
                 ArrayRef<const RaisedRotation *> group) {
  SmallVector<Attribute> norms, writes;
  int64_t numNorms = 0, numWrites = 0;
  for (const RaisedRotation *r : group) {
    const Rotation &rotation = r->rotation;
    std::optional<RmsNormNeighbour> norm;
    // Partial rotary normalises channels the op does not see.
    if (!rotation.source || rotation.source == rotation.x)
      norm = findRmsNormBefore(rotation.x, r->graphType.getShape().back(),
                               r->graphType.getRank());
    SmallVector<NamedAttribute> n;
    if (norm) {
      ++numNorms;
      n.push_back(b.getNamedAttr("eps", b.getF64FloatAttr(norm->eps)));
      n.push_back(
          b.getNamedAttr("node", b.getStringAttr(nodeLabel(norm->output))));
    }
    norms.push_back(b.getDictionaryAttr(n));
    std::optional<CacheWriteNeighbour> write = findCacheWriteAfter(
        rotation.combine->getResult(0), sequenceAxis(r->layout));
    SmallVector<NamedAttribute> w;
    if (write) {
      ++numWrites;
      w.push_back(b.getNamedAttr("axis", b.getI64IntegerAttr(write->axis)));
      w.push_back(
          b.getNamedAttr("node", b.getStringAttr(nodeLabel(write->concat))));
      w.push_back(b.getNamedAttr(
          "past", b.getStringAttr(eval::describeValue(write->past))));
    }
    writes.push_back(b.getDictionaryAttr(w));
  }
  if (numNorms)
    apply->setAttr(kRaisedNormsAttr, b.getArrayAttr(norms));
  if (numWrites)
    apply->setAttr(kRaisedCacheWritesAttr, b.getArrayAttr(writes));
  return {numNorms, numWrites};
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

/// The positions operand of a site's ops, from what the graph rotates by:
/// unranked computed rows typed [A, B, S]; a float Range of whole numbers
/// cast to int64; [S] (a Range, one sequence broadcast over the batch by the
/// graph's tables) as [B, S] with B taken from `first`'s operand (rope.apply
/// wants a row per batch entry; the vision tower's [S, H, D] gets a batch of
/// one, so [1, S]); (h, w) pairs [N, 2] as two rows [2, 1, N]. Nodes go
/// right after the positions, the Expand before the first rotation.
Value positionsForOp(onnx::OnnxBuilder &emit, OpBuilder &b, onnx::GraphOp graph,
                     RopeSite &site, const RaisePlan &plan,
                     const RaisedRotation &r) {
  Value positions = plan.positions;
  if (plan.reorder) {
    // The window reorder on rows of positions, [N, 1] or (h, w) [N, 2],
    // then one row per axis: [1, N'] (a Range: as [S] below), [2, 1, N'].
    // Its shapes are computed next to the angles: the nodes go before the
    // first rotation.
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(r.rotation.combine);
    Type i64 = b.getI64Type();
    int64_t dyn = ShapedType::kDynamic, width = plan.pairPositions ? 2 : 1;
    if (match::isFloatTensor(positions))
      positions =
          emit.node("Cast", RankedTensorType::get({dyn}, i64), {positions},
                    {emit.intAttr("to", onnx::DataType::INT64)});
    Type elem = match::elementTypeOf(positions);
    if (!plan.pairPositions)
      positions = emit.node("Unsqueeze", RankedTensorType::get({dyn, 1}, elem),
                            {positions, emit.ints({1}, {1}, "axes")});
    positions = applyTokenReorder(emit, b, *plan.reorder, positions, width);
    positions = emit.node(
        "Transpose", RankedTensorType::get({width, dyn}, elem), {positions},
        {b.getNamedAttr("perm", b.getDenseI64ArrayAttr({1, 0}))});
    if (plan.pairPositions)
      positions =
          emit.node("Unsqueeze", RankedTensorType::get({2, 1, dyn}, elem),
                    {positions, emit.ints({1}, {1}, "axes")});
  } else if (!plan.pairPositions && match::rankOf(positions) == -1) {
    // Rows the graph computes but left unranked: [A, B, S] (checked).
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointAfterValue(positions);
    int64_t dyn = ShapedType::kDynamic;
    positions =
        emit.node("Identity",
                  RankedTensorType::get({site.semantics.getNumAxes(), dyn, dyn},
                                        match::elementTypeOf(positions)),
                  {positions});
  }
  if (!plan.reorder && (plan.pairPositions || match::rankOf(positions) == 1 ||
                        match::isFloatTensor(positions))) {
    OpBuilder::InsertionGuard guard(b);
    if (Operation *def = positions.getDefiningOp())
      b.setInsertionPointAfter(def);
    else
      b.setInsertionPointToStart(&graph.getBodyBlock());
    // A float Range of whole numbers (checked) as int64.
    if (match::isFloatTensor(positions))
      positions = emit.node(
          "Cast",
          RankedTensorType::get({match::dimOf(positions, 0)}, b.getI64Type()),
          {positions}, {emit.intAttr("to", onnx::DataType::INT64)});
    Type elem = match::elementTypeOf(positions);
    if (plan.pairPositions) {
      int64_t n = match::dimOf(positions, 0);
      Value rows = emit.node(
          "Transpose", RankedTensorType::get({2, n}, elem), {positions},
          {b.getNamedAttr("perm", b.getDenseI64ArrayAttr({1, 0}))});
      positions = emit.node("Unsqueeze", RankedTensorType::get({2, 1, n}, elem),
                            {rows, emit.ints({1}, {1}, "axes")});
    } else {
      positions = emit.node(
          "Unsqueeze",
          RankedTensorType::get({1, match::dimOf(positions, 0)}, elem),
          {positions, emit.ints({0}, {1}, "axes")});
    }
  }

  // [1, S] -> [B, S], B from the first rotated operand's shape.
  if (match::rankOf(plan.positions) == 1 && !plan.pairPositions &&
      r.layout != HeadLayout::SHD) {
    b.setInsertionPoint(r.rotation.combine);
    Type i64 = b.getI64Type();
    Value shape =
        emit.node("Shape", RankedTensorType::get({r.graphType.getRank()}, i64),
                  {r.rotation.x});
    Value batch = emit.node("Gather", RankedTensorType::get({1}, i64),
                            {shape, emit.ints({0}, {1}, "batch_axis")},
                            {emit.intAttr("axis", 0)});
    Value target = emit.node("Concat", RankedTensorType::get({2}, i64),
                             {batch, emit.ints({1}, {1}, "one")},
                             {emit.intAttr("axis", 0)});
    auto posType = cast<RankedTensorType>(positions.getType());
    positions = emit.node(
        "Expand", posType.clone({r.type.getDimSize(0), posType.getDimSize(1)}),
        {positions, target});
  }
  return positions;
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

  LogicalResult raiseSite(onnx::GraphOp graph, RopeSite &site, int64_t index,
                          const RaisePlan &plan) {
    OpBuilder b(&getContext());
    Location siteLoc = site.cosNode.getLoc();
    std::string label = nodeLabel(site.cosNode);
    // The table nodes are erased below: read what the remark needs now.
    bool fromCaches = !site.cosNode.isOnnx("Cos");
    std::string prefix = "mrope_raise/site_" + std::to_string(index);
    onnx::OnnxBuilder emit(b, graph, siteLoc, prefix, "mrope_raise");
    auto invType = RankedTensorType::get(
        {static_cast<int64_t>(site.invFreq.size())}, b.getF32Type());
    Value inv = emit.constant(
        DenseElementsAttr::get(invType, ArrayRef<float>(site.invFreq)),
        "inv_freq");

    auto groups = groupRotations(plan.rotations);
    Value positions =
        positionsForOp(emit, b, graph, site, plan, *groups.front().front());
    SmallVector<Operation *> dead;
    int64_t norms = 0, writes = 0;
    for (ArrayRef<const RaisedRotation *> group : groups) {
      Operation *first = group.front()->rotation.combine;
      b.setInsertionPoint(first);
      SmallVector<Value> inputs;
      SmallVector<Attribute> names;
      for (const RaisedRotation *r : group) {
        inputs.push_back(toBHSD(emit, b, *r));
        names.push_back(b.getStringAttr(nodeLabel(r->rotation.combine)));
      }
      auto apply = rope::ApplyOp::create(b, first->getLoc(), inputs, positions,
                                         inv, site.semantics);
      apply->setAttr(kRaisedSiteAttr, b.getI64IntegerAttr(index));
      apply->setAttr(kRaisedRotationsAttr, b.getArrayAttr(names));
      if (group.front()->layout == HeadLayout::SHD)
        apply->setAttr(kRaisedVisionAttr, b.getUnitAttr());
      auto [numNorms, numWrites] = recordNeighbours(b, apply, group);
      norms += numNorms;
      writes += numWrites;
      // One line for the user: the verifier's finding goes into the error
      // instead of being printed on its own before it.
      std::string verifierMessage;
      LogicalResult verified = success();
      {
        ScopedDiagnosticHandler capture(&getContext(), [&](Diagnostic &d) {
          if (verifierMessage.empty())
            verifierMessage = d.str();
          return success();
        });
        verified = mlir::verify(apply);
      }
      if (failed(verified))
        return apply.emitError("rope-raise: the raised op of site ")
               << label << " does not verify: " << verifierMessage;
      for (auto [r, result] : llvm::zip(group, apply.getResults())) {
        NodeOp combine = r->rotation.combine;
        replaceCombine(b, emit, combine.getResults()[0],
                       fromBHSD(emit, b, *r, result));
        dead.push_back(combine);
      }
    }
    int64_t erased = eraseDeadProducers(graph, dead);
    mlir::emitRemark(siteLoc)
        << "rope-raise: site " << index << " (" << label
        << ") raised: " << plan.rotations.size() << " rotation(s) in "
        << groups.size() << " rope.apply, " << erased << " node(s) removed"
        << (fromCaches ? "; the constant caches are recomputed from the "
                         "frequencies"
                       : "")
        << (plan.reorder ? "; the window reorder of its angles now reorders "
                           "its positions"
                         : "")
        << (norms || writes
                ? "; neighbours: " + std::to_string(norms) +
                      " operand(s) normalised by an RMSNorm over the head "
                      "dim, " +
                      std::to_string(writes) +
                      " result(s) appended to a KV cache"
                : std::string());
    return success();
  }
};

} // namespace
