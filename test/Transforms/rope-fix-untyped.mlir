// rope-fix alone on a 1D site (a bug under qwen2-vl) whose cos/sin tables
// are unranked: one error at the site saying why it is not raised (rope-raise
// did not run), no crash, nothing rewritten. rope-raise raises it (the heads
// axis is read off the Unsqueeze(1) of the [B, S, R] table).
// RUN: mrope-opt %s -verify-diagnostics --rope-fix="arch=qwen2-vl" -o %t.out
// RUN: mrope-opt %s --rope-raise 2>/dev/null | FileCheck %s
// CHECK: rope.apply
// CHECK-SAME: rotary_dim = 4

module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @main(%x: tensor<1x2x6x4xf32> {onnx.name = "x"}, %pos: tensor<1x6xi64> {onnx.name = "position_ids"}) -> (tensor<*xf32> {onnx.name = "y"}) {
    %inv = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 0.00999999977]> : tensor<2xf32>}, outputs = ["inv_freq"]} : () -> tensor<2xf32>
    %last = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %ax1 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["ax1"]} : () -> tensor<1xi64>
    %halves = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<2xi64>}, outputs = ["halves"]} : () -> tensor<2xi64>
    %pf = onnx.node "Cast"(%pos) {attrs = {to = 1 : i64}} : (tensor<1x6xi64>) -> tensor<*xf32>
    %pu = onnx.node "Unsqueeze"(%pf, %last) : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
    %ang = onnx.node "Mul"(%pu, %inv) : (tensor<*xf32>, tensor<2xf32>) -> tensor<*xf32>
    %emb = onnx.node "Concat"(%ang, %ang) {attrs = {axis = -1 : i64}} : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    // expected-error @+1 {{site /rotary/Cos: rope-fix rewrites rope.apply only, and this site is not raised: rope-raise did not run before rope-fix}}
    %c = onnx.node "Cos"(%emb) {name = "/rotary/Cos"} : (tensor<*xf32>) -> tensor<*xf32>
    %s = onnx.node "Sin"(%emb) : (tensor<*xf32>) -> tensor<*xf32>
    %cu = onnx.node "Unsqueeze"(%c, %ax1) : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
    %su = onnx.node "Unsqueeze"(%s, %ax1) : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
    %x12:2 = onnx.node "Split"(%x, %halves) {attrs = {axis = -1 : i64}} : (tensor<1x2x6x4xf32>, tensor<2xi64>) -> (tensor<*xf32>, tensor<*xf32>)
    %nx2 = onnx.node "Neg"(%x12#1) : (tensor<*xf32>) -> tensor<*xf32>
    %rot = onnx.node "Concat"(%nx2, %x12#0) {attrs = {axis = -1 : i64}} : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %a = onnx.node "Mul"(%x, %cu) : (tensor<1x2x6x4xf32>, tensor<*xf32>) -> tensor<*xf32>
    %b = onnx.node "Mul"(%rot, %su) : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %y = onnx.node "Add"(%a, %b) : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    onnx.return %y : tensor<*xf32>
  }
}
