//===- RunFix.h - the fix as one typed library call -------------*- C++ -*-===//
//
// runFix(module, request) is what `mrope-fix` does between reading a model
// and writing one, as a library call with typed input and output:
//
//   analysis      findRopeSites + findFusedRopeSites -> the report's sites
//   fix           fused sites: fixFusedSites; the rest: mrope-fix-pipeline
//                 (rope-raise -> rope-fix -> convert-rope-to-onnx{emit})
//   re-analysis   every rotation is found again, none is a bug
//   proof         ProveFix.h: the fixed tables on probe positions
//
// It returns one FixReport (the analysis, what was rewritten, what was
// proved, notes) that the text, JSON and HTML writers serialise; nothing is
// read back from diagnostic text. On failure it emits one error naming the
// node (or the model) and the module must be dropped: it may be half
// rewritten. Reading and writing files stays with the caller (mrope-fix
// imports, then copies or exports).
//
// Users: mrope-fix, the HTML report's rewrite section (on a copy), and the
// C++ API test (test/RunFix).
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_FIX_RUNFIX_H
#define MROPE_FIX_RUNFIX_H

#include "mrope/Analysis/RopeReport.h"
#include "mrope/Transforms/FixModes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/LLVM.h"
#include "mlir/Support/Timing.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace mrope {

struct FixReport;

/// Test only (mrope-fix --debug-perturb-fix): breaks the fix after the
/// pipeline so that the proof must refuse it. Freq: one frequency of the
/// fix's table one ulp off; Shift: every position one further (text tables
/// differ); Swap: the h and w rows trade places before the section merge
/// (only multimodal tables differ).
enum class DebugPerturb { None, Freq, Shift, Swap, Scale };

/// What to do with a model.
struct FixRequest {
  Arch arch = Arch::Auto;
  /// M-RoPE sections for sites the graph gives none (empty: the arch's,
  /// scaled to the rotary dim).
  std::vector<int64_t> sections;
  PositionsMode positions = PositionsMode::Input;
  EmitMode emit = EmitMode::Plain;
  /// False: analysis only; the module is not changed.
  bool fix = true;
  /// How the report names the model (mrope-fix: the file name).
  std::string model;
  /// The report lists why each rejected candidate is not a site.
  bool explain = false;
  /// Called once with the analysis, before anything is rewritten (the
  /// module is still the input): mrope-fix prints the summary and writes
  /// the JSON and HTML reports here. A failure stops runFix (no error is
  /// emitted for it: the callback says why).
  std::function<mlir::LogicalResult(const FixReport &)> onAnalysis;
  /// When given, each phase is timed under it (and each pass of the fix
  /// pipeline).
  mlir::TimingScope *timing = nullptr;
  DebugPerturb perturb = DebugPerturb::None;
};

/// What became of the model.
enum class FixOutcome {
  AnalysisOnly, ///< FixRequest::fix was false
  NothingToFix, ///< no bug, nothing asked: the module is the input
  Unchanged,    ///< the fix ran and changed nothing (see the notes)
  Rewritten,    ///< the module is the fixed model
};

/// Whether a rewrite was proven on probe positions (ProveFix.h).
enum class ProofStatus {
  NotNeeded, ///< nothing was rewritten
  Proved,    ///< every fixed site: one FixLine::Kind::Proved line each
  NotProven, ///< rewritten, checked by the re-analysis only (see `why`)
};

/// One line of what the fix did, in the order it happened.
struct FixLine {
  enum class Kind {
    NotRaised, ///< rope-raise left a site as ONNX nodes (fixed on tables)
    Fixed,     ///< one change to the graph
    Note,      ///< what did not apply (the model is written unchanged)
    Proved,    ///< one site's proof
  };
  Kind kind;
  std::string text;
};

struct FixReport {
  /// The sites of the input, as found before the fix.
  RopeReport analysis;
  /// FixRequest::explain: one line per rejected candidate.
  std::vector<std::string> explained;
  FixOutcome outcome = FixOutcome::AnalysisOnly;
  std::vector<FixLine> lines;
  ProofStatus proof = ProofStatus::NotNeeded;
  /// NotProven: what the proof does not cover ("--emit ort", "fused RoPE
  /// ops", "--positions compute").
  std::string unprovenBecause;
  /// The written model must pass the ONNX checker: something was fixed or
  /// positions are computed.
  bool checkOnExport = false;

  /// The texts of the lines of one kind.
  std::vector<std::string> linesOf(FixLine::Kind kind) const;
};

/// Analyses `module` (an imported model: its main graph) and, with
/// `request.fix`, fixes it in place, re-analyses and proves the result.
/// Fails after one error diagnostic (naming the node or the model); then
/// the module may be half rewritten and must not be written.
mlir::FailureOr<FixReport> runFix(mlir::ModuleOp module,
                                  const FixRequest &request);

/// Runs `pm` on `module`. When `pm` holds rope-raise, `notRaised` gets,
/// for every site it left as ONNX nodes (keyed by its index in
/// findRopeSites order, the `mrope.site` of raised ops), the remark saying
/// why. Remarks are not printed; errors go on to the context's handler.
/// (mrope-compile --site uses this to say why a site has no rope.apply.)
mlir::LogicalResult runWatchingRaise(mlir::PassManager &pm,
                                     mlir::ModuleOp module,
                                     std::map<int64_t, std::string> &notRaised);

/// The lines mrope-fix prints about the fix, after the summary
/// (`outputPath`: where the model is written).
std::string renderFixText(const FixReport &report, llvm::StringRef outputPath);

} // namespace mrope

#endif // MROPE_FIX_RUNFIX_H
