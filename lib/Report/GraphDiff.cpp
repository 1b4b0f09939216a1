//===- GraphDiff.cpp - what a fix changes in an ONNX graph ----------------===//
#include "mrope/Report/GraphDiff.h"

#include "mrope/Analysis/RopeReport.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mrope;

// Discardable, undialected: no verifier looks at it and it never reaches an
// exported file (the report works on a scratch copy).
static constexpr llvm::StringLiteral kIdAttr = "mrope_report_id";

const SnapshotNode *GraphSnapshot::find(int64_t id) const {
  for (const SnapshotNode &node : nodes)
    if (node.id == id)
      return &node;
  return nullptr;
}

static std::string typeText(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  return text;
}

GraphSnapshot mrope::snapshotGraph(onnx::GraphOp graph, int64_t &nextId) {
  GraphSnapshot snapshot;
  Block &body = graph.getBodyBlock();
  for (BlockArgument arg : body.getArguments()) {
    SnapshotNode input;
    input.id = -1 - int64_t(arg.getArgNumber());
    input.label =
        ("input '" + graph.getInputName(arg.getArgNumber()) + "'").str();
    input.type = typeText(arg.getType());
    snapshot.nodes.push_back(std::move(input));
  }
  auto idOf = [&](Value v) -> std::optional<int64_t> {
    if (auto arg = dyn_cast<BlockArgument>(v))
      if (arg.getOwner() == &body)
        return -1 - int64_t(arg.getArgNumber());
    if (auto node = v.getDefiningOp<onnx::NodeOp>())
      if (auto id = node->getAttrOfType<IntegerAttr>(kIdAttr))
        return id.getInt();
    return std::nullopt;
  };
  // Ids first (a node's producers come before it, but be safe).
  for (auto node : body.getOps<onnx::NodeOp>())
    if (!node->hasAttr(kIdAttr))
      node->setAttr(
          kIdAttr,
          IntegerAttr::get(IntegerType::get(graph.getContext(), 64), nextId++));
  for (auto node : body.getOps<onnx::NodeOp>()) {
    SnapshotNode info;
    info.id = node->getAttrOfType<IntegerAttr>(kIdAttr).getInt();
    info.label = nodeLabel(node);
    info.opType = node.getOpType().str();
    for (Value in : node.getInputs())
      if (auto id = idOf(in); id && !llvm::is_contained(info.inputs, *id))
        info.inputs.push_back(*id);
    snapshot.nodes.push_back(std::move(info));
  }
  return snapshot;
}

/// The changed nodes of one panel and their direct neighbours.
static std::vector<int64_t>
neighbourhood(const GraphSnapshot &snapshot,
              const llvm::DenseSet<int64_t> &changed, size_t limit) {
  llvm::DenseSet<int64_t> keep(changed.begin(), changed.end());
  for (const SnapshotNode &node : snapshot.nodes) {
    bool touches = changed.contains(node.id);
    for (int64_t in : node.inputs)
      if (touches)
        keep.insert(in);
      else if (changed.contains(in))
        keep.insert(node.id);
  }
  std::vector<int64_t> ids;
  // Changed nodes first so that the limit cuts neighbours, in graph order.
  for (bool wantChanged : {true, false})
    for (const SnapshotNode &node : snapshot.nodes)
      if (keep.contains(node.id) && changed.contains(node.id) == wantChanged &&
          ids.size() < limit)
        ids.push_back(node.id);
  return ids;
}

GraphDiff mrope::diffGraphs(const GraphSnapshot &before,
                            const GraphSnapshot &after, size_t limit) {
  GraphDiff diff;
  llvm::DenseSet<int64_t> beforeIds, afterIds, removed, added;
  for (const SnapshotNode &node : before.nodes)
    beforeIds.insert(node.id);
  for (const SnapshotNode &node : after.nodes)
    afterIds.insert(node.id);
  for (const SnapshotNode &node : before.nodes)
    if (!afterIds.contains(node.id) && node.id >= 0) {
      diff.removed.push_back(node);
      removed.insert(node.id);
    }
  for (const SnapshotNode &node : after.nodes) {
    if (node.id < 0) {
      const SnapshotNode *old = before.find(node.id);
      if (!old)
        diff.inputChanges.push_back(node.label + ": new, " + node.type);
      else if (old->type != node.type || old->label != node.label)
        diff.inputChanges.push_back(old->label + ": " + old->type + " -> " +
                                    node.label + ": " + node.type);
      if (!old || old->type != node.type) {
        added.insert(node.id);
        diff.changedInputs.push_back(node.id);
      }
      continue;
    }
    if (!beforeIds.contains(node.id)) {
      diff.added.push_back(node);
      added.insert(node.id);
    }
  }
  diff.beforeIds = neighbourhood(before, removed, limit);
  diff.afterIds = neighbourhood(after, added, limit);
  return diff;
}
