//===- RopeNeighbours.cpp - what a rotation's operand and result meet -----===//
#include "mrope/Analysis/RopeNeighbours.h"

#include "mrope/Analysis/Evaluate.h"
#include "mrope/Analysis/OnnxMatchers.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"

#include <cmath>

using namespace mlir;
using namespace mrope;
using namespace mrope::match;
using onnx::NodeOp;

/// Static last dim of `v`, or -1.
static int64_t lastDimOf(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || type.getRank() == 0 || type.isDynamicDim(type.getRank() - 1))
    return -1;
  return type.getShape().back();
}

/// Through the views between a norm and the rotation that keep the head dim
/// last and whole: Identity, same-type Cast, Transpose not moving the last
/// axis, Reshape/Unsqueeze/Squeeze with the same static last dim.
static Value throughLastAxisViews(Value v) {
  for (int step = 0; step < 8; ++step) {
    NodeBinder n(v);
    if (!n || !n.input(0))
      return v;
    Value in = n.input(0);
    bool keeps = false;
    if (n.isAnyOf("Identity", "Cast"))
      keeps =
          in.getType() == v.getType() || getElementTypeOrSelf(in.getType()) ==
                                             getElementTypeOrSelf(v.getType());
    else if (n.is("Transpose")) {
      std::optional<SmallVector<int64_t>> perm = n.intsAttr("perm");
      keeps = perm && !perm->empty() &&
              perm->back() == static_cast<int64_t>(perm->size()) - 1;
    } else if (n.isAnyOf("Reshape", "Unsqueeze", "Squeeze")) {
      keeps = lastDimOf(in) > 0 && lastDimOf(in) == lastDimOf(v);
    }
    if (!keeps)
      return v;
    v = in;
  }
  return v;
}

/// ORT's fused spelling: SimplifiedLayerNormalization over the last axis.
static std::optional<RmsNormNeighbour> fusedRmsNorm(Value y) {
  NodeBinder n(y);
  if (!n || n.getNode().getOpType() != "SimplifiedLayerNormalization" ||
      !(n.getNode().getDomain().empty() ||
        n.getNode().getDomain() == "com.microsoft"))
    return std::nullopt;
  auto type = dyn_cast<RankedTensorType>(y.getType());
  int64_t axis = n.intAttr("axis", -1);
  if (!type || (axis != -1 && axis != type.getRank() - 1) || !n.input(0))
    return std::nullopt;
  RmsNormNeighbour norm;
  norm.output = n.getNode();
  norm.input = n.input(0);
  norm.weight = n.input(1);
  norm.eps = n.getNode().getFloatAttr("epsilon").value_or(1e-5f);
  return norm;
}

/// A pseudo-random probe in [-2, 2) (deterministic).
static std::vector<float> probeValues(int64_t n) {
  std::vector<float> out;
  uint32_t state = 12345;
  for (int64_t k = 0; k < n; ++k) {
    state = state * 1664525u + 1013904223u;
    out.push_back(((state >> 8) & 0xffff) / 16384.0f - 2.0f);
  }
  return out;
}

/// Whether `y` equals w * h / sqrt(mean(h^2) + eps) row by row over the
/// last axis (relative tolerance 1e-5: the graph and this check round in a
/// different order, a few f32 ulps apart).
static bool isRmsNorm(const eval::Tensor &h, const eval::Tensor &y,
                      ArrayRef<float> weight, double eps) {
  int64_t d = h.shape.back(), n = h.numElements();
  if (!y.hasData || !y.isFloat() || y.numElements() != n || d <= 0)
    return false;
  for (int64_t row = 0; row < n / d; ++row) {
    double sum = 0;
    for (int64_t c = 0; c < d; ++c)
      sum += double(h.f[row * d + c]) * h.f[row * d + c];
    double scale = 1.0 / std::sqrt(sum / d + eps);
    for (int64_t c = 0; c < d; ++c) {
      double want =
          (weight.empty() ? 1.0 : weight[c]) * h.f[row * d + c] * scale;
      if (std::abs(y.f[row * d + c] - want) > 1e-5 * (1 + std::abs(want)))
        return false;
    }
  }
  return true;
}

