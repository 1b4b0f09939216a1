//===- Common.h - shared by the ONNX importer and exporter ------*- C++ -*-===//
#ifndef MROPE_LIB_TARGET_ONNX_COMMON_H
#define MROPE_LIB_TARGET_ONNX_COMMON_H

#include "mrope/Dialect/Onnx/IR/DataType.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace mrope::onnx::detail {

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
