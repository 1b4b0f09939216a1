//===- DataType.cpp - ONNX TensorProto element types ----------------------===//
#include "mrope/Dialect/Onnx/IR/DataType.h"

#include "mrope/Dialect/Onnx/IR/OnnxTypes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;

namespace mrope::onnx {

Type elementTypeFor(int32_t dt, MLIRContext *ctx) {
  Builder b(ctx);
  switch (dt) {
  case FLOAT:
    return b.getF32Type();
  case UINT8:
    return IntegerType::get(ctx, 8, IntegerType::Unsigned);
  case INT8:
    return b.getIntegerType(8);
  case UINT16:
    return IntegerType::get(ctx, 16, IntegerType::Unsigned);
  case INT16:
    return b.getIntegerType(16);
  case INT32:
    return b.getIntegerType(32);
  case INT64:
    return b.getIntegerType(64);
  case STRING:
    return nullptr; // caller uses !onnx.string
  case BOOL:
    return b.getI1Type();
  case FLOAT16:
    return b.getF16Type();
  case DOUBLE:
    return b.getF64Type();
  case UINT32:
    return IntegerType::get(ctx, 32, IntegerType::Unsigned);
  case UINT64:
    return IntegerType::get(ctx, 64, IntegerType::Unsigned);
  case COMPLEX64:
    return ComplexType::get(b.getF32Type());
  case COMPLEX128:
    return ComplexType::get(b.getF64Type());
  case BFLOAT16:
    return b.getBF16Type();
  case FLOAT8E4M3FN:
    return Float8E4M3FNType::get(ctx);
  case FLOAT8E4M3FNUZ:
    return Float8E4M3FNUZType::get(ctx);
  case FLOAT8E5M2:
    return Float8E5M2Type::get(ctx);
  case FLOAT8E5M2FNUZ:
    return Float8E5M2FNUZType::get(ctx);
  case UINT4:
    return IntegerType::get(ctx, 4, IntegerType::Unsigned);
  case INT4:
    return IntegerType::get(ctx, 4, IntegerType::Signed);
  case FLOAT4E2M1:
    return Float4E2M1FNType::get(ctx);
  case FLOAT8E8M0:
    return Float8E8M0FNUType::get(ctx);
  default:
    return nullptr;
  }
}

DataType dataTypeFor(Type t) {
  if (t.isF32())
    return FLOAT;
  if (t.isF16())
    return FLOAT16;
  if (t.isBF16())
    return BFLOAT16;
  if (t.isF64())
    return DOUBLE;
  if (llvm::isa<Float8E4M3FNType>(t))
    return FLOAT8E4M3FN;
  if (llvm::isa<Float8E4M3FNUZType>(t))
    return FLOAT8E4M3FNUZ;
  if (llvm::isa<Float8E5M2Type>(t))
    return FLOAT8E5M2;
  if (llvm::isa<Float8E5M2FNUZType>(t))
    return FLOAT8E5M2FNUZ;
  if (llvm::isa<Float4E2M1FNType>(t))
    return FLOAT4E2M1;
  if (llvm::isa<Float8E8M0FNUType>(t))
    return FLOAT8E8M0;
  if (auto c = llvm::dyn_cast<ComplexType>(t)) {
    if (c.getElementType().isF32())
      return COMPLEX64;
    if (c.getElementType().isF64())
      return COMPLEX128;
    return UNDEFINED;
  }
  if (auto i = llvm::dyn_cast<IntegerType>(t)) {
    bool u = i.isUnsigned();
    switch (i.getWidth()) {
    case 1:
      return BOOL;
    case 4:
      return u ? UINT4 : INT4;
    case 8:
      return u ? UINT8 : INT8;
    case 16:
      return u ? UINT16 : INT16;
    case 32:
      return u ? UINT32 : INT32;
    case 64:
      return u ? UINT64 : INT64;
    default:
      return UNDEFINED;
    }
  }
  if (llvm::isa<StringType>(t))
    return STRING;
  return UNDEFINED;
}

StringRef dataTypeName(int32_t dt) {
  switch (dt) {
  case FLOAT:
    return "float";
  case UINT8:
    return "uint8";
  case INT8:
    return "int8";
  case UINT16:
    return "uint16";
  case INT16:
    return "int16";
  case INT32:
    return "int32";
  case INT64:
    return "int64";
  case STRING:
    return "string";
  case BOOL:
    return "bool";
  case FLOAT16:
    return "float16";
  case DOUBLE:
    return "double";
  case UINT32:
    return "uint32";
  case UINT64:
    return "uint64";
  case COMPLEX64:
    return "complex64";
  case COMPLEX128:
    return "complex128";
  case BFLOAT16:
    return "bfloat16";
  case FLOAT8E4M3FN:
    return "float8e4m3fn";
  case FLOAT8E4M3FNUZ:
    return "float8e4m3fnuz";
  case FLOAT8E5M2:
    return "float8e5m2";
  case FLOAT8E5M2FNUZ:
    return "float8e5m2fnuz";
  case UINT4:
    return "uint4";
  case INT4:
    return "int4";
  case FLOAT4E2M1:
    return "float4e2m1";
  case FLOAT8E8M0:
    return "float8e8m0";
  case UNDEFINED:
    return "undefined";
  default:
    return "unknown";
  }
}

} // namespace mrope::onnx
