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

#include "mrope/Analysis/RopeReport.h"
#include "mrope/Fix/RunFix.h"
#include "mrope/Report/RopeIndex.h"

#include "mlir/IR/BuiltinOps.h"

#include <optional>
#include <string>

namespace mrope {

struct HtmlReportOptions {
  /// How the fix would run: the rewrite section runs runFix on a copy
  /// with this request (its callback, timing and perturbation unused).
  FixRequest fix;
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

/// The page for `report`, the analysis of `module` (left unchanged).
std::string renderHtmlReport(mlir::ModuleOp module, const RopeReport &report,
                             const HtmlReportOptions &options);

} // namespace mrope

#endif // MROPE_REPORT_HTMLREPORT_H
