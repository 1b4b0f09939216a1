//===- OnnxMatchers.cpp - typed, null-safe access to ONNX graph values ----===//
#include "mrope/Analysis/OnnxMatchers.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/Support/MathExtras.h"

#include <limits>

using namespace mlir;
using namespace mrope;
using namespace mrope::match;
using onnx::NodeOp;

int64_t match::rankOf(Value v) {
  RankedTensorType type = rankedTypeOf(v);
  return type ? type.getRank() : -1;
}

int64_t match::dimOf(Value v, int64_t i) {
  RankedTensorType type = rankedTypeOf(v);
  if (!type)
    return ShapedType::kDynamic;
  if (i < 0)
    i += type.getRank();
  if (i < 0 || i >= type.getRank())
    return ShapedType::kDynamic;
  return type.getDimSize(i);
}

static int64_t inferRankAt(Value v, int depth) {
  if (int64_t rank = rankOf(v); rank >= 0 || !v || depth > 32)
    return rank;
  NodeBinder n(v);
  if (!n || !n.input(0))
    return -1;
  auto rankIn = [&](unsigned i) {
    return n.input(i) ? inferRankAt(n.input(i), depth + 1) : int64_t{-1};
  };
  if (n.is("Reshape")) {
    std::optional<SmallVector<int64_t>> shape = n.constInts(1);
    if (shape)
      return shape->size();
    RankedTensorType shapeType = rankedTypeOf(n.input(1));
    return shapeType && shapeType.getRank() == 1 && shapeType.hasStaticShape()
               ? shapeType.getDimSize(0)
               : -1;
  }
  if (n.is("Transpose")) {
    std::optional<SmallVector<int64_t>> perm = n.intsAttr("perm");
    return perm ? static_cast<int64_t>(perm->size()) : rankIn(0);
  }
  if (n.isAnyOf("Squeeze", "Unsqueeze")) {
    std::optional<SmallVector<int64_t>> axes =
        n.input(1) ? n.constInts(1) : n.intsAttr("axes");
    int64_t in = rankIn(0);
    if (!axes || in < 0)
      return -1;
    int64_t k = axes->size();
    return n.is("Squeeze") ? in - k : in + k;
  }
  if (n.is("Flatten"))
    return 2;
  if (n.isAnyOf("Identity", "Cast", "Neg", "Slice", "Split", "Concat",
                "Softmax", "Sqrt", "Cos", "Sin", "Tile"))
    return rankIn(0);
  if (n.isAnyOf("Mul", "Add", "Sub", "Div")) {
    int64_t a = rankIn(0), b = n.input(1) ? rankIn(1) : -1;
    return a < 0 || b < 0 ? -1 : std::max(a, b);
  }
  return -1;
}

int64_t match::inferRank(Value v) { return inferRankAt(v, 0); }

Type match::elementTypeOf(Value v) {
  if (!v)
    return {};
  if (auto tensor = dyn_cast<TensorType>(v.getType()))
    return tensor.getElementType();
  return {};
}

RankedTensorType match::rankedTypeOf(Value v) {
  return v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
}

bool match::isIntTensor(Value v) {
  Type elem = elementTypeOf(v);
  return elem && isa<IntegerType>(elem);
}

bool match::isFloatTensor(Value v) {
  Type elem = elementTypeOf(v);
  return elem && isa<FloatType>(elem);
}

bool match::isValueIdentity(NodeOp node) {
  NodeBinder n(node);
  if (!n.input(0) || !n.result())
    return false;
  if (n.is("Identity"))
    return true;
  if (!n.is("Cast"))
    return false;
  Type in = elementTypeOf(n.input(0)), out = elementTypeOf(n.result());
  return in && in == out;
}

Value match::rootOf(Value v) {
  // Bounded: graphs are acyclic, but a mutated one need not be.
  for (int hops = 0; v && hops < 64; ++hops) {
    auto node = v.getDefiningOp<NodeOp>();
    if (!node || !isValueIdentity(node))
      return v;
    v = node.getInputs()[0];
  }
  return v;
}

