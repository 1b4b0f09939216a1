//===- fix_fuzzer.cpp - libFuzzer target over the whole mrope-fix path ----===//
//
// One input is a serialized ModelProto. It goes the way `mrope-fix M --arch
// A -o OUT [--positions P] [--emit E]` takes it (tools/mrope-fix): import
// with the ONNX checker, then the tool's own library call, runFix (the
// analysis and its reports, the fused fix, the fix pipeline, the
// re-analysis, the proof), the export to memory with the writer's checker
// and the import of what was exported. Every input runs in --positions
// input mode (emit plain, ort or onnx23, from the input's bytes) and, on a
// clone, in compute mode; one the checker rejects gets the analysis only.
//
// A refusal with a diagnostic is fine; a crash, a sanitizer report or an
// exported model that does not import back is a finding (abort). What the
// tool refuses as an internal error (a fixed graph the re-analysis or the
// proof rejects, a fixed model that fails the checker, a failure with no
// error line) is not a crash; with MROPE_FUZZ_FINDINGS=DIR the input is
// saved there as KIND-HASH.onnx with the reason in KIND-HASH.txt.
//
// LLVMFuzzerCustomMutator parses the input as a ModelProto and applies 1 to
// 3 structural edits (ModelMutator.cpp); inputs that do not parse get
// libFuzzer's byte mutations.
//
//===----------------------------------------------------------------------===//
#include "ModelMutator.h"
#include "WorkDir.h"

#include "mrope/Analysis/FusedRopeSites.h"
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/RopeSites.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"
#include "mrope/Dialect/Rope/IR/RopeDialect.h"
#include "mrope/Fix/RunFix.h"
#include "mrope/Target/Onnx/Export.h"
#include "mrope/Target/Onnx/Import.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/Hashing.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <cstring>
#include <iterator>
#include <random>
#include <string>

extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t maxSize);

using namespace mlir;

static std::string workDir() {
  return mrope::fuzz::workDir("mrope-fix-fuzzer");
}

[[noreturn]] static void finding(const char *what) {
  llvm::errs() << "mrope-fix-fuzzer: " << what << "\n";
  std::abort();
}

namespace {
/// The input being run, for saving it with a non-crash finding.
struct Input {
  llvm::StringRef bytes;
  const char *mode = "";
};
} // namespace

/// With MROPE_FUZZ_FINDINGS=DIR: saves the input as DIR/KIND-HASH.onnx and
/// the reason as DIR/KIND-HASH.txt (the same input twice: one file).
static void save(const Input &in, llvm::StringRef kind,
                 const llvm::Twine &why) {
  static const char *dir = std::getenv("MROPE_FUZZ_FINDINGS");
  if (!dir)
    return;
  std::string base = (llvm::Twine(dir) + "/" + kind + "-" +
                      llvm::utohexstr(llvm::hash_value(in.bytes)))
                         .str();
  std::error_code ec;
  llvm::raw_fd_ostream model(base + ".onnx", ec);
  if (!ec)
    model << in.bytes;
  llvm::raw_fd_ostream text(base + ".txt", ec);
  if (!ec)
    text << in.mode << ": " << why << "\n";
}

/// The errors emitted since the last reset (what the tool prints).
struct Errors {
  std::vector<std::string> lines;
  /// A failed step must have said why in one error line at least.
  void checkSaid(const Input &in, llvm::StringRef step) {
    if (lines.empty())
      save(in, "silent", step + " failed without an error line");
  }
};

/// Where a refusal's line says the tool found a fault of its own (the
/// re-analysis disagrees, the proof rejects the fix): triage buckets for
/// the saved findings, not a decision of the tool's.
static llvm::StringRef faultKind(llvm::StringRef line) {
  if (line.contains("internal error"))
    return "internal";
  if (line.contains("the fix is not proven"))
    return "unproven";
  return "";
}

