//===- mrope-fix.cpp - find the Qwen2-VL 1D-positions bug and fix it ------===//
//
//   mrope-fix MODEL.onnx [--report R.json] [--arch auto|qwen2-vl|...] [--check]
//   mrope-fix MODEL.onnx -o FIXED.onnx [--sections T,H,W] [--positions input]
//             [--emit plain|ort|onnx23]
//
// With -o the fix is one pass pipeline (mrope-fix-pipeline: rope-raise ->
// rope-fix -> convert-rope-to-onnx{emit}), then a separate check: the
// analysis of the result must find no bug, else nothing is written.
//
// Exit status: 0 ok, 1 error (bad input, cannot fix), 3 with --check when a
// bug was found. Nothing is left at an output path when a command fails.
//
//===----------------------------------------------------------------------===//
#include "mrope/Fix/ProveFix.h"

#include "mrope/Analysis/Evaluate.h"
#include "mrope/Analysis/FusedRopeSites.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/RopeSites.h"
#include "mrope/Dialect/Onnx/IR/OnnxBuilder.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"
#include "mrope/InitAll.h"
#include "mrope/Report/HtmlReport.h"
#include "mrope/Target/Onnx/Export.h"
#include "mrope/Target/Onnx/Import.h"
#include "mrope/Target/Onnx/OpsetSignatures.h"
#include "mrope/Transforms/FixFusedSites.h"
#include "mrope/Transforms/FixSites.h"
#include "mrope/Transforms/Pipelines.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
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
             "bug), qwen2-vl, qwen2.5-vl, qwen3-vl (plain 1D RoPE is a bug "
             "too), text (1D RoPE is right)"),
    cl::init("auto"), cl::cat(category));
static cl::list<int64_t> sections(
    "sections",
    cl::desc("M-RoPE sections T,H,W for sites the graph gives none "
             "(default: the architecture's, scaled to the rotary dim)"),
    cl::CommaSeparated, cl::cat(category));
