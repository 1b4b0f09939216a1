// Verifier errors of the onnx dialect, one per split.
// RUN: mrope-opt %s -split-input-file -verify-diagnostics

onnx.graph @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{value type 'tensor<3xf32>' differs from result type 'tensor<4xf32>'}}
  %w = "onnx.initializer"() {name = "w", value = dense<1.0> : tensor<3xf32>} : () -> tensor<4xf32>
  onnx.return %x : tensor<4xf32>
}

// -----

// expected-error @+1 {{returns 0 values but declares 1 outputs}}
onnx.graph @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  onnx.return
}

// -----

// expected-error @+1 {{input 0: onnx.dim_params has 2 entries for type 'tensor<4xf32>'}}
onnx.graph @main(%x: tensor<4xf32> {onnx.dim_params = ["a", "b"]}) -> tensor<4xf32> {
  onnx.return %x : tensor<4xf32>
}

// -----

onnx.graph @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{has 2 output names for 1 results}}
  %y = onnx.node "Relu"(%x) {outputs = ["a", "b"]} : (tensor<4xf32>) -> tensor<4xf32>
  onnx.return %y : tensor<4xf32>
}

// -----

onnx.graph @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{attribute 'body' refers to region 1 but the node has 0}}
  %y = onnx.node "Loop"(%x) {attrs = {body = #onnx.subgraph<1>}} : (tensor<4xf32>) -> tensor<4xf32>
  onnx.return %y : tensor<4xf32>
}

// -----

onnx.graph @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{regions must hold exactly one onnx.subgraph}}
  %y = onnx.node "If"(%x) {attrs = {then_branch = #onnx.subgraph<0>}} : (tensor<4xf32>) -> tensor<4xf32> ({
    %z = onnx.none : none
  })
  onnx.return %y : tensor<4xf32>
}

// -----

onnx.graph @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{value must be elements, #onnx.external or #onnx.proto}}
  %w = "onnx.initializer"() {name = "w", value = 1 : i64} : () -> tensor<4xf32>
  onnx.return %x : tensor<4xf32>
}
