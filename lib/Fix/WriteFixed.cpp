//===- WriteFixed.cpp - write what runFix left in a module ----------------===//
#include "mrope/Fix/WriteFixed.h"

#include "mrope/Dialect/Onnx/IR/OnnxOps.h"
#include "mrope/Target/Onnx/Export.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mrope;

namespace {

/// Copies `from` to `to` through a temporary renamed into place, so a
/// failure leaves nothing at `to`.
LogicalResult copyAtomically(const llvm::Twine &from, StringRef to,
                             std::string &error) {
  // The copy is renamed into place: over a device such as /dev/null that
  // would replace the device itself (as root), as the export refuses too.
  llvm::sys::fs::file_status status;
  if (!llvm::sys::fs::status(to, status) && llvm::sys::fs::exists(status) &&
      !llvm::sys::fs::is_regular_file(status)) {
    error = "cannot write '" + to.str() +
            "': it exists and is not a regular file (models are written to "
            "files)";
    return failure();
  }
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
LogicalResult copyUnchanged(ModuleOp module, StringRef inputPath,
                            StringRef outputPath, std::string &error) {
  SmallString<256> inDir(inputPath), outDir(outputPath);
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

} // namespace

bool mrope::writesByExport(const FixReport &report, StringRef inputPath) {
  // An ONNX text input is converted by the export even when unchanged.
  bool textInput =
      inputPath.ends_with(".onnxtext") || inputPath.ends_with(".onnxtxt");
  return report.outcome == FixOutcome::Rewritten || textInput;
}

LogicalResult mrope::writeFixedModel(ModuleOp module, const FixReport &report,
                                     const WriteFixedOptions &options,
                                     std::string &error) {
  TimingScope phase;
  if (!writesByExport(report, options.inputPath)) {
    if (options.timing)
      phase = options.timing->nest("copy");
    if (options.precopy)
      options.precopy->reset(); // stops and removes the copy for an export
    return copyUnchanged(module, options.inputPath, options.outputPath, error);
  }
  if (options.timing)
    phase = options.timing->nest("export");
  // What is written must pass the ONNX checker too: the exporter checks the
  // model before renaming it into place, so a failure leaves nothing.
  onnx::ExportOptions exportOptions;
  exportOptions.check = report.checkOnExport;
  exportOptions.precopy = options.precopy ? options.precopy->get() : nullptr;
  exportOptions.timing = options.timing ? &phase : nullptr;
  return onnx::exportOnnxModel(module, options.outputPath, exportOptions);
}