static cl::opt<std::string> positionsMode(
    "positions",
    cl::desc("input (default): FIXED.onnx takes position_ids int64 [3, batch, "
             "seq]; compute: FIXED.onnx computes them from input_ids, "
             "attention_mask, image_grid_thw, video_grid_thw (added as inputs "
             "where missing) and outputs rope_deltas"),
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

/// Copies `from` to `to` through a temporary renamed into place, so a
/// failure leaves nothing at `to`.
static LogicalResult copyAtomically(const llvm::Twine &from, StringRef to,
                                    std::string &error) {
  auto temp = llvm::sys::fs::TempFile::create(to + ".tmp-%%%%%%");
  if (!temp) {
    error = to.str() + ": " + llvm::toString(temp.takeError());
    return failure();
  }
  if (std::error_code ec = llvm::sys::fs::copy_file(from, temp->FD)) {
    error = to.str() + ": cannot copy " + from.str() + ": " + ec.message();
    llvm::consumeError(temp->discard());
    return failure();
  }
  if (llvm::Error e = temp->keep(to)) {
    error = to.str() + ": " + llvm::toString(std::move(e));
    return failure();
  }
  return success();
}

/// A model with nothing to fix is written as a byte-identical copy of the
/// input (docs/mrope-fix.md, "A model with nothing to fix"): no export, so
/// no re-serialisation can change it. The external data files it names
/// are copied under the same locations beside the output, unless the
/// output is in the input's folder, where both models read the same files.
static LogicalResult copyUnchanged(ModuleOp module, std::string &error) {
  SmallString<256> inDir(inputPath.getValue()), outDir(outputPath.getValue());
  llvm::sys::path::remove_filename(inDir);
  llvm::sys::path::remove_filename(outDir);
  if (inDir.empty())
    inDir = ".";
  if (outDir.empty())
    outDir = ".";
  llvm::SetVector<StringRef> locations;
  module->walk([&](Operation *op) {
    op->getAttrDictionary().walk(
        [&](onnx::ExternalAttr e) { locations.insert(e.getLocation()); });
  });
  bool sameFolder = llvm::sys::fs::equivalent(inDir, outDir);
  if (!sameFolder)
    for (StringRef location : locations) {
      SmallString<256> from(inDir), to(outDir);
      llvm::sys::path::append(from, location);
      llvm::sys::path::append(to, location);
      if (std::error_code ec = llvm::sys::fs::create_directories(
              llvm::sys::path::parent_path(to))) {
        error = to.str().str() + ": " + ec.message();
        return failure();
      }
      if (failed(copyAtomically(from, to, error)))
        return failure();
    }
  return copyAtomically(inputPath, outputPath, error);
}

static FixOptions fixOptions(Arch arch) {
  FixOptions options;
  options.arch = arch;
  options.sections.assign(sections.begin(), sections.end());
  options.computePositions = positionsMode == "compute";
  return options;
}

/// Rotations of analysed sites plus fused RoPE nodes (one per q or k).
static int64_t countRotations(ArrayRef<RopeSite> sites,
                              ArrayRef<FusedRopeSite> fused) {
  int64_t n = 0;
  for (const RopeSite &site : sites)
    n += site.rotations.size();
  for (const FusedRopeSite &site : fused)
    n += site.nodes.size();
  return n;
}

/// --emit onnx23 writes RotaryEmbedding of opset 23: a model importing an
/// older default opset is refused before anything runs.
static LogicalResult checkEmit(ModuleOp module) {
  if (emitMode != "plain" && emitMode != "ort" && emitMode != "onnx23") {
    fail("--emit must be plain, ort or onnx23, got '" + emitMode + "'");
    return failure();
  }
  if (emitMode != "onnx23")
    return success();
  std::optional<int64_t> version =
      onnx::getOpsetVersion(onnx::getMainGraph(module));
  if (version && *version >= 23)
    return success();
  fail(inputPath +
       ": --emit onnx23 needs the model to import ONNX opset 23 "
       "or newer (it imports " +
       llvm::Twine(version.value_or(0)) +
       "); use --emit plain or ort, or convert the model first");
  return failure();
}

/// Puts `wrap(operand 0)` in place of operand 0 of the first `opType` node
/// the fix wrote (named mrope_*).
static LogicalResult perturbFirst(
    onnx::GraphOp graph, StringRef opType,
    function_ref<Value(onnx::OnnxBuilder &, OpBuilder &, Value)> wrap) {
  for (auto node : graph.getBodyBlock().getOps<onnx::NodeOp>()) {
    if (!node.isOnnx(opType) || !node.getNodeName().starts_with("mrope_"))
      continue;
    OpBuilder b(node);
    onnx::OnnxBuilder emit(b, graph, node.getLoc(), "mrope_perturb",
                           "mrope_perturb");
    node->setOperand(0, wrap(emit, b, node->getOperand(0)));
    return success();
  }
  return failure();
}

/// --debug-perturb-fix: a wrong rewrite the proof must refuse.
static LogicalResult perturb(onnx::GraphOp graph) {
  if (perturbFix == "swap") // h and w rows trade places before the merge
    return perturbFirst(
        graph, "Gather", [](onnx::OnnxBuilder &emit, OpBuilder &b, Value x) {
          return emit.node("Gather", x.getType(),
                           {x, emit.ints({0, 2, 1}, {3}, "rows")},
                           {b.getNamedAttr("axis", b.getI64IntegerAttr(0))});
        });
  if (perturbFix == "shift") // every position one further, same table form
    return perturbFirst(
        graph, "Cast", [](onnx::OnnxBuilder &emit, OpBuilder &, Value x) {
          return emit.node("Add", x.getType(), {x, emit.ints({1}, {1}, "one")});
        });
  for (auto init : graph.getBodyBlock().getOps<onnx::InitializerOp>()) {
    StringRef name = init.getName();
    bool freq = perturbFix == "freq" && name.starts_with("mrope_") &&
                name.contains("inv_freq");
    if (!freq)
      continue;
    std::optional<DenseElementsAttr> value =
        onnx::getConstantValue(init.getResult());
    if (!value)
      continue;
    auto type = cast<ShapedType>(value->getType());
    // One ulp on one frequency (both channels of it): invisible to the
    // theta fit, so only the proof's frequency check sees it.
    SmallVector<float> v(value->getValues<float>());
    for (size_t c : {v.size() / 4, v.size() / 4 + v.size() / 2})
      v[c] = std::nextafter(v[c], 1.0f);
    init.setValueAttr(DenseElementsAttr::get(type, ArrayRef<float>(v)));
    return success();
  }
  return failure();
}

/// rope-raise -> rope-fix -> convert-rope-to-onnx on the module. The passes'
/// remarks are what the user reads: "fixed: ..." lines, notes, and the
/// sites rope-raise could not raise (fixed by the table fallback).
static LogicalResult runFixPipeline(ModuleOp module, Arch arch,
                                    TimingScope &timingScope, bool &changed) {
  FixPipelineOptions options;
  options.arch = archName(arch).str();
  options.sections = SmallVector<int64_t>(sections.begin(), sections.end());
  options.positions = positionsMode;
  options.emit = emitMode;
  PassManager pm(module.getContext());
  buildFixPipeline(pm, options);
  if (timing)
    pm.enableTiming(timingScope);
  SmallVector<std::string> fixed, notes, notRaised;
  LogicalResult result = success();
  {
    // Remarks are collected here; errors go on to the tool's handler.
    ScopedDiagnosticHandler remarks(module.getContext(), [&](Diagnostic &d) {
      if (d.getSeverity() != DiagnosticSeverity::Remark)
        return failure();
      std::string text = d.str();
      StringRef line(text);
      if (line.consume_front("fixed: "))
        fixed.push_back(line.str());
      else if (line.consume_front("note: "))
        notes.push_back(line.str());
      else if (line.consume_front("rope-raise: ") &&
               line.contains("left as is"))
        notRaised.push_back(line.str());
      return success();
    });
    result = pm.run(module);
  }
  changed = !fixed.empty();
  if (failed(result) || quiet)
    return result;
  for (const std::string &line : notRaised)
    llvm::outs() << "  rope-raise: " << line << "\n";
  for (const std::string &line : fixed)
    llvm::outs() << "  fixed: " << line << "\n";
  for (const std::string &note : notes)
    llvm::outs() << "mrope-fix: " << note << "; writing the model unchanged to "
                 << outputPath << "\n";
  return success();
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
      "compute the model computes them from input_ids,\nattention_mask and the "
      "grids and outputs rope_deltas (KV decoders: feed it back\nas "
      "past_rope_deltas).\n");

  std::optional<Arch> arch = parseArch(archOption);
  if (!arch)
    return fail("--arch must be auto, qwen2-vl, qwen2.5-vl, qwen3-vl or text, "
                "got '" +
                archOption + "'");
  if (positionsMode != "input" && positionsMode != "compute")
    return fail("--positions must be input or compute");
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
  std::string model = llvm::sys::path::filename(inputPath).str();
  // libonnx checker findings (warnings from the importer) are collected, not
  // printed: with -o they decide whether a model may be written.
  std::string checkerFinding;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    std::string message = d.str();
    if (d.getSeverity() == DiagnosticSeverity::Warning &&
        StringRef(message).starts_with("onnx checker")) {
      if (checkerFinding.empty())
        checkerFinding = message;
      return success();
    }
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
  if (!checkerFinding.empty())
    return fail(inputPath +
                ": the model fails the ONNX checker, so it is "
                "not rewritten: " +
                StringRef(checkerFinding)
                    .drop_front(StringRef(checkerFinding).find(':') + 2));
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

  if (!debugEvaluate.empty()) {
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

  FindOptions findOptions;
  findOptions.arch = *arch;
  std::string explained;
  llvm::raw_string_ostream explainStream(explained);
  if (explain)
    findOptions.explain = &explainStream;
  phase = rootTiming.nest("analysis");
  std::vector<RopeSite> sites = findRopeSites(graph, findOptions);
  if (explain)
    for (StringRef line : llvm::split(StringRef(explained), '\n'))
      if (!line.empty())
        llvm::outs() << "explain: " << line << "\n";
  // Fused ops (ORT's RotaryEmbedding family, RotaryEmbedding-23, GQA with
  // do_rotary) have no Cos/Mul to analyse: they are sites of their own.
  std::vector<FusedRopeSite> fused = findFusedRopeSites(graph, *arch);
  int64_t ropeBugs =
      llvm::count_if(sites, [](const RopeSite &s) { return s.bug; });
  int64_t fusedBugs =
      llvm::count_if(fused, [](const FusedRopeSite &s) { return s.bug; });
  int64_t bugs = ropeBugs + fusedBugs;
  if (!quiet)
    llvm::outs() << renderReportText(sites, model, *arch, fused);
  phase = rootTiming.nest("report");
  std::string error;
  if (!reportPath.empty() &&
      failed(writeAtomically(
          reportPath,
          addFusedSitesToReport(renderReportJson(sites, model, *arch), fused),
          error)))
    return fail(error);
  if (!htmlPath.empty()) {
    html.fix = fixOptions(*arch);
    if (failed(writeAtomically(
            htmlPath, renderHtmlReport(module, sites, model, html), error)))
      return fail(error);
    if (!quiet)
      llvm::outs() << "mrope-fix: wrote the HTML report " << htmlPath << "\n";
  }

  if (!outputPath.empty()) {
    if (failed(checkEmit(module)))
      return 1;
    bool compute = positionsMode == "compute";
    // Whether the module differs from the input; when it does not, the
    // output is a byte-identical copy of the input.
    bool changed = false;
    // Whether the fused fix was proven (mrope/Fix/ProveFix.h).
    bool fusedProven = false;
    if (bugs == 0 && !compute) {
      if (!quiet)
        llvm::outs() << "mrope-fix: nothing to fix; writing the model "
                        "unchanged to "
                     << outputPath << " (a byte-identical copy)\n";
    } else {
      if (fusedBugs && compute)
        return fail(inputPath + ": --positions compute is not available for "
                                "fused RoPE ops; use --positions input");
      if (fusedBugs) {
        // The fused proof (mrope/Fix/ProveFix.h) covers the fused ops the
        // evaluator runs (not GroupQueryAttention).
        std::string fusedOriginalWhy;
        fusedProven = prove::canProveFused(fused, fusedOriginalWhy);
        prove::FusedOriginal fusedOriginal;
        fusedOriginalWhy.clear();
        if (fusedProven)
          prove::evaluateFusedOriginal(graph, fused, fusedOriginal,
                                       fusedOriginalWhy);
        FusedFixOptions fusedOptions;
        fusedOptions.arch = *arch;
        fusedOptions.sections.assign(sections.begin(), sections.end());
        FailureOr<FusedFixResult> fixedFused =
            fixFusedSites(graph, fusedOptions);
        if (failed(fixedFused))
          return 1; // the fix emitted one error naming the node
        changed = true;
        if (!quiet)
          for (const std::string &change : fixedFused->changes)
            llvm::outs() << "  fixed: " << change << "\n";
        if (fusedProven && !fusedOriginalWhy.empty())
          return fail(inputPath +
                      ": the fix cannot be proven, so nothing is written: " +
                      fusedOriginalWhy);
        std::vector<FusedRopeSite> afterFused;
        if (fusedProven)
          afterFused = findFusedRopeSites(graph, *arch);
        // A wrong rewrite behind the re-analysis' back (the sites stay).
        if (fusedProven && !ropeBugs && !perturbFix.empty() &&
            !prove::perturbFusedFix(graph, perturbFix))
          return fail("--debug-perturb-fix=" + perturbFix +
                      ": nothing to perturb");
        std::vector<std::string> proved;
        std::string why;
        if (fusedProven &&
            !prove::proveFusedFixed(
                graph, afterFused, fusedOriginal,
                SmallVector<int64_t>(sections.begin(), sections.end()), proved,
                why))
          return fail(inputPath +
                      ": the fix is not proven, so nothing is written: " + why);
        if (!quiet)
          for (const std::string &line : proved)
            llvm::outs() << "  proved: " << line << "\n";
      }
    }
    // The proof (mrope/Fix/ProveFix.h) covers what the pipeline writes as
    // standard tables from --positions input; elsewhere it says it did not run.
    bool prove = ropeBugs && !compute && emitMode == "plain";
    // --emit ort/onnx23: the fused nodes it writes are proven against the
    // original's tables on the three probe rows.
    bool proveEmit = ropeBugs && !compute && emitMode != "plain" &&
                     prove::canProveEmitted(sites);
    prove::FusedOriginal emitOriginal;
    prove::Original original;
    // Why the original's tables cannot be evaluated: reported once the
    // pipeline ran, so that a fix the pipeline refuses says its own why.
    std::string originalWhy;
    if (prove || proveEmit) {
      phase = rootTiming.nest("proof (original)");
      if (!prove::evaluateOriginal(graph, sites, original, originalWhy) &&
          originalWhy.empty())
        originalWhy = "the original's tables cannot be evaluated";
    }
    if (proveEmit && originalWhy.empty()) {
      if (!prove::evaluateOriginalRows(graph, sites, emitOriginal,
                                       originalWhy) &&
          originalWhy.empty())
        originalWhy = "the original's tables cannot be evaluated";
    }
    if (ropeBugs || (compute && !fusedBugs)) {
      phase = rootTiming.nest("fix pipeline");
      // The pass manager verifies the module after every pass.
      bool pipelineChanged = false;
      if (failed(runFixPipeline(module, *arch, phase, pipelineChanged)))
        return 1; // the pipeline emitted one error naming the node
      changed |= pipelineChanged;
      if (!perturbFix.empty() && failed(perturb(graph)))
        return fail("--debug-perturb-fix=" + perturbFix +
                    ": nothing to perturb");
      // The separate check: the analysis of what the pipeline wrote must
      // find every rotation again (as unfused ops with emit=plain, where
      // each rope.apply has tables of its own, or as fused nodes) and no
      // bug among them.
      phase = rootTiming.nest("re-analysis");
      std::vector<RopeSite> after = findRopeSites(graph, *arch);
      std::vector<FusedRopeSite> afterFused = findFusedRopeSites(graph, *arch);
      int64_t before = countRotations(sites, fused);
      int64_t now = countRotations(after, afterFused);
      if (now != before)
        return fail(inputPath + ": internal error: the analysis finds " +
                    llvm::Twine(now) + " rotations in the fixed graph, " +
                    llvm::Twine(before) + " before the fix");
      for (RopeSite &site : after)
        if (site.bug)
          return fail(
              inputPath + ": internal error: site " + nodeLabel(site.cosNode) +
              " is still a bug after the fix: " + siteReason(site, *arch));
      for (FusedRopeSite &site : afterFused)
        if (site.bug)
          return fail(inputPath + ": internal error: fused RoPE node " +
                      nodeLabel(site.nodes.front()) +
                      " is still a bug after the fix");
      if ((prove || proveEmit) && !originalWhy.empty())
        return fail(inputPath +
                    ": the fix cannot be proven, so nothing is "
                    "written: " +
                    originalWhy);
      if (prove) {
        phase = rootTiming.nest("proof (fixed)");
        std::vector<std::string> proved;
        std::string why;
        if (!prove::proveFixed(
                graph, after, original,
                SmallVector<int64_t>(sections.begin(), sections.end()), proved,
                why))
          return fail(inputPath +
                      ": the fix is not proven, so nothing is written: " + why);
        if (!quiet)
          for (const std::string &line : proved)
            llvm::outs() << "  proved: " << line << "\n";
      }
      if (proveEmit) {
        phase = rootTiming.nest("proof (fixed)");
        std::vector<std::string> proved;
        std::string why;
        SmallVector<int64_t> requested(sections.begin(), sections.end());
        // Sites the emitter left unfused are proven as plain ones.
        emitOriginal.partial = !after.empty();
        if ((!after.empty() && !prove::proveFixed(graph, after, original,
                                                  requested, proved, why)) ||
            !prove::proveFusedFixed(graph, afterFused, emitOriginal, requested,
                                    proved, why))
          return fail(inputPath +
                      ": the fix is not proven, so nothing is written: " + why);
        if (!quiet)
          for (const std::string &line : proved)
            llvm::outs() << "  proved: " << line << "\n";
      }
    }
    // What was rewritten without the proof says so.
    if (changed && !quiet &&
        (compute || (ropeBugs && !prove && !proveEmit) ||
         (fusedBugs && !fusedProven)))
      llvm::outs() << "mrope-fix: note: the fix is not proven on probe "
                      "positions ("
                   << (compute ? std::string("--positions compute")
                       : fusedBugs && !fusedProven
                           ? std::string("fused RoPE ops")
                           : "--emit " + emitMode)
                   << "); it is checked by the re-analysis only\n";
    // An ONNX text input is converted by the export even when unchanged.
    bool textInput = StringRef(inputPath).ends_with(".onnxtext") ||
                     StringRef(inputPath).ends_with(".onnxtxt");
    if (!changed && !textInput) {
      phase = rootTiming.nest("copy");
      precopy.reset(); // stops and removes the copy made for an export
      if (failed(copyUnchanged(module, error)))
        return fail(error);
    } else {
      if (!quiet)
        llvm::outs() << "mrope-fix: writing " << outputPath << "\n";
      phase = rootTiming.nest("export");
      // What is written must pass the ONNX checker too: the exporter checks
      // the model before renaming it into place, so a failure leaves nothing.
      onnx::ExportOptions exportOptions;
      exportOptions.check = bugs || compute;
      exportOptions.precopy = precopy.get();
      exportOptions.timing = &phase;
      if (failed(onnx::exportOnnxModel(module, outputPath, exportOptions)))
        return 1;
    }
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
