//===- fix_fuzzer.cpp - libFuzzer target over the whole mrope-fix path ----===//
//
// One input is a serialized ModelProto. It goes the way `mrope-fix M --arch
// A --report R -o OUT` takes it: import, findRopeSites, the JSON and text
// reports, and when there is a bug, fixRopeSites in input mode and (on a
// copy) in compute mode, verify, the analysis again, export to memory and
// import of what was exported. A failure with a diagnostic is fine; a crash,
// a sanitizer report, a fixed module that does not verify or an exported
// model that does not import back is a finding.
//
// LLVMFuzzerCustomMutator parses the input as a ModelProto and applies one
// structural edit (ModelMutator.cpp); inputs that do not parse get
// libFuzzer's byte mutations.
//
//===----------------------------------------------------------------------===//
#include "ModelMutator.h"
#include "WorkDir.h"

#include "mrope/Analysis/RopeSites.h"
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"
#include "mrope/Dialect/Rope/IR/RopeDialect.h"
#include "mrope/Target/Onnx/Export.h"
#include "mrope/Target/Onnx/Import.h"
#include "mrope/Transforms/FixSites.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t maxSize);

static std::string workDir() {
  return mrope::fuzz::workDir("mrope-fix-fuzzer");
}

[[noreturn]] static void finding(const char *what) {
  llvm::errs() << "mrope-fix-fuzzer: " << what << "\n";
  std::abort();
}

/// The fix in one mode on a clone of `module`, then what mrope-fix checks
/// after it, export to memory and import back.
static void fixAndExport(mlir::ModuleOp module, mrope::Arch arch, bool compute,
                         size_t nSites) {
  mlir::OwningOpRef<mlir::ModuleOp> clone(module.clone());
  mrope::onnx::GraphOp graph = mrope::onnx::getMainGraph(*clone);
  mrope::FixOptions options;
  options.arch = arch;
  options.computePositions = compute;
  std::string error;
  mlir::FailureOr<mrope::FixResult> fixed =
      mrope::fixRopeSites(graph, options, error);
  if (mlir::failed(fixed))
    return;
  if (mlir::failed(mlir::verify(*clone)))
    return; // mrope-fix reports this as an error; not a crash
  std::vector<mrope::RopeSite> after = mrope::findRopeSites(graph, arch);
  (void)nSites;
  (void)mrope::renderReportJson(after, "fuzz.onnx", arch);
  std::string bytes;
  mrope::onnx::ExportOptions exportOptions;
  exportOptions.check = true;
  if (mlir::failed(
          mrope::onnx::exportOnnxModelToBuffer(*clone, bytes, exportOptions)))
    return;
  mlir::MLIRContext *ctx = module.getContext();
  auto again = mrope::onnx::importOnnxModelFromBuffer(bytes, workDir(),
                                                      "fixed.onnx", ctx);
  if (mlir::failed(again))
    finding("the exported fixed model does not import back");
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mlir::DialectRegistry *registry = [] {
    auto *r = new mlir::DialectRegistry();
    r->insert<mrope::onnx::OnnxDialect, mrope::rope::RopeDialect>();
    return r;
  }();
  mlir::MLIRContext ctx(*registry, mlir::MLIRContext::Threading::DISABLED);
  ctx.loadAllAvailableDialects();
  mlir::ScopedDiagnosticHandler quiet(
      &ctx, [](mlir::Diagnostic &) { return mlir::success(); });
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  // libonnx runs contained, as in the tool; MROPE_FUZZ_INLINE_LIBONNX=1 runs
  // it in this process instead, to find (and save) the inputs that crash it
  // past the importer's checks.
  static const bool inlineLibonnx = std::getenv("MROPE_FUZZ_INLINE_LIBONNX");
  mrope::onnx::ImportOptions importOptions;
  importOptions.isolateLibonnx = !inlineLibonnx;
  auto module = mrope::onnx::importOnnxModelFromBuffer(
      bytes, workDir(), "fuzz.onnx", &ctx, importOptions);
  if (mlir::failed(module))
    return 0;
  mrope::onnx::GraphOp graph = mrope::onnx::getMainGraph(**module);
  if (!graph)
    return 0;
  // The architecture from the input, so that every arch gets its share.
  static const mrope::Arch archs[] = {
      mrope::Arch::Qwen2VL,  mrope::Arch::Qwen2VL, mrope::Arch::Auto,
      mrope::Arch::Qwen25VL, mrope::Arch::Qwen3VL, mrope::Arch::Text};
  mrope::Arch arch = archs[(size ? data[size / 2] : 0) % 6];
  std::vector<mrope::RopeSite> sites = mrope::findRopeSites(graph, arch);
  (void)mrope::renderReportJson(sites, "fuzz.onnx", arch);
  (void)mrope::renderReportText(sites, "fuzz.onnx", arch);
  bool bug =
      llvm::any_of(sites, [](const mrope::RopeSite &s) { return s.bug; });
  if (bug) {
    fixAndExport(**module, arch, /*compute=*/false, sites.size());
    fixAndExport(**module, arch, /*compute=*/true, sites.size());
  } else {
    std::string out;
    (void)mrope::onnx::exportOnnxModelToBuffer(**module, out);
  }
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
