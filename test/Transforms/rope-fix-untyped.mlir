// rope-fix on a 1D site (a bug under qwen2-vl) whose cos/sin tables are
// unranked, so that rope-raise cannot say where their heads axis is: one
// error at the site saying why it is not raised, no crash, nothing
// rewritten.
// RUN: mrope-opt %s -verify-diagnostics --rope-fix="arch=qwen2-vl" -o %t.out

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
    // expected-error @+1 {{site /rotary/Cos: rope-fix rewrites rope.apply only, and this site is not raised: the table at rotation an unnamed Add node broadcasts over no heads axis}}
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
