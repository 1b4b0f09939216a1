//===- FusedPasses.cpp - rope-classify-fused and rope-fix-fused -----------===//
#include "mrope/Transforms/FusedPasses.h"

#include "mrope/Analysis/FusedRopeSites.h"
#include "mrope/Transforms/FixFusedSites.h"
#include "mrope/Transforms/Passes.h"

#include "llvm/Support/FormatVariadic.h"

namespace mrope {
#define GEN_PASS_DEF_ROPECLASSIFYFUSED
#define GEN_PASS_DEF_ROPEFIXFUSED
#include "mrope/Transforms/FusedPasses.h.inc"
} // namespace mrope

using namespace mlir;
using namespace mrope;

namespace {

struct RopeClassifyFusedPass
    : mrope::impl::RopeClassifyFusedBase<RopeClassifyFusedPass> {
  using Base::Base;
  void runOnOperation() override {
    std::vector<FusedRopeSite> all;
    getOperation().walk([&](onnx::GraphOp graph) {
      for (FusedRopeSite &site : findFusedRopeSites(graph, arch)) {
        InFlightDiagnostic diag = mlir::emitRemark(site.nodes.front().getLoc())
                                  << "fused rope site: " << fusedOpName(site.op)
                                  << " " << fusedPositionsName(site.kind)
                                  << " [";
        llvm::interleaveComma(site.sections, diag);
        diag << "] " << (site.gptj ? "gptj" : "neox") << ", rotary_dim "
             << site.rotaryDim << ", theta "
             << llvm::formatv("{0:e4}", site.theta).str() << ", "
             << site.rotations() << " rotations; "
             << (site.bug ? "BUG: " : "ok: ") << site.reason;
        all.push_back(std::move(site));
      }
    });
    if (report.empty())
      return;
    std::string json =
        llvm::formatv("{0:2}\n", llvm::json::Value(renderFusedSitesJson(all)));
    if (failed(writePassReport(getOperation(), report, json)))
      return signalPassFailure();
  }
};

struct RopeFixFusedPass : mrope::impl::RopeFixFusedBase<RopeFixFusedPass> {
  using Base::Base;
  void runOnOperation() override {
    FusedFixOptions options;
    options.arch = arch;
    options.sections.assign(sections.begin(), sections.end());
    SmallVector<onnx::GraphOp> graphs(getOperation().getOps<onnx::GraphOp>());
    for (onnx::GraphOp graph : graphs) {
      FailureOr<FusedFixResult> result = fixFusedSites(graph, options);
      if (failed(result))
        return signalPassFailure();
      for (const std::string &change : result->changes)
        mlir::emitRemark(graph.getLoc()) << "fixed: " << change;
    }
  }
};

} // namespace
