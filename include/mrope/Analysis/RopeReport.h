//===- RopeReport.h - RoPE sites in words -----------------------*- C++ -*-===//
//
// The only place that turns the typed sites of RopeSites.h and
// FusedRopeSites.h into a report. The report is one typed model
// (RopeReport: every site, unfused and fused, detached from the IR) that
// the writers serialise: JSON (mrope-fix --report, rope-classify{report=}),
// the human summary here, HTML in mrope/Report/HtmlReport.h. Also the
// one-line remark and the labels messages use for nodes and positions.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_ANALYSIS_ROPEREPORT_H
#define MROPE_ANALYSIS_ROPEREPORT_H

#include "mrope/Analysis/FusedRopeSites.h"
#include "mrope/Analysis/RopeSites.h"

#include <optional>
#include <string>
#include <vector>

namespace mrope {

/// 1d | 2d | mrope | mrope-interleaved | mrope-degenerate
llvm::StringRef positionKindName(PositionKind kind);
/// neox | gptj
llvm::StringRef pairLayoutName(rope::PairLayout layout);

/// How messages name a node: its name, else "output '<first output>'".
std::string nodeLabel(onnx::NodeOp node);
/// The ONNX name of a value: graph input, initializer or node output; ""
/// for anything else.
std::string onnxValueName(mlir::Value v);
/// Name of a site's positions source: "input 'x'" or "Range <node>".
std::string positionsName(const RopeSite &site);
/// Why the site is (or is not) a bug for `arch`, one sentence.
std::string siteReason(const RopeSite &site, Arch arch);
/// "mrope [16, 24, 24] neox, rotary_dim 128, theta 1e6, 4 rotations".
std::string siteSummary(const RopeSite &site);

/// What a fused-op site adds to a report entry.
struct FusedSiteReport {
  FusedOp op = FusedOp::MsRotary;
  FusedPositions kind = FusedPositions::OneD;
  /// The ONNX names of the cos/sin caches (seen through views) and their
  /// static shape (-1: dynamic; empty: unknown).
  std::string cosCache, sinCache;
  llvm::SmallVector<int64_t> cacheShape;
};

/// One RoPE site as the report says it. Values only: the IR of a site is
/// gone once the fix ran.
struct SiteReport {
  /// Unfused sites: the kind of positions; fused ones say theirs in `fused`.
  PositionKind kind = PositionKind::OneD;
  std::optional<FusedSiteReport> fused;
  bool vision = false;
  rope::PairLayout layout = rope::PairLayout::neox;
  llvm::SmallVector<int64_t> sections;
  bool interleaved = false;
  double theta = 0.0;
  int64_t rotaryDim = 0;
  int64_t rotations = 0;
  /// "input 'position_ids'", "Range /Range", ...
  std::string positionsSource;
  /// Labels of the site's nodes, of the nodes whose outputs are rotated
  /// (unfused: the cos Muls; fused: the fused nodes), and of the nodes
  /// making the cos/sin tables (unfused only).
  std::vector<std::string> nodes, rotationNodes;
  std::string cosNode, sinNode;
  bool bug = false;
  /// One sentence: why it is (or is not) a bug for the arch.
  std::string reason;

  /// "1d", "mrope", ..., "per-token" (fused).
  llvm::StringRef positionsKindName() const;
  /// Whether every token is rotated by one position (1D or degenerate rows).
  bool rotatesBy1D() const;
};

/// The analysis of one model, for one arch.
struct RopeReport {
  std::string model;
  Arch arch = Arch::Auto;
  /// Unfused sites in findRopeSites order, then fused sites.
  std::vector<SiteReport> sites;

  int64_t rotations() const;
  int64_t bugs() const;
};

SiteReport makeSiteReport(const RopeSite &site, Arch arch);
SiteReport makeSiteReport(const FusedRopeSite &site);
RopeReport makeRopeReport(llvm::ArrayRef<RopeSite> sites,
                          llvm::ArrayRef<FusedRopeSite> fused,
                          llvm::StringRef model, Arch arch);

/// The JSON report: {"model", "arch", "sites": [...], "summary": {"sites",
/// "rotations", "bugs"}}; fused sites add "fused_op" and "caches".
std::string renderReportJson(const RopeReport &report);
/// The human summary mrope-fix prints.
std::string renderReportText(const RopeReport &report);

/// The same for sites not yet in a report (rope-classify, the fuzzer).
std::string renderReportJson(llvm::ArrayRef<RopeSite> sites,
                             llvm::StringRef model, Arch arch);
std::string renderReportText(llvm::ArrayRef<RopeSite> sites,
                             llvm::StringRef model, Arch arch,
                             llvm::ArrayRef<FusedRopeSite> fused = {});

} // namespace mrope

#endif // MROPE_ANALYSIS_ROPEREPORT_H
