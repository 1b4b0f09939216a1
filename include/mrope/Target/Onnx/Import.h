//===- Import.h - ONNX model -> onnx dialect --------------------*- C++ -*-===//
#ifndef MROPE_TARGET_ONNX_IMPORT_H
#define MROPE_TARGET_ONNX_IMPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"
#include "mlir/Support/Timing.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace mrope::onnx {

class DataFilePrecopy;

/// Default-domain opset versions mrope reads and writes: the fix emits
/// Unsqueeze/Squeeze/ReduceSum with axes inputs (opset 13), and 26 is the
/// newest ONNX Runtime 1.30 loads. After a successful import the model has
/// exactly one default-domain entry in this range, so
/// `onnx::getOpsetVersion(op)` is the checked version.
inline constexpr int64_t kMinOpset = 13;
inline constexpr int64_t kMaxOpset = 26;

struct ImportOptions {
  /// Tensors with at most this many elements become `dense<...>` (readable,
  /// matchable); larger ones `dense_resource` blobs.
  int64_t denseElementLimit = 64;
  /// Run libonnx (1.12) shape inference, best effort, to type node outputs
  /// that have no value_info. Never changes what is exported.
  bool inferShapes = true;
  /// Run the libonnx checker and report its findings as warnings.
  bool runChecker = false;
  /// When set (with runChecker), the checker's finding is stored here
  /// instead of warned about: empty when the model passes, "did not run to
  /// the end" when libonnx stopped early, untouched when the checker could
  /// not run (opset above libonnx's).
  std::optional<std::string> *checkerFinding = nullptr;
  /// Parse the input as ONNX text (onnx::OnnxParser) instead of protobuf;
  /// chosen automatically for `.onnxtext` files.
  bool text = false;
  /// Replace every call of a model-local function (torch's
  /// `export_modules_as_functions`, onnxscript functions) by the function's
  /// body, so that the nodes inside are imported as nodes of the graph
  /// (named `call/node`). A remark says how many calls were inlined; a call
  /// that cannot be inlined exactly stays a call, with a warning naming it.
  /// Off: functions stay opaque (lossless round trip).
  bool inlineFunctions = false;

  /// Default-domain opset versions accepted (see kMinOpset).
  int64_t minOpset = kMinOpset;
  int64_t maxOpset = kMaxOpset;
  /// Resource ceiling: no dimension above `maxDim` and no tensor, static
  /// shape or constant shape operand (Reshape, Expand, ConstantOfShape,
  /// Tile, Resize, Range, OneHot) of more than `maxElements` elements.
  int64_t maxDim = int64_t(1) << 31;
  int64_t maxElements = int64_t(1) << 40;
  /// Run libonnx (shape inference, checker) in a child process under a
  /// memory ceiling and a time limit, so a crash, hang or out-of-memory in
  /// libonnx only costs the inferred types (POSIX only; inline elsewhere).
  bool isolateLibonnx = true;
  int64_t libonnxMemoryBytes = int64_t(4) << 30;
  unsigned libonnxTimeoutSeconds = 60;
  /// When set, the import's phases (parse, validation, checker, shape
  /// inference, building the IR) are timed as children of this scope.
  mlir::TimingScope *timing = nullptr;
  /// When set, as soon as the model is parsed (and the location of its
  /// main external data file checked) a copy of that file starts for an
  /// export to `precopyFor` (see DataFilePrecopy in Export.h) and is handed
  /// over here, so the copy runs beside the rest of the import.
  std::string precopyFor;
  std::unique_ptr<DataFilePrecopy> *precopy = nullptr;
};

/// Imports the ONNX model at `path` (`.onnx` protobuf, or ONNX text) into a
/// module of the onnx dialect. External data is validated (relative
/// location, no `..`, no symlink, in bounds) but not read. Errors are
/// emitted as diagnostics at a location naming the file, with the node
/// where there is one; returns failure after the first error.
mlir::FailureOr<mlir::OwningOpRef<mlir::ModuleOp>>
importOnnxModel(llvm::StringRef path, mlir::MLIRContext *context,
                const ImportOptions &options = {});

/// Same, from bytes in memory (a serialized ModelProto, or ONNX text when
/// options.text); `modelDir` is where external data is looked up and
/// `displayName` names the input in diagnostics.
mlir::FailureOr<mlir::OwningOpRef<mlir::ModuleOp>>
importOnnxModelFromBuffer(llvm::StringRef bytes, llvm::StringRef modelDir,
                          llvm::StringRef displayName,
                          mlir::MLIRContext *context,
                          const ImportOptions &options = {});

} // namespace mrope::onnx

#endif // MROPE_TARGET_ONNX_IMPORT_H
