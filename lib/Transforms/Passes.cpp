//===- Passes.cpp - rope-classify and rope-fix ----------------------------===//
#include "mrope/Transforms/Passes.h"
#include "mrope/Analysis/ArchTraits.h"

#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/RopeSites.h"
#include "mrope/Transforms/FixSites.h"
#include "mrope/Transforms/Pipelines.h"

#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

namespace mrope {
#define GEN_PASS_DEF_ROPECLASSIFY
#define GEN_PASS_DEF_ROPEFIX
#include "mrope/Transforms/Passes.h.inc"
} // namespace mrope

using namespace mlir;
using namespace mrope;

std::optional<PositionsMode> mrope::parsePositionsMode(StringRef name) {
  return llvm::StringSwitch<std::optional<PositionsMode>>(name)
      .Case("input", PositionsMode::Input)
      .Case("compute", PositionsMode::Compute)
      .Default(std::nullopt);
}

/// The one line an unknown spelling of an enum pass option gives.
template <typename T>
static bool parseNamed(llvm::cl::Option &option, StringRef arg, T &value,
                       std::optional<T> parsed, StringRef choices) {
  if (parsed) {
    value = *parsed;
    return false;
  }
  llvm::errs() << "error: " << option.ArgStr << " must be " << choices
               << ", got '" << arg << "'\n";
  return true;
}

template <>
bool llvm::cl::parser<Arch>::parse(Option &option, StringRef, StringRef arg,
                                   Arch &value) {
  return parseNamed(option, arg, value, parseArch(arg), archChoices());
}

template <>
bool llvm::cl::parser<PositionsMode>::parse(Option &option, StringRef,
                                            StringRef arg,
                                            PositionsMode &value) {
  return parseNamed(option, arg, value, parsePositionsMode(arg),
                    "input or compute");
}

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
    std::vector<RopeSite> all;
    getOperation().walk([&](onnx::GraphOp graph) {
      for (RopeSite &site : findRopeSites(graph, arch)) {
        // Located at the Cos node, without dumping the op.
        mlir::emitRemark(site.cosNode.getLoc())
            << "rope site: " << siteSummary(site) << "; "
            << (site.bug ? "BUG: " : "ok: ") << siteReason(site, arch);
        all.push_back(std::move(site));
      }
    });
    if (report.empty())
      return;
    if (failed(writePassReport(getOperation(), report,
                               renderReportJson(all, "", arch))))
      return signalPassFailure();
  }
};

struct RopeFixPass : mrope::impl::RopeFixBase<RopeFixPass> {
  using Base::Base;
  RopeFixPass(const RopeFixOptions &options, FixPipelineResult *result)
      : Base(options), result(result) {}

  void runOnOperation() override {
    FixOptions options;
    options.arch = arch;
    options.sections.assign(sections.begin(), sections.end());
    options.computePositions = positions == PositionsMode::Compute;
    SmallVector<onnx::GraphOp> graphs(getOperation().getOps<onnx::GraphOp>());
    for (onnx::GraphOp graph : graphs) {
      FailureOr<FixResult> fixed = fixRopeSites(graph, options);
      if (failed(fixed))
        return signalPassFailure();
      // One remark per change, for mrope-opt users; callers of the library
      // read the typed result instead.
      for (const std::string &change : fixed->changes)
        mlir::emitRemark(graph.getLoc()) << "fixed: " << change;
      for (const std::string &note : fixed->notes)
        mlir::emitRemark(graph.getLoc()) << "note: " << note;
      if (result)
        result->graphs.push_back(std::move(*fixed));
    }
  }

  /// Not owned; null when the pass was made from the registry.
  FixPipelineResult *result = nullptr;
};

} // namespace

std::unique_ptr<Pass> mrope::createRopeFixPass(const RopeFixOptions &options,
                                               FixPipelineResult *result) {
  return std::make_unique<RopeFixPass>(options, result);
}
