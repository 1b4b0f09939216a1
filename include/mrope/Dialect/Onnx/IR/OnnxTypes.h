//===- OnnxTypes.h - onnx types and attributes ------------------*- C++ -*-===//
#ifndef MROPE_DIALECT_ONNX_IR_ONNXTYPES_H
#define MROPE_DIALECT_ONNX_IR_ONNXTYPES_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Types.h"

#include "mrope/Dialect/Onnx/IR/OnnxDialect.h"

#define GET_TYPEDEF_CLASSES
#include "mrope/Dialect/Onnx/IR/OnnxTypes.h.inc"

#define GET_ATTRDEF_CLASSES
#include "mrope/Dialect/Onnx/IR/OnnxAttrs.h.inc"

#endif // MROPE_DIALECT_ONNX_IR_ONNXTYPES_H
