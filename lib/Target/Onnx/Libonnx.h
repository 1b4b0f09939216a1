//===- Libonnx.h - libonnx, contained in a child process --------*- C++ -*-===//
//
// libonnx 1.12 is trusted with nothing: its shape inference and checker run
// on a validated, trimmed copy of the model, in a child process under a
// memory ceiling and a time limit (ImportOptions::isolateLibonnx). A crash,
// hang or out-of-memory there costs the inferred types or the checker's
// findings, never the tool.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_LIB_TARGET_ONNX_LIBONNX_H
#define MROPE_LIB_TARGET_ONNX_LIBONNX_H

#include "mrope/Target/Onnx/Import.h"

#include "llvm/ADT/StringMap.h"

#include <onnx/onnx_pb.h>

#include <optional>
#include <string>

namespace mrope::onnx::detail {

/// Best-effort libonnx shape inference on a copy of the (validated) model
/// without large tensor payloads; fills `inferred` with the value types it
/// finds, by name, in every graph.
void inferShapesContained(const ::onnx::ModelProto &model,
                          const ImportOptions &options,
                          llvm::StringMap<::onnx::TypeProto> &inferred);

/// The first line of what libonnx's checker says about `model`, "" when it
/// passes, or nullopt when the checker could not run to the end (crashed,
/// out of memory, out of time).
std::optional<std::string> checkModelContained(const ::onnx::ModelProto &model,
                                               const ImportOptions &options);

/// The newest default-domain opset libonnx knows (17 for libonnx 1.12).
int64_t libonnxMaxOpset();

} // namespace mrope::onnx::detail

#endif // MROPE_LIB_TARGET_ONNX_LIBONNX_H
