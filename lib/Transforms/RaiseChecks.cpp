//===- RaiseChecks.cpp - which RoPE sites rope-raise can raise ------------===//
#include "RaiseChecks.h"

#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/RopeReport.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;
using namespace mrope;
using namespace mrope::raise;
using match::NodeBinder;
using onnx::NodeOp;

namespace {

bool isSplatOne(Value v) {
  std::optional<DenseElementsAttr> c = match::constantOf(v, 1);
  return c && c->isSplat() && isa<FloatType>(c->getElementType()) &&
         c->getSplatValue<APFloat>().convertToDouble() == 1.0;
}

/// Whether `v` holds `table`'s values moved only by views and broadcasts
/// (Unsqueeze, Squeeze, Reshape, Expand, Tile, Identity, float Casts),
/// identity scalings (Mul by 1), the section merge (Split, Gather of one row,
/// Concat) and GPT-J's repeat_interleave (Concat of the table's columns).
/// The analysis proved the merge and the channel order; this rules out
/// anything that changes the values on the way (attention scaling other than
/// 1, an Add, a Slice of tokens). On failure `why` names the node.
bool carriesTable(Value v, Value table, std::string &why) {
  SmallVector<Value> work{v};
  llvm::DenseSet<Value> seen;
  while (!work.empty()) {
    Value cur = work.pop_back_val();
    if (cur == table || !seen.insert(cur).second)
      continue;
    NodeBinder node(cur);
    if (node.isAnyOf("Unsqueeze", "Squeeze", "Reshape", "Expand", "Tile",
                     "Identity", "Split")) {
      work.push_back(node.input(0));
      continue;
    }
    if (node.is("Cast") && match::isFloatTensor(node.input(0))) {
      work.push_back(node.input(0));
      continue;
    }
    if (node.is("Gather") && node.intAttr("axis", 0) == 0 &&
        match::scalarIntOf(node.input(1))) {
      work.push_back(node.input(0));
      continue;
    }
    if (node.is("Concat")) {
      for (unsigned i = 0; i < node.numInputs(); ++i)
        work.push_back(node.input(i));
      continue;
    }
    if (node.is("Mul") && node.numInputs() == 2 &&
        (isSplatOne(node.input(0)) || isSplatOne(node.input(1)))) {
      work.push_back(isSplatOne(node.input(0)) ? node.input(1)
                                               : node.input(0));
      continue;
    }
    why = node ? "the table reaches the rotation through " +
                     node.getNode().getOpType().str() + " node " +
                     nodeLabel(node.getNode()) +
                     ", which rope.apply does not express"
               : "the table reaching a rotation is not computed from the "
                 "site's Cos/Sin";
    return false;
  }
  return true;
}

/// Whether `rot` is rotate(x): x's channels rearranged (Slice, Split,
/// Gather, Unsqueeze/Squeeze/Reshape/Flatten, Concat) with some of them
/// negated. The analysis read the pair layout from the spelling.
bool rotates(Value rot, Value x, std::string &why) {
  SmallVector<Value> work{rot};
  llvm::DenseSet<Value> seen;
  int negations = 0;
  while (!work.empty()) {
    Value cur = work.pop_back_val();
    if (cur == x || !seen.insert(cur).second)
      continue;
    NodeBinder node(cur);
    negations += node.is("Neg");
    if (node.isAnyOf("Neg", "Slice", "Split", "Gather", "Unsqueeze",
                     "Squeeze", "Reshape", "Flatten", "Identity")) {
      work.push_back(node.input(0));
      continue;
    }
    if (node.is("Concat")) {
      for (unsigned i = 0; i < node.numInputs(); ++i)
        work.push_back(node.input(i));
      continue;
    }
    why = "the rotated operand of the sin product is not rotate(x) of the "
          "cos product's x";
    return false;
  }
  if (negations == 0) {
    why = "the rotated operand of the sin product negates nothing";
    return false;
  }
  return true;
}

/// Checks one rotation and gives its [B, H, S, R] operand type.
FailureOr<RankedTensorType> checkRotation(RopeSite &site,
                                          Rotation r, std::string &why) {
  int64_t rotary = site.getRotaryDim();
  NodeBinder combine(r.combine);
  if (!combine.is("Add")) {
    why = "rotation " + nodeLabel(r.combine) +
          " subtracts the rotated product (only x * cos + rotate(x) * sin "
          "is raised)";
    return failure();
  }
  Value cosProduct = r.cosMul.getResults()[0];
  Value sinProduct =
      combine.input(0) == cosProduct ? combine.input(1) : combine.input(0);
  Value cosTable = r.cosMul.getInputs()[0] == r.x ? r.cosMul.getInputs()[1]
                                                  : r.cosMul.getInputs()[0];
  if (!carriesTable(cosTable, site.cosTable, why))
    return failure();
  NodeBinder sinMul(sinProduct);
  if (!sinMul.is("Mul") || sinMul.numInputs() != 2) {
    why = "rotation " + nodeLabel(r.combine) +
          " does not add a product with the sin table";
    return failure();
  }
  std::string sinWhy;
  int tableSide = -1;
  for (int i = 0; i < 2 && tableSide < 0; ++i)
    if (carriesTable(sinMul.input(i), site.sinTable, sinWhy))
      tableSide = i;
  if (tableSide < 0) {
    why = sinWhy;
    return failure();
  }
  if (!rotates(sinMul.input(1 - tableSide), r.x, why))
    return failure();

  // The table broadcast over heads proves x is [B, H, S, R].
  RankedTensorType tableType = match::rankedTypeOf(cosTable);
  if (!tableType || tableType.getRank() != 4 || tableType.getDimSize(1) != 1 ||
      tableType.getDimSize(3) != rotary) {
    why = "the table at rotation " + nodeLabel(r.combine) +
          " is not [B, 1, S, rotary_dim] (rope.apply rotates [B, H, S, D])";
    return failure();
  }
  Type elem = match::elementTypeOf(r.x);
  if (!elem || !isa<FloatType>(elem) ||
      elem != tableType.getElementType()) {
    why = "rotation " + nodeLabel(r.combine) +
          " rotates a tensor whose element type is not the table's";
    return failure();
  }
  SmallVector<int64_t> shape(4, ShapedType::kDynamic);
  if (RankedTensorType xType = match::rankedTypeOf(r.x)) {
    if (xType.getRank() != 4) {
      why = "rotation " + nodeLabel(r.combine) + " rotates a rank-" +
            std::to_string(xType.getRank()) + " tensor, not [B, H, S, D]";
      return failure();
    }
    shape.assign(xType.getShape().begin(), xType.getShape().end());
  }
  if (!ShapedType::isDynamic(shape[3]) && shape[3] != rotary) {
    why = "rotation " + nodeLabel(r.combine) + " rotates " +
          std::to_string(shape[3]) + " channels with " +
          std::to_string(rotary) + "-channel tables";
    return failure();
  }
  shape[3] = rotary;
  return RankedTensorType::get(shape, elem);
}

/// Whether `v` is available before `op` in the same block.
bool definedBefore(Value v, Operation *op) {
  if (auto arg = dyn_cast<BlockArgument>(v))
    return arg.getOwner() == op->getBlock();
  Operation *def = v.getDefiningOp();
  return def->getBlock() == op->getBlock() && def->isBeforeInBlock(op);
}

/// The positions rope.apply takes, or a reason.
FailureOr<Value> positionsOf(RopeSite &site, std::string &why) {
  Value positions = site.kind == PositionKind::MRopeDegenerate
                        ? site.builtRows
                        : site.positions;
  int64_t numAxes = site.semantics.getNumAxes();
  int64_t rank = match::rankOf(positions);
  bool fits = numAxes == 1 ? (rank == 1 || rank == 2 ||
                              (rank == 3 && match::dimOf(positions, 0) == 1))
                           : rank == 3;
  if (!positions || !match::isIntTensor(positions) || !fits) {
    why = "the positions are not integer " +
          std::string(numAxes == 1 ? "[B, S] or [S]" : "[3, B, S]") +
          " rows (" +
          (site.kind == PositionKind::MRopeDegenerate ? "the built rows"
                                                      : "the positions") +
          " are typed otherwise)";
    return failure();
  }
  return positions;
}

} // namespace

