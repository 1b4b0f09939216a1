// rope-raise on partial rotary written in halves (the metamorphic rewrite
// rotate_half_sub on Qwen3.5): q's first 8 channels are sliced, then their
// halves; y = Concat(x1*c1 - x2*s1, x2*c2 + x1*s2). With q unranked the
// rotated tensor is the 8-channel Slice the halves are cut from, never q
// itself (whose width nobody knows: raising q would rotate 16 channels with
// 8-channel tables, and the written model would not load).
// RUN: mrope-opt %s -verify-diagnostics --rope-raise | FileCheck %s

// CHECK-LABEL: onnx.graph @halves_of_a_slice
// CHECK: %[[X:.*]] = onnx.node "Slice"(%q, {{.*}}) {outputs = ["xr"]}
// CHECK: %[[P:.*]] = onnx.node "Slice"(%q, {{.*}}) {outputs = ["xp"]}
// CHECK: %[[I:.*]] = onnx.node "Identity"(%[[X]])
// CHECK: %[[R:.*]] = rope.apply %[[I]] by %position_ids freqs %{{.*}} : tensor<?x?x?x8xf32> by tensor<?x?xi64> freqs tensor<4xf32> with #rope.semantics<sections = [4], rotary_dim = 8, theta = 1.000000e+04>
// CHECK: onnx.node "Concat"(%[[R]], %[[P]])
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @halves_of_a_slice(%q: tensor<*xf32> {onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.name = "position_ids"}) -> (tensor<*xf32> {onnx.name = "y"}) {
    %inv = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %last = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %one = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["one"]} : () -> tensor<1xi64>
    %zero = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["zero"]} : () -> tensor<1xi64>
    %four = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<1xi64>}, outputs = ["four"]} : () -> tensor<1xi64>
    %eight = onnx.node "Constant"() {attrs = {value = dense<8> : tensor<1xi64>}, outputs = ["eight"]} : () -> tensor<1xi64>
    %end = onnx.node "Constant"() {attrs = {value = dense<9223372036854775807> : tensor<1xi64>}, outputs = ["end"]} : () -> tensor<1xi64>
    %p = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<?x?xi64>) -> tensor<?x?xf32>
    %pu = onnx.node "Unsqueeze"(%p, %last) {outputs = ["pu"]} : (tensor<?x?xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %ang = onnx.node "Mul"(%pu, %inv) {outputs = ["ang"]} : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %emb = onnx.node "Concat"(%ang, %ang) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c') raised: 1 rotation(s) in 1 rope.apply}}
    %c = onnx.node "Cos"(%emb) {outputs = ["c"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %s = onnx.node "Sin"(%emb) {outputs = ["s"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %cu = onnx.node "Unsqueeze"(%c, %one) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %su = onnx.node "Unsqueeze"(%s, %one) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %c1 = onnx.node "Slice"(%cu, %zero, %four, %last) {outputs = ["c1"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %c2 = onnx.node "Slice"(%cu, %four, %eight, %last) {outputs = ["c2"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %s1 = onnx.node "Slice"(%su, %zero, %four, %last) {outputs = ["s1"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %s2 = onnx.node "Slice"(%su, %four, %eight, %last) {outputs = ["s2"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %xr = onnx.node "Slice"(%q, %zero, %eight, %last) {outputs = ["xr"]} : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
    %xp = onnx.node "Slice"(%q, %eight, %end, %last) {outputs = ["xp"]} : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
    %x1 = onnx.node "Slice"(%xr, %zero, %four, %last) {outputs = ["x1"]} : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
    %x2 = onnx.node "Slice"(%xr, %four, %end, %last) {outputs = ["x2"]} : (tensor<*xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
    %a1 = onnx.node "Mul"(%x1, %c1) {outputs = ["a1"]} : (tensor<*xf32>, tensor<?x1x?x4xf32>) -> tensor<*xf32>
    %b1 = onnx.node "Mul"(%x2, %s1) {outputs = ["b1"]} : (tensor<*xf32>, tensor<?x1x?x4xf32>) -> tensor<*xf32>
    %y1 = onnx.node "Sub"(%a1, %b1) {outputs = ["y1"]} : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %a2 = onnx.node "Mul"(%x2, %c2) {outputs = ["a2"]} : (tensor<*xf32>, tensor<?x1x?x4xf32>) -> tensor<*xf32>
    %b2 = onnx.node "Mul"(%x1, %s2) {outputs = ["b2"]} : (tensor<*xf32>, tensor<?x1x?x4xf32>) -> tensor<*xf32>
    %y2 = onnx.node "Add"(%a2, %b2) {outputs = ["y2"]} : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %rot = onnx.node "Concat"(%y1, %y2) {attrs = {axis = -1 : i64}, outputs = ["rot"]} : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    %y = onnx.node "Concat"(%rot, %xp) {attrs = {axis = -1 : i64}, outputs = ["y"]} : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
    onnx.return %y : tensor<*xf32>
  }
}
