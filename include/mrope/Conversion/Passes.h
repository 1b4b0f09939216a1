//===- Passes.h - conversions out of the rope dialect -----------*- C++ -*-===//
#ifndef MROPE_CONVERSION_PASSES_H
#define MROPE_CONVERSION_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"
#include "mrope/Conversion/RopeToOnnx/RopeToOnnx.h"
#include "mrope/Dialect/Onnx/IR/OnnxDialect.h"

namespace mrope {

#define GEN_PASS_DECL
#include "mrope/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "mrope/Conversion/Passes.h.inc"

} // namespace mrope

#endif // MROPE_CONVERSION_PASSES_H
