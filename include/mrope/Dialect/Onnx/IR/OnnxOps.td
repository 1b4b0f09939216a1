//===- OnnxOps.td - onnx operations ------------------------*- tablegen -*-===//
#ifndef MROPE_DIALECT_ONNX_IR_ONNXOPS_TD
#define MROPE_DIALECT_ONNX_IR_ONNXOPS_TD

include "mrope/Dialect/Onnx/IR/OnnxDialect.td"
include "mrope/Dialect/Onnx/IR/OnnxTypes.td"
include "mrope/Dialect/Onnx/IR/OnnxAttrs.td"
include "mlir/Interfaces/FunctionInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"

class Onnx_Op<string mnemonic, list<Trait> traits = []>
    : Op<Onnx_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// onnx.graph
//===----------------------------------------------------------------------===//

def Onnx_GraphOp : Onnx_Op<"graph", [
    IsolatedFromAbove, FunctionOpInterface, SingleBlock,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames"]>]> {
  let summary = "the main graph of an ONNX model";
  let description = [{
    The model's `graph`. Its block arguments are the graph inputs in order;
    `onnx.return` lists the graph outputs. Per input/output, the argument and
    result attributes hold `onnx.name` (the ONNX value name), `onnx.dim_params`
    (one string per dim: the symbolic name, `""` for static or unnamed dims;
    absent when no dim is symbolic) and `onnx.doc_string`. The function type
    holds the declared types (`!onnx.unknown` for a value without type).

    `graph_name` is the GraphProto name, `value_info` the graph's value_info
    entries (`#onnx.value_info`), `doc_string` its doc string.

    ```mlir
    onnx.graph @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"})
        -> (tensor<?x?x64xf32> {onnx.dim_params = ["batch", "seq", ""], onnx.name = "out"})
        attributes {graph_name = "main_graph"} {
      ...
      onnx.return %y : tensor<?x?x64xf32>
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<FunctionType>:$function_type,
                       OptionalAttr<StrAttr>:$sym_visibility,
                       OptionalAttr<DictArrayAttr>:$arg_attrs,
                       OptionalAttr<DictArrayAttr>:$res_attrs,
                       OptionalAttr<StrAttr>:$graph_name,
                       OptionalAttr<StrAttr>:$doc_string,
                       OptionalAttr<ArrayAttr>:$value_info);
  let regions = (region SizedRegion<1>:$body);
  let builders = [OpBuilder<(ins "::llvm::StringRef":$name,
                                 "::mlir::FunctionType":$type)>];
  let extraClassDeclaration = [{
    ::mlir::Region *getCallableRegion() { return &getBody(); }
    ::llvm::ArrayRef<::mlir::Type> getArgumentTypes() {
      return getFunctionType().getInputs();
    }
    ::llvm::ArrayRef<::mlir::Type> getResultTypes() {
      return getFunctionType().getResults();
    }
    bool isDeclaration() { return false; }
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
    /// The terminator.
    ReturnOp getReturnOp();
    /// ONNX name of input `i` / output `i` ("" when absent).
    ::llvm::StringRef getInputName(unsigned i);
    ::llvm::StringRef getOutputName(unsigned i);
    /// Changes the type of input `i` (block argument and function type) and
    /// sets or clears its `onnx.dim_params` (pass {} to clear).
    void setInputType(unsigned i, ::mlir::Type type,
                      ::llvm::ArrayRef<::llvm::StringRef> dimParams = {});
    /// Changes the declared type of output `i`, like setInputType.
    void setOutputType(unsigned i, ::mlir::Type type,
                       ::llvm::ArrayRef<::llvm::StringRef> dimParams = {});
    /// Appends a graph input named `name`; returns its block argument.
    ::mlir::BlockArgument addInput(::llvm::StringRef name, ::mlir::Type type,
                                   ::llvm::ArrayRef<::llvm::StringRef> dimParams = {});
    /// Appends a graph output named `name` returning `value`.
    void addOutput(::llvm::StringRef name, ::mlir::Value value,
                   ::llvm::ArrayRef<::llvm::StringRef> dimParams = {});
  }];
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// onnx.subgraph
//===----------------------------------------------------------------------===//

def Onnx_SubgraphOp : Onnx_Op<"subgraph", [
    HasParent<"NodeOp">, SingleBlock,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames"]>]> {
  let summary = "a GRAPH attribute of a node (Loop/If/Scan body)";
  let description = [{
    A subgraph, in a region of the `onnx.node` that owns it (the node's
    `attrs` refer to it with `#onnx.subgraph<region index>`). Like
    `onnx.graph` but not isolated: ops inside use values of enclosing graphs
    directly (ONNX outer-scope references). Same argument/result attributes
    and graph attributes as `onnx.graph`.

    ```mlir
    onnx.subgraph (%i: tensor<i64> {onnx.name = "i"}, %c: tensor<i1> {onnx.name = "cond"})
        -> (tensor<i1> {onnx.name = "cond_out"}) attributes {graph_name = "body"} {
      onnx.return %c : tensor<i1>
    }
    ```
  }];
  let arguments = (ins TypeAttrOf<FunctionType>:$function_type,
                       OptionalAttr<DictArrayAttr>:$arg_attrs,
                       OptionalAttr<DictArrayAttr>:$res_attrs,
                       OptionalAttr<StrAttr>:$graph_name,
                       OptionalAttr<StrAttr>:$doc_string,
                       OptionalAttr<ArrayAttr>:$value_info);
  let regions = (region SizedRegion<1>:$body);
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
    ReturnOp getReturnOp();
    ::llvm::StringRef getInputName(unsigned i);
    ::llvm::StringRef getOutputName(unsigned i);
  }];
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// onnx.node
//===----------------------------------------------------------------------===//

