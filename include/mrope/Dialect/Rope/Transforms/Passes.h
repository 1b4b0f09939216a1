//===- Passes.h - rope dialect passes ---------------------------*- C++ -*-===//
#ifndef MROPE_DIALECT_ROPE_TRANSFORMS_PASSES_H
#define MROPE_DIALECT_ROPE_TRANSFORMS_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mrope/Dialect/Rope/IR/RopeDialect.h"

namespace mrope::rope {

#define GEN_PASS_DECL
#include "mrope/Dialect/Rope/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "mrope/Dialect/Rope/Transforms/Passes.h.inc"

} // namespace mrope::rope

#endif // MROPE_DIALECT_ROPE_TRANSFORMS_PASSES_H
