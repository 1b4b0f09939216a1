//===- RopeOps.h - rope operations ------------------------------*- C++ -*-===//
#ifndef MROPE_DIALECT_ROPE_IR_ROPEOPS_H
#define MROPE_DIALECT_ROPE_IR_ROPEOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/TilingInterface.h"

#include "mrope/Dialect/Rope/IR/MRopeIndexRules.h"
#include "mrope/Dialect/Rope/IR/QwenTokens.h"
#include "mrope/Dialect/Rope/IR/RopeAttrs.h"
#include "mrope/Dialect/Rope/IR/RopeDialect.h"

#define GET_OP_CLASSES
#include "mrope/Dialect/Rope/IR/RopeOps.h.inc"

#endif // MROPE_DIALECT_ROPE_IR_ROPEOPS_H
