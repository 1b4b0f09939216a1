//===- RunFix.cpp - the fix as one typed library call ---------------------===//
#include "mrope/Fix/RunFix.h"

#include "mrope/Analysis/ArchTraits.h"
#include "mrope/Analysis/Evaluate.h"
#include "mrope/Analysis/ExplainMeaning.h"
#include "mrope/Conversion/Passes.h"
#include "mrope/Dialect/Onnx/IR/OnnxBuilder.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"
#include "mrope/Dialect/Rope/IR/MRopeIndexRules.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"
#include "mrope/Fix/ProveFix.h"
#include "mrope/Target/Onnx/OpsetSignatures.h"
#include "mrope/Transforms/FixFusedSites.h"
#include "mrope/Transforms/Pipelines.h"
#include "mrope/Transforms/RopeRaise.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace mrope;

std::vector<std::string> FixReport::linesOf(FixLine::Kind kind) const {
  std::vector<std::string> texts;
  for (const FixLine &line : lines)
    if (line.kind == kind)
      texts.push_back(line.text);
  return texts;
}

namespace {

/// Rotations of analysed sites plus fused RoPE nodes (one per q or k).
int64_t countRotations(ArrayRef<RopeSite> sites,
                       ArrayRef<FusedRopeSite> fused) {
  int64_t n = 0;
  for (const RopeSite &site : sites)
    n += site.rotations.size();
  for (const FusedRopeSite &site : fused)
    n += site.nodes.size();
  return n;
}

/// Puts `wrap(operand 0)` in place of operand 0 of the first `opType` node
/// the fix wrote (named mrope_*).
LogicalResult perturbFirst(
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

/// The --debug-perturb-fix spelling of `how`.
StringRef debugPerturbName(DebugPerturb how) {
  switch (how) {
  case DebugPerturb::None:
    return "";
  case DebugPerturb::Freq:
    return "freq";
  case DebugPerturb::Shift:
    return "shift";
  case DebugPerturb::Swap:
    return "swap";
  case DebugPerturb::Scale:
    return "scale";
  }
  llvm_unreachable("unknown perturbation");
}

/// DebugPerturb: a wrong rewrite the proof must refuse.
LogicalResult perturb(onnx::GraphOp graph, DebugPerturb how) {
  if (how == DebugPerturb::Scale) // fused nodes only (perturbFusedFix)
    return failure();
  if (how == DebugPerturb::Swap) // h and w rows trade places before the merge
    return perturbFirst(
        graph, "Gather", [](onnx::OnnxBuilder &emit, OpBuilder &b, Value x) {
          return emit.node("Gather", x.getType(),
                           {x, emit.ints({0, 2, 1}, {3}, "rows")},
                           {b.getNamedAttr("axis", b.getI64IntegerAttr(0))});
        });
  if (how == DebugPerturb::Shift) // every position one further
    return perturbFirst(
        graph, "Cast", [](onnx::OnnxBuilder &emit, OpBuilder &, Value x) {
          return emit.node("Add", x.getType(), {x, emit.ints({1}, {1}, "one")});
        });
  for (auto init : graph.getBodyBlock().getOps<onnx::InitializerOp>()) {
    StringRef name = init.getName();
    if (!name.starts_with("mrope_") || !name.contains("inv_freq"))
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

/// Which sites rope-raise left as ONNX nodes, and its reason for each. The
/// pass gives every site it sees one remark, in site order ("raised" or
/// "left as is"); which sites it raised is read off the ops it made
/// (`mrope.site`), so no remark text is interpreted.
struct RaiseWatcher : PassInstrumentation {
  explicit RaiseWatcher(std::map<int64_t, std::string> &notRaised)
      : notRaised(notRaised) {}
  void runBeforePass(Pass *pass, Operation *) override {
    inRaise = pass->getArgument() == "rope-raise";
  }
  void runAfterPass(Pass *, Operation *op) override {
    if (!inRaise)
      return;
    inRaise = false;
    llvm::DenseSet<int64_t> raised;
    op->walk([&](rope::ApplyOp apply) {
      if (std::optional<int64_t> site = raisedSiteIndex(apply))
        raised.insert(*site);
    });
    for (auto [index, remark] : llvm::enumerate(remarks))
      if (!raised.contains(index))
        notRaised[index] = remark;
    remarks.clear();
  }
  void runAfterPassFailed(Pass *, Operation *) override { inRaise = false; }

  bool inRaise = false;
  std::vector<std::string> remarks;
  std::map<int64_t, std::string> &notRaised;
};

/// mrope-fix-pipeline on `module`; what it did goes to `report`.
LogicalResult runPipeline(ModuleOp module, const FixRequest &request,
                          TimingScope *timing, FixReport &report,
                          bool &changed) {
  FixPipelineOptions options;
  options.arch = request.arch;
  options.sections =
      SmallVector<int64_t>(request.sections.begin(), request.sections.end());
  options.positions = request.positions;
  options.emit = request.emit;
  FixPipelineResult result;
  PassManager pm(module.getContext());
  buildFixPipeline(pm, options, &result);
  if (timing)
    pm.enableTiming(*timing);
  // The passes' remarks say for mrope-opt what `result` says here.
  std::map<int64_t, std::string> notRaised;
  if (failed(runWatchingRaise(pm, module, notRaised)))
    return failure();
  for (auto &[index, text] : notRaised)
    report.lines.push_back({FixLine::Kind::NotRaised, std::move(text)});
  for (const FixResult &graph : result.graphs) {
    changed |= !graph.changes.empty();
    for (const std::string &change : graph.changes)
      report.lines.push_back({FixLine::Kind::Fixed, change});
  }
  for (const FixResult &graph : result.graphs)
    for (const std::string &note : graph.notes)
      report.lines.push_back({FixLine::Kind::Note, note});
  return success();
}

} // namespace

LogicalResult
mrope::runWatchingRaise(PassManager &pm, ModuleOp module,
                        std::map<int64_t, std::string> &notRaised) {
  auto watcher = std::make_unique<RaiseWatcher>(notRaised);
  RaiseWatcher *raise = watcher.get();
  pm.addInstrumentation(std::move(watcher));
  ScopedDiagnosticHandler remarks(module.getContext(), [&](Diagnostic &d) {
    if (d.getSeverity() != DiagnosticSeverity::Remark)
      return failure();
    if (raise->inRaise)
      raise->remarks.push_back(d.str());
    return success();
  });
  return pm.run(module);
}

namespace {

/// A nested phase when timing, else an inactive scope.
TimingScope nest(TimingScope *parent, StringRef name) {
  return parent ? parent->nest(name) : TimingScope();
}

/// Whether `arch`'s positions are float (Qwen3-Omni's get_rope_index).
bool hasFloatPositions(Arch arch) {
  return rope::lookupMRopeIndexArch(archTraits(arch).indexArch).floatPositions;
}

} // namespace

FailureOr<FixReport> mrope::runFix(ModuleOp module, const FixRequest &request) {
  FixReport report;
  onnx::GraphOp graph = onnx::getMainGraph(module);
  if (!graph)
    return mlir::emitError(module.getLoc(), "no main graph");
  Arch arch = request.arch;

  TimingScope phase = nest(request.timing, "analysis");
  FindOptions findOptions;
  findOptions.arch = arch;
  std::string explained;
  llvm::raw_string_ostream explainStream(explained);
  if (request.explain)
    findOptions.explain = &explainStream;
  std::vector<RopeSite> sites;
  std::vector<FusedRopeSite> fused;
  // (Float positions, Qwen3-Omni's, are read as positions by what they
  // mean whatever the arch.)
  sites = findRopeSites(graph, findOptions);
  // Fused ops (ORT's RotaryEmbedding family, RotaryEmbedding-23, GQA with
  // do_rotary) have no Cos/Mul to analyse: they are sites of their own.
  fused = findFusedRopeSites(graph, arch);
  for (StringRef line : llvm::split(StringRef(explained), '\n'))
    if (!line.empty())
      report.explained.push_back(line.str());
  if (request.explain)
    for (std::string &line : explainByMeaning(graph, sites, fused))
      report.explained.push_back(std::move(line));
  report.analysis = makeRopeReport(sites, fused, request.model, arch);
  phase.stop();
  if (request.onAnalysis && failed(request.onAnalysis(report)))
    return failure();
  if (!request.fix)
    return report;

  // --emit onnx23 writes RotaryEmbedding of opset 23: a model importing an
  // older default opset is refused before anything is rewritten.
  if (request.emit == EmitMode::Onnx23) {
    std::optional<int64_t> version = onnx::getOpsetVersion(graph);
    if (!version || *version < 23)
      return mlir::emitError(graph.getLoc())
             << "--emit onnx23 needs the model to import ONNX opset 23 or "
                "newer (it imports "
             << version.value_or(0)
             << "); use --emit plain or ort, or convert the model first";
  }

  int64_t ropeBugs =
      llvm::count_if(sites, [](const RopeSite &s) { return s.bug; });
  int64_t fusedBugs =
      llvm::count_if(fused, [](const FusedRopeSite &s) { return s.bug; });
  bool compute = request.positions == PositionsMode::Compute;
  // Qwen3-Omni's positions are f32; the fused ops the fused fix writes or
  // keeps (com.microsoft RotaryEmbedding, GQA) index caches by int64 ids.
  if (hasFloatPositions(arch) && (fusedBugs || (compute && !ropeBugs)))
    for (FusedRopeSite &site : fused)
      if (site.bug || compute)
        return mlir::emitError(site.nodes.front().getLoc())
               << "fused RoPE node " << nodeLabel(site.nodes.front())
               << " takes int64 position ids, and " << archName(arch)
               << " positions are float32: fusing sites of this arch is not "
                  "supported (export the decoder with unfused RoPE)";
  // --positions compute on a model without a bug whose fused M-RoPE sites
  // read [3, B, S] positions from an input: they get them computed in the
  // graph instead, as unfused sites do.
  Value correctInput;
  if (compute && !ropeBugs && !fusedBugs) {
    FailureOr<Value> input = fusedPositionsInput(graph, fused);
    if (failed(input))
      return failure();
    correctInput = *input;
    // Unfused sites reading it too: the pipeline computes the positions for
    // all of them (unproven, as compute mode on unfused sites is).
    if (llvm::any_of(sites, [&](const RopeSite &site) {
          return correctInput && site.positions == correctInput;
        }))
      correctInput = Value();
  }
  bool fusedCompute = compute && (fusedBugs || correctInput);
  report.checkOnExport = ropeBugs || fusedBugs || compute;
  if (ropeBugs + fusedBugs == 0 && !compute) {
    report.outcome = FixOutcome::NothingToFix;
    return report;
  }
  if (fusedBugs && ropeBugs && compute)
    return mlir::emitError(graph.getLoc(),
                           "--positions compute is not available for a model "
                           "with both fused and unfused RoPE sites to fix "
                           "(each fix would compute positions of its own); "
                           "use --positions input");
  bool changed = false;
  // Whether the fused fix was proven (ProveFix.h: every fused op it fixes;
  // GroupQueryAttention through its rotation modelled as RotaryEmbedding).
  bool fusedProven = false;
  SmallVector<int64_t> requested(request.sections.begin(),
                                 request.sections.end());
  auto notProven = [&](StringRef why) {
    return mlir::emitError(graph.getLoc())
           << "the fix is not proven, so nothing is written: " << why;
  };
  auto cannotProve = [&](StringRef why) {
    return mlir::emitError(graph.getLoc())
           << "the fix cannot be proven, so nothing is written: " << why;
  };
  if (fusedBugs || correctInput) {
    phase = nest(request.timing, "fused fix");
    std::string fusedOriginalWhy;
    fusedProven = prove::canProveFused(fused, fusedOriginalWhy);
    prove::FusedOriginal fusedOriginal;
    fusedOriginalWhy.clear();
    if (fusedProven)
      prove::evaluateFusedOriginal(graph, fused, fusedOriginal,
                                   fusedOriginalWhy,
                                   /*correctToo=*/!fusedBugs);
    Value positionsInput = correctInput;
    if (fusedBugs) {
      FusedFixOptions fusedOptions;
      fusedOptions.arch = arch;
      fusedOptions.sections = request.sections;
      fusedOptions.computePositions = compute;
      FailureOr<FusedFixResult> fixedFused = fixFusedSites(graph, fusedOptions);
      if (failed(fixedFused))
        return failure(); // the fix emitted one error naming the node
      changed = true;
      for (const std::string &change : fixedFused->changes)
        report.lines.push_back({FixLine::Kind::Fixed, change});
      positionsInput = fixedFused->positions;
    }
    if (fusedProven && !fusedOriginalWhy.empty())
      return cannotProve(fusedOriginalWhy);
    // The fixed graph's sites, read while the positions are still an input
    // (the analysis reads positions off graph inputs).
    std::vector<FusedRopeSite> afterFused;
    if (fusedProven)
      afterFused = findFusedRopeSites(graph, arch);
    // Compute mode: the positions input the fixed sites read is replaced
    // by the computation unfused sites get (rope.mrope_index), lowered by
    // the fix pipeline's own convert-rope-to-onnx; the proof gives its
    // probe rows to the computed value, as it gives them to the input.
    Value computed;
    if (compute) {
      std::vector<std::string> changes;
      FailureOr<Value> positions = computeFusedPositions(
          graph, positionsInput, arch, /*announce=*/!fusedBugs, changes);
      if (failed(positions))
        return failure();
      // convert-rope-to-onnx lowers rope.mrope_index as the fix pipeline
      // does; the computed positions are read through a named Identity,
      // which the lowering leaves in place.
      PassManager pm(module.getContext());
      ConvertRopeToOnnxOptions lower;
      lower.prefix = "mrope_fix";
      pm.addPass(createConvertRopeToOnnx(lower));
      if (failed(pm.run(module)))
        return failure(); // the lowering emitted one error naming the op
      computed = *positions;
      // What is written is analysed again, as the pipeline's output is:
      // every rotation found, none a bug (FusedRopeSites reads positions
      // computed from the grids as [3, B, S] positions).
      std::vector<FusedRopeSite> written = findFusedRopeSites(graph, arch);
      auto rotated = [](ArrayRef<FusedRopeSite> sites) {
        int64_t n = 0;
        for (const FusedRopeSite &site : sites)
          n += site.rotations();
        return n;
      };
      int64_t before = rotated(fused), now = rotated(written);
      if (now != before)
        return mlir::emitError(graph.getLoc())
               << "internal error: the analysis finds " << now
               << " fused rotations in the fixed graph, " << before
               << " before the fix";
      for (FusedRopeSite &site : written)
        if (site.bug)
          return mlir::emitError(site.nodes.front().getLoc())
                 << "internal error: fused RoPE node "
                 << nodeLabel(site.nodes.front())
                 << " is still a bug after the fix: " << site.reason;
      changed = true;
      for (std::string &change : changes)
        report.lines.push_back({FixLine::Kind::Fixed, std::move(change)});
    }
    if (fusedProven) {
      // A wrong rewrite behind the re-analysis' back (the sites stay).
      if (!ropeBugs && request.perturb != DebugPerturb::None &&
          !prove::perturbFusedFix(graph, debugPerturbName(request.perturb),
                                  computed))
        return mlir::emitError(graph.getLoc(),
                               "--debug-perturb-fix: nothing to perturb");
      std::vector<std::string> proved;
      std::string why;
      if (!prove::proveFusedFixed(graph, afterFused, fusedOriginal,
                                  fusedBugs ? ArrayRef<int64_t>(requested)
                                            : ArrayRef<int64_t>(),
                                  proved, why, computed))
        return notProven(why);
      for (std::string &line : proved)
        report.lines.push_back({FixLine::Kind::Proved, std::move(line)});
      if (computed)
        report.lines.push_back(
            {FixLine::Kind::Proved,
             "the probe rows were given to the positions the graph computes "
             "(" +
                 eval::describeValue(computed) +
                 "); that computation (get_rope_index) is checked by tests, "
                 "not by this proof"});
    }
  }

  // The proof (ProveFix.h) covers what the pipeline writes as standard
  // tables from input positions, and (--emit ort/onnx23) the fused nodes it
  // writes against the original's tables on the three probe rows;
  // elsewhere the report says it did not run.
  bool prove = ropeBugs && !compute && request.emit == EmitMode::Plain;
  // The fused-op proof reads int64 position inputs only: under float
  // positions (Qwen3-Omni) --emit ort/onnx23 is checked by the re-analysis.
  bool proveEmit = ropeBugs && !compute && request.emit != EmitMode::Plain &&
                   !hasFloatPositions(arch) && prove::canProveEmitted(sites);
  prove::FusedOriginal emitOriginal;
  prove::Original original;
  // Why the original's tables cannot be evaluated: reported once the
  // pipeline ran, so that a fix the pipeline refuses says its own why.
  std::string originalWhy;
  if (prove || proveEmit) {
    phase = nest(request.timing, "proof (original)");
    if (!prove::evaluateOriginal(graph, sites, original, originalWhy) &&
        originalWhy.empty())
      originalWhy = "the original's tables cannot be evaluated";
  }
  if (proveEmit && originalWhy.empty() &&
      !prove::evaluateOriginalRows(graph, sites, emitOriginal, originalWhy) &&
      originalWhy.empty())
    originalWhy = "the original's tables cannot be evaluated";
  if (ropeBugs || (compute && !fusedCompute)) {
    phase = nest(request.timing, "fix pipeline");
    // The pass manager verifies the module after every pass.
    bool pipelineChanged = false;
    if (failed(runPipeline(module, request, request.timing ? &phase : nullptr,
                           report, pipelineChanged)))
      return failure(); // the pipeline emitted one error naming the node
    changed |= pipelineChanged;
    // Nothing rewritten (compute mode with nothing to compute): the input
    // is copied as it is, so the module the passes touched is not re-read.
    if (pipelineChanged) {
      if (request.perturb != DebugPerturb::None &&
          failed(perturb(graph, request.perturb)))
        return mlir::emitError(graph.getLoc(),
                               "--debug-perturb-fix: nothing to perturb");
      // The separate check: the analysis of what the pipeline wrote must
      // find every rotation again (as unfused ops with emit=plain, where
      // each rope.apply has tables of its own, or as fused nodes) and no
      // bug among them.
      phase = nest(request.timing, "re-analysis");
      std::vector<RopeSite> after = findRopeSites(graph, arch);
      std::vector<FusedRopeSite> afterFused = findFusedRopeSites(graph, arch);
      int64_t before = countRotations(sites, fused);
      int64_t now = countRotations(after, afterFused);
      if (now != before)
        return mlir::emitError(graph.getLoc())
               << "internal error: the analysis finds " << now
               << " rotations in the fixed graph, " << before
               << " before the fix";
      for (RopeSite &site : after)
        if (site.bug)
          return mlir::emitError(site.cosNode.getLoc())
                 << "internal error: site " << nodeLabel(site.cosNode)
                 << " is still a bug after the fix: " << siteReason(site, arch);
      for (FusedRopeSite &site : afterFused)
        if (site.bug)
          return mlir::emitError(site.nodes.front().getLoc())
                 << "internal error: fused RoPE node "
                 << nodeLabel(site.nodes.front())
                 << " is still a bug after the fix";
      if ((prove || proveEmit) && !originalWhy.empty())
        return cannotProve(originalWhy);
      if (prove || proveEmit) {
        phase = nest(request.timing, "proof (fixed)");
        std::vector<std::string> proved;
        std::string why;
        // Sites the emitter left unfused are proven as plain ones.
        emitOriginal.partial = !after.empty();
        if (prove &&
            !prove::proveFixed(graph, after, original, requested, proved, why))
          return notProven(why);
        if (proveEmit &&
            ((!after.empty() && !prove::proveFixed(graph, after, original,
                                                   requested, proved, why)) ||
             !prove::proveFusedFixed(graph, afterFused, emitOriginal, requested,
                                     proved, why)))
          return notProven(why);
        for (std::string &line : proved)
          report.lines.push_back({FixLine::Kind::Proved, std::move(line)});
      }
    }
  }
  report.outcome = changed ? FixOutcome::Rewritten : FixOutcome::Unchanged;
  bool unprovenCompute = compute && !fusedCompute;
  bool unproven = unprovenCompute || (ropeBugs && !prove && !proveEmit) ||
                  (fusedBugs && !fusedProven);
  if (changed && !unproven) {
    report.proof = ProofStatus::Proved;
  } else if (changed) {
    report.proof = ProofStatus::NotProven;
    report.unprovenBecause = unprovenCompute
                                 ? std::string("--positions compute")
                             : fusedBugs && !fusedProven
                                 ? std::string("fused RoPE ops")
                                 : "--emit " + emitModeName(request.emit).str();
  }
  return report;
}

std::string mrope::renderFixText(const FixReport &report,
                                 StringRef outputPath) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (report.outcome == FixOutcome::NothingToFix)
    os << "mrope-fix: nothing to fix; writing the model unchanged to "
       << outputPath << " (a byte-identical copy)\n";
  // The pipeline's lines come after the fused fix's, as they ran; its
  // notes after its changes.
  for (const FixLine &line : report.lines) {
    switch (line.kind) {
    case FixLine::Kind::NotRaised:
      os << "  " << line.text << "\n";
      break;
    case FixLine::Kind::Fixed:
      os << "  fixed: " << line.text << "\n";
      break;
    case FixLine::Kind::Note:
      os << "mrope-fix: " << line.text << "; writing the model unchanged to "
         << outputPath << "\n";
      break;
    case FixLine::Kind::Proved:
      os << "  proved: " << line.text << "\n";
      break;
    }
  }
  if (report.proof == ProofStatus::NotProven)
    os << "mrope-fix: note: the fix is not proven on probe positions ("
       << report.unprovenBecause
       << "); it is checked by the re-analysis only\n";
  return text;
}
