//===- Validate.h - what libonnx would trust, checked first -----*- C++ -*-===//
//
// libonnx 1.12's shape inference and checker trust the model they are given:
// a raw_data shorter than its dims, a Scan without a body or a Reshape to
// [2^63-1] crash them or exhaust memory. These checks run on the parsed
// ModelProto before libonnx (or the importer) sees it, and fail with one line
// naming the node.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_LIB_TARGET_ONNX_VALIDATE_H
#define MROPE_LIB_TARGET_ONNX_VALIDATE_H

#include "mrope/Target/Onnx/Import.h"

#include "llvm/Support/Error.h"

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>

namespace mrope::onnx::detail {

/// The default-domain opset version, checked: opset_import present, no
/// domain listed twice ("" and "ai.onnx" are one domain), the default domain
/// present with a version in [options.minOpset, options.maxOpset], every
/// other version positive.
llvm::Expected<int64_t> checkOpsetImports(const ::onnx::ModelProto &model,
                                          const ImportOptions &options);

/// Why the inline payload of `t` does not fit its data type and dims (or
/// the dims break the limits), as the tail of a message; "" when it fits.
/// External data is not looked at here (the importer checks it).
std::string tensorProblem(const ::onnx::TensorProto &t,
                          const ImportOptions &options);

/// Walks every graph of the model: node domains imported, Scan/Loop/If
/// carrying their graphs, tensors (initializers and tensor attributes)
/// whose payload fits, declared shapes and constant shape operands
/// (Reshape, Expand, ConstantOfShape, Tile, Resize, Range, OneHot) within
/// the limits. The first problem is the error.
llvm::Error validateModel(const ::onnx::ModelProto &model,
                          const ImportOptions &options);

/// "node 'n' (Op, domain 'd')", as the importer names nodes.
std::string describeNode(const ::onnx::NodeProto &node);

} // namespace mrope::onnx::detail

#endif // MROPE_LIB_TARGET_ONNX_VALIDATE_H
