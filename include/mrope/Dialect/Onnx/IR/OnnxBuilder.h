//===- OnnxBuilder.h - ONNX nodes and constants into a graph ----*- C++ -*-===//
//
// What passes that write ONNX subgraphs share: nodes at the builder's
// insertion point named like torch names them (`<prefix>/<OpType>`, then
// `<prefix>/<OpType>_1`, ...), and constants as initializers at the top of
// the graph named `<constant prefix>.<what>` (`_1`, ... appended when the
// graph already uses the name: initializer names are value names).
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_DIALECT_ONNX_IR_ONNXBUILDER_H
#define MROPE_DIALECT_ONNX_IR_ONNXBUILDER_H

#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <string>

namespace mrope::onnx {

class OnnxBuilder {
public:
  OnnxBuilder(mlir::OpBuilder &builder, GraphOp graph, mlir::Location loc,
              llvm::StringRef nodePrefix, llvm::StringRef constantPrefix)
      : b(builder), graph(graph), loc(loc), nodePrefix(nodePrefix.str()),
        constantPrefix(constantPrefix.str()) {
    graph.walk([&](InitializerOp init) { used.insert(init.getName()); });
  }

  /// One node of `opType` with one result of `type`.
  mlir::Value node(llvm::StringRef opType, mlir::Type type,
                   mlir::ValueRange inputs,
                   llvm::ArrayRef<mlir::NamedAttribute> attrs = {}) {
    unsigned n = opCounts[opType]++;
    std::string name = nodePrefix + "/" + opType.str();
    if (n)
      name += "_" + std::to_string(n);
    return NodeOp::create(b, loc, mlir::TypeRange{type}, opType, inputs, attrs,
                          name)
        .getResults()[0];
  }

  /// An int64 initializer of `shape` holding `values`.
  mlir::Value ints(llvm::ArrayRef<int64_t> values,
                   llvm::ArrayRef<int64_t> shape, llvm::StringRef what = "c") {
    auto type = mlir::RankedTensorType::get(shape, b.getI64Type());
    return constant(mlir::DenseElementsAttr::get(type, values), what);
  }

  /// An initializer holding `value`, named after `what`.
  mlir::Value constant(mlir::DenseElementsAttr value,
                       llvm::StringRef what = "c") {
    std::string base = constantPrefix + "." + what.str(), name = base;
    for (int i = 1; !used.insert(name).second; ++i)
      name = base + "_" + std::to_string(i);
    mlir::OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&graph.getBodyBlock());
    return InitializerOp::create(b, loc, value.getType(), name, value, nullptr);
  }

  mlir::NamedAttribute intAttr(llvm::StringRef name, int64_t value) {
    return b.getNamedAttr(name, b.getI64IntegerAttr(value));
  }

private:
  mlir::OpBuilder &b;
  GraphOp graph;
  mlir::Location loc;
  std::string nodePrefix, constantPrefix;
  llvm::StringSet<> used;
  llvm::StringMap<unsigned> opCounts;
};

} // namespace mrope::onnx

#endif // MROPE_DIALECT_ONNX_IR_ONNXBUILDER_H