bool raise::canShareOp(RankedTensorType a, RankedTensorType b) {
  auto same = [](int64_t x, int64_t y) {
    return ShapedType::isDynamic(x) || ShapedType::isDynamic(y) || x == y;
  };
  return a.getElementType() == b.getElementType() &&
         same(a.getDimSize(0), b.getDimSize(0)) &&
         same(a.getDimSize(2), b.getDimSize(2));
}

FailureOr<RaisePlan> raise::planSite(RopeSite &site, int64_t index) {
  std::string why;
  auto check = [&]() -> FailureOr<RaisePlan> {
    if (!site.semantics) {
      why = "the recovered semantics are inconsistent";
      return failure();
    }
    if (site.kind == PositionKind::TwoD || site.vision) {
      why = "vision tower: the rotations act on [tokens, heads, dim]";
      return failure();
    }
    if (!site.cosNode.isOnnx("Cos")) {
      why = "the tables are gathered from constant caches";
      return failure();
    }
    if (static_cast<int64_t>(site.invFreq.size()) !=
        site.semantics.getTableSize()) {
      why = "the frequency table does not match the semantics";
      return failure();
    }
    FailureOr<Value> positions = positionsOf(site, why);
    if (failed(positions))
      return failure();
    RaisePlan plan;
    plan.positions = *positions;
    for (Rotation r : site.rotations) {
      FailureOr<RankedTensorType> type = checkRotation(site, r, why);
      if (failed(type))
        return failure();
      if (!definedBefore(plan.positions, r.combine) ||
          !definedBefore(r.x, r.combine)) {
        why = "rotation " + nodeLabel(r.combine) +
              " is not in the same graph body as its positions";
        return failure();
      }
      plan.rotations.push_back({r, *type});
    }
    if (plan.rotations.empty()) {
      why = "it has no rotations";
      return failure();
    }
    return plan;
  };
  FailureOr<RaisePlan> plan = check();
  if (failed(plan))
    mlir::emitRemark(site.cosNode.getLoc())
        << "rope-raise: site " << index << " (" << nodeLabel(site.cosNode)
        << ") left as is: " << why;
  return plan;
}