SmallVector<std::pair<NodeOp, unsigned>>
match::usersThroughIdentities(Value v) {
  SmallVector<std::pair<NodeOp, unsigned>> users;
  SmallVector<Value> work{v};
  llvm::SmallPtrSet<Operation *, 8> seen;
  while (!work.empty()) {
    Value cur = work.pop_back_val();
    for (OpOperand &use : cur.getUses()) {
      auto node = dyn_cast<NodeOp>(use.getOwner());
      if (!node || !seen.insert(node).second)
        continue;
      if (isValueIdentity(node) && use.getOperandNumber() == 0) {
        work.push_back(node->getResult(0));
        continue;
      }
      users.push_back({node, use.getOperandNumber()});
    }
  }
  return users;
}

/// ConstantOfShape of a constant shape: a splat of its `value` (f32 0 when
/// absent).
static std::optional<DenseElementsAttr> constantOfShape(NodeBinder node,
                                                        int64_t maxElements) {
  std::optional<SmallVector<int64_t>> shape = node.constInts(0);
  if (!shape)
    return std::nullopt;
  int64_t count = 1;
  for (int64_t d : *shape) {
    if (d < 0 || (d && count > maxElements / d))
      return std::nullopt;
    count *= d;
  }
  if (count > maxElements)
    return std::nullopt;
  MLIRContext *ctx = node.getNode().getContext();
  Attribute value = node.getNode().getOnnxAttr("value");
  if (!value) {
    auto type = RankedTensorType::get(*shape, Float32Type::get(ctx));
    return DenseElementsAttr::get(type, 0.0f);
  }
  auto dense = dyn_cast<DenseElementsAttr>(value);
  if (!dense || dense.getNumElements() != 1)
    return std::nullopt;
  auto type = RankedTensorType::get(*shape, dense.getElementType());
  if (isa<FloatType>(dense.getElementType()))
    return DenseElementsAttr::get(type, *dense.getValues<APFloat>().begin());
  if (dense.getElementType().isIntOrIndex())
    return DenseElementsAttr::get(type, *dense.getValues<APInt>().begin());
  return std::nullopt;
}

std::optional<DenseElementsAttr> match::constantOf(Value v,
                                                   int64_t maxElements) {
  // Identity chains of a constant (bounded: graphs are acyclic, but a
  // mutated one need not be).
  for (int hops = 0; v && hops < 64; ++hops) {
    NodeBinder node(v);
    if (node && isValueIdentity(node.getNode())) {
      v = node.input(0);
      continue;
    }
    if (node.is("ConstantOfShape"))
      return constantOfShape(node, maxElements);
    return onnx::getConstantValue(v, maxElements);
  }
  return std::nullopt;
}

bool match::isConstant(Value v) {
  for (int hops = 0; v && hops < 64; ++hops) {
    if (v.getDefiningOp<onnx::InitializerOp>())
      return true;
    NodeBinder node(v);
    if (node && isValueIdentity(node.getNode())) {
      v = node.input(0);
      continue;
    }
    return node.is("Constant") || (node.is("ConstantOfShape") &&
                                   node.input(0) && isConstant(node.input(0)));
  }
  return false;
}

std::optional<SmallVector<float>> match::floatsOf(Value v,
                                                  int64_t maxElements) {
  std::optional<DenseElementsAttr> attr = constantOf(v, maxElements);
  if (!attr || !isa<FloatType>(attr->getElementType()))
    return std::nullopt;
  SmallVector<float> values;
  for (APFloat f : attr->getValues<APFloat>()) {
    bool lost = false;
    f.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
    values.push_back(f.convertToFloat());
  }
  return values;
}

std::optional<SmallVector<int64_t>> match::intsOf(Value v) {
  std::optional<DenseElementsAttr> dense = constantOf(v, 1 << 16);
  if (!dense || !dense->getElementType().isIntOrIndex())
    return std::nullopt;
  SmallVector<int64_t> out;
  bool isUnsigned = dense->getElementType().isUnsignedInteger();
  for (const APInt &i : dense->getValues<APInt>())
    out.push_back(isUnsigned ? static_cast<int64_t>(i.getZExtValue())
                             : i.getSExtValue());
  return out;
}

