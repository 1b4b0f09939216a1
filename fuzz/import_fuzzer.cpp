//===- import_fuzzer.cpp - libFuzzer target for the ONNX importer ---------===//
//
// Feeds arbitrary bytes to importOnnxModelFromBuffer (as a ModelProto, or as
// ONNX text when the first byte is '<'). Imports that succeed must verify,
// print, parse back, and export; anything else is a finding. External data
// resolves against a folder holding one small data file.
//
//===----------------------------------------------------------------------===//
#include "WorkDir.h"

#include "mrope/Dialect/Onnx/IR/OnnxOps.h"
#include "mrope/Target/Onnx/Export.h"
#include "mrope/Target/Onnx/Import.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <string>

static std::string workDir() {
  return mrope::fuzz::workDir("mrope-import-fuzzer");
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlir::MLIRContext ctx(mlir::MLIRContext::Threading::DISABLED);
  ctx.loadDialect<mrope::onnx::OnnxDialect>();
  mlir::ScopedDiagnosticHandler quiet(
      &ctx, [](mlir::Diagnostic &) { return mlir::success(); });
  mrope::onnx::ImportOptions options;
  options.text = size > 0 && data[0] == '<';
  options.inferShapes = size % 2 == 0; // both paths
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  auto module = mrope::onnx::importOnnxModelFromBuffer(
      bytes, workDir(), "fuzz.onnx", &ctx, options);
  if (mlir::failed(module))
    return 0;
  if (mlir::failed(mlir::verify(**module))) {
    llvm::errs() << "imported module does not verify\n";
    std::abort();
  }
  std::string text;
  {
    llvm::raw_string_ostream os(text);
    (*module)->print(os);
  }
  mlir::ParserConfig config(&ctx);
  auto reparsed = mlir::parseSourceString<mlir::ModuleOp>(text, config);
  if (!reparsed) {
    llvm::errs() << "printed module does not parse back:\n" << text << "\n";
    std::abort();
  }
  std::string out = workDir() + "/out.onnx";
  (void)mrope::onnx::exportOnnxModel(**module, out);
  return 0;
}