/// The unfused spelling, by what it computes: the elementwise and reduction
/// closure of `y` over one float value h, evaluated on a probe h.
static std::optional<RmsNormNeighbour> computedRmsNorm(Value y, int64_t d,
                                                       int64_t rank) {
  if (d <= 0 || rank <= 0)
    return std::nullopt;
  llvm::SetVector<Value> seen;
  SmallVector<Value> work{y}, leaves;
  bool reduces = false;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!seen.insert(v))
      continue;
    NodeBinder n(v);
    if (!isConstant(v) && n &&
        n.isAnyOf("Mul", "Div", "Add", "Sub", "Sqrt", "Reciprocal", "Pow",
                  "ReduceMean", "Cast", "Identity")) {
      reduces |= n.is("ReduceMean");
      // ReduceMean's axes input (opset 18) is a constant leaf like others.
      for (unsigned i = 0, e = n.numInputs(); i < e; ++i)
        if (Value in = n.input(i))
          work.push_back(in);
      continue;
    }
    leaves.push_back(v);
  }
  if (!reduces || seen.size() > 64)
    return std::nullopt;
  Value h;
  SmallVector<SmallVector<float>> weights{{}};
  SmallVector<double> epsilons;
  for (Value leaf : leaves) {
    if (!isConstant(leaf)) {
      if (h)
        return std::nullopt; // more than one tensor goes in: not a norm
      h = leaf;
      continue;
    }
    std::optional<SmallVector<float>> values = floatsOf(leaf);
    if (values && values->size() == static_cast<size_t>(d))
      weights.push_back(*values);
    else if (values && values->size() == 1)
      epsilons.push_back((*values)[0]);
  }
  auto hType = h ? dyn_cast<TensorType>(h.getType()) : nullptr;
  if (!hType || !isa<FloatType>(hType.getElementType()) ||
      (hType.hasRank() && lastDimOf(h) > 0 && lastDimOf(h) != d))
    return std::nullopt;
  // h's static dims, else 2 (rows a reduction over the wrong axis would
  // mix); an untyped h gets the rank of the value it normalises.
  SmallVector<int64_t> shape(hType.hasRank() ? hType.getRank() : rank, 2);
  if (hType.hasRank())
    for (auto [k, dim] : llvm::enumerate(hType.getShape()))
      if (!ShapedType::isDynamic(dim))
        shape[k] = dim;
  shape.back() = d;
  int64_t n = 1;
  for (int64_t dim : shape)
    n *= dim;
  if (n > (1 << 16))
    return std::nullopt;
  // Two probes: unit values, and values so small that mean(h^2) is near a
  // typical eps, where eps = 1e-6 and eps = 0 give different outputs.
  auto graph = y.getParentRegion()->getParentOfType<onnx::GraphOp>();
  int64_t opset = graph ? onnx::getOpsetVersion(graph).value_or(17) : 17;
  SmallVector<std::pair<eval::Tensor, eval::Tensor>> runs;
  for (float scale : {1.0f, 1e-3f}) {
    std::vector<float> values = probeValues(n);
    for (float &v : values)
      v *= scale;
    auto probe = eval::Tensor::floats(shape, values);
    eval::Evaluator ev(opset);
    ev.bind(h, probe);
    const eval::Tensor *out = ev.evaluate(y);
    if (!out)
      return std::nullopt;
    runs.push_back({probe, *out});
  }
  // The graph's own scalars first; eps = 0 when it adds none.
  epsilons.push_back(0.0);
  for (ArrayRef<float> weight : weights)
    for (double eps : epsilons)
      if (llvm::all_of(runs, [&](const auto &run) {
            return isRmsNorm(run.first, run.second, weight, eps);
          })) {
        RmsNormNeighbour norm;
        norm.output = y.getDefiningOp<NodeOp>();
        norm.input = h;
        norm.eps = eps;
        for (Value leaf : leaves)
          if (std::optional<SmallVector<float>> values = floatsOf(leaf);
              !weight.empty() && values && ArrayRef<float>(*values) == weight)
            norm.weight = leaf;
        return norm;
      }
  return std::nullopt;
}

