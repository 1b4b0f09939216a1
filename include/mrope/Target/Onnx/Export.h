//===- Export.h - onnx dialect -> ONNX model --------------------*- C++ -*-===//
#ifndef MROPE_TARGET_ONNX_EXPORT_H
#define MROPE_TARGET_ONNX_EXPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/FileSystem.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace mrope::onnx {

class DataFilePrecopy;

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
  /// A copy of the input's data file already under way (see
  /// DataFilePrecopy). The export takes it over when its tensors keep that
  /// file's offsets and the data file is the one it names; else it is left
  /// to be discarded.
  DataFilePrecopy *precopy = nullptr;
  /// When set, the export's phases are timed as children of this scope.
  mlir::TimingScope *timing = nullptr;
};

/// Copies a model's external data file to the data file an export will
/// write, on a thread of its own, so the copy of large weights runs beside
/// the work that comes before the export (mrope-fix has the importer start
/// it as soon as the model is parsed, ImportOptions::precopy). When no
/// export took it over, the destructor stops the copy and removes it.
class DataFilePrecopy {
public:
  /// Starts copying the first `size` bytes of `sourceFile` for an export to
  /// `outPath`; nullptr when the copy cannot start.
  static std::unique_ptr<DataFilePrecopy>
  start(llvm::StringRef sourceFile, uint64_t size, llvm::StringRef outPath);
  ~DataFilePrecopy();
  DataFilePrecopy(const DataFilePrecopy &) = delete;
  DataFilePrecopy &operator=(const DataFilePrecopy &) = delete;

  // For the exporter.
  /// The file being copied (absolute) and the data file the copy is for.
  llvm::StringRef sourceFile() const;
  llvm::StringRef dataPath() const;
  /// Waits for the copy to end; a message when it failed.
  std::optional<std::string> wait();
  /// Hands the temporary file over (wait() before renaming it).
  llvm::sys::fs::TempFile takeFile();

  struct Impl;

private:
  explicit DataFilePrecopy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
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
