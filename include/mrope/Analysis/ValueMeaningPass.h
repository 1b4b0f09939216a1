//===- ValueMeaningPass.h - analysis test passes ----------------*- C++ -*-===//
#ifndef MROPE_ANALYSIS_VALUEMEANINGPASS_H
#define MROPE_ANALYSIS_VALUEMEANINGPASS_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mrope {

#define GEN_PASS_DECL
#include "mrope/Analysis/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "mrope/Analysis/Passes.h.inc"

} // namespace mrope

#endif // MROPE_ANALYSIS_VALUEMEANINGPASS_H
