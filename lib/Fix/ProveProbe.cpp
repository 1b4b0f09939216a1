//===- ProveProbe.cpp - probe positions and tables for the fix proofs -----===//
#include "ProveProbe.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace mrope;
using eval::Evaluator;
using eval::Tensor;

namespace mrope::prove::detail {

Probe::Probe(int64_t n) : tokens(n) {
  for (int64_t k = 0; k < n; ++k) {
    text.push_back(k < n / 2 ? k : k + n + 3);
    rowH.push_back((k * 3) % 5);
    rowW.push_back((k * 2 + 1) % 7);
  }
}

/// The probe's token count for positions of this type: its static
/// sequence dim when it has one, else 8.
int64_t probeTokens(Value positions) {
  auto type = dyn_cast<RankedTensorType>(positions.getType());
  if (!type || type.getRank() == 0)
    return 8;
  int64_t dim = type.getRank() == 2 && type.getDimSize(1) == 2
                    ? type.getDimSize(0)
                    : type.getDimSize(type.getRank() - 1);
  return ShapedType::isDynamic(dim) || dim <= 0 || dim > 4096 ? 8 : dim;
}

int64_t opsetOf(onnx::GraphOp graph) {
  return onnx::getOpsetVersion(graph).value_or(17);
}

/// The probe positions in the shape `positions` has: [S] or [1, S] one
/// row, [A, 1, S] rows, [S, 2] (h, w) pairs. `rows` are the rows to give
/// (one for text, three for M-RoPE).
bool seedPositions(Evaluator &ev, Value positions,
                   ArrayRef<ArrayRef<int64_t>> rows, std::string &why) {
  int64_t tokens = rows.front().size();
  auto type = dyn_cast<RankedTensorType>(positions.getType());
  if (!type) {
    why = eval::describeValue(positions) + ": the positions are unranked";
    return false;
  }
  SmallVector<int64_t> shape;
  std::vector<int64_t> data;
  int64_t rank = type.getRank();
  auto row = [&](size_t a) { return rows[std::min(a, rows.size() - 1)]; };
  if (rank == 1) {
    shape = {tokens};
    data.assign(row(0).begin(), row(0).end());
  } else if (rank == 2 && type.getDimSize(1) == 2) {
    shape = {tokens, 2};
    for (int64_t t = 0; t < tokens; ++t) {
      data.push_back(row(1)[t]);
      data.push_back(row(2)[t]);
    }
  } else if (rank == 2) {
    shape = {1, tokens};
    data.assign(row(0).begin(), row(0).end());
  } else if (rank == 3 && !ShapedType::isDynamic(type.getDimSize(0))) {
    int64_t axes = type.getDimSize(0);
    shape = {axes, 1, tokens};
    for (int64_t a = 0; a < axes; ++a)
      data.insert(data.end(), row(a).begin(), row(a).end());
  } else {
    why = eval::describeValue(positions) +
          ": the positions' shape is not one the probe knows";
    return false;
  }
  Tensor t = Tensor::ints(shape, data);
  if (type.getElementType().isF32()) {
    t.kind = Tensor::Kind::F32;
    for (int64_t v : t.i)
      t.f.push_back((float)v);
    t.i.clear();
  }
  ev.bind(positions, std::move(t));
  return true;
}

/// Whether `v` is computed from the data of `x` (a bounded walk back; a
/// Shape reads no data, so the walk does not go through it).
bool dependsOn(Value v, Value x) {
  SmallVector<Value> stack{v};
  llvm::DenseSet<Value> seen;
  while (!stack.empty() && seen.size() < 512) {
    Value cur = stack.pop_back_val();
    if (cur == x)
      return true;
    if (!seen.insert(cur).second)
      continue;
    if (auto node = cur.getDefiningOp<onnx::NodeOp>();
        node && node.isOnnx("Shape"))
      continue;
    if (Operation *def = cur.getDefiningOp())
      for (Value operand : def->getOperands())
        stack.push_back(operand);
  }
  return false;
}

/// The first difference between two per-frequency tables, "" when equal
/// within the tolerance; `maxDiff` grows to the largest difference.
std::string compare(ArrayRef<float> got, ArrayRef<float> want, int64_t freqs,
                    float &maxDiff) {
  for (size_t k = 0; k < got.size(); ++k) {
    float d = std::fabs(got[k] - want[k]);
    if (!(d <= kTolerance)) {
      std::string s;
      llvm::raw_string_ostream os(s);
      os << "token " << k / freqs << ", frequency " << k % freqs << ": "
         << llvm::format("%.6g", got[k]) << " instead of "
         << llvm::format("%.6g", want[k]);
      return s;
    }
    maxDiff = std::max(maxDiff, d);
  }
  return "";
}

std::string sectionsText(ArrayRef<int64_t> sections) {
  std::string s = "[";
  for (auto [k, v] : llvm::enumerate(sections))
    s += (k ? ", " : "") + std::to_string(v);
  return s + "]";
}

std::string rotatedKey(Value v) {
  while (auto node = v.getDefiningOp<onnx::NodeOp>()) {
    if (!node.getNodeName().starts_with("mrope_") ||
        node->getNumOperands() == 0)
      break;
    v = node->getOperand(0);
  }
  return eval::describeValue(v);
}

} // namespace mrope::prove::detail
