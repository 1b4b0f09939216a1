//===- PositionProbe.cpp - what an integer input means to positions ------===//
#include "mrope/Analysis/PositionProbe.h"

#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/RopeNeighbours.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <functional>

using namespace mlir;
using namespace mrope;
using namespace mrope::match;

namespace {

/// What the probe gives a dynamic dim of a graph input.
enum class DimRole { Tokens, Batch, Past };

/// The dims of the graph inputs, each under one key: its dim_param (ONNX
/// declares dims with one dim_param equal, whatever the spelling), or
/// "#input:axis" for an unnamed dynamic dim (equal to no other).
struct InputDims {
  onnx::GraphOp graph;
  std::string key(BlockArgument arg, size_t d) {
    auto params = graph.getArgAttrOfType<ArrayAttr>(arg.getArgNumber(),
                                                    onnx::attr::kDimParams);
    if (params && d < params.size())
      if (auto s = dyn_cast<StringAttr>(params[d]); s && !s.getValue().empty())
        return s.getValue().str();
    return "#" + std::to_string(arg.getArgNumber()) + ":" + std::to_string(d);
  }
};

} // namespace

/// Distinct sizes for the dims whose role the shapes of the positions tell:
/// primes (a product or sum of two is none of them) other than the static
/// dims of the inputs, so a size read back names one dim; small, to keep
/// the evaluated tensors small.
static constexpr int64_t kDimPrimes[] = {11, 13, 17, 19, 23, 29, 31, 37, 41,
                                         43, 47, 53, 59, 61, 67, 71, 73, 79};

/// The batch dims the positions are laid out by, read off shapes: every
/// dynamic dim gets its own prime size (past dims 0), inputs small enough
/// get data (integers 1, floats 0), and the values `positions` flows into
/// (a few dozen steps forward, positions itself included) are evaluated:
///  - one of rank >= 2 with a dim's size on its last (token) axis and
///    another dim's size on the axis before names that one the batch
///    ([B, S] positions, their [3, B, S] rows, an Expand of a Range(S) to
///    [3, B, S] with B read off another input's Shape);
///  - an elementwise node (x * cos) ties the dims its two operands align
///    (right-aligned; a batch tied to a dim makes that dim a batch);
///  - a fused rotary op reached reads x as [B, S, H*D] or [B, H, S, D]:
///    x's first axis is the batch.
static void batchFromPositionShapes(onnx::GraphOp graph, Value positions,
                                    InputDims &dims,
                                    llvm::StringMap<DimRole> &roles) {
  if (!positions)
    return;
  Block &body = graph.getBodyBlock();
  eval::Evaluator ev(onnx::getOpsetVersion(graph).value_or(17));
  llvm::StringMap<int64_t> sizeOf;
  llvm::DenseMap<int64_t, std::string> keyOfSize;
  llvm::SmallDenseSet<int64_t> staticDims;
  for (BlockArgument arg : body.getArguments())
    if (auto type = dyn_cast<RankedTensorType>(arg.getType()))
      for (int64_t dim : type.getShape())
        staticDims.insert(dim);
  const int64_t *nextPrime = std::begin(kDimPrimes);
  for (BlockArgument arg : body.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type)
      continue;
    SmallVector<int64_t> shape;
    int64_t n = 1;
    for (auto [d, dim] : llvm::enumerate(type.getShape())) {
      if (!ShapedType::isDynamic(dim)) {
        shape.push_back(dim);
      } else {
        std::string key = dims.key(arg, d);
        auto role = roles.find(key);
        if (role != roles.end() && role->second == DimRole::Past) {
          shape.push_back(0);
        } else {
          auto [it, fresh] = sizeOf.try_emplace(key, 0);
          if (fresh) {
            while (nextPrime != std::end(kDimPrimes) &&
                   staticDims.contains(*nextPrime))
              ++nextPrime;
            if (nextPrime == std::end(kDimPrimes))
              return; // more dims than sizes: nothing read
            it->second = *nextPrime++;
            keyOfSize[it->second] = key;
          }
          shape.push_back(it->second);
        }
      }
      n *= shape.back();
    }
    ev.bindInputShape(graph.getInputName(arg.getArgNumber()), shape);
    if (n > (1 << 20))
      continue;
    if (type.getElementType().isInteger())
      ev.bind(arg, eval::Tensor::ints(shape, SmallVector<int64_t>(n, 1)));
    else if (isa<FloatType>(type.getElementType()))
      ev.bind(arg, eval::Tensor::floats(shape, SmallVector<float>(n, 0.0f)));
  }
  // Dims tied by shape: a union-find over their keys.
  llvm::StringMap<std::string> parent;
  std::function<std::string(const std::string &)> find =
      [&](const std::string &k) -> std::string {
    auto it = parent.find(k);
    if (it == parent.end() || it->second == k)
      return k;
    return it->second = find(it->second);
  };
  SmallVector<std::string> batches;
  auto keyAt = [&](const eval::Tensor &t, int64_t axis) -> std::string {
    auto it = keyOfSize.find(t.shape[axis]);
    return it == keyOfSize.end() ? "" : it->second;
  };
  auto shapeOf = [&](Value v) -> const eval::Tensor * {
    const eval::Tensor *t = v ? ev.evaluate(v) : nullptr;
    return t && !t->shape.empty() ? t : nullptr;
  };
  // First the integer values only (cheap: positions and their rows); the
  // float values the positions reach (tables, x * cos) only while a dim is
  // left that is neither past, batch nor the token count.
  llvm::StringSet<> tokenKeys;
  auto walk = [&](bool floats) {
    SmallVector<Value> work{positions};
    llvm::SmallPtrSet<Operation *, 32> seen;
    for (size_t k = 0; k < work.size() && k < 256; ++k) {
      Value v = work[k];
      if (const eval::Tensor *t = isIntTensor(v) ? shapeOf(v) : nullptr) {
        std::string token = keyAt(*t, t->shape.size() - 1);
        if (!token.empty())
          tokenKeys.insert(token);
        std::string batch =
            t->shape.size() >= 2 ? keyAt(*t, t->shape.size() - 2) : "";
        if (!token.empty() && !batch.empty() && token != batch)
          batches.push_back(batch);
      }
      for (Operation *user : v.getUsers()) {
        auto node = dyn_cast<onnx::NodeOp>(user);
        if (!node || !seen.insert(user).second)
          continue;
        StringRef op = node.getOpType();
        bool fused = op == "RotaryEmbedding" || op == "MRotaryEmbedding";
        if (floats && fused && node->getNumOperands() > 0)
          if (const eval::Tensor *x = shapeOf(node->getOperand(0));
              x && x->shape.size() >= 3 && !keyAt(*x, 0).empty())
            batches.push_back(keyAt(*x, 0));
        if (floats && !fused && node->getNumOperands() == 2 &&
            (op == "Mul" || op == "Add" || op == "Sub" || op == "Div")) {
          const eval::Tensor *a = shapeOf(node->getOperand(0));
          const eval::Tensor *b = a ? shapeOf(node->getOperand(1)) : nullptr;
          for (size_t i = 1;
               b && i <= std::min(a->shape.size(), b->shape.size()); ++i) {
            std::string ka = keyAt(*a, a->shape.size() - i),
                        kb = keyAt(*b, b->shape.size() - i);
            if (!ka.empty() && !kb.empty())
              parent[find(ka)] = find(kb);
          }
        }
        for (Value r : user->getResults())
          if (floats || isIntTensor(r))
            work.push_back(r);
      }
    }
  };
  auto settle = [&] {
    llvm::StringSet<> batchRoots;
    for (const std::string &b : batches)
      batchRoots.insert(find(b));
    bool open = false;
    for (auto &[size, key] : keyOfSize) {
      if (batchRoots.contains(find(key)))
        roles.try_emplace(key, DimRole::Batch);
      else if (!roles.count(key) && !tokenKeys.contains(key))
        open = true;
    }
    return open;
  };
  walk(/*floats=*/false);
  if (settle()) {
    walk(/*floats=*/true);
    settle();
  }
}

