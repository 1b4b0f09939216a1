//===- mrope-fix.cpp - find the Qwen2-VL 1D-positions bug and fix it ------===//
//
//   mrope-fix MODEL.onnx [--report R.json] [--arch auto|qwen2-vl|...] [--check]
//   mrope-fix MODEL.onnx -o FIXED.onnx [--sections T,H,W] [--positions input]
//             [--emit plain|ort|onnx23]
//
// Argument handling and files only: the analysis, the fix, the re-analysis
// and the proof are one library call, runFix (mrope/Fix/RunFix.h), whose
// typed report this tool prints and writes.
//
// Exit status: 0 ok, 1 error (bad input, cannot fix), 3 with --check when a
// bug was found. Nothing is left at an output path when a command fails.
//
//===----------------------------------------------------------------------===//
#include "mrope/Fix/RunFix.h"
#include "mrope/Fix/WriteFixed.h"

#include "mrope/Analysis/ArchTraits.h"
#include "mrope/Analysis/Evaluate.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"
#include "mrope/InitAll.h"
#include "mrope/Report/HtmlReport.h"
#include "mrope/Target/Onnx/Export.h"
#include "mrope/Target/Onnx/Import.h"
#include "mrope/Target/Onnx/OpsetSignatures.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>

using namespace mlir;
using namespace mrope;
namespace cl = llvm::cl;

static cl::OptionCategory category("mrope-fix options");

static cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                                      cl::desc("<MODEL.onnx>"),
                                      cl::cat(category));
static cl::opt<std::string>
    outputPath("o",
               cl::desc("Write the corrected model here (without -o: "
                        "analysis only)"),
               cl::value_desc("FIXED.onnx"), cl::cat(category));
static cl::opt<std::string> reportPath("report",
                                       cl::desc("Write the JSON report here"),
                                       cl::value_desc("REPORT.json"),
                                       cl::cat(category));
static cl::opt<std::string>
    htmlPath("html",
             cl::desc("Write a self-contained HTML report here (sites, "
                      "positions picture, what the fix rewrites)"),
             cl::value_desc("REPORT.html"), cl::cat(category));
static cl::list<int64_t> exampleImages(
    "example-images",
    cl::desc("--html: image grids T,H,W (patches) of the example prompt"),
    cl::CommaSeparated, cl::cat(category));
static cl::list<int64_t> exampleVideos(
    "example-videos",
    cl::desc("--html: video grids T,H,W (patches) of the example prompt"),
    cl::CommaSeparated, cl::cat(category));
static cl::opt<std::string> archOption(
    "arch",
    cl::desc("What the model is: auto (default: only degenerate M-RoPE is a "
             "bug), qwen2-vl, qwen2.5-vl, qwen3-vl, qwen3.5, qwen2.5-omni, "
             "qwen3-omni, glm4v (plain 1D RoPE is a bug too; a fix uses the "
             "arch's sections, order and get_rope_index; qwen3-omni's "
             "positions are float32), text (1D RoPE is right)"),
    cl::init("auto"), cl::cat(category));
static cl::list<int64_t> sections(
    "sections",
    cl::desc("M-RoPE sections T,H,W for sites the graph gives none "
             "(default: the architecture's, scaled to the rotary dim)"),
    cl::CommaSeparated, cl::cat(category));
static cl::opt<std::string> positionsMode(
    "positions",
    cl::desc("input (default): FIXED.onnx takes position_ids int64 [3, batch, "
             "seq] (float32 under qwen3-omni); compute: FIXED.onnx computes "
             "them from the model's token ids and attention mask (found by "
             "what the graph does with them, else added as input_ids / "
             "attention_mask), image_grid_thw, video_grid_thw (added where "
             "missing) and outputs rope_deltas"),
    cl::init("input"), cl::cat(category));
static cl::opt<std::string> emitMode(
    "emit",
    cl::desc("How the fixed RoPE is written: plain (default: standard ONNX "
             "ops, opset 13+), ort (ONNX Runtime's "
             "com.microsoft.RotaryEmbedding), onnx23 "
             "(RotaryEmbedding of opset 23; the model must import opset 23 "
             "or newer)"),
    cl::init("plain"), cl::cat(category));
static cl::opt<bool>
    timing("timing",
           cl::desc("Print the wall time of each phase (import, analysis, "
                    "each pass of the fix pipeline, re-analysis, export, "
                    "checker) to stderr at exit"),
           cl::cat(category));
static cl::opt<bool> check("check",
                           cl::desc("Exit 3 when a bug is found (for CI)"),
                           cl::cat(category));
static cl::opt<bool> quiet("q", cl::desc("Print only errors"),
                           cl::cat(category));
static cl::opt<bool> explain(
    "explain",
    cl::desc("Say why each Cos, cos/sin cache Gather or table Mul that is not "
             "(part of) a RoPE site was rejected"),
    cl::cat(category));

