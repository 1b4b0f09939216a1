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
    bool compute = positions == PositionsMode::Compute;
    FusedFixOptions options;
    options.arch = arch;
    options.sections.assign(sections.begin(), sections.end());
    options.computePositions = compute;
    SmallVector<onnx::GraphOp> graphs(getOperation().getOps<onnx::GraphOp>());
    for (onnx::GraphOp graph : graphs) {
      // The correct M-RoPE sites' [3, B, S] input, for compute mode on a
      // model with no bug (read before the fix changes the graph).
      Value correctInput;
      if (compute) {
        std::vector<FusedRopeSite> sites = findFusedRopeSites(graph, arch);
        if (llvm::none_of(sites,
                          [](const FusedRopeSite &s) { return s.bug; })) {
          FailureOr<Value> input = fusedPositionsInput(graph, sites);
          if (failed(input))
            return signalPassFailure();
          correctInput = *input;
        }
      }
      FailureOr<FusedFixResult> result = fixFusedSites(graph, options);
      if (failed(result))
        return signalPassFailure();
      std::vector<std::string> changes = std::move(result->changes);
      // Compute mode: the positions input the fixed (or correct) sites read
      // becomes the computation unfused sites get; a placeholder the fix
      // added is not announced as removed, a user's input is.
      Value input = result->fixedSites ? result->positions : correctInput;
      if (compute && input &&
          failed(computeFusedPositions(graph, input, arch,
                                       /*announce=*/!result->fixedSites,
                                       changes)))
        return signalPassFailure();
      for (const std::string &change : changes)
        mlir::emitRemark(graph.getLoc()) << "fixed: " << change;
    }
  }
};

} // namespace
