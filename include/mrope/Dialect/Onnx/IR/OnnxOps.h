//===- OnnxOps.h - onnx operations and helpers ------------------*- C++ -*-===//
//
// The onnx dialect's ops (onnx.graph, onnx.subgraph, onnx.node,
// onnx.initializer, onnx.none, onnx.return) and the helpers pattern code
// needs: constant contents of a value, opset versions, model attributes.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_DIALECT_ONNX_IR_ONNXOPS_H
#define MROPE_DIALECT_ONNX_IR_ONNXOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "mrope/Dialect/Onnx/IR/OnnxDialect.h"
#include "mrope/Dialect/Onnx/IR/OnnxTypes.h"

#include <optional>
#include <string>

namespace mrope::onnx {
class NodeOp;
class ReturnOp;
class SubgraphOp;
} // namespace mrope::onnx

#define GET_OP_CLASSES
#include "mrope/Dialect/Onnx/IR/OnnxOps.h.inc"

namespace mrope::onnx {

/// Names of the discardable attributes the dialect uses.
namespace attr {
// On the module (model fields).
inline constexpr llvm::StringLiteral kIrVersion = "onnx.ir_version";
inline constexpr llvm::StringLiteral kProducerName = "onnx.producer_name";
inline constexpr llvm::StringLiteral kProducerVersion = "onnx.producer_version";
inline constexpr llvm::StringLiteral kDomain = "onnx.domain";
inline constexpr llvm::StringLiteral kModelVersion = "onnx.model_version";
inline constexpr llvm::StringLiteral kDocString = "onnx.doc_string";
inline constexpr llvm::StringLiteral kOpsetImport = "onnx.opset_import";
inline constexpr llvm::StringLiteral kMetadataProps = "onnx.metadata_props";
inline constexpr llvm::StringLiteral kFunctions = "onnx.functions";
inline constexpr llvm::StringLiteral kTrainingInfo = "onnx.training_info";
inline constexpr llvm::StringLiteral kModelDir = "onnx.model_dir";
inline constexpr llvm::StringLiteral kUnknownFields = "onnx.unknown_fields";
// On graph inputs/outputs (argument/result attributes).
inline constexpr llvm::StringLiteral kName = "onnx.name";
inline constexpr llvm::StringLiteral kDimParams = "onnx.dim_params";
// On graphs.
inline constexpr llvm::StringLiteral kSparseInitializers =
    "onnx.sparse_initializers";
inline constexpr llvm::StringLiteral kQuantizationAnnotation =
    "onnx.quantization_annotation";
} // namespace attr

/// The constant contents of `value` when it is defined by an
/// `onnx.initializer` (dense, dense_resource or external data, mapped on
/// demand) or by an ONNX `Constant` node (value, value_int(s),
/// value_float(s), value_string(s)); nullopt otherwise, or when the tensor
/// has more than `maxElements` elements (the contents are copied into a
/// DenseElementsAttr uniqued in the context: keep this for small constants
/// such as inv_freq, slice bounds and axes).
std::optional<mlir::DenseElementsAttr>
getConstantValue(mlir::Value value, int64_t maxElements = 1 << 20);

/// Integer contents of a constant value (any integer element type).
std::optional<llvm::SmallVector<int64_t>> getConstantInts(mlir::Value value);

/// The opset version `op`'s model imports for `domain` ("" and "ai.onnx"
/// both mean the default domain), from the enclosing module's
/// `onnx.opset_import`.
std::optional<int64_t> getOpsetVersion(mlir::Operation *op,
                                       llvm::StringRef domain = "");

/// The `onnx.graph @main` of a module, or null.
GraphOp getMainGraph(mlir::ModuleOp module);

/// Bytes per element of an ONNX-representable MLIR element type (0 for
/// strings and sub-byte types).
int64_t getElementByteSize(mlir::Type elementType);

/// `dims` as an ArrayAttr of strings for `onnx.dim_params`.
mlir::ArrayAttr getDimParamsAttr(mlir::MLIRContext *ctx,
                                 llvm::ArrayRef<llvm::StringRef> dims);

} // namespace mrope::onnx

#endif // MROPE_DIALECT_ONNX_IR_ONNXOPS_H