// Test only: breaks the fix after the pipeline so that the proof must
// refuse it (test/mrope-fix/prove.test). freq: moves one frequency of the
// fix's table by one ulp; shift: adds one to the positions its tables are
// computed from (text tables differ); swap: swaps the h and w position rows
// before its section merge (only multimodal tables differ).
static cl::opt<std::string> perturbFix("debug-perturb-fix", cl::Hidden,
                                       cl::init(""), cl::cat(category));

// Test only: prints the evaluator's value of these node outputs (by ONNX
// name) and exits; the graph inputs they depend on are not given
// (test/mrope-fix/evaluate.test compares with ONNX Runtime).
static cl::list<std::string> debugEvaluate("debug-evaluate", cl::Hidden,
                                           cl::CommaSeparated,
                                           cl::cat(category));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "mrope-fix: error: " << message << "\n";
  return 1;
}

static LogicalResult writeAtomically(StringRef path, StringRef text,
                                     std::string &error) {
  auto file = openOutputFile(path, &error);
  if (!file)
    return failure();
  file->os() << text;
  file->keep();
  return success();
}

/// --debug-evaluate: the evaluator's value of these node outputs.
static int debugEvaluateOutputs(onnx::GraphOp graph) {
  eval::Evaluator ev(onnx::getOpsetVersion(graph).value_or(17));
  for (const std::string &name : debugEvaluate) {
    Value found;
    graph.walk([&](onnx::NodeOp node) {
      for (unsigned i = 0; i < node->getNumResults(); ++i)
        if (node.getOutputName(i) == name)
          found = node->getResult(i);
    });
    if (!found)
      return fail("--debug-evaluate: no node output '" + name + "'");
    const eval::Tensor *t = ev.evaluate(found);
    if (!t) {
      llvm::outs() << name << ": cannot evaluate: " << ev.why() << "\n";
      continue;
    }
    llvm::outs() << name << ": [";
    llvm::interleave(t->shape, llvm::outs(), ",");
    llvm::outs() << "]";
    for (int64_t k = 0, n = t->numElements(); k < n; ++k) {
      if (t->isFloat())
        llvm::outs() << " " << llvm::format("%.9g", t->f[k]);
      else
        llvm::outs() << " " << t->i[k];
    }
    llvm::outs() << "\n";
  }
  llvm::outs().flush();
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "mrope-fix: find rotary position embeddings in an ONNX model, tell "
      "whether\nthey have the Qwen2-VL bug (text, image and video tokens all "
      "rotated by 1D\npositions), and write a corrected model that takes true "
      "3D M-RoPE positions.\n\n"
      "  mrope-fix model.onnx --report report.json       # analysis only\n"
      "  mrope-fix model.onnx --arch qwen2-vl --check    # exit 3 on a bug\n"
      "  mrope-fix model.onnx -o fixed.onnx              # fix\n"
      "  mrope-fix model.onnx -o fixed.onnx --emit ort   # fix, fused ORT "
      "ops\n\n"
      "The fixed model takes `position_ids` int64 [3, batch, seq] (t, h, w "
      "rows, as\ntransformers' get_rope_index computes them; python: "
      "mrope.reference.rope_index).\nFor decode steps with a KV cache, pass "
      "past_length + rope_delta + arange on\nall three rows. With --positions "
      "compute the model computes them from its token ids,\nattention mask and "
      "the "
      "grids and outputs rope_deltas (KV decoders: feed it back\nas "
      "past_rope_deltas).\n");

  // The request: every choice typed before the model is read.
  FixRequest request;
  std::optional<Arch> arch = parseArch(archOption);
  if (!arch)
    return fail("--arch must be " + archChoices() + ", got '" + archOption +
                "'");
  request.arch = *arch;
  std::optional<PositionsMode> positions = parsePositionsMode(positionsMode);
  if (!positions)
    return fail("--positions must be input or compute");
  request.positions = *positions;
  std::optional<EmitMode> emit = parseEmitMode(emitMode);
  if (!emit)
    return fail("--emit must be plain, ort or onnx23, got '" + emitMode + "'");
  request.emit = *emit;
  request.sections.assign(sections.begin(), sections.end());
  request.fix = !outputPath.empty();
  request.explain = explain;
  std::optional<DebugPerturb> perturb =
      llvm::StringSwitch<std::optional<DebugPerturb>>(perturbFix)
          .Case("", DebugPerturb::None)
          .Case("freq", DebugPerturb::Freq)
          .Case("shift", DebugPerturb::Shift)
          .Case("swap", DebugPerturb::Swap)
          .Case("scale", DebugPerturb::Scale)
          .Default(std::nullopt);
  if (!perturb)
    return fail("--debug-perturb-fix must be freq, shift or swap");
  request.perturb = *perturb;
  HtmlReportOptions html;
  if (std::string error;
      failed(setExampleGrids(html, exampleImages, exampleVideos, error)))
    return fail(error);

  DefaultTimingManager timingManager;
  timingManager.setEnabled(timing);
  TimingScope rootTiming = timingManager.getRootScope();
  TimingScope phase = rootTiming.nest("context");

  DialectRegistry registry;
  mrope::registerAllDialects(registry);
  // One graph, passes on the whole module: no thread would have work, and
  // without threading the context's uniquing takes no locks.
  MLIRContext ctx(registry, MLIRContext::Threading::DISABLED);
  ctx.loadAllAvailableDialects();
  // Diagnostics go to stderr as one line each, naming the file.
  request.model = llvm::sys::path::filename(inputPath).str();
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    std::string message = d.str();
    llvm::errs() << "mrope-fix: "
                 << (d.getSeverity() == DiagnosticSeverity::Error ? "error: "
                                                                  : "note: ");
    if (!StringRef(message).contains(inputPath.getValue()))
      llvm::errs() << inputPath << ": ";
    llvm::errs() << message << "\n";
    return success();
  });

  if (!quiet)
    llvm::outs() << "mrope-fix: importing " << inputPath << "\n";
  // With -o, the input must pass the ONNX checker: the fix rewrites valid
  // models only, and what it writes is checked the same way.
  onnx::ImportOptions importOptions;
  importOptions.runChecker = !outputPath.empty();
  // RoPE inside model-local functions is analysed (and fixed) as nodes of
  // the graph; a fixed model is written with those calls inlined.
  importOptions.inlineFunctions = true;
  // The checker's finding decides whether a model may be written.
  std::optional<std::string> checkerFinding;
  importOptions.checkerFinding = &checkerFinding;
  // The weights are copied to the output's data file on a thread of their
  // own as soon as the model is parsed, beside the rest of the import,
  // the analysis and the fix; the export takes the copy over (it is removed
  // if the command fails).
  std::unique_ptr<onnx::DataFilePrecopy> precopy;
  if (!outputPath.empty()) {
    importOptions.precopyFor = outputPath;
    importOptions.precopy = &precopy;
  }
  phase = rootTiming.nest("import");
  importOptions.timing = &phase;
  auto imported = onnx::importOnnxModel(inputPath, &ctx, importOptions);
  if (failed(imported))
    return 1;
  if (checkerFinding && !checkerFinding->empty())
    return fail(inputPath +
                ": the model fails the ONNX checker, so it is "
                "not rewritten: " +
                *checkerFinding);
  ModuleOp module = imported->get();
  onnx::GraphOp graph = onnx::getMainGraph(module);
  if (!graph)
    return fail(inputPath + ": no main graph");
  // Above libonnx's newest opset the ONNX checker cannot judge the input
  // or the output: say so, never skip it silently.
  if (!outputPath.empty())
    if (std::optional<int64_t> opset = onnx::getOpsetVersion(graph);
        opset && *opset > onnx::libonnxCheckedOpset())
      llvm::errs() << "mrope-fix: note: " << inputPath << ": opset " << *opset
                   << " is newer than libonnx 1.12 checks (up to "
                   << onnx::libonnxCheckedOpset()
                   << "): the ONNX checker is skipped; only the signatures of "
                      "the ops mrope reads are checked (ONNX Runtime is the "
                      "judge)\n";
  if (!debugEvaluate.empty())
    return debugEvaluateOutputs(graph);

  // The analysis is printed and its reports written before anything is
  // rewritten (the HTML report fixes a copy of the unchanged module).
  phase.stop();
  if (timing)
    request.timing = &rootTiming;
  request.onAnalysis = [&](const FixReport &report) -> LogicalResult {
    TimingScope reportPhase = rootTiming.nest("report");
    for (const std::string &line : report.explained)
      llvm::outs() << "explain: " << line << "\n";
    if (!quiet)
      llvm::outs() << renderReportText(report.analysis);
    std::string error;
    if (!reportPath.empty() &&
        failed(writeAtomically(reportPath, renderReportJson(report.analysis),
                               error)))
      return fail(error), failure();
    if (!htmlPath.empty()) {
      html.fix = request;
      if (failed(writeAtomically(
              htmlPath, renderHtmlReport(module, report.analysis, html),
              error)))
        return fail(error), failure();
      if (!quiet)
        llvm::outs() << "mrope-fix: wrote the HTML report " << htmlPath << "\n";
    }
    return success();
  };
  FailureOr<FixReport> report = runFix(module, request);
  if (failed(report))
    return 1; // runFix (or the report writer) said why in one line
  int64_t bugs = report->analysis.bugs();

  if (!outputPath.empty()) {
    if (!quiet)
      llvm::outs() << renderFixText(*report, outputPath);
    if (!quiet && writesByExport(*report, inputPath))
      llvm::outs() << "mrope-fix: writing " << outputPath << "\n";
    WriteFixedOptions write;
    write.inputPath = inputPath;
    write.outputPath = outputPath;
    write.precopy = &precopy;
    write.timing = &rootTiming;
    if (std::string error;
        failed(writeFixedModel(module, *report, write, error)))
      return error.empty() ? 1 : fail(error);
  }
  // Done: the OS frees the IR and the context faster than their
  // destructors would (as clang's -disable-free). Everything written is
  // complete and renamed into place by now.
  phase.stop();
  rootTiming.stop();
  timingManager.print();
  llvm::outs().flush();
  llvm::errs().flush();
  std::fflush(nullptr);
  std::_Exit((check && bugs) ? 3 : 0);
}
