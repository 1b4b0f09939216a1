//===- EvalNode.cpp - one node of the evaluator: operands and dispatch ----===//
//
// A node's operands come from the evaluator (with or without their data);
// its op type picks the family method that computes its results.
//
//===----------------------------------------------------------------------===//
#include "EvalNode.h"

#include "mrope/Target/Onnx/OpsetSignatures.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace mrope::eval;
using namespace mrope::eval::detail;

NodeEval::NodeEval(Evaluator &ev, onnx::NodeOp op, unsigned resultIndex,
                   bool needData)
    : ev(ev), op(op), name(op.getOpType()), resultIndex(resultIndex),
      needData(needData),
      msRotary(op.getDomain() == "com.microsoft" &&
               (name == "RotaryEmbedding" || name == "MRotaryEmbedding")),
      opset(ev.opset), maxElements(ev.maxElements) {}

Value NodeEval::input(unsigned k) {
  if (k >= op->getNumOperands())
    return Value();
  Value x = op->getOperand(k);
  return isa<NoneType>(x.getType()) ? Value() : x;
}

const Tensor *NodeEval::arg(unsigned k, bool data) {
  Value x = input(k);
  if (!x) {
    fail(op, "input " + Twine(k) + " is missing");
    return nullptr;
  }
  return get(x, data);
}

SmallVector<int64_t> NodeEval::intList(const Tensor &t) {
  SmallVector<int64_t> out;
  for (int64_t k = 0, n = t.numElements(); k < n; ++k)
    out.push_back(t.asInt(k));
  return out;
}

bool NodeEval::axesOf(unsigned index, StringRef attrName,
                      std::optional<SmallVector<int64_t>> &axes) {
  if (onnx::isInputAtOpset(name, attrName, opset)) {
    if (!input(index))
      return true;
    const Tensor *t = arg(index, true);
    if (!t)
      return false;
    axes = intList(*t);
    return true;
  }
  axes = op.getIntsAttr(attrName);
  return true;
}

const Tensor *NodeEval::done() {
  if (results.size() != op->getNumResults()) {
    fail(op, "wrong number of results");
    return nullptr;
  }
  for (auto [k, t] : llvm::enumerate(results)) {
    if (t.hasData && t.numElements() > maxElements) {
      fail(op, "result has more than " + Twine(maxElements) + " elements");
      return nullptr;
    }
    store(op->getResult(k), std::move(t));
  }
  return ev.values[op->getResult(resultIndex)].get();
}

const Tensor *NodeEval::one(Tensor t) {
  results.push_back(std::move(t));
  return done();
}

// Ops whose result 0 has the shape of input 0 (ONNX spec), evaluated for
// a Shape only: a table that takes its length from an activation of the
// model (a per-token Range over a layer's output) needs no more.
const Tensor *NodeEval::evalShapeLikeInput() {
  const Tensor *x = arg(0, false);
  if (!x)
    return nullptr;
  Tensor t = like(*x, x->shape, false);
  if (op->getNumResults() != 1) {
    store(op->getResult(0), std::move(t));
    return ev.values[op->getResult(0)].get();
  }
  return one(std::move(t));
}

const Tensor *NodeEval::run() {
  bool simplifiedNorm = op.getDomain() == "com.microsoft" &&
                        name == "SimplifiedLayerNormalization";
  if (!op.getDomain().empty() && !msRotary && !(simplifiedNorm && !needData)) {
    fail(op, "an op of domain '" + op.getDomain() + "' is not evaluated");
    return nullptr;
  }
  if (!needData && resultIndex == 0 &&
      (simplifiedNorm ||
       llvm::is_contained({"Softmax", "LogSoftmax", "Relu", "Sigmoid", "Tanh",
                           "Erf", "LayerNormalization"},
                          name)))
    return evalShapeLikeInput();
  if (msRotary)
    return evalRotary();

  using Family = const Tensor *(NodeEval::*)();
  Family family =
      llvm::StringSwitch<Family>(name)
          .Case("RotaryEmbedding", &NodeEval::evalRotary)
          .Cases({"Identity", "Neg", "Cos", "Sin", "Sqrt", "Exp", "Reciprocal",
                  "Floor", "Ceil", "Abs"},
                 &NodeEval::evalUnary)
          .Case("Cast", &NodeEval::evalCast)
          .Case("Shape", &NodeEval::evalShape)
          .Cases({"Mul", "Add", "Sub", "Div", "Pow", "Equal", "Less", "Greater",
                  "Max", "Min", "Mod", "And", "Or", "Xor"},
                 &NodeEval::evalBinary)
          .Case("Where", &NodeEval::evalWhere)
          .Case("Trilu", &NodeEval::evalTrilu)
          .Case("Range", &NodeEval::evalRange)
          .Case("ConstantOfShape", &NodeEval::evalConstantOfShape)
          .Cases({"Unsqueeze", "Squeeze", "Reshape", "Flatten"},
                 &NodeEval::evalView)
          .Cases({"Expand", "Tile"}, &NodeEval::evalExpandTile)
          .Case("Transpose", &NodeEval::evalTranspose)
          .Case("Concat", &NodeEval::evalConcat)
          .Cases({"Slice", "Split"}, &NodeEval::evalSliceSplit)
          .Case("ScatterND", &NodeEval::evalScatterND)
          .Cases({"Gather", "GatherElements"}, &NodeEval::evalGather)
          .Cases({"MatMul", "Einsum"}, &NodeEval::evalMatMul)
          .Case("CumSum", &NodeEval::evalCumSum)
          .Cases({"ReduceMax", "ReduceMin", "ReduceSum", "ReduceMean",
                  "ReduceProd"},
                 &NodeEval::evalReduce)
          .Default(nullptr);
  if (!family) {
    fail(op, "the evaluator does not know this op");
    return nullptr;
  }
  return (this->*family)();
}
