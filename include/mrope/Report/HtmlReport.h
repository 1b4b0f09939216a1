//===- HtmlReport.h - the self-contained HTML report ------------*- C++ -*-===//
//
// One HTML file a person opens (mrope-fix --html, mrope.report, the
// mrope-report command): the verdict and every RoPE site; the positions
// picture of an example prompt (1D as the model computes them, then true
// M-RoPE); for a vision tower the patch grid before and after; and the
// rewrite (ONNX nodes removed and added, a small before/after graph). Inline
// SVG and CSS only: no script, no network.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_REPORT_HTMLREPORT_H
#define MROPE_REPORT_HTMLREPORT_H

#include "mrope/Analysis/RopeSites.h"
#include "mrope/Report/RopeIndex.h"
#include "mrope/Transforms/FixSites.h"

#include "mlir/IR/BuiltinOps.h"

#include <optional>
#include <string>

namespace mrope {

struct HtmlReportOptions {
  /// How the fix would run (the rewrite section applies it to a copy).
  FixOptions fix;
  /// The prompt of the positions picture (default: workedExamplePrompt()).
  std::optional<ExamplePrompt> example;
  /// The vision tower picture's grids (default: one 4x6-patch image).
  std::vector<GridThw> visionGrids;
};

/// Sets the example prompt (and the vision tower's grids) from flat T,H,W
/// triples (mrope-fix --example-images / --example-videos); empty lists keep
/// the worked example. Fails with a message on a bad grid.
mlir::LogicalResult setExampleGrids(HtmlReportOptions &options,
                                    llvm::ArrayRef<int64_t> images,
                                    llvm::ArrayRef<int64_t> videos,
                                    std::string &error);

/// The report of `module` (left unchanged) whose main graph has `sites`.
std::string renderHtmlReport(mlir::ModuleOp module,
                             llvm::ArrayRef<RopeSite> sites,
                             llvm::StringRef model,
                             const HtmlReportOptions &options);

} // namespace mrope

#endif // MROPE_REPORT_HTMLREPORT_H