/// foldInts with a depth bound.
static std::optional<SmallVector<int64_t>> fold(Value v, int depth,
                                                const ShapeHint &hint) {
  if (!v || depth > 32)
    return std::nullopt;
  if (std::optional<SmallVector<int64_t>> ints = intsOf(v))
    return ints;
  NodeBinder n(v);
  if (!n || !n.input(0) || !isIntTensor(v))
    return std::nullopt;
  auto in = [&](unsigned i) {
    return n.input(i) ? fold(n.input(i), depth + 1, hint) : std::nullopt;
  };
  constexpr size_t kMax = 64;
  // Dims of a Shape node, dynamic ones included (a Gather or Slice of it
  // may pick only static ones).
  auto shapeDims =
      [&](Value shapeValue) -> std::optional<SmallVector<int64_t>> {
    NodeBinder shape(rootOf(shapeValue));
    RankedTensorType type =
        shape.is("Shape") ? rankedTypeOf(shape.input(0)) : RankedTensorType();
    if (!type && shape.is("Shape") && hint.of && hint.rank > 0 &&
        rootOf(shape.input(0)) == hint.of) {
      SmallVector<int64_t> dims(hint.rank, ShapedType::kDynamic);
      dims.back() = hint.lastDim;
      type = RankedTensorType::get(
          dims, Float32Type::get(shape.getNode().getContext()));
    }
    if (!type)
      return std::nullopt;
    int64_t rank = type.getRank();
    int64_t start = shape.intAttr("start", 0), end = shape.intAttr("end", rank);
    start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
    end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
    return SmallVector<int64_t>(type.getShape().begin() + start,
                                type.getShape().begin() + std::max(start, end));
  };
  auto allStatic = [](const SmallVector<int64_t> &dims) {
    return llvm::none_of(dims, ShapedType::isDynamic);
  };
  if (n.is("Shape")) {
    std::optional<SmallVector<int64_t>> dims = shapeDims(v);
    if (!dims || !allStatic(*dims))
      return std::nullopt;
    return dims;
  }
  if (n.isAnyOf("Identity", "Cast", "Unsqueeze", "Squeeze", "Reshape",
                "Flatten"))
    return in(0);
  if (n.is("Gather")) {
    std::optional<SmallVector<int64_t>> data = shapeDims(n.input(0));
    if (!data)
      data = in(0);
    auto idx = in(1);
    if (!data || !idx || n.intAttr("axis", 0) != 0 || rankOf(n.input(0)) > 1)
      return std::nullopt;
    SmallVector<int64_t> out;
    for (int64_t i : *idx) {
      int64_t size = data->size();
      if (i < -size || i >= size)
        return std::nullopt;
      out.push_back((*data)[i < 0 ? i + size : i]);
    }
    if (!allStatic(out))
      return std::nullopt;
    return out;
  }
  if (n.is("Concat")) {
    SmallVector<int64_t> out;
    for (unsigned i = 0; i < n.numInputs(); ++i) {
      auto part = in(i);
      if (!part || out.size() + part->size() > kMax)
        return std::nullopt;
      out.append(*part);
    }
    return out;
  }
  if (n.is("Slice")) {
    std::optional<SmallVector<int64_t>> data = shapeDims(n.input(0));
    if (!data)
      data = in(0);
    auto starts = in(1), ends = in(2);
    auto axes = n.input(3) ? in(3) : SmallVector<int64_t>{0};
    auto steps = n.input(4) ? in(4) : SmallVector<int64_t>{1};
    if (!data || !starts || !ends || !axes || !steps || starts->size() != 1 ||
        ends->size() != 1 || (*axes)[0] != 0 || (*steps)[0] != 1)
      return std::nullopt;
    int64_t size = data->size();
    auto clampIndex = [&](int64_t i) {
      return std::clamp<int64_t>(i < 0 ? i + size : i, 0, size);
    };
    int64_t b = clampIndex((*starts)[0]), e = clampIndex((*ends)[0]);
    SmallVector<int64_t> out(data->begin() + b, data->begin() + std::max(b, e));
    if (!allStatic(out))
      return std::nullopt;
    return out;
  }
  if (n.isAnyOf("Add", "Sub", "Mul", "Div")) {
    auto a = in(0), b = in(1);
    if (!a || !b ||
        (a->size() != b->size() && a->size() != 1 && b->size() != 1))
      return std::nullopt;
    size_t size = std::max(a->size(), b->size());
    SmallVector<int64_t> out;
    for (size_t i = 0; i < size; ++i) {
      int64_t x = (*a)[a->size() == 1 ? 0 : i],
              y = (*b)[b->size() == 1 ? 0 : i];
      // A shape constant that overflows int64 is no shape: not folded.
      int64_t r;
      bool overflow = n.is("Add")   ? llvm::AddOverflow(x, y, r)
                      : n.is("Sub") ? llvm::SubOverflow(x, y, r)
                      : n.is("Mul") ? llvm::MulOverflow(x, y, r)
                                    : (y == 0 || (x == INT64_MIN && y == -1));
      if (overflow)
        return std::nullopt;
      out.push_back(n.is("Div") ? x / y : r); // ONNX truncates, as C++ does
    }
    return out;
  }
  return std::nullopt;
}

