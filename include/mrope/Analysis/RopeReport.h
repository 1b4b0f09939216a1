//===- RopeReport.h - RoPE sites in words -----------------------*- C++ -*-===//
//
// The only place that turns the typed sites of RopeSites.h into strings:
// the JSON report (mrope-fix --report, rope-classify{report=}), the human
// summary, the one-line remark, and the labels messages use for nodes and
// position sources.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_ANALYSIS_ROPEREPORT_H
#define MROPE_ANALYSIS_ROPEREPORT_H

#include "mrope/Analysis/RopeSites.h"

#include <string>

namespace mrope {

struct FusedRopeSite;

/// 1d | 2d | mrope | mrope-interleaved | mrope-degenerate
llvm::StringRef positionKindName(PositionKind kind);
/// neox | gptj
llvm::StringRef pairLayoutName(rope::PairLayout layout);

/// How messages name a node: its name, else "output '<first output>'".
std::string nodeLabel(onnx::NodeOp node);
/// Name of a site's positions source: "input 'x'" or "Range <node>".
std::string positionsName(const RopeSite &site);
/// Why the site is (or is not) a bug for `arch`, one sentence.
std::string siteReason(const RopeSite &site, Arch arch);
/// "mrope [16, 24, 24] neox, rotary_dim 128, theta 1e6, 4 rotations".
std::string siteSummary(const RopeSite &site);

/// The JSON report: {"sites": [...], "summary": {"rotations": N, "bugs": N}}.
std::string renderReportJson(llvm::ArrayRef<RopeSite> sites,
                             llvm::StringRef model, Arch arch);

/// The human summary mrope-fix prints; fused-op sites (FusedRopeSites.h)
/// are numbered after the others and counted in the header and verdict.
std::string renderReportText(llvm::ArrayRef<RopeSite> sites,
                             llvm::StringRef model, Arch arch,
                             llvm::ArrayRef<FusedRopeSite> fused = {});

} // namespace mrope

#endif // MROPE_ANALYSIS_ROPEREPORT_H
