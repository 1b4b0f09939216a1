//===- OnnxMatchers.cpp - typed, null-safe access to ONNX graph values ----===//
#include "mrope/Analysis/OnnxMatchers.h"

#include "llvm/ADT/STLExtras.h"

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

Value match::skipViews(Value v) {
  while (v) {
    NodeBinder node(v);
    if (!node.isAnyOf("Cast", "Reshape", "Unsqueeze", "Squeeze", "Identity") ||
        !node.input(0))
      return v;
    v = node.input(0);
  }
  return v;
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
    if (node.is("Identity") && node.input(0)) {
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
    if (node.is("Identity") && node.input(0)) {
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

NodeBinder NodeBinder::soleUser(unsigned i) const {
  Value r = result(i);
  if (!r || !r.hasOneUse())
    return NodeBinder(NodeOp());
  return NodeBinder(dyn_cast<NodeOp>(*r.getUsers().begin()));
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
