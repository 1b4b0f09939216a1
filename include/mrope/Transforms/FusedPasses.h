//===- FusedPasses.h - passes over fused RoPE ops ---------------*- C++ -*-===//
#ifndef MROPE_TRANSFORMS_FUSEDPASSES_H
#define MROPE_TRANSFORMS_FUSEDPASSES_H

#include "mrope/Dialect/Onnx/IR/OnnxDialect.h"
#include "mrope/Transforms/FixModes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mrope {

#define GEN_PASS_DECL
#include "mrope/Transforms/FusedPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "mrope/Transforms/FusedPasses.h.inc"

} // namespace mrope

#endif // MROPE_TRANSFORMS_FUSEDPASSES_H