def Onnx_NodeOp : Onnx_Op<"node", [NoTerminator]> {
  let summary = "one ONNX node, any op_type of any domain";
  let description = [{
    A NodeProto. Operands are the node inputs in order (an absent optional
    input is the value of `onnx.none`), results the outputs in order.

    - `op_type`: printed first, as a string.
    - `domain`: `""` (the default domain) is not printed.
    - `name`: the node name (absent = no name).
    - `outputs`: the ONNX output names. Not printed (and not stored) when
      they are the default `<name>_output_<i>` that torch.onnx uses; nodes a
      pass creates have none and get unique names at export. An entry `""`
      is an omitted optional output.
    - `attrs`: the ONNX attributes: INT → i64, FLOAT → f32, STRING → string,
      TENSOR → dense / dense_resource elements, INTS → `array<i64: ...>`,
      FLOATS → `array<f32: ...>`, STRINGS → array of strings (`[]` = empty
      STRINGS), GRAPH → `#onnx.subgraph<region>`, GRAPHS and TENSORS →
      arrays of those, anything else → `#onnx.proto<"AttributeProto", ...>`.
    - `attr_order`: only when the model's attribute order is not sorted.
    - `doc_string`: the node doc string (absent = empty).

    Regions: one `onnx.subgraph` per GRAPH attribute.

    ```mlir
    %0 = onnx.node "Mul"(%a, %b) {name = "/layers.0/Mul"} : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
    %1 = onnx.node "Gather"(%t, %i) {attrs = {axis = 0 : i64}} : (tensor<8x4xf32>, tensor<i64>) -> tensor<4xf32>
    %2:2 = onnx.node "Loop"(%n, %c, %x) {attrs = {body = #onnx.subgraph<0>}} : (...) -> (...) ({
      onnx.subgraph (...) -> (...) { ... }
    })
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$inputs,
                       StrAttr:$op_type,
                       DefaultValuedStrAttr<StrAttr, "">:$domain,
                       OptionalAttr<StrAttr>:$name,
                       OptionalAttr<StrArrayAttr>:$outputs,
                       OptionalAttr<DictionaryAttr>:$attrs,
                       OptionalAttr<StrArrayAttr>:$attr_order,
                       OptionalAttr<StrAttr>:$doc_string);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region VariadicRegion<SizedRegion<1>>:$subgraphs);
  let builders = [
    OpBuilder<(ins "::mlir::TypeRange":$resultTypes,
                   "::llvm::StringRef":$opType,
                   "::mlir::ValueRange":$inputs,
                   CArg<"::llvm::ArrayRef<::mlir::NamedAttribute>", "{}">:$onnxAttrs,
                   CArg<"::llvm::StringRef", "\"\"">:$nodeName,
                   CArg<"::llvm::StringRef", "\"\"">:$domain)>
  ];
  let skipDefaultBuilders = 0;
  let extraClassDeclaration = [{
    /// The node name, "" when it has none.
    ::llvm::StringRef getNodeName() { return getName().value_or(""); }
    /// The ONNX name of output `i`: the stored one, else the default
    /// `<name>_output_<i>` when the node has a name, else "".
    std::string getOutputName(unsigned i);
    /// All output names (see getOutputName).
    ::llvm::SmallVector<std::string> getOutputNames();
    /// The ONNX attribute `name`, or null.
    ::mlir::Attribute getOnnxAttr(::llvm::StringRef name);
    void setOnnxAttr(::llvm::StringRef name, ::mlir::Attribute value);
    void removeOnnxAttr(::llvm::StringRef name);
    /// Typed access to ONNX attributes (nullopt when absent or another kind).
    std::optional<int64_t> getIntAttr(::llvm::StringRef name);
    std::optional<float> getFloatAttr(::llvm::StringRef name);
    std::optional<::llvm::StringRef> getStringAttr(::llvm::StringRef name);
    std::optional<::llvm::SmallVector<int64_t>> getIntsAttr(::llvm::StringRef name);
    std::optional<::llvm::SmallVector<float>> getFloatsAttr(::llvm::StringRef name);
    std::optional<::llvm::SmallVector<::llvm::StringRef>> getStringsAttr(::llvm::StringRef name);
    /// TENSOR attribute (dense, dense_resource or #onnx.external is not an
    /// ElementsAttr: use getConstantValue on the node's result instead).
    ::mlir::ElementsAttr getTensorAttr(::llvm::StringRef name);
    /// GRAPH attribute: the subgraph op in the region it refers to.
    SubgraphOp getSubgraphAttr(::llvm::StringRef name);
    /// True when the node is `op_type` in the default domain ("" or "ai.onnx").
    bool isOnnx(::llvm::StringRef opType) {
      return getOpType() == opType && (getDomain().empty() || getDomain() == "ai.onnx");
    }
  }];
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// onnx.initializer
//===----------------------------------------------------------------------===//

def Onnx_InitializerOp : Onnx_Op<"initializer", [
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>]> {
  let summary = "a graph initializer (weight or constant tensor)";
  let description = [{
    A TensorProto of the graph's `initializer` list, in order. `value` is
    `dense<...>` for small tensors (readable, easy to match), a
    `dense_resource<...>` blob holding the exact little-endian bytes for large
    ones, or `#onnx.external<...>` for tensors in an external data file.
    `doc_string` is the tensor's doc string. Not `Pure`: an unused
    initializer is still part of the model and is not folded away.

    ```mlir
    %w = onnx.initializer "model.q_proj.weight" : tensor<64x64xf32> = dense_resource<model.q_proj.weight>
    %b = onnx.initializer "starts" : tensor<1xi64> = dense<0>
    ```
  }];
  let arguments = (ins StrAttr:$name, AnyAttr:$value,
                       OptionalAttr<StrAttr>:$doc_string);
  let results = (outs AnyType:$result);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// onnx.none
//===----------------------------------------------------------------------===//

def Onnx_NoneOp : Onnx_Op<"none", [Pure]> {
  let summary = "an absent optional input";
  let description = [{
    The operand an `onnx.node` gets for an optional input the model left
    empty (`""`), so that later inputs keep their positions.

    ```mlir
    %none = onnx.none : none
    ```
  }];
  let results = (outs NoneType:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let builders = [OpBuilder<(ins), [{
    build($_builder, $_state, $_builder.getNoneType());
  }]>];
}

//===----------------------------------------------------------------------===//
// onnx.return
//===----------------------------------------------------------------------===//

def Onnx_ReturnOp : Onnx_Op<"return", [
    Pure, Terminator, ParentOneOf<["GraphOp", "SubgraphOp"]>]> {
  let summary = "the outputs of a graph or subgraph";
  let description = [{
    Lists the graph outputs in order. Operand types may be more precise than
    the declared output types of the enclosing graph (inference) but not
    incompatible.
  }];
  let arguments = (ins Variadic<AnyType>:$operands);
  let assemblyFormat = "attr-dict ($operands^ `:` type($operands))?";
  let builders = [OpBuilder<(ins), [{ build($_builder, $_state, ::mlir::ValueRange()); }]>];
}

#endif // MROPE_DIALECT_ONNX_IR_ONNXOPS_TD
