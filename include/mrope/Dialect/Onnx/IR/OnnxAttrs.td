//===- OnnxAttrs.td - onnx attributes ----------------------*- tablegen -*-===//
#ifndef MROPE_DIALECT_ONNX_IR_ONNXATTRS_TD
#define MROPE_DIALECT_ONNX_IR_ONNXATTRS_TD

include "mrope/Dialect/Onnx/IR/OnnxDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

class Onnx_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Onnx_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def Onnx_ExternalAttr : Onnx_Attr<"External", "external", [TypedAttrInterface]> {
  let summary = "tensor contents kept in an external data file";
  let description = [{
    The value of an initializer (or tensor attribute) whose bytes live in an
    external data file, exactly as the model's `external_data` said:
    `location` relative to the model's folder (the module attribute
    `onnx.model_dir` holds the absolute folder the importer resolved it
    against), `offset` and `length` in bytes. The file is validated at import
    (relative path, no `..`, no symlink, in bounds) but never read; the
    exporter copies the bytes file-to-file. `getConstantValue` maps it on
    demand. The attribute is typed with the tensor type (elided on
    `onnx.initializer`).

    ```mlir
    %w = onnx.initializer "w" : tensor<4096x4096xf32> = #onnx.external<location = "model.onnx.data", offset = 0, length = 67108864>
    ```
  }];
  let parameters = (ins StringRefParameter<"file, relative to the model">:$location,
                        "int64_t":$offset,
                        "int64_t":$length,
                        AttributeSelfTypeParameter<"tensor type">:$type);
  let assemblyFormat = "`<` struct($location, $offset, $length) `>`";
}

def Onnx_SubgraphRefAttr : Onnx_Attr<"SubgraphRef", "subgraph"> {
  let summary = "a GRAPH attribute: the index of the node region holding it";
  let description = [{
    In a node's `attrs`, `body = #onnx.subgraph<0>` says that the GRAPH
    attribute `body` is the `onnx.subgraph` in region 0 of the node. A GRAPHS
    attribute is an array of these.
  }];
  let parameters = (ins "int64_t":$index);
  let assemblyFormat = "`<` $index `>`";
}

def Onnx_OpsetAttr : Onnx_Attr<"Opset", "opset"> {
  let summary = "one entry of opset_import";
  let description = [{
    `#onnx.opset<"", 17>`: domain (`""` is the default `ai.onnx` domain,
    kept as spelled in the model) and version.
  }];
  let parameters = (ins StringRefParameter<"domain">:$domain, "int64_t":$version);
  let assemblyFormat = "`<` $domain `,` $version `>`";
}

def Onnx_ProtoAttr : Onnx_Attr<"Proto", "proto"> {
  let summary = "an ONNX protobuf message kept as serialized bytes";
  let description = [{
    What the dialect keeps but does not model, byte for byte: attribute
    kinds without an MLIR counterpart (SPARSE_TENSOR(S), TYPE_PROTO(S), empty
    TENSORS/GRAPHS, attributes with `ref_attr_name`), model `functions`,
    `training_info`, sparse initializers, unknown protobuf fields.
    `kind` names the message type (`AttributeProto`, `FunctionProto`, ...).
  }];
  let parameters = (ins StringRefParameter<"message type">:$kind,
                        StringRefParameter<"serialized message">:$bytes);
  let assemblyFormat = "`<` $kind `,` $bytes `>`";
}

def Onnx_ValueInfoAttr : Onnx_Attr<"ValueInfo", "value_info"> {
  let summary = "one entry of a graph's value_info";
  let description = [{
    `#onnx.value_info<name = "x", type = tensor<?x4xf32>, dim_params = ["batch", ""]>`.
    The exporter writes the current type of the value named `name` when a
    pass changed it, else this type (with its dim params and doc string).
  }];
  let parameters = (ins StringRefParameter<"value name">:$name,
                        "::mlir::Type":$type,
                        OptionalParameter<"::mlir::ArrayAttr">:$dim_params,
                        OptionalParameter<"::mlir::StringAttr">:$doc_string);
  let assemblyFormat = "`<` struct(params) `>`";
}

#endif // MROPE_DIALECT_ONNX_IR_ONNXATTRS_TD