/// `mrope-fix -o` on `module` (a clone: the fix rewrites it): the tool's
/// own library call (runFix: analysis and reports, fix, re-analysis,
/// proof), then the export with the writer's checker and an import back.
static void fixAndExport(ModuleOp module, mrope::Arch arch, bool compute,
                         mrope::EmitMode emit, Errors &errors,
                         const Input &in) {
  mrope::FixRequest request;
  request.arch = arch;
  request.positions =
      compute ? mrope::PositionsMode::Compute : mrope::PositionsMode::Input;
  request.emit = emit;
  request.model = "fuzz.onnx";
  request.onAnalysis = [](const mrope::FixReport &report) {
    (void)mrope::renderReportText(report.analysis);
    (void)mrope::renderReportJson(report.analysis);
    return success();
  };
  errors.lines.clear();
  FailureOr<mrope::FixReport> report = mrope::runFix(module, request);
  if (failed(report)) {
    errors.checkSaid(in, "runFix");
    if (!errors.lines.empty())
      if (llvm::StringRef kind = faultKind(errors.lines.front()); !kind.empty())
        save(in, kind, errors.lines.front());
    return;
  }
  (void)mrope::renderFixText(*report, "fixed.onnx");
  if (report->outcome != mrope::FixOutcome::Rewritten)
    return; // the tool copies the input byte for byte
  std::string bytes;
  mrope::onnx::ExportOptions exportOptions;
  exportOptions.check = report->checkOnExport;
  errors.lines.clear();
  if (failed(
          mrope::onnx::exportOnnxModelToBuffer(module, bytes, exportOptions))) {
    // The input passed the checker: a fixed model that does not is the
    // fix's fault (the tool refuses to write it).
    save(in, "export",
         errors.lines.empty() ? std::string("no error line")
                              : errors.lines.front());
    return;
  }
  auto again = mrope::onnx::importOnnxModelFromBuffer(
      bytes, workDir(), "fixed.onnx", module.getContext());
  if (failed(again))
    finding("the exported fixed model does not import back");
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static DialectRegistry *registry = [] {
    auto *r = new DialectRegistry();
    r->insert<mrope::onnx::OnnxDialect, mrope::rope::RopeDialect>();
    return r;
  }();
  MLIRContext ctx(*registry, MLIRContext::Threading::DISABLED);
  ctx.loadAllAvailableDialects();
  Errors errors;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    if (d.getSeverity() == DiagnosticSeverity::Error)
      errors.lines.push_back(d.str());
    return success();
  });
  Input in;
  in.bytes = llvm::StringRef(reinterpret_cast<const char *>(data), size);
  // libonnx runs contained, as in the tool; MROPE_FUZZ_INLINE_LIBONNX=1 runs
  // it in this process instead, to find (and save) the inputs that crash it
  // past the importer's checks.
  static const bool inlineLibonnx = std::getenv("MROPE_FUZZ_INLINE_LIBONNX");
  mrope::onnx::ImportOptions importOptions;
  importOptions.isolateLibonnx = !inlineLibonnx;
  importOptions.runChecker = true;      // as with -o
  importOptions.inlineFunctions = true; // as mrope-fix
  std::optional<std::string> checkerFinding;
  importOptions.checkerFinding = &checkerFinding;
  auto module = mrope::onnx::importOnnxModelFromBuffer(
      in.bytes, workDir(), "fuzz.onnx", &ctx, importOptions);
  if (failed(module))
    return 0;
  mrope::onnx::GraphOp graph = mrope::onnx::getMainGraph(**module);
  if (!graph)
    return 0;
  // The architecture and the emit mode from the input, so that each gets
  // its share: qwen2-vl twice as often as the others, plain twice as often.
  static const mrope::Arch archs[] = {
      mrope::Arch::Qwen2VL,    mrope::Arch::Qwen2VL,   mrope::Arch::Auto,
      mrope::Arch::Qwen25VL,   mrope::Arch::Qwen3VL,   mrope::Arch::Qwen35,
      mrope::Arch::Qwen25Omni, mrope::Arch::Qwen3Omni, mrope::Arch::Glm4v,
      mrope::Arch::Text};
  static const mrope::EmitMode emits[] = {
      mrope::EmitMode::Plain, mrope::EmitMode::Plain, mrope::EmitMode::Ort,
      mrope::EmitMode::Onnx23};
  mrope::Arch arch = archs[(size ? data[size / 2] : 0) % std::size(archs)];
  mrope::EmitMode emit = emits[(size ? data[size / 3] : 0) % 4];
  if (checkerFinding && !checkerFinding->empty()) {
    // Refused with -o; the analysis and its reports still run on it, as
    // mrope-fix without -o.
    mrope::FixRequest request;
    request.arch = arch;
    request.fix = false;
    request.model = "fuzz.onnx";
    request.explain = true;
    if (succeeded(mrope::runFix(**module, request)))
      return 0;
    errors.checkSaid(in, "the analysis");
    return 0;
  }
  {
    OwningOpRef<ModuleOp> clone((*module)->clone());
    in.mode = emit == mrope::EmitMode::Plain ? "input, emit plain"
              : emit == mrope::EmitMode::Ort ? "input, emit ort"
                                             : "input, emit onnx23";
    fixAndExport(*clone, arch, /*compute=*/false, emit, errors, in);
  }
  in.mode = "compute, emit plain";
  fixAndExport(**module, arch, /*compute=*/true, mrope::EmitMode::Plain, errors,
               in);
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size,
                                          size_t maxSize, unsigned int seed) {
  ::onnx::ModelProto model;
  if (size == 0 || !model.ParseFromArray(data, (int)size) || !model.has_graph())
    return LLVMFuzzerMutate(data, size, maxSize);
  std::mt19937_64 rng(seed);
  // Mostly one edit, sometimes two or three, as scripts/fuzz-fix.py does.
  int edits = 1 + (rng() % 4 == 0) + (rng() % 8 == 0);
  for (int i = 0; i < edits; ++i)
    mrope::fuzz::mutateModel(model, rng);
  std::string out;
  if (!model.SerializeToString(&out) || out.size() > maxSize)
    return LLVMFuzzerMutate(data, size, maxSize);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}
