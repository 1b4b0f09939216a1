// The onnx dialect prints and parses back to the same IR (custom forms of
// onnx.graph, onnx.node with and without subgraphs, onnx.initializer with
// dense, dense_resource and external values, onnx.none, onnx.return).
// RUN: mrope-opt %s | FileCheck %s
// RUN: mrope-opt %s | mrope-opt | FileCheck %s
// RUN: mrope-opt %s -mlir-print-op-generic | mrope-opt | FileCheck %s

// CHECK: module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>], onnx.producer_name = "pytorch"}
module attributes {onnx.ir_version = 8 : i64, onnx.producer_name = "pytorch",
                   onnx.opset_import = [#onnx.opset<"", 17>, #onnx.opset<"com.microsoft", 1>]} {
  // CHECK: onnx.graph @main(%[[X:.*]]: tensor<?x4xf32> {onnx.dim_params = ["batch", ""], onnx.name = "x"}, %[[N:.*]]: tensor<i64> {onnx.name = "n"})
  // CHECK-SAME: -> (tensor<?x4xf32> {onnx.dim_params = ["batch", ""], onnx.name = "y"}, !onnx.unknown {onnx.name = "z"})
  // CHECK-SAME: attributes {graph_name = "main_graph", value_info = [#onnx.value_info<name = "/Mul_output_0", type = tensor<?x4xf32>, dim_params = ["batch", ""]>]}
  onnx.graph @main(%x: tensor<?x4xf32> {onnx.name = "x", onnx.dim_params = ["batch", ""]},
                   %n: tensor<i64> {onnx.name = "n"})
      -> (tensor<?x4xf32> {onnx.name = "y", onnx.dim_params = ["batch", ""]}, !onnx.unknown {onnx.name = "z"})
      attributes {graph_name = "main_graph",
                  value_info = [#onnx.value_info<name = "/Mul_output_0", type = tensor<?x4xf32>, dim_params = ["batch", ""]>]} {
    // CHECK: %[[W:.*]] = onnx.initializer "w" : tensor<4xf32> = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]>
    %w = onnx.initializer "w" : tensor<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
    // CHECK: onnx.initializer "big" : tensor<2xi64> = dense_resource<big_blob>
    %big = onnx.initializer "big" : tensor<2xi64> = dense_resource<big_blob>
    // CHECK: onnx.initializer "ext" {doc_string = "kept"} : tensor<2x2xf16> = #onnx.external<location = "model.onnx.data", offset = 4096, length = 8>
    %ext = onnx.initializer "ext" {doc_string = "kept"} : tensor<2x2xf16> = #onnx.external<location = "model.onnx.data", offset = 4096, length = 8>
    // CHECK: %[[NONE:.*]] = onnx.none : none
    %none = onnx.none : none
    // CHECK: %[[M:.*]] = onnx.node "Mul"(%[[X]], %[[W]]) {name = "/Mul"} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
    %m = onnx.node "Mul"(%x, %w) {name = "/Mul"} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
    // CHECK: onnx.node "Clip"(%[[M]], %[[NONE]], %{{.*}}) {attrs = {f = 5.000000e-01 : f32, fs = array<f32: 1.000000e+00>, i = 1 : i64, is = array<i64>, s = "str", ss = []}, outputs = ["clipped"]} : (tensor<?x4xf32>, none, tensor<f32>) -> tensor<?x4xf32>
    %c0 = onnx.node "Constant"() {attrs = {value = dense<6.0> : tensor<f32>}} : () -> tensor<f32>
    %clip = onnx.node "Clip"(%m, %none, %c0) {outputs = ["clipped"],
        attrs = {i = 1 : i64, f = 0.5 : f32, s = "str", is = array<i64>, fs = array<f32: 1.0>, ss = []}}
        : (tensor<?x4xf32>, none, tensor<f32>) -> tensor<?x4xf32>
    // CHECK: onnx.node "FusedMatMul"(%[[M]], %[[M]]) {domain = "com.microsoft"} : (tensor<?x4xf32>, tensor<?x4xf32>) -> !onnx.unknown
    %f = onnx.node "FusedMatMul"(%m, %m) {domain = "com.microsoft"} : (tensor<?x4xf32>, tensor<?x4xf32>) -> !onnx.unknown
    // CHECK: %[[T:.*]] = onnx.node "Constant"() {attrs = {value = dense<true> : tensor<i1>}} : () -> tensor<i1>
    %t = onnx.node "Constant"() {attrs = {value = dense<true> : tensor<i1>}} : () -> tensor<i1>
    // CHECK: onnx.node "Loop"(%[[N]], %[[T]], %[[CLIP:.*]]) {attrs = {body = #onnx.subgraph<0>}, name = "/Loop"} : (tensor<i64>, tensor<i1>, tensor<?x4xf32>) -> tensor<?x4xf32> ({
    // CHECK-NEXT: onnx.subgraph (%[[I:.*]]: tensor<i64> {onnx.name = "i"}, %[[C:.*]]: tensor<i1> {onnx.name = "cond"}, %[[A:.*]]: tensor<?x4xf32> {onnx.name = "acc"}) -> (tensor<i1> {onnx.name = "cond_out"}, tensor<?x4xf32> {onnx.name = "acc_out"}) attributes {graph_name = "body"} {
    // CHECK-NEXT: %[[ADD:.*]] = onnx.node "Add"(%[[A]], %[[W]]) {outputs = ["acc_out"]}
    // CHECK-NEXT: onnx.return %[[C]], %[[ADD]] : tensor<i1>, tensor<?x4xf32>
    // CHECK-NEXT: }
    // CHECK-NEXT: })
    %loop = onnx.node "Loop"(%n, %t, %clip) {name = "/Loop", attrs = {body = #onnx.subgraph<0>}}
        : (tensor<i64>, tensor<i1>, tensor<?x4xf32>) -> tensor<?x4xf32> ({
      onnx.subgraph (%i: tensor<i64> {onnx.name = "i"}, %c: tensor<i1> {onnx.name = "cond"}, %acc: tensor<?x4xf32> {onnx.name = "acc"})
          -> (tensor<i1> {onnx.name = "cond_out"}, tensor<?x4xf32> {onnx.name = "acc_out"}) attributes {graph_name = "body"} {
        %s = onnx.node "Add"(%acc, %w) {outputs = ["acc_out"]} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
        onnx.return %c, %s : tensor<i1>, tensor<?x4xf32>
      }
    })
    // CHECK: onnx.node "If"(%[[T]]) {attrs = {else_branch = #onnx.subgraph<1>, then_branch = #onnx.subgraph<0>}} : (tensor<i1>) -> tensor<4xf32> ({
    %if = onnx.node "If"(%t) {attrs = {then_branch = #onnx.subgraph<0>, else_branch = #onnx.subgraph<1>}} : (tensor<i1>) -> tensor<4xf32> ({
      onnx.subgraph () -> (tensor<4xf32> {onnx.name = "w"}) {
        onnx.return %w : tensor<4xf32>
      }
    }, {
      onnx.subgraph () -> (tensor<4xf32> {onnx.name = "neg"}) {
        %neg = onnx.node "Neg"(%w) {outputs = ["neg"]} : (tensor<4xf32>) -> tensor<4xf32>
        onnx.return %neg : tensor<4xf32>
      }
    })
    // CHECK: onnx.return %[[LOOP:.*]], %{{.*}} : tensor<?x4xf32>, !onnx.unknown
    onnx.return %loop, %f : tensor<?x4xf32>, !onnx.unknown
  }
}

{-#
  dialect_resources: {
    builtin: {
      big_blob: "0x080000000100000000000000FFFFFFFFFFFFFFFF"
    }
  }
#-}
