// rope-raise on a site whose raised op fails the rope.apply verifier (the
// positions are [1, 8] but q is [1, 2, 16, 8]: shapes the graph itself
// contradicts): one error, naming the site, with the verifier's reason in
// it; not the verifier's line and then a second one.
// RUN: mrope-opt %s -verify-diagnostics --rope-raise -mlir-print-op-on-diagnostic=false
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @seq_mismatch(%q: tensor<?x?x?x8xf32> {onnx.name = "q"}, %k: tensor<?x?x?x8xf32> {onnx.name = "k"}, %position_ids: tensor<1x8xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.name = "yq"}, tensor<?x?x?x8xf32> {onnx.name = "yk"}) {
    %inv = onnx.node "Constant"() {attrs = {value = dense<[[1.000000e+00], [1.000000e-01], [0.00999999977], [1.000000e-03]]> : tensor<4x1xf32>}, outputs = ["inv_freq"]} : () -> tensor<4x1xf32>
    %qs = onnx.node "Identity"(%q) {outputs = ["qs"]} : (tensor<?x?x?x8xf32>) -> tensor<1x2x16x8xf32>
    %ax1 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["axes_one"]} : () -> tensor<1xi64>
    %zero = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["zero"]} : () -> tensor<1xi64>
    %half = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<1xi64>}, outputs = ["half"]} : () -> tensor<1xi64>
    %full = onnx.node "Constant"() {attrs = {value = dense<8> : tensor<1xi64>}, outputs = ["full"]} : () -> tensor<1xi64>
    %last = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %pu = onnx.node "Unsqueeze"(%position_ids, %ax1) {outputs = ["pu"]} : (tensor<1x8xi64>, tensor<1xi64>) -> tensor<?x1x?xi64>
    %pf = onnx.node "Cast"(%pu) {attrs = {to = 1 : i64}, outputs = ["pf"]} : (tensor<?x1x?xi64>) -> tensor<?x1x?xf32>
    %freqs = onnx.node "MatMul"(%inv, %pf) {outputs = ["freqs"]} : (tensor<4x1xf32>, tensor<?x1x?xf32>) -> tensor<?x4x?xf32>
    %ft = onnx.node "Transpose"(%freqs) {attrs = {perm = array<i64: 0, 2, 1>}, outputs = ["ft"]} : (tensor<?x4x?xf32>) -> tensor<?x?x4xf32>
    %emb = onnx.node "Concat"(%ft, %ft) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    %c = onnx.node "Cos"(%emb) {outputs = ["c"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %s = onnx.node "Sin"(%emb) {outputs = ["s"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %cu = onnx.node "Unsqueeze"(%c, %ax1) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %su = onnx.node "Unsqueeze"(%s, %ax1) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %q1 = onnx.node "Slice"(%qs, %zero, %half, %last) {outputs = ["q1"]} : (tensor<1x2x16x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %q2 = onnx.node "Slice"(%qs, %half, %full, %last) {outputs = ["q2"]} : (tensor<1x2x16x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %nq2 = onnx.node "Neg"(%q2) {outputs = ["nq2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %qrot = onnx.node "Concat"(%nq2, %q1) {attrs = {axis = -1 : i64}, outputs = ["qrot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %qa = onnx.node "Mul"(%qs, %cu) {outputs = ["qa"]} : (tensor<1x2x16x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %qb = onnx.node "Mul"(%qrot, %su) {outputs = ["qb"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    // expected-error @+1 {{rope-raise: the raised op of site output 'c' does not verify: 'rope.apply' op positions cover batch x seq 1x8 but the rotated tensors have 1x16}}
    %yq = onnx.node "Add"(%qa, %qb) {outputs = ["yq"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    %k1 = onnx.node "Slice"(%k, %zero, %half, %last) {outputs = ["k1"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %k2 = onnx.node "Slice"(%k, %half, %full, %last) {outputs = ["k2"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %nk2 = onnx.node "Neg"(%k2) {outputs = ["nk2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %krot = onnx.node "Concat"(%nk2, %k1) {attrs = {axis = -1 : i64}, outputs = ["krot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %ka = onnx.node "Mul"(%k, %cu) {outputs = ["ka"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %kb = onnx.node "Mul"(%krot, %su) {outputs = ["kb"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %yk = onnx.node "Add"(%ka, %kb) {outputs = ["yk"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    onnx.return %yq, %yk : tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>
  }
}
