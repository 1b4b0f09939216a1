//===- Passes.cpp - rope-classify and rope-fix ----------------------------===//
#include "mrope/Transforms/Passes.h"

#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/RopeSites.h"
#include "mrope/Transforms/FixSites.h"

#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

namespace mrope {
#define GEN_PASS_DEF_ROPECLASSIFY
#define GEN_PASS_DEF_ROPEFIX
#include "mrope/Transforms/Passes.h.inc"
} // namespace mrope

using namespace mlir;
using namespace mrope;

LogicalResult mrope::writePassReport(Operation *op, StringRef path,
                                     StringRef text) {
  std::string error;
  auto file = openOutputFile(path, &error);
  if (!file)
    return op->emitError() << error;
  file->os() << text;
  file->keep();
  return success();
}

namespace {

struct RopeClassifyPass : mrope::impl::RopeClassifyBase<RopeClassifyPass> {
  using Base::Base;
  void runOnOperation() override {
    FailureOr<Arch> parsed = parseArchOption(getOperation(), arch);
    if (failed(parsed))
      return signalPassFailure();
    std::vector<RopeSite> all;
    getOperation().walk([&](onnx::GraphOp graph) {
      for (RopeSite &site : findRopeSites(graph, *parsed)) {
        // Located at the Cos node, without dumping the op.
        mlir::emitRemark(site.cosNode.getLoc())
            << "rope site: " << siteSummary(site) << "; "
            << (site.bug ? "BUG: " : "ok: ") << siteReason(site, *parsed);
        all.push_back(std::move(site));
      }
    });
    if (report.empty())
      return;
    if (failed(writePassReport(getOperation(), report,
                               renderReportJson(all, "", *parsed))))
      return signalPassFailure();
  }
};

struct RopeFixPass : mrope::impl::RopeFixBase<RopeFixPass> {
  using Base::Base;
  void runOnOperation() override {
    FailureOr<Arch> parsed = parseArchOption(getOperation(), arch);
    if (failed(parsed))
      return signalPassFailure();
    if (positions != "input" && positions != "compute") {
      getOperation().emitError()
          << "positions must be input or compute, got '" << positions << "'";
      return signalPassFailure();
    }
    FixOptions options;
    options.arch = *parsed;
    options.sections.assign(sections.begin(), sections.end());
    options.computePositions = positions == "compute";
    SmallVector<onnx::GraphOp> graphs(getOperation().getOps<onnx::GraphOp>());
    for (onnx::GraphOp graph : graphs) {
      FailureOr<FixResult> result = fixRopeSites(graph, options);
      if (failed(result))
        return signalPassFailure();
      // One remark per change: mrope-fix prints them as "fixed:" lines.
      for (const std::string &change : result->changes)
        mlir::emitRemark(graph.getLoc()) << "fixed: " << change;
      for (const std::string &note : result->notes)
        mlir::emitRemark(graph.getLoc()) << "note: " << note;
    }
  }
};

} // namespace
