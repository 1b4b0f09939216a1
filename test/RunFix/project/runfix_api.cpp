// Calls mrope::runFix on zoo models and checks its typed report: the
// analysis, the fix with its proof, the re-analysis of the fixed module, a
// correct model left alone, and a refused request (one error, no report).
// Prints what it read (FileCheck checks the words); exits 1 on the first
// field that is not what the model is known to be.
#include "mrope/Fix/RunFix.h"
#include "mrope/InitAll.h"
#include "mrope/Target/Onnx/Import.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

using namespace mrope;

static int failures = 0;

static void expect(bool ok, const char *what) {
  if (!ok) {
    llvm::outs() << "FAILED: " << what << "\n";
    ++failures;
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    llvm::errs() << "usage: runfix-api ZOO_DIR\n";
    return 2;
  }
  std::string zoo = argv[1];
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  std::vector<std::string> errors;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    if (d.getSeverity() == mlir::DiagnosticSeverity::Error)
      errors.push_back(d.str());
    return mlir::success();
  });

  // Degenerate M-RoPE (three rows expanded from one 1D tensor): one site,
  // four rotations, the bug; the fix is proven and the result is clean.
  auto model =
      onnx::importOnnxModel(zoo + "/qwen2vl_expand_bug.onnx", &context);
  if (mlir::failed(model))
    return 1;
  FixRequest request;
  request.model = "qwen2vl_expand_bug.onnx";
  int analysed = 0;
  request.onAnalysis = [&](const FixReport &report) {
    ++analysed;
    return mlir::success();
  };
  mlir::FailureOr<FixReport> report = runFix(model->get(), request);
  expect(mlir::succeeded(report), "runFix succeeds");
  if (mlir::failed(report))
    return 1;
  expect(analysed == 1, "onAnalysis is called once");
  const RopeReport &analysis = report->analysis;
  expect(analysis.sites.size() == 1, "one site");
  expect(analysis.rotations() == 4, "four rotations");
  expect(analysis.bugs() == 1, "one bug");
  const SiteReport &site = analysis.sites.front();
  expect(site.kind == PositionKind::MRopeDegenerate, "degenerate M-RoPE");
  expect(!site.fused, "not a fused-op site");
  expect(site.sections == llvm::SmallVector<int64_t>({16, 24, 24}),
         "sections [16, 24, 24]");
  expect(site.rotaryDim == 128, "rotary dim 128");
  expect(site.bug, "the site is the bug");
  expect(report->outcome == FixOutcome::Rewritten, "the module is rewritten");
  expect(report->proof == ProofStatus::Proved, "the rewrite is proven");
  expect(report->checkOnExport, "the export is checked");
  std::vector<std::string> fixed = report->linesOf(FixLine::Kind::Fixed);
  std::vector<std::string> proved = report->linesOf(FixLine::Kind::Proved);
  expect(!fixed.empty(), "fixed lines");
  expect(proved.size() == 1, "one proved line (one site)");
  llvm::outs() << "site: " << site.positionsKindName() << " " << site.reason
               << "\n";
  for (const std::string &line : fixed)
    llvm::outs() << "fixed: " << line << "\n";
  for (const std::string &line : proved)
    llvm::outs() << "proved: " << line << "\n";
  // The JSON and the text are serialised from the same model.
  llvm::outs() << renderReportText(analysis);

  // The fixed module, analysed again: the same site, no bug.
  FixRequest again;
  again.fix = false;
  mlir::FailureOr<FixReport> after = runFix(model->get(), again);
  expect(mlir::succeeded(after) && after->analysis.bugs() == 0 &&
             after->analysis.rotations() == 4 &&
             after->outcome == FixOutcome::AnalysisOnly,
         "the fixed module has four rotations and no bug");
  if (mlir::succeeded(after))
    llvm::outs() << "after: "
                 << after->analysis.sites.front().positionsKindName() << ", "
                 << after->analysis.bugs() << " bugs\n";

  // A correct M-RoPE model: nothing to fix, nothing rewritten.
  auto correct = onnx::importOnnxModel(zoo + "/qwen2vl_mrope.onnx", &context);
  if (mlir::failed(correct))
    return 1;
  FixRequest qwen;
  qwen.arch = Arch::Qwen2VL;
  mlir::FailureOr<FixReport> same = runFix(correct->get(), qwen);
  expect(mlir::succeeded(same) && same->outcome == FixOutcome::NothingToFix &&
             same->lines.empty() && same->proof == ProofStatus::NotNeeded,
         "a correct model is left alone");

  // A refused request: --emit onnx23 on an opset-14 model fails with one
  // error and rewrites nothing.
  auto old = onnx::importOnnxModel(zoo + "/qwen2vl_1d_bug.onnx", &context);
  if (mlir::failed(old))
    return 1;
  FixRequest onnx23;
  onnx23.arch = Arch::Qwen2VL;
  onnx23.emit = EmitMode::Onnx23;
  errors.clear();
  mlir::FailureOr<FixReport> refused = runFix(old->get(), onnx23);
  expect(mlir::failed(refused), "onnx23 on opset 14 is refused");
  expect(errors.size() == 1, "with one error");
  for (const std::string &error : errors)
    llvm::outs() << "error: " << error << "\n";

  llvm::outs() << (failures ? "runfix-api: FAILED\n" : "runfix-api: ok\n");
  return failures ? 1 : 0;
}