std::optional<SmallVector<int64_t>> match::foldInts(Value v) {
  return fold(v, 0, ShapeHint());
}

std::optional<SmallVector<int64_t>> match::foldInts(Value v,
                                                    const ShapeHint &hint) {
  return fold(v, 0, hint);
}

std::optional<int64_t> match::insertedAxis(Value v) {
  NodeBinder n(rootOf(v));
  if (n.is("Unsqueeze")) {
    std::optional<SmallVector<int64_t>> axes =
        n.input(1) ? n.constInts(1) : n.intsAttr("axes");
    if (!axes || axes->size() != 1)
      return std::nullopt;
    return axes->front();
  }
  if (!n.is("Reshape") || !n.input(0) || !n.input(1))
    return std::nullopt;
  Value data = rootOf(n.input(0));
  // The input's static shape with one 1 spliced in.
  if (std::optional<SmallVector<int64_t>> shape = foldInts(n.input(1))) {
    RankedTensorType type = rankedTypeOf(data);
    if (!type || !type.hasStaticShape() ||
        static_cast<int64_t>(shape->size()) != type.getRank() + 1)
      return std::nullopt;
    for (int64_t a = 0; a <= type.getRank(); ++a) {
      SmallVector<int64_t> want(type.getShape());
      want.insert(want.begin() + a, 1);
      if (want == *shape)
        return a;
    }
    return std::nullopt;
  }
  // Symbolic: pieces of Shape(data) around a constant 1.
  constexpr int64_t kEnd = std::numeric_limits<int64_t>::max();
  struct Piece {
    int64_t from, to; // dims [from, to) of data; from == to == 1 for "1"
    bool one;
  };
  SmallVector<Piece> pieces;
  NodeBinder concat(rootOf(n.input(1)));
  if (!concat.is("Concat") || concat.intAttr("axis", 0) != 0)
    return std::nullopt;
  for (unsigned i = 0; i < concat.numInputs(); ++i) {
    Value in = rootOf(concat.input(i));
    if (std::optional<SmallVector<int64_t>> c = intsOf(in)) {
      for (int64_t d : *c) {
        if (d != 1)
          return std::nullopt;
        pieces.push_back({0, 0, true});
      }
      continue;
    }
    NodeBinder slice(in);
    Value shapeOf = slice.is("Slice") ? rootOf(slice.input(0)) : in;
    NodeBinder shape(shapeOf);
    if (!shape.is("Shape") || rootOf(shape.input(0)) != data ||
        shape.intAttr("start", 0) != 0 || shape.intAttr("end", kEnd) != kEnd)
      return std::nullopt;
    int64_t from = 0, to = kEnd;
    if (slice.is("Slice")) {
      auto starts = slice.constInts(1), ends = slice.constInts(2);
      auto axes = slice.input(3) ? slice.constInts(3) : SmallVector<int64_t>{0};
      auto steps =
          slice.input(4) ? slice.constInts(4) : SmallVector<int64_t>{1};
      if (!starts || !ends || !axes || !steps || starts->size() != 1 ||
          ends->size() != 1 || (*axes)[0] != 0 || (*steps)[0] != 1)
        return std::nullopt;
      from = (*starts)[0];
      to = (*ends)[0] >= (int64_t{1} << 31) ? kEnd : (*ends)[0];
    }
    pieces.push_back({from, to, false});
  }
  // [dims(0, a)] 1 [dims(a, end)]: axis a (a counts from the back when
  // negative).
  size_t onePos = 0, ones = 0;
  for (auto [i, p] : llvm::enumerate(pieces))
    if (p.one) {
      onePos = i;
      ++ones;
    }
  if (ones != 1 || pieces.size() > 3)
    return std::nullopt;
  std::optional<Piece> before, after;
  if (onePos == 1)
    before = pieces[0];
  else if (onePos != 0)
    return std::nullopt;
  if (onePos + 1 < pieces.size())
    after = pieces[onePos + 1];
  if (before && before->from != 0)
    return std::nullopt;
  if (after && after->to != kEnd)
    return std::nullopt;
  int64_t split = before ? before->to : 0;
  if (after && after->from != split)
    return std::nullopt;
  if (!after)
    return before && before->to == kEnd ? std::optional<int64_t>(-1)
                                        : std::nullopt;
  return split >= 0 ? split : split - 1;
}

