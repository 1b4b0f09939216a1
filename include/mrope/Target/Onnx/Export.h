//===- Export.h - onnx dialect -> ONNX model --------------------*- C++ -*-===//
#ifndef MROPE_TARGET_ONNX_EXPORT_H
#define MROPE_TARGET_ONNX_EXPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <cstdint>
#include <string>

namespace mrope::onnx {

struct ExportOptions {
  /// Where tensors go. Keep: where the imported model had them (external
  /// data stays external, in our own data file; inline stays inline).
  /// Threshold: tensors of at least `externalThreshold` bytes go to the data
  /// file, smaller ones inline. Inline: everything inline (fails over 2 GB).
  enum class Placement { Keep, Threshold, Inline };
  Placement placement = Placement::Keep;
  int64_t externalThreshold = 1024;
  /// Name of the data file, next to the output; default `<output>.data`.
  std::string dataFileName;
  /// Refuse to write a model libonnx's checker rejects. libonnx 1.12 knows
  /// default-domain opsets up to 17 and would judge newer models by older
  /// op schemas: those are not checked here (ONNX Runtime is their judge;
  /// see docs/onnx-dialect.md, "Which checker").
  bool check = false;
};

/// Exports a module of the onnx dialect to `outPath` (and its data file when
/// tensors go external). Files are written to temporaries and renamed into
/// place only on success. Errors are emitted as diagnostics.
mlir::LogicalResult exportOnnxModel(mlir::ModuleOp module,
                                    llvm::StringRef outPath,
                                    const ExportOptions &options = {});

/// Same, into `bytes` (every tensor inline; fails over 2 GB).
mlir::LogicalResult exportOnnxModelToBuffer(mlir::ModuleOp module,
                                            std::string &bytes,
                                            const ExportOptions &options = {});

} // namespace mrope::onnx

#endif // MROPE_TARGET_ONNX_EXPORT_H
