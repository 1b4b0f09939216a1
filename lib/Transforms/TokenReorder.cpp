//===- TokenReorder.cpp - row reorders of a site's tokens -----------------===//
#include "TokenReorder.h"

#include "mrope/Analysis/OnnxMatchers.h"
#include "mrope/Analysis/RopeReport.h"

using namespace mlir;
using namespace mrope;
using namespace mrope::raise;
using match::NodeBinder;
using onnx::NodeOp;

namespace {

/// The entries of a Reshape's shape as one-element pieces: the constant's
/// entries, or the inputs of a Concat on axis 0 of one-element tensors
/// (what torch writes for `x.reshape(n // 4, 4, -1)`). Each entry is its
/// constant value or none (computed).
std::optional<SmallVector<std::optional<int64_t>>> shapeEntries(Value shape) {
  SmallVector<std::optional<int64_t>> entries;
  if (std::optional<SmallVector<int64_t>> c = match::intsOf(shape)) {
    for (int64_t v : *c)
      entries.push_back(v);
    return entries;
  }
  NodeBinder concat(shape);
  if (!concat.is("Concat") || concat.intAttr("axis", 0) != 0)
    return std::nullopt;
  for (unsigned i = 0; i < concat.numInputs(); ++i) {
    Value piece = concat.input(i);
    if (!piece || match::rankOf(piece) != 1 || match::dimOf(piece, 0) != 1)
      return std::nullopt;
    std::optional<SmallVector<int64_t>> c = match::intsOf(piece);
    entries.push_back(c ? std::optional<int64_t>(c->front()) : std::nullopt);
  }
  return entries;
}

/// Whether `reshape` regroups whole rows of `width` values (width -1:
/// unknown): its last entry is -1 or `width`, and no other entry but the
/// first (a row count) is computed or 0 (0 copies the input's dim, which
/// is the row width on the positions).
bool regroupsRows(NodeBinder reshape, int64_t width, std::string &why) {
  std::optional<SmallVector<std::optional<int64_t>>> entries =
      reshape.input(1) ? shapeEntries(reshape.input(1)) : std::nullopt;
  bool ok =
      entries && entries->size() >= 2 && reshape.intAttr("allowzero", 0) == 0 &&
      entries->back() &&
      (*entries->back() == -1 || (width > 0 && *entries->back() == width));
  for (size_t i = 1; ok && i + 1 < entries->size(); ++i)
    ok = (*entries)[i] && *(*entries)[i] > 0;
  if (!ok)
    why = "the window reorder's Reshape " + nodeLabel(reshape.getNode()) +
          " may move values across rows";
  return ok;
}

} // namespace

FailureOr<TokenReorder> raise::tokenReorderOf(NodeOp gather, std::string &why) {
  TokenReorder reorder;
  NodeBinder g(gather);
  if (!g.is("Gather") || g.intAttr("axis", 0) != 0 || !g.input(1) ||
      match::rankOf(g.input(1)) != 1 || !match::isIntTensor(g.input(1))) {
    why = "the reorder " + nodeLabel(gather) +
          " is not a Gather on axis 0 by a 1D integer index";
    return failure();
  }
  SmallVector<NodeOp> before;
  Value v = g.input(0);
  for (NodeBinder r(v); r.is("Reshape") && r.input(0); r = NodeBinder(v)) {
    before.push_back(r.getNode());
    v = r.input(0);
  }
  reorder.rows = v;
  if (match::inferRank(v) != 2) {
    why = "the rows the window reorder " + nodeLabel(gather) +
          " starts from are not [tokens, values]";
    return failure();
  }
  int64_t width = match::dimOf(v, 1);
  if (ShapedType::isDynamic(width))
    width = -1;
  reorder.nodes.assign(before.rbegin(), before.rend());
  reorder.nodes.push_back(gather);
  Value end = gather->getResult(0);
  for (NodeBinder r(end); end.hasOneUse(); r = NodeBinder(end)) {
    auto user = dyn_cast<NodeOp>(*end.getUsers().begin());
    NodeBinder next(user);
    if (!next.is("Reshape") || next.input(0) != end)
      break;
    reorder.nodes.push_back(user);
    end = next.result();
  }
  for (NodeOp node : reorder.nodes)
    if (node.isOnnx("Reshape") && !regroupsRows(NodeBinder(node), width, why))
      return failure();
  // The Gather moves rows of a value with a row axis left.
  if (match::inferRank(g.input(0)) < 2 || match::inferRank(end) != 2) {
    why = "the window reorder " + nodeLabel(gather) +
          " does not end in [tokens, values] rows";
    return failure();
  }
  return reorder;
}

Value raise::applyTokenReorder(onnx::OnnxBuilder &emit, OpBuilder &b,
                               const TokenReorder &reorder, Value rows,
                               int64_t width) {
  Type elem = match::elementTypeOf(rows);
  int64_t dyn = ShapedType::kDynamic;
  Value cur = rows;
  int64_t rank = 2;
  for (NodeOp node : reorder.nodes) {
    NodeBinder n(node);
    if (n.is("Gather")) {
      SmallVector<int64_t> shape(rank, dyn);
      shape.back() = width;
      cur = emit.node("Gather", RankedTensorType::get(shape, elem),
                      {cur, n.input(1)}, {emit.intAttr("axis", 0)});
      continue;
    }
    // A Reshape (regroupsRows checked it): its entries with `width` last.
    Value oldShape = n.input(1);
    Value shape;
    if (std::optional<SmallVector<int64_t>> c = match::intsOf(oldShape)) {
      c->back() = width;
      shape = emit.ints(*c, {static_cast<int64_t>(c->size())}, "window_shape");
    } else {
      NodeBinder concat(oldShape);
      SmallVector<Value> pieces;
      for (unsigned i = 0; i + 1 < concat.numInputs(); ++i)
        pieces.push_back(concat.input(i));
      pieces.push_back(emit.ints({width}, {1}, "window_width"));
      shape =
          emit.node("Concat",
                    RankedTensorType::get({static_cast<int64_t>(pieces.size())},
                                          b.getI64Type()),
                    pieces, {emit.intAttr("axis", 0)});
    }
    rank = match::dimOf(shape, 0);
    SmallVector<int64_t> dims(rank, dyn);
    dims.back() = width;
    cur = emit.node("Reshape", RankedTensorType::get(dims, elem), {cur, shape});
  }
  return cur;
}

std::optional<TokenReorder> raise::positionsReorderOf(Value positions) {
  NodeBinder node(positions);
  if (node.is("Unsqueeze"))
    node = NodeBinder(node.input(0));
  std::optional<SmallVector<int64_t>> perm = node.intsAttr("perm");
  if (!node.is("Transpose") || !perm || *perm != SmallVector<int64_t>{1, 0})
    return std::nullopt;
  TokenReorder reorder;
  Value v = node.input(0);
  bool gathers = false;
  for (NodeBinder n(v);
       n.is("Reshape") || (n.is("Gather") && n.intAttr("axis", 0) == 0 &&
                           n.input(1) && !match::isConstant(n.input(1)));
       n = NodeBinder(v)) {
    gathers |= n.is("Gather");
    reorder.nodes.push_back(n.getNode());
    v = n.input(0);
  }
  if (!gathers || match::rankOf(v) != 2)
    return std::nullopt;
  std::reverse(reorder.nodes.begin(), reorder.nodes.end());
  reorder.rows = v;
  return reorder;
}