std::optional<int64_t> match::scalarIntOf(Value v) {
  std::optional<SmallVector<int64_t>> ints = intsOf(v);
  if (!ints || ints->size() != 1)
    return std::nullopt;
  return ints->front();
}

bool match::isScalarFloat(Value v) {
  std::optional<SmallVector<float>> values = floatsOf(v, 1);
  return values && values->size() == 1;
}

unsigned NodeBinder::numInputs() const {
  return node ? node.getInputs().size() : 0;
}

Value NodeBinder::input(unsigned i) const {
  if (!node || i >= node.getInputs().size())
    return {};
  Value v = node.getInputs()[i];
  if (!v || isa<NoneType>(v.getType()) || v.getDefiningOp<onnx::NoneOp>())
    return {};
  return v;
}

Value NodeBinder::result(unsigned i) const {
  if (!node || i >= node->getNumResults())
    return {};
  return node->getResult(i);
}

int64_t NodeBinder::intAttr(StringRef name, int64_t dflt) const {
  return node ? node.getIntAttr(name).value_or(dflt) : dflt;
}

std::optional<SmallVector<int64_t>> NodeBinder::intsAttr(StringRef name) const {
  return node ? node.getIntsAttr(name) : std::nullopt;
}

/// A constant cache under the views that keep its rows 0 and 1 (all the
/// cache match reads): rows [0, n) (`cos_cached[:seq_len]`) and casts.
Value match::peelCacheView(Value cache) {
  for (NodeBinder view(cache); view.isAnyOf("Slice", "Cast") && view.input(0);
       view = NodeBinder(cache)) {
    if (view.is("Slice")) {
      auto starts = view.constInts(1);
      auto axes = view.input(3) ? view.constInts(3) : SmallVector<int64_t>{0};
      auto steps = view.input(4) ? view.constInts(4) : SmallVector<int64_t>{1};
      if (!starts || !axes || !steps || *starts != SmallVector<int64_t>{0} ||
          *axes != SmallVector<int64_t>{0} || *steps != SmallVector<int64_t>{1})
        break;
    }
    cache = view.input(0);
  }
  return cache;
}
