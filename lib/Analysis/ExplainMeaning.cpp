//===- ExplainMeaning.cpp - --explain by what values mean -----------------===//
#include "mrope/Analysis/ExplainMeaning.h"

#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/ValueMeaning.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mrope;
using meaning::Meaning;

namespace {

/// Where the meaning of `v` was lost: from `v`, step to the first operand
/// whose meaning is unknown until a value whose operands are all known (or
/// a graph input or initializer). That value's transfer function (or leaf
/// rule) is the one that gave up, and its reason says why.
Value whereMeaningIsLost(Value v, const meaning::ValueMeanings &meanings) {
  llvm::DenseSet<Value> seen;
  while (seen.insert(v).second) {
    auto node = v.getDefiningOp<onnx::NodeOp>();
    if (!node)
      return v;
    Value next;
    for (Value operand : node->getOperands())
      if (meanings.lookup(operand).isUnknown()) {
        next = operand;
        break;
      }
    if (!next)
      return v;
    v = next;
  }
  return v;
}

std::string printed(const Meaning &m) {
  std::string text;
  llvm::raw_string_ostream os(text);
  m.print(os);
  return text;
}

} // namespace

std::vector<std::string>
mrope::explainByMeaning(onnx::GraphOp graph, ArrayRef<RopeSite> sites,
                        ArrayRef<FusedRopeSite> fused) {
  llvm::DenseSet<Operation *> claimed;
  for (const RopeSite &site : sites)
    claimed.insert(site.cosNode);
  std::vector<onnx::NodeOp> candidates;
  for (auto node : graph.getBodyBlock().getOps<onnx::NodeOp>())
    if (node.getOpType() == "Cos" && node.getDomain().empty() &&
        node->getNumOperands() == 1 && node->getNumResults() == 1 &&
        !claimed.contains(node))
      candidates.push_back(node);
  std::vector<std::string> lines;
  if (candidates.empty())
    return lines;

  meaning::ValueMeanings meanings(graph);
  for (onnx::NodeOp cos : candidates) {
    std::string line;
    llvm::raw_string_ostream os(line);
    os << "Cos " << nodeLabel(cos) << ": by meaning: ";
    Value angle = cos->getOperand(0);
    const Meaning &table = meanings.lookup(cos->getResult(0));
    if (!meanings.ok()) {
      os << "the value-meaning analysis did not run";
    } else if (table.kind == meaning::Kind::Cos) {
      os << printed(table);
      // The fused site whose caches are computed from this angle table.
      for (auto [i, site] : llvm::enumerate(fused))
        if (site.table && site.table == table.table) {
          os << "; read by site " << sites.size() + i << " (fused "
             << nodeLabel(site.nodes.front()) << ")";
          break;
        }
    } else {
      const Meaning &in = meanings.lookup(angle);
      if (!in.isUnknown()) {
        os << "its input means " << printed(in) << ", not an angle table";
      } else {
        Value lost = whereMeaningIsLost(angle, meanings);
        os << "its angle is unknown from " << meaning::describeValue(lost)
           << ": " << meanings.lookup(lost).why;
      }
    }
    lines.push_back(std::move(line));
  }
  return lines;
}