std::optional<RmsNormNeighbour>
mrope::findRmsNormBefore(Value x, int64_t headDim, int64_t rank) {
  if (!x)
    return std::nullopt;
  Value y = throughLastAxisViews(x);
  if (!y.getDefiningOp<NodeOp>())
    return std::nullopt;
  if (std::optional<RmsNormNeighbour> norm = fusedRmsNorm(y))
    return norm;
  if (auto type = dyn_cast<RankedTensorType>(y.getType()))
    rank = type.getRank();
  return computedRmsNorm(y, lastDimOf(y) > 0 ? lastDimOf(y) : headDim, rank);
}

std::optional<CacheWriteNeighbour> mrope::findCacheWriteAfter(Value y,
                                                              int64_t seqAxis) {
  SmallVector<std::pair<Value, int64_t>> work{{y, seqAxis}};
  for (int step = 0; step < 8 && !work.empty(); ++step) {
    auto [v, axis] = work.pop_back_val();
    for (auto [user, index] : usersThroughIdentities(v)) {
      NodeBinder n(user);
      if (n.is("Transpose")) {
        std::optional<SmallVector<int64_t>> perm = n.intsAttr("perm");
        if (!perm)
          continue;
        for (auto [j, p] : llvm::enumerate(*perm))
          if (p == axis)
            work.push_back({n.result(), static_cast<int64_t>(j)});
        continue;
      }
      if (!n.is("Concat") || n.numInputs() != 2 || index != 1)
        continue;
      auto type = dyn_cast<RankedTensorType>(n.result().getType());
      int64_t concatAxis = n.intAttr("axis", 0);
      if (type && concatAxis < 0)
        concatAxis += type.getRank();
      if (concatAxis != axis)
        continue;
      CacheWriteNeighbour write;
      write.concat = user;
      write.past = n.input(0);
      write.axis = axis;
      return write;
    }
  }
  return std::nullopt;
}

/// `v` traced back through value identities and Transposes to a graph
/// input of `body`, with `axis` of v carried to the input's axis.
static std::optional<std::pair<BlockArgument, int64_t>>
inputAxisOf(Value v, int64_t axis, Block &body) {
  for (int step = 0; step < 8; ++step) {
    if (auto arg = dyn_cast<BlockArgument>(v))
      return arg.getOwner() == &body ? std::optional(std::pair(arg, axis))
                                     : std::nullopt;
    auto node = v.getDefiningOp<NodeOp>();
    if (!node || node->getNumOperands() < 1)
      return std::nullopt;
    if (node.isOnnx("Transpose")) {
      std::optional<SmallVector<int64_t>> perm = node.getIntsAttr("perm");
      if (!perm || axis >= static_cast<int64_t>(perm->size()))
        return std::nullopt;
      axis = (*perm)[axis];
    } else if (!isValueIdentity(node)) {
      return std::nullopt;
    }
    v = node->getOperand(0);
  }
  return std::nullopt;
}

/// Whether the graph returns `v`, through value identities and Transposes.
static bool isReturned(Value v) {
  SmallVector<Value> work{v};
  for (int step = 0; step < 16 && !work.empty(); ++step) {
    Value x = work.pop_back_val();
    for (Operation *user : x.getUsers()) {
      if (isa<onnx::ReturnOp>(user))
        return true;
      if (auto node = dyn_cast<NodeOp>(user);
          node && node->getNumResults() == 1 &&
          (node.isOnnx("Transpose") || isValueIdentity(node)))
        work.push_back(node->getResult(0));
    }
  }
  return false;
}

