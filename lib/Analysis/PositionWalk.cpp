//===- PositionWalk.cpp - what a RoPE angle depends on --------------------===//
#include "mrope/Analysis/PositionWalk.h"

#include "mrope/Analysis/OnnxMatchers.h"

using namespace mlir;
using namespace mrope;
using namespace mrope::match;
using onnx::NodeOp;

SmallVector<Value> mrope::dataInputs(NodeOp node) {
  NodeBinder n(node);
  auto only = [&](std::initializer_list<unsigned> idx) {
    SmallVector<Value> out;
    for (unsigned i : idx)
      if (Value v = n.input(i))
        out.push_back(v);
    return out;
  };
  if (n.isAnyOf("Reshape", "Expand", "Tile", "Unsqueeze", "Squeeze", "Slice",
                "Pad", "Flatten", "Transpose", "Cast", "Identity"))
    return only({0});
  if (n.isAnyOf("ScatterND", "ScatterElements"))
    return only({0, 2});
  if (n.is("Where"))
    return only({1, 2});
  if (n.isAnyOf("Gather", "GatherElements", "GatherND"))
    return n.input(1) && isConstant(n.input(1)) ? only({0}) : only({0, 1});
  SmallVector<Value> out;
  for (unsigned i = 0, e = n.numInputs(); i < e; ++i)
    if (Value v = n.input(i))
      out.push_back(v);
  return out;
}

Value PositionWalk::positionsLeaf() const {
  if (!intInputs.empty())
    return intInputs.front();
  return ranges.empty() ? Value() : ranges.front()->getResult(0);
}

void PositionWalk::adoptFloatPositions(ArrayRef<Value> positions) {
  SmallVector<Value> adopted;
  llvm::erase_if(floatInputs, [&](Value in) {
    if (!llvm::is_contained(positions, in))
      return false;
    adopted.push_back(in);
    return true;
  });
  intInputs.insert(intInputs.begin(), adopted.begin(), adopted.end());
}

void PositionWalk::walk(Value root) {
  SmallVector<Value> work{root};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!v || !seen.insert(v).second)
      continue;
    if (isa<BlockArgument>(v)) {
      if (isIntTensor(v))
        intInputs.push_back(v);
      else if (isFloatTensor(v))
        floatInputs.push_back(v);
      continue;
    }
    if (std::optional<SmallVector<float>> c = floatsOf(v)) {
      floatConsts.push_back(*c);
      continue;
    }
    NodeBinder node(v);
    if (!node || isConstant(v))
      continue;
    // Shapes say how big, not which positions.
    if (node.isAnyOf("Shape", "Size", "ConstantOfShape"))
      continue;
    nodes.insert(node.getNode());
    if (node.is("Range")) {
      ranges.push_back(node.getNode());
      continue;
    }
    // A float computation rounded back to integers is positions (Qwen2.5-VL's
    // temporal rows: t * second_per_grid_ts * tokens_per_second, Cast to
    // int64): its float inputs are not activations, its float constants no
    // frequency table.
    if (node.is("Cast") && node.input(0) &&
        llvm::is_contained({2, 3, 4, 5, 6, 7, 12, 13}, node.intAttr("to", 0))) {
      PositionWalk inner;
      inner.seen = seen;
      inner.walk(node.input(0));
      seen.insert(inner.seen.begin(), inner.seen.end());
      nodes.insert(inner.nodes.begin(), inner.nodes.end());
      intInputs.append(inner.intInputs);
      ranges.append(inner.ranges);
      slices.append(inner.slices);
      rowGathers.append(inner.rowGathers);
      continue;
    }
    if (node.is("Slice"))
      slices.push_back(node.getNode());
    if (node.is("Gather") && node.intAttr("axis", 0) == 0 && node.input(1) &&
        isConstant(node.input(1)))
      rowGathers.push_back(node.getNode());
    // Depth-first in input order, as the recursive walk did: the first
    // integer input reached is the positions leaf.
    SmallVector<Value> inputs = dataInputs(node.getNode());
    for (Value in : llvm::reverse(inputs))
      work.push_back(in);
  }
}