void mrope::bindProbeInputShapes(eval::Evaluator &ev, onnx::GraphOp graph,
                                 int64_t tokens, Value positions) {
  Block &body = graph.getBodyBlock();
  InputDims dims{graph};
  llvm::StringMap<DimRole> roles;
  // Past KV caches by what the graph does with them: their past axis is 0.
  for (const PastCacheInput &cache : pastCacheInputs(graph)) {
    roles[dims.key(cache.input, cache.axis)] = DimRole::Past;
    if (cache.batchAxis >= 0)
      roles.try_emplace(dims.key(cache.input, cache.batchAxis), DimRole::Batch);
  }
  // The batch dim of a [B, S] or [A, B, S] positions input is the batch;
  // [S, 2] (h, w) pairs have none (their first dim is the patches).
  if (auto arg = dyn_cast_or_null<BlockArgument>(positions))
    if (auto type = dyn_cast<RankedTensorType>(arg.getType());
        type && type.getRank() >= 2 && arg.getOwner() == &body &&
        !(type.getRank() == 2 && type.getDimSize(1) == 2) &&
        type.isDynamicDim(type.getRank() - 2))
      roles.try_emplace(dims.key(arg, type.getRank() - 2), DimRole::Batch);
  // Positions computed in the graph: the batch they are laid out by.
  batchFromPositionShapes(graph, positions, dims, roles);
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
      auto role = roles.find(dims.key(arg, d));
      DimRole r = role == roles.end() ? DimRole::Tokens : role->second;
      shape.push_back(r == DimRole::Batch  ? 1
                      : r == DimRole::Past ? 0
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

LeafMeaning mrope::probeLeafMeaning(Value leaf, Value rows,
                                    SmallVectorImpl<int64_t> *shape) {
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
    if (!out || !everyRowIs(*out, expected, compared))
      return false;
    if (shape)
      shape->assign(out->shape.begin(), out->shape.end());
    return true;
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
