// mrope-fix-pipeline: rope-raise -> rope-fix -> convert-rope-to-onnx on a 1D
// site under qwen2-vl: the rotations come back as ONNX nodes (plain) or
// fused ops (ort) rotating by the new [3, B, S] positions; no rope op is
// left. What each pass does on its own: rope-raise.mlir, rope-fix-apply*.mlir.
// RUN: mrope-opt %s --mrope-fix-pipeline="arch=qwen2-vl sections=1,2,1" 2>%t.remarks | FileCheck %s --check-prefix=PLAIN
// RUN: FileCheck %s --check-prefix=REMARKS < %t.remarks
// RUN: mrope-opt %s --mrope-fix-pipeline="arch=qwen2-vl sections=1,2,1 emit=ort" 2>/dev/null | FileCheck %s --check-prefix=ORT
// RUN: not mrope-opt %s --mrope-fix-pipeline="arch=qwen2-vl sections=1,2,1 emit=onnx23" 2>&1 | FileCheck %s --check-prefix=O23
// Under --arch text nothing is a bug: the site is raised and lowered back
// with its 1D semantics and the [B, S] input.
// RUN: mrope-opt %s --mrope-fix-pipeline="arch=text" 2>%t.text | FileCheck %s --check-prefix=TEXT
// RUN: FileCheck %s --check-prefix=TEXT-REMARKS < %t.text

// REMARKS: remark: rope-raise: site 0 (output 'c') raised: 2 rotation(s) in 1 rope.apply
// REMARKS: remark: fixed: site 0 (1d): M-RoPE [1, 2, 1] from input 'position_ids' [3, batch, seq] (was input 'position_ids')
// REMARKS: remark: fixed: input 'position_ids' is now int64 [3, batch, seq] (was [batch, seq])
// PLAIN-LABEL: onnx.graph @one_d
// PLAIN-SAME: %position_ids: tensor<3x?x?xi64>
// PLAIN: onnx.initializer "mrope_fix.rows" : tensor<8xi64> = dense<[0, 1, 1, 2, 0, 1, 1, 2]>
// PLAIN: onnx.node "Gather"(%position_ids
// PLAIN: onnx.node "Cos"
// PLAIN-NOT: rope.
// ORT-LABEL: onnx.graph @one_d
// ORT: onnx.node "{{M?}}RotaryEmbedding"({{.*}}domain = "com.microsoft"
// ORT-NOT: rope.
// O23: error: {{.*}}emit=onnx23 needs the model's opset to be 23 or newer
// TEXT-REMARKS: remark: rope-raise: site 0 (output 'c') raised
// TEXT-REMARKS-NOT: fixed:
// TEXT-LABEL: onnx.graph @one_d
// TEXT-SAME: %position_ids: tensor<?x?xi64>
// TEXT-NOT: rope.
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @one_d(%q: tensor<?x?x?x8xf32> {onnx.name = "q"}, %k: tensor<?x?x?x8xf32> {onnx.name = "k"}, %position_ids: tensor<?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.name = "yq"}, tensor<?x?x?x8xf32> {onnx.name = "yk"}) {
    %inv = onnx.node "Constant"() {attrs = {value = dense<[[1.000000e+00], [1.000000e-01], [0.00999999977], [1.000000e-03]]> : tensor<4x1xf32>}, outputs = ["inv_freq"]} : () -> tensor<4x1xf32>
    %ax1 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["axes_one"]} : () -> tensor<1xi64>
    %zero = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["zero"]} : () -> tensor<1xi64>
    %half = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<1xi64>}, outputs = ["half"]} : () -> tensor<1xi64>
    %full = onnx.node "Constant"() {attrs = {value = dense<8> : tensor<1xi64>}, outputs = ["full"]} : () -> tensor<1xi64>
    %last = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %pu = onnx.node "Unsqueeze"(%position_ids, %ax1) {outputs = ["pu"]} : (tensor<?x?xi64>, tensor<1xi64>) -> tensor<?x1x?xi64>
    %pf = onnx.node "Cast"(%pu) {attrs = {to = 1 : i64}, outputs = ["pf"]} : (tensor<?x1x?xi64>) -> tensor<?x1x?xf32>
    %freqs = onnx.node "MatMul"(%inv, %pf) {outputs = ["freqs"]} : (tensor<4x1xf32>, tensor<?x1x?xf32>) -> tensor<?x4x?xf32>
    %ft = onnx.node "Transpose"(%freqs) {attrs = {perm = array<i64: 0, 2, 1>}, outputs = ["ft"]} : (tensor<?x4x?xf32>) -> tensor<?x?x4xf32>
    %emb = onnx.node "Concat"(%ft, %ft) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    %c = onnx.node "Cos"(%emb) {outputs = ["c"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %s = onnx.node "Sin"(%emb) {outputs = ["s"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %cu = onnx.node "Unsqueeze"(%c, %ax1) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %su = onnx.node "Unsqueeze"(%s, %ax1) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %q1 = onnx.node "Slice"(%q, %zero, %half, %last) {outputs = ["q1"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %q2 = onnx.node "Slice"(%q, %half, %full, %last) {outputs = ["q2"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %nq2 = onnx.node "Neg"(%q2) {outputs = ["nq2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %qrot = onnx.node "Concat"(%nq2, %q1) {attrs = {axis = -1 : i64}, outputs = ["qrot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %qa = onnx.node "Mul"(%q, %cu) {outputs = ["qa"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %qb = onnx.node "Mul"(%qrot, %su) {outputs = ["qb"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
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
