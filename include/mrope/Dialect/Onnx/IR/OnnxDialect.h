//===- OnnxDialect.h - the onnx dialect -------------------------*- C++ -*-===//
#ifndef MROPE_DIALECT_ONNX_IR_ONNXDIALECT_H
#define MROPE_DIALECT_ONNX_IR_ONNXDIALECT_H

#include "mlir/IR/Dialect.h"

#include "mrope/Dialect/Onnx/IR/OnnxDialect.h.inc"

#endif // MROPE_DIALECT_ONNX_IR_ONNXDIALECT_H
