//===- RopeDialect.h - the rope dialect -------------------------*- C++ -*-===//
#ifndef MROPE_DIALECT_ROPE_IR_ROPEDIALECT_H
#define MROPE_DIALECT_ROPE_IR_ROPEDIALECT_H

#include "mlir/IR/Dialect.h"

#include "mrope/Dialect/Rope/IR/RopeDialect.h.inc"

#endif // MROPE_DIALECT_ROPE_IR_ROPEDIALECT_H
