//===- PositionProbe.cpp - what an integer input means to positions ------===//
#include "mrope/Analysis/PositionProbe.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;
using namespace mrope;

void mrope::bindProbeInputShapes(eval::Evaluator &ev, onnx::GraphOp graph,
                                 int64_t tokens, Value positions) {
  Block &body = graph.getBodyBlock();
  auto paramOf = [&](BlockArgument arg, size_t d) -> std::string {
    auto params = graph.getArgAttrOfType<ArrayAttr>(arg.getArgNumber(),
                                                    onnx::attr::kDimParams);
    if (params && d < params.size())
      if (auto s = dyn_cast<StringAttr>(params[d]))
        return StringRef(s.getValue()).lower();
    return "";
  };
  // The batch dim of a [B, S] or [A, B, S] positions input names the batch
  // whatever its name (torch's dynamo writes s0, s1); [S, 2] (h, w) pairs
  // have none (their first dim is the patches).
  std::string batchParam;
  if (auto arg = dyn_cast_or_null<BlockArgument>(positions))
    if (auto type = dyn_cast<RankedTensorType>(arg.getType());
        type && type.getRank() >= 2 && arg.getOwner() == &body &&
        !(type.getRank() == 2 && type.getDimSize(1) == 2))
      batchParam = paramOf(arg, type.getRank() - 2);
  for (BlockArgument arg : body.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type)
      continue;
    SmallVector<int64_t> shape;
    for (auto [d, dim] : llvm::enumerate(type.getShape())) {
      if (!ShapedType::isDynamic(dim)) {
        shape.push_back(dim);
        continue;
      }
      std::string name = paramOf(arg, d);
      shape.push_back((!batchParam.empty() && name == batchParam) ||
                              StringRef(name).contains("batch")
                          ? 1
                      : StringRef(name).contains("past") ? 0
                                                         : tokens);
    }
    ev.bindInputShape(graph.getInputName(arg.getArgNumber()), shape);
  }
}

/// Whether every row of `rows` (one or more rows of `expected.size()`
/// tokens) equals `expected` where `compared` is set.
static bool everyRowIs(const eval::Tensor &rows, ArrayRef<int64_t> expected,
                       ArrayRef<bool> compared) {
  int64_t tokens = expected.size(), n = rows.numElements();
  if (!rows.hasData || rows.isFloat() || n == 0 || n % tokens)
    return false;
  for (int64_t k = 0; k < n; ++k)
    if (compared[k % tokens] && rows.i[k] != expected[k % tokens])
      return false;
  return true;
}

LeafMeaning mrope::probeLeafMeaning(Value leaf, Value rows) {
  auto arg = dyn_cast_or_null<BlockArgument>(leaf);
  auto type = leaf ? dyn_cast<RankedTensorType>(leaf.getType()) : nullptr;
  if (!arg || !rows || !type || type.getRank() != 2 ||
      !type.getElementType().isInteger())
    return LeafMeaning::Unknown;
  auto graph = dyn_cast<onnx::GraphOp>(arg.getOwner()->getParentOp());
  if (!graph)
    return LeafMeaning::Unknown;
  constexpr int64_t kTokens = 8;
  int64_t opset = onnx::getOpsetVersion(graph).value_or(17);
  auto run = [&](ArrayRef<int64_t> probe, ArrayRef<int64_t> expected,
                 ArrayRef<bool> compared) {
    eval::Evaluator ev(opset);
    bindProbeInputShapes(ev, graph, kTokens, leaf);
    ev.bind(leaf, eval::Tensor::ints({1, kTokens}, probe));
    const eval::Tensor *out = ev.evaluate(rows);
    return out && everyRowIs(*out, expected, compared);
  };
  const int64_t positions[kTokens] = {3, 4, 5, 6, 7, 8, 9, 10};
  const bool all[kTokens] = {true, true, true, true, true, true, true, true};
  if (run(positions, positions, all))
    return LeafMeaning::Positions;
  const int64_t segments[kTokens] = {1, 1, 1, 2, 2, 2, 2, 0};
  const int64_t counts[kTokens] = {0, 1, 2, 0, 1, 2, 3, 0};
  const bool unpadded[kTokens] = {true, true, true, true,
                                  true, true, true, false};
  if (run(segments, counts, unpadded))
    return LeafMeaning::Segments;
  return LeafMeaning::Unknown;
}
