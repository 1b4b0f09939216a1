//===- InlineFunctions.h - calls of model-local functions, inlined -*- C++
//-*-===//
//
// Exporters can put a model's layers into model-local functions (torch's
// `export_modules_as_functions`, onnxscript functions, the dynamo exporter
// before its optimizer runs): the main graph then calls an op named after
// the function, and RoPE lives inside its body. The analysis reads nodes,
// so such calls are replaced by the nodes of the body before the IR is
// built. A call that cannot be inlined exactly (a body with subgraphs, an
// opset the model imports at another version, recursion) stays a call,
// and the reason is returned so that the importer can say so.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_LIB_TARGET_ONNX_INLINEFUNCTIONS_H
#define MROPE_LIB_TARGET_ONNX_INLINEFUNCTIONS_H

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mrope::onnx::detail {

struct InlinedFunctions {
  /// Calls replaced by their bodies (nested calls counted too).
  int64_t calls = 0;
  /// The functions whose calls were inlined, in the model's order.
  std::vector<std::string> functions;
  /// One line per call left in place: "node 'n' calls f: why".
  std::vector<std::string> kept;
};

/// Replaces every call of a model-local function in the main graph (and in
/// the subgraphs of its nodes) by the function's body: the body's values
/// renamed under the call's node name (`call/value`), its nodes named
/// `call/node`, attribute references resolved from the call (or the
/// function's defaults), domains the body imports added to the model's
/// opset_import. Functions no node calls any more are dropped from the
/// model. Names stay unique in the whole model.
InlinedFunctions inlineLocalFunctions(::onnx::ModelProto &model);

} // namespace mrope::onnx::detail

#endif // MROPE_LIB_TARGET_ONNX_INLINEFUNCTIONS_H
