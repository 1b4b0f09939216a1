//===- OnnxBuilder.h - emit ONNX nodes and constants into a graph -*- C++ -*-===//
//
// What passes that write ONNX subgraphs share: nodes named
// `<prefix>/<OpType>_<n>` at the builder's insertion point, and constants as
// initializers at the top of the graph named `<constant prefix>.c<n>`, never
// a name the graph already uses (initializer names are value names).
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_DIALECT_ONNX_IR_ONNXBUILDER_H
#define MROPE_DIALECT_ONNX_IR_ONNXBUILDER_H

#include "mrope/Dialect/Onnx/IR/OnnxOps.h"

#include "mlir/IR/Builders.h"
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
    return NodeOp::create(b, loc, mlir::TypeRange{type}, opType, inputs, attrs,
                          nodePrefix + "/" + opType.str() + "_" +
                              std::to_string(counter++))
        .getResults()[0];
  }

  /// An int64 initializer of `shape` holding `values`.
  mlir::Value ints(llvm::ArrayRef<int64_t> values,
                   llvm::ArrayRef<int64_t> shape) {
    auto type = mlir::RankedTensorType::get(shape, b.getI64Type());
    return constant(mlir::DenseElementsAttr::get(type, values));
  }

  /// An initializer holding `value`.
  mlir::Value constant(mlir::DenseElementsAttr value) {
    std::string name;
    do
      name = constantPrefix + ".c" + std::to_string(counter++);
    while (!used.insert(name).second);
    mlir::OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&graph.getBodyBlock());
    return InitializerOp::create(b, loc, value.getType(), name, value,
                                 nullptr);
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
  int counter = 0;
};

} // namespace mrope::onnx

#endif // MROPE_DIALECT_ONNX_IR_ONNXBUILDER_H
