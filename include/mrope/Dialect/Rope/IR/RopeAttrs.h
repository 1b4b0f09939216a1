//===- RopeAttrs.h - rope attributes ----------------------------*- C++ -*-===//
#ifndef MROPE_DIALECT_ROPE_IR_ROPEATTRS_H
#define MROPE_DIALECT_ROPE_IR_ROPEATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "mrope/Dialect/Rope/IR/RopeEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "mrope/Dialect/Rope/IR/RopeAttrs.h.inc"

#endif // MROPE_DIALECT_ROPE_IR_ROPEATTRS_H
