//===- Passes.h - passes over imported ONNX graphs --------------*- C++ -*-===//
#ifndef MROPE_TRANSFORMS_PASSES_H
#define MROPE_TRANSFORMS_PASSES_H

#include "mrope/Dialect/Onnx/IR/OnnxDialect.h"
#include "mrope/Dialect/Rope/IR/RopeDialect.h"
#include "mrope/Transforms/FixModes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mrope {

#define GEN_PASS_DECL
#include "mrope/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "mrope/Transforms/Passes.h.inc"

/// Writes a classify pass's `report=` file; an error on `op` when it cannot.
mlir::LogicalResult writePassReport(mlir::Operation *op, llvm::StringRef path,
                                    llvm::StringRef text);

} // namespace mrope

#endif // MROPE_TRANSFORMS_PASSES_H
