//===- Common.h - shared by the ONNX importer and exporter ------*- C++ -*-===//
#ifndef MROPE_LIB_TARGET_ONNX_COMMON_H
#define MROPE_LIB_TARGET_ONNX_COMMON_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace mrope::onnx::detail {

/// TensorProto.DataType numbers (including those newer than ONNX 1.12).
enum DataType : int32_t {
  UNDEFINED = 0, FLOAT = 1, UINT8 = 2, INT8 = 3, UINT16 = 4, INT16 = 5,
  INT32 = 6, INT64 = 7, STRING = 8, BOOL = 9, FLOAT16 = 10, DOUBLE = 11,
  UINT32 = 12, UINT64 = 13, COMPLEX64 = 14, COMPLEX128 = 15, BFLOAT16 = 16,
  FLOAT8E4M3FN = 17, FLOAT8E4M3FNUZ = 18, FLOAT8E5M2 = 19,
  FLOAT8E5M2FNUZ = 20, UINT4 = 21, INT4 = 22, FLOAT4E2M1 = 23,
  FLOAT8E8M0 = 24,
};

/// MLIR element type of an ONNX data type, or null when there is none.
mlir::Type elementTypeFor(int32_t dataType, mlir::MLIRContext *ctx);
/// ONNX data type of an MLIR element type, or UNDEFINED.
int32_t dataTypeFor(mlir::Type elementType);
/// Spelling of an ONNX data type for messages ("float", "int64", ...).
llvm::StringRef dataTypeName(int32_t dataType);
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
