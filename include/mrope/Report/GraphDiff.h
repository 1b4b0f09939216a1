//===- GraphDiff.h - what a fix changes in an ONNX graph --------*- C++ -*-===//
//
// The report shows the rewrite: which ONNX nodes the fix removes and adds,
// and a small before/after graph around them. A snapshot records nodes and
// graph inputs with stable ids (an attribute on the nodes of a scratch copy
// of the module, so that pointer reuse after erasure cannot fool the diff).
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_REPORT_GRAPHDIFF_H
#define MROPE_REPORT_GRAPHDIFF_H

#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mrope {

/// One node of a snapshot: an ONNX node, or a graph input (id < 0).
struct SnapshotNode {
  int64_t id = 0;
  std::string label;  ///< node name / "input 'x'"
  std::string opType; ///< "" for a graph input
  std::string type;   ///< graph inputs: the declared type
  llvm::SmallVector<int64_t>
      inputs; ///< ids of producers (initializers skipped)
};

struct GraphSnapshot {
  std::vector<SnapshotNode> nodes;
  const SnapshotNode *find(int64_t id) const;
};

/// Gives every node of `graph` without one a fresh id attribute (ids of
/// nodes a pass created), then records the graph.
GraphSnapshot snapshotGraph(onnx::GraphOp graph, int64_t &nextId);

struct GraphDiff {
  std::vector<SnapshotNode> removed, added;
  /// Graph inputs whose type changed, or that are new: "name: before -> after".
  std::vector<std::string> inputChanges;
  /// Their ids (drawn as changed in the after panel).
  std::vector<int64_t> changedInputs;
  /// Ids of the nodes to draw in each panel: the changed nodes and their
  /// direct neighbours (at most `limit` per panel).
  std::vector<int64_t> beforeIds, afterIds;
};

GraphDiff diffGraphs(const GraphSnapshot &before, const GraphSnapshot &after,
                     size_t limit = 40);

} // namespace mrope

#endif // MROPE_REPORT_GRAPHDIFF_H
