//===- ExplainMeaning.h - --explain by what values mean ---------*- C++ -*-===//
//
// The matchers of RopeSites.cpp say which rule rejected a candidate; the
// value-meaning lattice (ValueMeaning.h) says what the candidate's inputs
// mean whatever their spelling. This adds the lattice's side to --explain:
// for every Cos that is not the table of an unfused site, what its angle
// means, the fused site that reads it, or the first value on the way back
// whose meaning the analysis lost, and why.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_ANALYSIS_EXPLAINMEANING_H
#define MROPE_ANALYSIS_EXPLAINMEANING_H

#include "mrope/Analysis/FusedRopeSites.h"
#include "mrope/Analysis/RopeSites.h"

#include <string>
#include <vector>

namespace mrope {

/// One line per Cos node of `graph` that no unfused site in `sites` claims.
/// Fused sites are numbered after the unfused ones, as in the report.
std::vector<std::string> explainByMeaning(onnx::GraphOp graph,
                                          llvm::ArrayRef<RopeSite> sites,
                                          llvm::ArrayRef<FusedRopeSite> fused);

} // namespace mrope

#endif // MROPE_ANALYSIS_EXPLAINMEANING_H
