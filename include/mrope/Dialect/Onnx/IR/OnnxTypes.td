//===- OnnxTypes.td - onnx types ---------------------------*- tablegen -*-===//
#ifndef MROPE_DIALECT_ONNX_IR_ONNXTYPES_TD
#define MROPE_DIALECT_ONNX_IR_ONNXTYPES_TD

include "mrope/Dialect/Onnx/IR/OnnxDialect.td"
include "mlir/IR/AttrTypeBase.td"

class Onnx_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Onnx_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Onnx_StringType : Onnx_Type<"String", "string"> {
  let summary = "ONNX string element type";
  let description = [{
    The element type of ONNX `string` tensors: `tensor<2x!onnx.string>`.
  }];
}

def Onnx_UnknownType : Onnx_Type<"Unknown", "unknown"> {
  let summary = "a value the model gives no type for";
  let description = [{
    The type of a graph input/output whose ValueInfoProto has no `type`, and
    of a node output that neither value_info nor (best-effort) shape
    inference typed. Exported as "no type".
  }];
}

def Onnx_OpaqueType : Onnx_Type<"Opaque", "opaque"> {
  let summary = "an ONNX type this dialect does not model (sequence, map, ...)";
  let description = [{
    Keeps an ONNX `TypeProto` that has no MLIR counterpart (sequence, map,
    optional, sparse tensor, tensors of an element type MLIR has no type for)
    as its serialized bytes; `summary` is a human-readable spelling only.

    ```mlir
    !onnx.opaque<"seq(tensor(float))", "...serialized TypeProto...">
    ```
  }];
  let parameters = (ins StringRefParameter<"readable spelling">:$summary,
                        StringRefParameter<"serialized onnx.TypeProto">:$proto);
  let assemblyFormat = "`<` $summary `,` $proto `>`";
}

#endif // MROPE_DIALECT_ONNX_IR_ONNXTYPES_TD