SmallVector<PastCacheInput> mrope::pastCacheInputs(onnx::GraphOp graph) {
  Block &body = graph.getBodyBlock();
  llvm::MapVector<BlockArgument, PastCacheInput> found;
  auto add = [&](Value v, int64_t axis, int64_t batchAxis) {
    if (auto at = inputAxisOf(v, axis, body))
      found.insert({at->first, {at->first, at->second, batchAxis}});
  };
  for (NodeOp node : body.getOps<NodeOp>()) {
    if (node.getOpType() == "GroupQueryAttention" &&
        node.getDomain() == "com.microsoft") {
      // past_key and past_value: [batch, kv_heads, past, head_dim].
      for (unsigned i : {3u, 4u})
        if (i < node->getNumOperands() && node->getOperand(i) &&
            rankOf(node->getOperand(i)) == 4)
          add(node->getOperand(i), 2, 0);
      continue;
    }
    if (!node.isOnnx("Concat") || node->getNumOperands() != 2 ||
        node->getNumResults() != 1)
      continue;
    Value past = node->getOperand(0), step = node->getOperand(1);
    int64_t rank = rankOf(past), axis = node.getIntAttr("axis").value_or(0);
    if (axis < 0 && rank > 0)
      axis += rank;
    if (axis < 0 || isConstant(step) || rootOf(step) == rootOf(past) ||
        !isReturned(node->getResult(0)))
      continue;
    add(past, axis, -1);
  }
  SmallVector<PastCacheInput> out;
  for (auto &[arg, cache] : found)
    out.push_back(cache);
  llvm::sort(out, [](const PastCacheInput &a, const PastCacheInput &b) {
    return a.input.getArgNumber() < b.input.getArgNumber();
  });
  return out;
}

/// Whether constant `v` holds -1e4 or less everywhere (-inf included): the
/// bias a masked fill writes into the attention scores (torch's finfo.min,
/// fp16's -65504, -1e9, -10000).
static bool isLargeNegative(Value v) {
  std::optional<SmallVector<float>> values = floatsOf(v, 1 << 16);
  return values && !values->empty() &&
         llvm::all_of(*values, [](float x) { return x <= -1e4f; });
}

namespace {
/// What one node does with a mask-derived operand.
enum class MaskUse { flow, sink, stop };
} // namespace

static MaskUse maskUse(NodeOp node, unsigned operand) {
  StringRef op = node.getOpType(), domain = node.getDomain();
  unsigned numOperands = node->getNumOperands();
  auto other = [&]() -> Value {
    return numOperands == 2 ? node->getOperand(1 - operand) : Value();
  };
  if (domain == "com.microsoft") {
    // seqlens_k / total_sequence_length: the mask summed per row.
    if (op == "GroupQueryAttention")
      return operand == 5 || operand == 6 ? MaskUse::sink : MaskUse::stop;
    if (op == "Attention")
      return operand == 3 ? MaskUse::sink : MaskUse::stop;
    if (op == "MultiHeadAttention")
      return operand == 4 ? MaskUse::sink : MaskUse::stop;
    return MaskUse::stop;
  }
  if (!domain.empty() && domain != "ai.onnx")
    return MaskUse::stop;
  if (op == "Attention") // opset 23: attn_mask
    return operand == 3 ? MaskUse::sink : MaskUse::stop;
  if (op == "CumSum")
    return operand == 0 ? MaskUse::sink : MaskUse::stop;
  if (op == "Softmax")
    return MaskUse::sink;
  if (op == "Where") {
    if (operand == 0 && numOperands == 3 &&
        (isLargeNegative(node->getOperand(1)) ||
         isLargeNegative(node->getOperand(2))))
      return MaskUse::sink;
    return MaskUse::flow;
  }
  if (op == "Mul" && other() && isLargeNegative(other()))
    return MaskUse::sink;
  // Comparisons with a constant (mask == 0, mask > 0) keep the meaning;
  // against another tensor (positions <= arange: a causal mask) they
  // make a new one.
  if (llvm::is_contained({StringRef("Equal"), StringRef("Greater"),
                          StringRef("Less"), StringRef("GreaterOrEqual"),
                          StringRef("LessOrEqual")},
                         op))
    return other() && isConstant(other()) ? MaskUse::flow : MaskUse::stop;
  if (llvm::is_contained({StringRef("Identity"), StringRef("Cast"),
                          StringRef("Transpose"), StringRef("Not"),
                          StringRef("And"), StringRef("Or"), StringRef("Xor"),
                          StringRef("Mul"), StringRef("Add"), StringRef("Sub"),
                          StringRef("Neg"), StringRef("Min"), StringRef("Max"),
                          StringRef("Concat")},
                         op))
    return MaskUse::flow;
  // Views and reductions of the data operand, not of a shape or axes.
  if (llvm::is_contained({StringRef("Unsqueeze"), StringRef("Squeeze"),
                          StringRef("Reshape"), StringRef("Expand"),
                          StringRef("Slice"), StringRef("Tile"),
                          StringRef("ReduceSum"), StringRef("ReduceMax")},
                         op))
    return operand == 0 ? MaskUse::flow : MaskUse::stop;
  return MaskUse::stop;
}

