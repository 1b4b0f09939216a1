//===- WriteFixed.h - write what runFix left in a module --------*- C++ -*-===//
//
// The file half of mrope-fix -o, after runFix (RunFix.h): a model that was
// not rewritten is written as a byte-identical copy of the input (with the
// external data files it names), never re-serialised; a rewritten one (or
// an ONNX text input) is exported, checked by the ONNX checker when the
// report says so. Either way the output is renamed into place, so a
// failure leaves nothing at the output path.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_FIX_WRITEFIXED_H
#define MROPE_FIX_WRITEFIXED_H

#include "mrope/Fix/RunFix.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/Timing.h"

#include <memory>
#include <string>

namespace mrope {
namespace onnx {
class DataFilePrecopy;
} // namespace onnx

struct WriteFixedOptions {
  /// The model runFix was given (as imported) and where to write it.
  std::string inputPath, outputPath;
  /// The copy of the input's data file the import started for an export
  /// (ImportOptions::precopy): taken over by the export, stopped and
  /// removed for a copy.
  std::unique_ptr<onnx::DataFilePrecopy> *precopy = nullptr;
  /// When given, "copy" or "export" is timed under it.
  mlir::TimingScope *timing = nullptr;
};

/// Whether writeFixedModel exports the module (else it copies the input).
bool writesByExport(const FixReport &report, llvm::StringRef inputPath);

/// Writes the fixed model. On failure, either `error` says why in one line
/// (naming the path), or the export emitted one error diagnostic and
/// `error` is empty.
mlir::LogicalResult writeFixedModel(mlir::ModuleOp module,
                                    const FixReport &report,
                                    const WriteFixedOptions &options,
                                    std::string &error);

} // namespace mrope

#endif // MROPE_FIX_WRITEFIXED_H
