//===- OnnxDialect.td - the onnx dialect -------------------*- tablegen -*-===//
#ifndef MROPE_DIALECT_ONNX_IR_ONNXDIALECT_TD
#define MROPE_DIALECT_ONNX_IR_ONNXDIALECT_TD

include "mlir/IR/OpBase.td"

def Onnx_Dialect : Dialect {
  let name = "onnx";
  let cppNamespace = "::mrope::onnx";
  let summary = "A lossless image of an ONNX model: graphs, generic nodes, "
                "initializers";
  let description = [{
    The `onnx` dialect is what `mrope-translate --import-onnx` produces and
    `--export-onnx` consumes. It does not model ONNX operators one by one:
    every node of every domain is one generic `onnx.node` op that keeps the
    node's op_type, domain, name, output names and attributes, so that a
    model the passes do not touch comes out exactly as it went in.

    A model is a `builtin.module` carrying the model fields as discardable
    attributes (`onnx.ir_version`, `onnx.opset_import`, ...); the main graph
    is `onnx.graph @main`, whose block arguments are the graph inputs.
    Initializers are `onnx.initializer` ops, absent optional inputs are the
    value of `onnx.none`, subgraphs (Loop/If/Scan bodies) are `onnx.subgraph`
    ops in the regions of their node. See docs/onnx-dialect.md.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let usePropertiesForAttributes = 0;
  let extraClassDeclaration = [{
    void registerAttributes();
    void registerTypes();
  }];
}

#endif // MROPE_DIALECT_ONNX_IR_ONNXDIALECT_TD