/// Whether `arg`'s values reach a mask sink through mask flow (maskUse).
static bool readsAsAttentionMask(BlockArgument arg) {
  SmallVector<Value> work{arg};
  llvm::SmallPtrSet<Operation *, 32> seen;
  while (!work.empty() && seen.size() < 512) {
    Value v = work.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      auto node = dyn_cast<NodeOp>(use.getOwner());
      if (!node || !seen.insert(node).second)
        continue;
      switch (maskUse(node, use.getOperandNumber())) {
      case MaskUse::sink:
        return true;
      case MaskUse::flow:
        work.append(node->result_begin(), node->result_end());
        break;
      case MaskUse::stop:
        break;
      }
    }
  }
  return false;
}

/// Whether `arg`'s values index the rows of a float [V, hidden] constant
/// whose gathered rows the graph reads (through views of the ids).
static bool readsAsTokenIds(BlockArgument arg) {
  SmallVector<Value> work{arg};
  llvm::SmallPtrSet<Operation *, 16> seen;
  while (!work.empty() && seen.size() < 64) {
    Value v = work.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      auto node = dyn_cast<NodeOp>(use.getOwner());
      if (!node || !seen.insert(node).second)
        continue;
      unsigned at = use.getOperandNumber();
      if (node.getDomain() == "com.microsoft" &&
          node.getOpType() == "EmbedLayerNormalization" && at == 0)
        return true;
      NodeBinder n(node);
      if (n.is("Gather") && at == 1 && n.intAttr("axis", 0) == 0) {
        Value table = node->getOperand(0);
        if (isFloatTensor(table) && rankOf(table) == 2 && isConstant(table) &&
            !node->getResult(0).use_empty())
          return true;
        continue;
      }
      if ((n.isAnyOf("Identity", "Cast", "Flatten") ||
           (n.isAnyOf("Reshape", "Unsqueeze", "Squeeze") && at == 0)) &&
          node->getNumResults() == 1)
        work.push_back(node->getResult(0));
    }
  }
  return false;
}

SmallVector<BlockArgument> mrope::tokenIdsInputs(onnx::GraphOp graph) {
  SmallVector<BlockArgument> out;
  for (BlockArgument arg : graph.getBodyBlock().getArguments())
    if (isIntTensor(arg) && rankOf(arg) == 2 && readsAsTokenIds(arg))
      out.push_back(arg);
  return out;
}

SmallVector<BlockArgument> mrope::attentionMaskInputs(onnx::GraphOp graph) {
  SmallVector<BlockArgument> out;
  for (BlockArgument arg : graph.getBodyBlock().getArguments())
    if ((isIntTensor(arg) || isFloatTensor(arg)) && rankOf(arg) == 2 &&
        readsAsAttentionMask(arg))
      out.push_back(arg);
  return out;
}

SmallVector<BlockArgument> mrope::gridInputs(onnx::GraphOp graph) {
  SmallVector<BlockArgument> out;
  for (BlockArgument arg : graph.getBodyBlock().getArguments())
    if (isIntTensor(arg) && rankOf(arg) == 2 && dimOf(arg, 1) == 3)
      out.push_back(arg);
  return out;
}
