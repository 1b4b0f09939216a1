//===- DataType.h - ONNX TensorProto element types -------------*- C++ -*-===//
//
// The numbers ONNX uses for element types: TensorProto.data_type,
// TypeProto.Tensor.elem_type and the `to` attribute of Cast. The importer,
// the exporter and every pass that builds a Cast name them through this
// enum instead of bare numbers.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_DIALECT_ONNX_IR_DATATYPE_H
#define MROPE_DIALECT_ONNX_IR_DATATYPE_H

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Types.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>

namespace mrope::onnx {

/// TensorProto.DataType, spelled as in onnx.proto (including the types newer
/// than ONNX 1.12). Unscoped so that the values compare with and convert to
/// the integers protobuf fields and attributes hold; write them qualified,
/// `onnx::DataType::INT64`.
enum DataType : int32_t {
  UNDEFINED = 0,
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13,
  COMPLEX64 = 14,
  COMPLEX128 = 15,
  BFLOAT16 = 16,
  FLOAT8E4M3FN = 17,
  FLOAT8E4M3FNUZ = 18,
  FLOAT8E5M2 = 19,
  FLOAT8E5M2FNUZ = 20,
  UINT4 = 21,
  INT4 = 22,
  FLOAT4E2M1 = 23,
  FLOAT8E8M0 = 24,
};

/// MLIR element type of an ONNX data type (any number a file may hold), or
/// null when there is none (STRING: the caller uses !onnx.string).
mlir::Type elementTypeFor(int32_t dataType, mlir::MLIRContext *ctx);
/// ONNX data type of an MLIR element type, or UNDEFINED.
DataType dataTypeFor(mlir::Type elementType);
/// Spelling of an ONNX data type for messages ("float", "int64", ...).
llvm::StringRef dataTypeName(int32_t dataType);

} // namespace mrope::onnx

#endif // MROPE_DIALECT_ONNX_IR_DATATYPE_H
