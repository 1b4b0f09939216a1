//===- ValueMeaningTransfer.cpp - one transfer function per ONNX op -------===//
//
// transferNode: the meaning of a node's result from its operands'. Every
// op type handled here says exactly what it does to values and axes; any
// other op, or an operand this op cannot say anything about, gives
// Unknown with the reason. The transfer functions live in
// ValueMeaning/Transfer*.cpp, one file per op family (see Transfer.h).
//
//===----------------------------------------------------------------------===//
#include "mrope/Analysis/ValueMeaning.h"

#include "ValueMeaning/Transfer.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mrope;
using namespace mrope::meaning;
using namespace mrope::meaning::transfer;
using onnx::NodeOp;

Meaning meaning::transferNode(NodeOp node, unsigned index, Ins ins) {
  StringRef op = node.getOpType();
  bool isStd = node.getDomain().empty() || node.getDomain() == "ai.onnx";
  bool ms = node.getDomain() == "com.microsoft";
  if (ms && (op == "RotaryEmbedding" || op == "MRotaryEmbedding" ||
             op == "GroupQueryAttention"))
    return index == 0 ? fused(node, ins) : noRule(node, "not the output");
  if (!isStd)
    return noRule(node, "no transfer function");
  if (op == "RotaryEmbedding")
    return fused(node, ins);
  if (ins.empty())
    return op == "Constant" ? meaningOfLeaf(node.getResult(0))
                            : noRule(node, "no transfer function");
  const Meaning &m = *ins[0];
  if (op == "Identity")
    return m;
  // Shape arithmetic: sizes of tensors, whatever is done with them.
  auto isShape = [](const Meaning *x) { return x->kind == Kind::Shape; };
  auto isShapeOrConst = [](const Meaning *x) {
    return x->kind == Kind::Shape || x->kind == Kind::Const;
  };
  if (llvm::any_of(ins, isShape) && llvm::all_of(ins, isShapeOrConst) &&
      llvm::is_contained({"Slice", "Gather", "Concat", "Unsqueeze", "Squeeze",
                          "Reshape", "Cast", "Mul", "Add", "Sub", "Div", "Max",
                          "Min", "ReduceProd"},
                         op))
    return shapeArithmetic(node, ins);
  // The linear index is the linear index in any shape.
  if ((op == "Reshape" || op == "Flatten" || op == "Squeeze" ||
       op == "Unsqueeze") &&
      m.kind == Kind::Iota)
    return m;
  if (op == "Cast")
    return castValues(node, ins);
  if (op == "Reshape" || op == "Flatten")
    return reshape(node, ins);
  if (op == "Unsqueeze")
    return unsqueeze(node, ins);
  if (op == "Squeeze")
    return squeeze(node, ins);
  if (op == "Expand")
    return expand(node, ins);
  if (op == "Tile")
    return tile(node, ins);
  if (op == "Transpose")
    return transpose(node, ins);
  if (op == "Concat")
    return concat(node, ins);
  if (op == "Split")
    return split(node, index, ins);
  if (op == "Slice")
    return slice(node, ins);
  if (op == "Gather")
    return gather(node, ins);
  if (op == "GatherElements")
    return gatherElements(node, ins);
  if (op == "GatherND")
    return gatherND(node, ins);
  if (op == "Mul")
    return mul(node, ins);
  if (op == "MatMul")
    return matmul(node, ins);
  if (op == "Einsum")
    return einsum(node, ins);
  if (op == "Cos" || op == "Sin")
    return trig(node, ins);
  if (op == "Range")
    return range(node, ins);
  if (op == "Where") {
    if (ins.size() == 3 && *ins[1] == *ins[2])
      return *ins[1];
    return noRule(node, "branches differ");
  }
  if (op == "Shape" || op == "Size")
    return shapeOf(node);
  if (op == "ConstantOfShape")
    return constantOfShape(node);
  if (op == "Add" || op == "Sub" || op == "Div")
    return shapeOnly(node, ins);
  return noRule(node, "no transfer function");
}
