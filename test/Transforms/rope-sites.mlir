// rope-classify on onnx-dialect graphs: the stock vision tower's per-axis
// table lookup, and analysis of unranked tables.
// RUN: mrope-opt %s -split-input-file -verify-diagnostics --rope-classify -o %t.out

// The stock vision tower's lookup: rows of outer(arange, inv_freq) gathered
// by stacked (h, w) pairs, flattened, doubled. The pairs are unranked (as
// shape inference leaves them), so only their Concat of two Unsqueezed
// columns says they are pairs. 2D, correct under every arch.
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @main(%x: tensor<6x2x8xf32> {onnx.name = "x"}) -> (tensor<6x2x8xf32> {onnx.name = "y"}) {
    %inv = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 0.00999999977]> : tensor<2xf32>}, outputs = ["inv_freq"]} : () -> tensor<2xf32>
    %zero = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<i64>}, outputs = ["zero"]} : () -> tensor<i64>
    %one = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<i64>}, outputs = ["one"]} : () -> tensor<i64>
    %three = onnx.node "Constant"() {attrs = {value = dense<3> : tensor<i64>}, outputs = ["three"]} : () -> tensor<i64>
    %four = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<i64>}, outputs = ["four"]} : () -> tensor<i64>
    %six = onnx.node "Constant"() {attrs = {value = dense<6> : tensor<i64>}, outputs = ["six"]} : () -> tensor<i64>
    %last = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %ax1 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["ax1"]} : () -> tensor<1xi64>
    %halves = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<2xi64>}, outputs = ["halves"]} : () -> tensor<2xi64>
    %r = onnx.node "Range"(%zero, %four, %one) {name = "/rotary/Range"} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<4xi64>
    %rf = onnx.node "Cast"(%r) {attrs = {to = 1 : i64}} : (tensor<4xi64>) -> tensor<4xf32>
    %rfu = onnx.node "Unsqueeze"(%rf, %ax1) : (tensor<4xf32>, tensor<1xi64>) -> tensor<4x1xf32>
    %table = onnx.node "Mul"(%rfu, %inv) : (tensor<4x1xf32>, tensor<2xf32>) -> tensor<4x2xf32>
    %p = onnx.node "Range"(%zero, %six, %one) {name = "/patches/Range"} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<6xi64>
    %h = onnx.node "Div"(%p, %three) : (tensor<6xi64>, tensor<i64>) -> tensor<6xi64>
    %w = onnx.node "Mod"(%p, %three) : (tensor<6xi64>, tensor<i64>) -> tensor<6xi64>
    %hu = onnx.node "Unsqueeze"(%h, %last) : (tensor<6xi64>, tensor<1xi64>) -> tensor<6x1xi64>
    %wu = onnx.node "Unsqueeze"(%w, %last) : (tensor<6xi64>, tensor<1xi64>) -> tensor<6x1xi64>
    %hw = onnx.node "Concat"(%hu, %wu) {attrs = {axis = -1 : i64}} : (tensor<6x1xi64>, tensor<6x1xi64>) -> tensor<*xi64>
    %g = onnx.node "Gather"(%table, %hw) {attrs = {axis = 0 : i64}} : (tensor<4x2xf32>, tensor<*xi64>) -> tensor<*xf32>
    %f = onnx.node "Flatten"(%g) {attrs = {axis = 1 : i64}} : (tensor<*xf32>) -> tensor<6x4xf32>
    %emb = onnx.node "Concat"(%f, %f) {attrs = {axis = -1 : i64}} : (tensor<6x4xf32>, tensor<6x4xf32>) -> tensor<6x8xf32>
    // expected-remark @+1 {{rope site: 2d [2, 2] neox, rotary_dim 8, theta 1.000000e+04, 1 rotations; ok: 2D (h, w) positions from Range /patches/Range (vision tower)}}
    %c = onnx.node "Cos"(%emb) {name = "/rotary/Cos"} : (tensor<6x8xf32>) -> tensor<6x8xf32>
    %s = onnx.node "Sin"(%emb) : (tensor<6x8xf32>) -> tensor<6x8xf32>
    %cu = onnx.node "Unsqueeze"(%c, %ax1) : (tensor<6x8xf32>, tensor<1xi64>) -> tensor<6x1x8xf32>
    %su = onnx.node "Unsqueeze"(%s, %ax1) : (tensor<6x8xf32>, tensor<1xi64>) -> tensor<6x1x8xf32>
    %x12:2 = onnx.node "Split"(%x, %halves) {attrs = {axis = -1 : i64}} : (tensor<6x2x8xf32>, tensor<2xi64>) -> (tensor<6x2x4xf32>, tensor<6x2x4xf32>)
    %nx2 = onnx.node "Neg"(%x12#1) : (tensor<6x2x4xf32>) -> tensor<6x2x4xf32>
    %rot = onnx.node "Concat"(%nx2, %x12#0) {attrs = {axis = -1 : i64}} : (tensor<6x2x4xf32>, tensor<6x2x4xf32>) -> tensor<6x2x8xf32>
    %a = onnx.node "Mul"(%x, %cu) : (tensor<6x2x8xf32>, tensor<6x1x8xf32>) -> tensor<6x2x8xf32>
    %b = onnx.node "Mul"(%rot, %su) : (tensor<6x2x8xf32>, tensor<6x1x8xf32>) -> tensor<6x2x8xf32>
    %y = onnx.node "Add"(%a, %b) : (tensor<6x2x8xf32>, tensor<6x2x8xf32>) -> tensor<6x2x8xf32>
    onnx.return %y : tensor<6x2x8xf32>
  }
}

// -----

// The same angle gathered by 1D positions [6] (no pairs): 1D, a bug under a
// Qwen VL arch. Cos/Sin tables left unranked: the analysis must not need
// their types.
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
    // expected-remark @+1 {{rope site: 1d [2] neox, rotary_dim 4, theta 1.000000e+04, 1 rotations; ok: 1D positions from input 'position_ids': right for a text model}}
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
