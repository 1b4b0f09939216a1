//===- OnnxDialect.cpp - the onnx dialect ---------------------------------===//
#include "mrope/Dialect/Onnx/IR/OnnxDialect.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"
#include "mrope/Dialect/Onnx/IR/OnnxTypes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mrope::onnx;

#include "mrope/Dialect/Onnx/IR/OnnxDialect.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "mrope/Dialect/Onnx/IR/OnnxTypes.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "mrope/Dialect/Onnx/IR/OnnxAttrs.cpp.inc"

void OnnxDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "mrope/Dialect/Onnx/IR/OnnxTypes.cpp.inc"
      >();
}

void OnnxDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "mrope/Dialect/Onnx/IR/OnnxAttrs.cpp.inc"
      >();
}

void OnnxDialect::initialize() {
  registerTypes();
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "mrope/Dialect/Onnx/IR/OnnxOps.cpp.inc"
      >();
}
