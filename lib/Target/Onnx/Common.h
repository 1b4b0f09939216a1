//===- Common.h - shared by the ONNX importer and exporter ------*- C++ -*-===//
#ifndef MROPE_LIB_TARGET_ONNX_COMMON_H
#define MROPE_LIB_TARGET_ONNX_COMMON_H

#include "mrope/Dialect/Onnx/IR/DataType.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>

namespace onnx {
class ModelProto;
} // namespace onnx

namespace mrope::onnx::detail {

/// Parses `bytes`, a serialized ModelProto (or ONNX text when `text`), into
/// `model` under the importer's limits (2 GB, messages nested 100 deep).
/// Returns the one-line reason on failure. The importer and libonnx's
/// worker process (Libonnx.cpp) both parse with it.
std::optional<std::string> parseModelBytes(llvm::StringRef bytes, bool text,
                                           ::onnx::ModelProto &model);

/// Bytes that `numElements` elements of `dataType` take in raw_data
/// (packed for 4-bit types); -1 for strings/unknown.
int64_t rawByteSize(int32_t dataType, int64_t numElements);

/// Checks an external-data location: relative, no `..`, every component
/// below `modelDir` a real directory/file (no symlink), a regular file.
/// Returns the resolved path and the file size.
llvm::Expected<std::pair<std::string, uint64_t>>
resolveExternalLocation(llvm::StringRef modelDir, llvm::StringRef location);

} // namespace mrope::onnx::detail

#endif // MROPE_LIB_TARGET_ONNX_COMMON_H
