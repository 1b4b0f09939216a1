// rope-raise: every rotation of a site becomes rope.apply on the graph's
// own positions (q and k of a layer in one op), with the graph's frequency
// table and the recovered semantics; the tables, the section merge and the
// rotation nodes go. Sites rope.apply cannot express stay as they are, with
// a remark; graphs without RoPE are not touched.
// RUN: mrope-opt %s -split-input-file -verify-diagnostics --rope-raise | FileCheck %s

// 1D RoPE of q and k (inv_freq @ positions, rotate-half by Slice/Neg/Concat):
// one op for both, positions [B, S] as the graph has them.
// CHECK-LABEL: onnx.graph @one_d
// CHECK-DAG: %[[INV:.*]] = onnx.initializer "mrope_raise.inv_freq" : tensor<4xf32> = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]>
// CHECK-NOT: onnx.node "Cos"
// CHECK-NOT: onnx.node "MatMul"
// CHECK-NOT: onnx.node "Neg"
// CHECK: %[[R:.*]]:2 = rope.apply %q, %k by %position_ids freqs %[[INV]] : tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32> by tensor<?x?xi64> freqs tensor<4xf32> with #rope.semantics<sections = [4], rotary_dim = 8, theta = 1.000000e+04> {mrope.rotations = ["output 'yq'", "output 'yk'"], mrope.site = 0 : i64}
// CHECK-NOT: onnx.node
// CHECK: onnx.return %[[R]]#0, %[[R]]#1
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
    // expected-remark @+1 {{rope-raise: site 0 (output 'c') raised: 2 rotation(s) in 1 rope.apply}}
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

// -----

// Contiguous M-RoPE with Hugging Face's section merge after Cos/Sin
// (Split, Gather of one row each, Concat): the op takes the [3, B, S]
// positions and the sections; the merge goes.
// CHECK-LABEL: onnx.graph @mrope_merge
// CHECK-NOT: onnx.node "Split"
// CHECK-NOT: onnx.node "Cos"
// CHECK: %[[R:.*]] = rope.apply %q by %position_ids freqs %{{.*}} : tensor<?x?x?x8xf32> by tensor<3x?x?xi64> freqs tensor<4xf32> with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.000000e+04> {mrope.rotations = ["output 'y'"], mrope.site = 0 : i64}
// CHECK-NEXT: onnx.return %[[R]]
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @mrope_merge(%q: tensor<?x?x?x8xf32> {onnx.name = "q"}, %position_ids: tensor<3x?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.name = "y"}) {
    %0 = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %1 = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["axes_last"]} : () -> tensor<1xi64>
    %2 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["axes_one"]} : () -> tensor<1xi64>
    %3 = onnx.node "Constant"() {attrs = {value = dense<[1, 2, 1, 1, 2, 1]> : tensor<6xi64>}, outputs = ["sizes"]} : () -> tensor<6xi64>
    %4 = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<i64>}, outputs = ["r0"]} : () -> tensor<i64>
    %5 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<i64>}, outputs = ["r1"]} : () -> tensor<i64>
    %6 = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<i64>}, outputs = ["r2"]} : () -> tensor<i64>
    %7 = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<3x?x?xi64>) -> tensor<3x?x?xf32>
    %8 = onnx.node "Unsqueeze"(%7, %1) {outputs = ["pu"]} : (tensor<3x?x?xf32>, tensor<1xi64>) -> tensor<3x?x?x1xf32>
    %9 = onnx.node "Mul"(%8, %0) {outputs = ["ang"]} : (tensor<3x?x?x1xf32>, tensor<4xf32>) -> tensor<3x?x?x4xf32>
    %10 = onnx.node "Concat"(%9, %9) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<3x?x?x4xf32>, tensor<3x?x?x4xf32>) -> tensor<3x?x?x8xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c3') raised: 1 rotation(s) in 1 rope.apply}}
    %11 = onnx.node "Cos"(%10) {outputs = ["c3"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %12 = onnx.node "Sin"(%10) {outputs = ["s3"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %13:6 = onnx.node "Split"(%11, %3) {attrs = {axis = -1 : i64}, outputs = ["c0", "c1", "c2", "c3b", "c4", "c5"]} : (tensor<3x?x?x8xf32>, tensor<6xi64>) -> (tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>)
    %14 = onnx.node "Gather"(%13#0, %4) {attrs = {axis = 0 : i64}, outputs = ["g0"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %15 = onnx.node "Gather"(%13#1, %5) {attrs = {axis = 0 : i64}, outputs = ["g1"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %16 = onnx.node "Gather"(%13#2, %6) {attrs = {axis = 0 : i64}, outputs = ["g2"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %17 = onnx.node "Gather"(%13#3, %4) {attrs = {axis = 0 : i64}, outputs = ["g3"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %18 = onnx.node "Gather"(%13#4, %5) {attrs = {axis = 0 : i64}, outputs = ["g4"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %19 = onnx.node "Gather"(%13#5, %6) {attrs = {axis = 0 : i64}, outputs = ["g5"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %20 = onnx.node "Concat"(%14, %15, %16, %17, %18, %19) {attrs = {axis = -1 : i64}, outputs = ["c"]} : (tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x8xf32>
    %21:6 = onnx.node "Split"(%12, %3) {attrs = {axis = -1 : i64}, outputs = ["s0", "s1", "s2", "s3c", "s4", "s5"]} : (tensor<3x?x?x8xf32>, tensor<6xi64>) -> (tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>)
    %22 = onnx.node "Gather"(%21#0, %4) {attrs = {axis = 0 : i64}, outputs = ["h0"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %23 = onnx.node "Gather"(%21#1, %5) {attrs = {axis = 0 : i64}, outputs = ["h1"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %24 = onnx.node "Gather"(%21#2, %6) {attrs = {axis = 0 : i64}, outputs = ["h2"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %25 = onnx.node "Gather"(%21#3, %4) {attrs = {axis = 0 : i64}, outputs = ["h3"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %26 = onnx.node "Gather"(%21#4, %5) {attrs = {axis = 0 : i64}, outputs = ["h4"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %27 = onnx.node "Gather"(%21#5, %6) {attrs = {axis = 0 : i64}, outputs = ["h5"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %28 = onnx.node "Concat"(%22, %23, %24, %25, %26, %27) {attrs = {axis = -1 : i64}, outputs = ["s"]} : (tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x8xf32>
    %29 = onnx.node "Unsqueeze"(%20, %2) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %30 = onnx.node "Unsqueeze"(%28, %2) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %31 = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<2xi64>}, outputs = ["split"]} : () -> tensor<2xi64>
    %32:2 = onnx.node "Split"(%q, %31) {attrs = {axis = -1 : i64}, outputs = ["x1", "x2"]} : (tensor<?x?x?x8xf32>, tensor<2xi64>) -> (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>)
    %33 = onnx.node "Neg"(%32#1) {outputs = ["nx2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %34 = onnx.node "Concat"(%33, %32#0) {attrs = {axis = -1 : i64}, outputs = ["rot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %35 = onnx.node "Mul"(%q, %29) {outputs = ["a"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %36 = onnx.node "Mul"(%34, %30) {outputs = ["b"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %37 = onnx.node "Add"(%35, %36) {outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    onnx.return %37 : tensor<?x?x?x8xf32>
  }
}


// -----

// Degenerate M-RoPE (three rows expanded from one [B, S] tensor): raised as
// what it computes, M-RoPE of the built rows; the rows stay.
// CHECK-LABEL: onnx.graph @degenerate
// CHECK: %[[ROWS:.*]] = onnx.node "Expand"
// CHECK-NOT: onnx.node "Cos"
// CHECK: rope.apply %q by %[[ROWS]] freqs %{{.*}} : tensor<?x?x?x8xf32> by tensor<3x?x?xi64> freqs tensor<4xf32> with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.000000e+04>
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @degenerate(%q: tensor<?x?x?x8xf32> {onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.name = "y"}) {
    %0 = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %1 = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["axes_last"]} : () -> tensor<1xi64>
    %2 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["axes_one"]} : () -> tensor<1xi64>
    %3 = onnx.node "Constant"() {attrs = {value = dense<[1, 2, 1, 1, 2, 1]> : tensor<6xi64>}, outputs = ["sizes"]} : () -> tensor<6xi64>
    %4 = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<i64>}, outputs = ["r0"]} : () -> tensor<i64>
    %5 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<i64>}, outputs = ["r1"]} : () -> tensor<i64>
    %6 = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<i64>}, outputs = ["r2"]} : () -> tensor<i64>
    %7 = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["zero"]} : () -> tensor<1xi64>
    %8 = onnx.node "Constant"() {attrs = {value = dense<[3, 1, 1]> : tensor<3xi64>}, outputs = ["shape3"]} : () -> tensor<3xi64>
    %9 = onnx.node "Unsqueeze"(%position_ids, %7) {outputs = ["pz"]} : (tensor<?x?xi64>, tensor<1xi64>) -> tensor<1x?x?xi64>
    %10 = onnx.node "Expand"(%9, %8) {outputs = ["rows"]} : (tensor<1x?x?xi64>, tensor<3xi64>) -> tensor<3x?x?xi64>
    %11 = onnx.node "Cast"(%10) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<3x?x?xi64>) -> tensor<3x?x?xf32>
    %12 = onnx.node "Unsqueeze"(%11, %1) {outputs = ["pu"]} : (tensor<3x?x?xf32>, tensor<1xi64>) -> tensor<3x?x?x1xf32>
    %13 = onnx.node "Mul"(%12, %0) {outputs = ["ang"]} : (tensor<3x?x?x1xf32>, tensor<4xf32>) -> tensor<3x?x?x4xf32>
    %14 = onnx.node "Concat"(%13, %13) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<3x?x?x4xf32>, tensor<3x?x?x4xf32>) -> tensor<3x?x?x8xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c3') raised: 1 rotation(s) in 1 rope.apply}}
    %15 = onnx.node "Cos"(%14) {outputs = ["c3"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %16 = onnx.node "Sin"(%14) {outputs = ["s3"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %17:6 = onnx.node "Split"(%15, %3) {attrs = {axis = -1 : i64}, outputs = ["c0", "c1", "c2", "c3b", "c4", "c5"]} : (tensor<3x?x?x8xf32>, tensor<6xi64>) -> (tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>)
    %18 = onnx.node "Gather"(%17#0, %4) {attrs = {axis = 0 : i64}, outputs = ["g0"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %19 = onnx.node "Gather"(%17#1, %5) {attrs = {axis = 0 : i64}, outputs = ["g1"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %20 = onnx.node "Gather"(%17#2, %6) {attrs = {axis = 0 : i64}, outputs = ["g2"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %21 = onnx.node "Gather"(%17#3, %4) {attrs = {axis = 0 : i64}, outputs = ["g3"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %22 = onnx.node "Gather"(%17#4, %5) {attrs = {axis = 0 : i64}, outputs = ["g4"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %23 = onnx.node "Gather"(%17#5, %6) {attrs = {axis = 0 : i64}, outputs = ["g5"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %24 = onnx.node "Concat"(%18, %19, %20, %21, %22, %23) {attrs = {axis = -1 : i64}, outputs = ["c"]} : (tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x8xf32>
    %25:6 = onnx.node "Split"(%16, %3) {attrs = {axis = -1 : i64}, outputs = ["s0", "s1", "s2", "s3c", "s4", "s5"]} : (tensor<3x?x?x8xf32>, tensor<6xi64>) -> (tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>)
    %26 = onnx.node "Gather"(%25#0, %4) {attrs = {axis = 0 : i64}, outputs = ["h0"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %27 = onnx.node "Gather"(%25#1, %5) {attrs = {axis = 0 : i64}, outputs = ["h1"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %28 = onnx.node "Gather"(%25#2, %6) {attrs = {axis = 0 : i64}, outputs = ["h2"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %29 = onnx.node "Gather"(%25#3, %4) {attrs = {axis = 0 : i64}, outputs = ["h3"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %30 = onnx.node "Gather"(%25#4, %5) {attrs = {axis = 0 : i64}, outputs = ["h4"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %31 = onnx.node "Gather"(%25#5, %6) {attrs = {axis = 0 : i64}, outputs = ["h5"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %32 = onnx.node "Concat"(%26, %27, %28, %29, %30, %31) {attrs = {axis = -1 : i64}, outputs = ["s"]} : (tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x8xf32>
    %33 = onnx.node "Unsqueeze"(%24, %2) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %34 = onnx.node "Unsqueeze"(%32, %2) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %35 = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<2xi64>}, outputs = ["split"]} : () -> tensor<2xi64>
    %36:2 = onnx.node "Split"(%q, %35) {attrs = {axis = -1 : i64}, outputs = ["x1", "x2"]} : (tensor<?x?x?x8xf32>, tensor<2xi64>) -> (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>)
    %37 = onnx.node "Neg"(%36#1) {outputs = ["nx2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %38 = onnx.node "Concat"(%37, %36#0) {attrs = {axis = -1 : i64}, outputs = ["rot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %39 = onnx.node "Mul"(%q, %33) {outputs = ["a"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %40 = onnx.node "Mul"(%38, %34) {outputs = ["b"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %41 = onnx.node "Add"(%39, %40) {outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    onnx.return %41 : tensor<?x?x?x8xf32>
  }
}


// -----

// Decoy: the rotation takes the cos table of the first token only (a Slice
// along the sequence, which rope.apply does not say): left exactly as it is.
// CHECK-LABEL: onnx.graph @sliced_table
// CHECK-NOT: rope.apply
// CHECK: onnx.node "Cos"
// CHECK: onnx.node "Slice"
// CHECK: onnx.node "Add"
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @sliced_table(%q: tensor<?x?x?x8xf32> {onnx.name = "q"}, %position_ids: tensor<3x?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.name = "y"}) {
    %0 = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %1 = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["axes_last"]} : () -> tensor<1xi64>
    %2 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["axes_one"]} : () -> tensor<1xi64>
    %3 = onnx.node "Constant"() {attrs = {value = dense<[1, 2, 1, 1, 2, 1]> : tensor<6xi64>}, outputs = ["sizes"]} : () -> tensor<6xi64>
    %4 = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<i64>}, outputs = ["r0"]} : () -> tensor<i64>
    %5 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<i64>}, outputs = ["r1"]} : () -> tensor<i64>
    %6 = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<i64>}, outputs = ["r2"]} : () -> tensor<i64>
    %7 = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<3x?x?xi64>) -> tensor<3x?x?xf32>
    %8 = onnx.node "Unsqueeze"(%7, %1) {outputs = ["pu"]} : (tensor<3x?x?xf32>, tensor<1xi64>) -> tensor<3x?x?x1xf32>
    %9 = onnx.node "Mul"(%8, %0) {outputs = ["ang"]} : (tensor<3x?x?x1xf32>, tensor<4xf32>) -> tensor<3x?x?x4xf32>
    %10 = onnx.node "Concat"(%9, %9) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<3x?x?x4xf32>, tensor<3x?x?x4xf32>) -> tensor<3x?x?x8xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c3') left as is: the table reaches the rotation through Slice node output 'cs', which rope.apply does not express}}
    %11 = onnx.node "Cos"(%10) {outputs = ["c3"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %12 = onnx.node "Sin"(%10) {outputs = ["s3"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %13:6 = onnx.node "Split"(%11, %3) {attrs = {axis = -1 : i64}, outputs = ["c0", "c1", "c2", "c3b", "c4", "c5"]} : (tensor<3x?x?x8xf32>, tensor<6xi64>) -> (tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>)
    %14 = onnx.node "Gather"(%13#0, %4) {attrs = {axis = 0 : i64}, outputs = ["g0"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %15 = onnx.node "Gather"(%13#1, %5) {attrs = {axis = 0 : i64}, outputs = ["g1"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %16 = onnx.node "Gather"(%13#2, %6) {attrs = {axis = 0 : i64}, outputs = ["g2"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %17 = onnx.node "Gather"(%13#3, %4) {attrs = {axis = 0 : i64}, outputs = ["g3"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %18 = onnx.node "Gather"(%13#4, %5) {attrs = {axis = 0 : i64}, outputs = ["g4"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %19 = onnx.node "Gather"(%13#5, %6) {attrs = {axis = 0 : i64}, outputs = ["g5"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %20 = onnx.node "Concat"(%14, %15, %16, %17, %18, %19) {attrs = {axis = -1 : i64}, outputs = ["c"]} : (tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x8xf32>
    %21:6 = onnx.node "Split"(%12, %3) {attrs = {axis = -1 : i64}, outputs = ["s0", "s1", "s2", "s3c", "s4", "s5"]} : (tensor<3x?x?x8xf32>, tensor<6xi64>) -> (tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>)
    %22 = onnx.node "Gather"(%21#0, %4) {attrs = {axis = 0 : i64}, outputs = ["h0"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %23 = onnx.node "Gather"(%21#1, %5) {attrs = {axis = 0 : i64}, outputs = ["h1"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %24 = onnx.node "Gather"(%21#2, %6) {attrs = {axis = 0 : i64}, outputs = ["h2"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %25 = onnx.node "Gather"(%21#3, %4) {attrs = {axis = 0 : i64}, outputs = ["h3"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %26 = onnx.node "Gather"(%21#4, %5) {attrs = {axis = 0 : i64}, outputs = ["h4"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %27 = onnx.node "Gather"(%21#5, %6) {attrs = {axis = 0 : i64}, outputs = ["h5"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %28 = onnx.node "Concat"(%22, %23, %24, %25, %26, %27) {attrs = {axis = -1 : i64}, outputs = ["s"]} : (tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x8xf32>
    %r0s = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["r0s"]} : () -> tensor<1xi64>
    %r1s = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["r1s"]} : () -> tensor<1xi64>
    %cs = onnx.node "Slice"(%20, %r0s, %r1s, %r1s) {outputs = ["cs"]} : (tensor<?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x8xf32>
    %29 = onnx.node "Unsqueeze"(%cs, %2) {outputs = ["cu"]} : (tensor<?x1x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %30 = onnx.node "Unsqueeze"(%28, %2) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %31 = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<2xi64>}, outputs = ["split"]} : () -> tensor<2xi64>
    %32:2 = onnx.node "Split"(%q, %31) {attrs = {axis = -1 : i64}, outputs = ["x1", "x2"]} : (tensor<?x?x?x8xf32>, tensor<2xi64>) -> (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>)
    %33 = onnx.node "Neg"(%32#1) {outputs = ["nx2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %34 = onnx.node "Concat"(%33, %32#0) {attrs = {axis = -1 : i64}, outputs = ["rot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %35 = onnx.node "Mul"(%q, %29) {outputs = ["a"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %36 = onnx.node "Mul"(%34, %30) {outputs = ["b"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %37 = onnx.node "Add"(%35, %36) {outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    onnx.return %37 : tensor<?x?x?x8xf32>
  }
}


// -----

// Decoy: x * cos - rotate(x) * sin (the other sign): left as it is.
// CHECK-LABEL: onnx.graph @sub_combine
// CHECK-NOT: rope.apply
// CHECK: onnx.node "Sub"
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @sub_combine(%q: tensor<?x?x?x8xf32> {onnx.name = "q"}, %position_ids: tensor<3x?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.name = "y"}) {
    %0 = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %1 = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["axes_last"]} : () -> tensor<1xi64>
    %2 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["axes_one"]} : () -> tensor<1xi64>
    %3 = onnx.node "Constant"() {attrs = {value = dense<[1, 2, 1, 1, 2, 1]> : tensor<6xi64>}, outputs = ["sizes"]} : () -> tensor<6xi64>
    %4 = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<i64>}, outputs = ["r0"]} : () -> tensor<i64>
    %5 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<i64>}, outputs = ["r1"]} : () -> tensor<i64>
    %6 = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<i64>}, outputs = ["r2"]} : () -> tensor<i64>
    %7 = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<3x?x?xi64>) -> tensor<3x?x?xf32>
    %8 = onnx.node "Unsqueeze"(%7, %1) {outputs = ["pu"]} : (tensor<3x?x?xf32>, tensor<1xi64>) -> tensor<3x?x?x1xf32>
    %9 = onnx.node "Mul"(%8, %0) {outputs = ["ang"]} : (tensor<3x?x?x1xf32>, tensor<4xf32>) -> tensor<3x?x?x4xf32>
    %10 = onnx.node "Concat"(%9, %9) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<3x?x?x4xf32>, tensor<3x?x?x4xf32>) -> tensor<3x?x?x8xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c3') left as is: rotation output 'y' is not provably x * cos + rotate(x) * sin: it rotates the other way, x * cos - rotate(x) * sin (rope.apply rotates by +angle)}}
    %11 = onnx.node "Cos"(%10) {outputs = ["c3"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %12 = onnx.node "Sin"(%10) {outputs = ["s3"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %13:6 = onnx.node "Split"(%11, %3) {attrs = {axis = -1 : i64}, outputs = ["c0", "c1", "c2", "c3b", "c4", "c5"]} : (tensor<3x?x?x8xf32>, tensor<6xi64>) -> (tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>)
    %14 = onnx.node "Gather"(%13#0, %4) {attrs = {axis = 0 : i64}, outputs = ["g0"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %15 = onnx.node "Gather"(%13#1, %5) {attrs = {axis = 0 : i64}, outputs = ["g1"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %16 = onnx.node "Gather"(%13#2, %6) {attrs = {axis = 0 : i64}, outputs = ["g2"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %17 = onnx.node "Gather"(%13#3, %4) {attrs = {axis = 0 : i64}, outputs = ["g3"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %18 = onnx.node "Gather"(%13#4, %5) {attrs = {axis = 0 : i64}, outputs = ["g4"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %19 = onnx.node "Gather"(%13#5, %6) {attrs = {axis = 0 : i64}, outputs = ["g5"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %20 = onnx.node "Concat"(%14, %15, %16, %17, %18, %19) {attrs = {axis = -1 : i64}, outputs = ["c"]} : (tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x8xf32>
    %21:6 = onnx.node "Split"(%12, %3) {attrs = {axis = -1 : i64}, outputs = ["s0", "s1", "s2", "s3c", "s4", "s5"]} : (tensor<3x?x?x8xf32>, tensor<6xi64>) -> (tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>)
    %22 = onnx.node "Gather"(%21#0, %4) {attrs = {axis = 0 : i64}, outputs = ["h0"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %23 = onnx.node "Gather"(%21#1, %5) {attrs = {axis = 0 : i64}, outputs = ["h1"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %24 = onnx.node "Gather"(%21#2, %6) {attrs = {axis = 0 : i64}, outputs = ["h2"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %25 = onnx.node "Gather"(%21#3, %4) {attrs = {axis = 0 : i64}, outputs = ["h3"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %26 = onnx.node "Gather"(%21#4, %5) {attrs = {axis = 0 : i64}, outputs = ["h4"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %27 = onnx.node "Gather"(%21#5, %6) {attrs = {axis = 0 : i64}, outputs = ["h5"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %28 = onnx.node "Concat"(%22, %23, %24, %25, %26, %27) {attrs = {axis = -1 : i64}, outputs = ["s"]} : (tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x8xf32>
    %29 = onnx.node "Unsqueeze"(%20, %2) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %30 = onnx.node "Unsqueeze"(%28, %2) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %31 = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<2xi64>}, outputs = ["split"]} : () -> tensor<2xi64>
    %32:2 = onnx.node "Split"(%q, %31) {attrs = {axis = -1 : i64}, outputs = ["x1", "x2"]} : (tensor<?x?x?x8xf32>, tensor<2xi64>) -> (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>)
    %33 = onnx.node "Neg"(%32#1) {outputs = ["nx2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %34 = onnx.node "Concat"(%33, %32#0) {attrs = {axis = -1 : i64}, outputs = ["rot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %35 = onnx.node "Mul"(%q, %29) {outputs = ["a"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %36 = onnx.node "Mul"(%34, %30) {outputs = ["b"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %37 = onnx.node "Sub"(%35, %36) {outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    onnx.return %37 : tensor<?x?x?x8xf32>
  }
}


// -----

// Decoy: absolute sinusoidal embeddings added to the input: no site, no
// remark, nothing changes.
// CHECK-LABEL: onnx.graph @absolute
// CHECK-NOT: rope.apply
// CHECK: onnx.node "Cos"
// CHECK: onnx.node "Sin"
// CHECK: onnx.node "Add"(%x
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @absolute(%x: tensor<?x?x8xf32> {onnx.name = "x"}, %position_ids: tensor<?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x8xf32> {onnx.name = "y"}) {
    %0 = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %1 = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["axes_last"]} : () -> tensor<1xi64>
    %2 = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<?x?xi64>) -> tensor<?x?xf32>
    %3 = onnx.node "Unsqueeze"(%2, %1) {outputs = ["pu"]} : (tensor<?x?xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %4 = onnx.node "Mul"(%3, %0) {outputs = ["ang"]} : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %5 = onnx.node "Cos"(%4) {outputs = ["c"]} : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32>
    %6 = onnx.node "Sin"(%4) {outputs = ["s"]} : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32>
    %7 = onnx.node "Concat"(%6, %5) {attrs = {axis = -1 : i64}, outputs = ["pe"]} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    %8 = onnx.node "Add"(%x, %7) {outputs = ["y"]} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    onnx.return %8 : tensor<?x?x8xf32>
  }
}


// -----

// GPT-NeoX-style constant caches gathered by position, rotating q laid out
// [B, S, H, D] (the table broadcast as [B, S, 1, R]): the op rotates by the
// Gather's indices, recomputing the caches (every row is cos/sin of the f32
// angle), with q transposed to [B, H, S, D] and back.
// CHECK-LABEL: onnx.graph @cache_bshd
// CHECK-NOT: onnx.node "Gather"
// CHECK: %[[T:.*]] = onnx.node "Transpose"(%q) {attrs = {perm = array<i64: 0, 2, 1, 3>}{{.*}} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
// CHECK: %[[R:.*]] = rope.apply %[[T]] by %position_ids freqs %{{.*}} : tensor<?x?x?x4xf32> by tensor<?x?xi64> freqs tensor<2xf32> with #rope.semantics<sections = [2], rotary_dim = 4, theta = 1.000000e+04> {mrope.rotations = ["output 'y'"], mrope.site = 0 : i64}
// CHECK: %[[B:.*]] = onnx.node "Transpose"(%[[R]]) {attrs = {perm = array<i64: 0, 2, 1, 3>}
// CHECK: onnx.return %[[B]]
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @cache_bshd(%q: tensor<?x?x?x4xf32> {onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x4xf32> {onnx.name = "y"}) {
    %cos_cache = onnx.initializer "cos_cached" : tensor<4x4xf32> = dense<[[1.0, 1.0, 1.0, 1.0], [0.540302277, 0.999949992, 0.540302277, 0.999949992], [-0.416146845, 0.999800026, -0.416146845, 0.999800026], [-0.989992499, 0.999550045, -0.989992499, 0.999550045]]>
    %sin_cache = onnx.initializer "sin_cached" : tensor<4x4xf32> = dense<[[0.0, 0.0, 0.0, 0.0], [0.841470957, 0.00999983307, 0.841470957, 0.00999983307], [0.909297407, 0.0199986659, 0.909297407, 0.0199986659], [0.141120002, 0.0299954992, 0.141120002, 0.0299954992]]>
    %ax2 = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<1xi64>}, outputs = ["ax2"]} : () -> tensor<1xi64>
    %halves = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<2xi64>}, outputs = ["halves"]} : () -> tensor<2xi64>
    // expected-remark @+1 {{in 1 rope.apply, 12 node(s) removed; the constant caches are recomputed from the frequencies}}
    %c = onnx.node "Gather"(%cos_cache, %position_ids) {attrs = {axis = 0 : i64}, outputs = ["c"]} : (tensor<4x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
    %s = onnx.node "Gather"(%sin_cache, %position_ids) {attrs = {axis = 0 : i64}, outputs = ["s"]} : (tensor<4x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
    %cu = onnx.node "Unsqueeze"(%c, %ax2) {outputs = ["cu"]} : (tensor<?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x1x4xf32>
    %su = onnx.node "Unsqueeze"(%s, %ax2) {outputs = ["su"]} : (tensor<?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x1x4xf32>
    %x12:2 = onnx.node "Split"(%q, %halves) {attrs = {axis = -1 : i64}, outputs = ["x1", "x2"]} : (tensor<?x?x?x4xf32>, tensor<2xi64>) -> (tensor<?x?x?x2xf32>, tensor<?x?x?x2xf32>)
    %nx2 = onnx.node "Neg"(%x12#1) {outputs = ["nx2"]} : (tensor<?x?x?x2xf32>) -> tensor<?x?x?x2xf32>
    %rot = onnx.node "Concat"(%nx2, %x12#0) {attrs = {axis = -1 : i64}, outputs = ["rot"]} : (tensor<?x?x?x2xf32>, tensor<?x?x?x2xf32>) -> tensor<?x?x?x4xf32>
    %a = onnx.node "Mul"(%q, %cu) {outputs = ["a"]} : (tensor<?x?x?x4xf32>, tensor<?x?x1x4xf32>) -> tensor<?x?x?x4xf32>
    %b = onnx.node "Mul"(%rot, %su) {outputs = ["b"]} : (tensor<?x?x?x4xf32>, tensor<?x?x1x4xf32>) -> tensor<?x?x?x4xf32>
    %y = onnx.node "Add"(%a, %b) {outputs = ["y"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    onnx.return %y : tensor<?x?x?x4xf32>
  }
}

// -----

// Decoy: the same caches with one entry of row 3 off by 1e-3 (not what
// recomputing from the frequencies gives): left as it is.
// CHECK-LABEL: onnx.graph @cache_mismatch
// CHECK-NOT: rope.apply
// CHECK: onnx.node "Gather"
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @cache_mismatch(%q: tensor<?x?x?x4xf32> {onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x4xf32> {onnx.name = "y"}) {
    %cos_cache = onnx.initializer "cos_cached" : tensor<4x4xf32> = dense<[[1.0, 1.0, 1.0, 1.0], [0.540302277, 0.999949992, 0.540302277, 0.999949992], [-0.416146845, 0.999800026, -0.416146845, 0.999800026], [-0.988992499, 0.999550045, -0.989992499, 0.999550045]]>
    %sin_cache = onnx.initializer "sin_cached" : tensor<4x4xf32> = dense<[[0.0, 0.0, 0.0, 0.0], [0.841470957, 0.00999983307, 0.841470957, 0.00999983307], [0.909297407, 0.0199986659, 0.909297407, 0.0199986659], [0.141120002, 0.0299954992, 0.141120002, 0.0299954992]]>
    %ax1 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["ax1"]} : () -> tensor<1xi64>
    %halves = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<2xi64>}, outputs = ["halves"]} : () -> tensor<2xi64>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c') left as is: row 3 of its cos cache is not the f32 angle's value}}
    %c = onnx.node "Gather"(%cos_cache, %position_ids) {attrs = {axis = 0 : i64}, outputs = ["c"]} : (tensor<4x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
    %s = onnx.node "Gather"(%sin_cache, %position_ids) {attrs = {axis = 0 : i64}, outputs = ["s"]} : (tensor<4x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
    %cu = onnx.node "Unsqueeze"(%c, %ax1) {outputs = ["cu"]} : (tensor<?x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %su = onnx.node "Unsqueeze"(%s, %ax1) {outputs = ["su"]} : (tensor<?x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %x12:2 = onnx.node "Split"(%q, %halves) {attrs = {axis = -1 : i64}, outputs = ["x1", "x2"]} : (tensor<?x?x?x4xf32>, tensor<2xi64>) -> (tensor<?x?x?x2xf32>, tensor<?x?x?x2xf32>)
    %nx2 = onnx.node "Neg"(%x12#1) {outputs = ["nx2"]} : (tensor<?x?x?x2xf32>) -> tensor<?x?x?x2xf32>
    %rot = onnx.node "Concat"(%nx2, %x12#0) {attrs = {axis = -1 : i64}, outputs = ["rot"]} : (tensor<?x?x?x2xf32>, tensor<?x?x?x2xf32>) -> tensor<?x?x?x4xf32>
    %a = onnx.node "Mul"(%q, %cu) {outputs = ["a"]} : (tensor<?x?x?x4xf32>, tensor<?x1x?x4xf32>) -> tensor<?x?x?x4xf32>
    %b = onnx.node "Mul"(%rot, %su) {outputs = ["b"]} : (tensor<?x?x?x4xf32>, tensor<?x1x?x4xf32>) -> tensor<?x?x?x4xf32>
    %y = onnx.node "Add"(%a, %b) {outputs = ["y"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    onnx.return %y : tensor<?x?x?x4xf32>
  }
}

// -----

// The stock vision tower: rows of a per-axis table gathered by (h, w)
// pairs (unranked), rotating x [tokens, heads, dim]. The pairs become
// [2, 1, N] positions, x [1, H, N, D] and back; per-section frequencies.
// CHECK-LABEL: onnx.graph @vision
// CHECK: %[[HW:.*]] = onnx.node "Concat"
// CHECK: %[[ROWS:.*]] = onnx.node "Transpose"(%[[HW]]) {attrs = {perm = array<i64: 1, 0>}{{.*}} : (tensor<*xi64>) -> tensor<2x?xi64>
// CHECK: %[[POS:.*]] = onnx.node "Unsqueeze"(%[[ROWS]], %{{.*}}) {{.*}} -> tensor<2x1x?xi64>
// CHECK-NOT: onnx.node "Cos"
// CHECK: %[[XT:.*]] = onnx.node "Transpose"(%x) {attrs = {perm = array<i64: 1, 0, 2>}{{.*}} -> tensor<2x6x8xf32>
// CHECK: %[[X4:.*]] = onnx.node "Unsqueeze"(%[[XT]], %{{.*}}) {{.*}} -> tensor<1x2x6x8xf32>
// CHECK: %[[R:.*]] = rope.apply %[[X4]] by %[[POS]] freqs %{{.*}} : tensor<1x2x6x8xf32> by tensor<2x1x?xi64> freqs tensor<2xf32> with #rope.semantics<sections = [2, 2], rotary_dim = 8, theta = 1.000000e+04, freqs = per_section> {mrope.rotations = [{{.*}}], mrope.site = 0 : i64, mrope.vision}
// CHECK: %[[SQ:.*]] = onnx.node "Squeeze"(%[[R]], %{{.*}}) {{.*}} -> tensor<2x6x8xf32>
// CHECK: %[[Y:.*]] = onnx.node "Transpose"(%[[SQ]]) {attrs = {perm = array<i64: 1, 0, 2>}{{.*}} -> tensor<6x2x8xf32>
// CHECK: onnx.return %[[Y]]
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @vision(%x: tensor<6x2x8xf32> {onnx.name = "x"}) -> (tensor<6x2x8xf32> {onnx.name = "y"}) {
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
    // expected-remark @+1 {{rope-raise: site 0 (/rotary/Cos) raised: 1 rotation(s) in 1 rope.apply}}
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

// Positions from a Range over the sequence ([S], one sequence for the whole
// batch): given to the op as [1, S] expanded to the batch of q, [B, S].
// Two layers: q and k of the first share
// an op; the second layer's q is computed from the first layer's output, so
// it gets an op of its own.
// CHECK-LABEL: onnx.graph @range_two_layers
// CHECK: %[[RANGE:.*]] = onnx.node "Range"
// CHECK-NEXT: %[[ROW:.*]] = onnx.node "Unsqueeze"(%[[RANGE]], %{{.*}}) {name = "mrope_raise/site_0/Unsqueeze"} : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
// CHECK: %[[SHAPE:.*]] = onnx.node "Shape"(%q)
// CHECK-NEXT: %[[B:.*]] = onnx.node "Gather"(%[[SHAPE]], %mrope_raise.batch_axis)
// CHECK-NEXT: %[[BS:.*]] = onnx.node "Concat"(%[[B]], %mrope_raise.one)
// CHECK-NEXT: %[[POS:.*]] = onnx.node "Expand"(%[[ROW]], %[[BS]]) {{.*}} -> tensor<1x?xi64>
// CHECK: %[[L0:.*]]:2 = rope.apply %q, %k by %[[POS]] freqs %[[INV:.*]] : tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32> by tensor<1x?xi64> freqs tensor<2xf32> with #rope.semantics<sections = [2], rotary_dim = 4, theta = 1.000000e+04> {mrope.rotations = ["output 'yq'", "output 'yk'"], mrope.site = 0 : i64}
// CHECK: %[[Q2:.*]] = onnx.node "Add"(%[[L0]]#0, %[[L0]]#1)
// CHECK: %[[L1:.*]] = rope.apply %[[Q2]] by %[[POS]] freqs %[[INV]] : tensor<1x2x?x4xf32> by tensor<1x?xi64> freqs tensor<2xf32> with #rope.semantics<sections = [2], rotary_dim = 4, theta = 1.000000e+04> {mrope.rotations = ["output 'y2'"], mrope.site = 0 : i64}
// CHECK: onnx.return %[[L1]]
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @range_two_layers(%q: tensor<1x2x?x4xf32> {onnx.name = "q"}, %k: tensor<1x2x?x4xf32> {onnx.name = "k"}) -> (tensor<1x2x?x4xf32> {onnx.name = "y2"}) {
    %inv = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 0.00999999977]> : tensor<2xf32>}, outputs = ["inv_freq"]} : () -> tensor<2xf32>
    %zero = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<i64>}, outputs = ["zero"]} : () -> tensor<i64>
    %one = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<i64>}, outputs = ["one"]} : () -> tensor<i64>
    %two = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<i64>}, outputs = ["two"]} : () -> tensor<i64>
    %last = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %ax0 = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["ax0"]} : () -> tensor<1xi64>
    %halves = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<2xi64>}, outputs = ["halves"]} : () -> tensor<2xi64>
    %shape = onnx.node "Shape"(%q) {outputs = ["shape"]} : (tensor<1x2x?x4xf32>) -> tensor<4xi64>
    %seq = onnx.node "Gather"(%shape, %two) {attrs = {axis = 0 : i64}, outputs = ["seq"]} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
    %r = onnx.node "Range"(%zero, %seq, %one) {outputs = ["r"]} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
    %rf = onnx.node "Cast"(%r) {attrs = {to = 1 : i64}, outputs = ["rf"]} : (tensor<?xi64>) -> tensor<?xf32>
    %ru = onnx.node "Unsqueeze"(%rf, %last) {outputs = ["ru"]} : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
    %ang = onnx.node "Mul"(%ru, %inv) {outputs = ["ang"]} : (tensor<?x1xf32>, tensor<2xf32>) -> tensor<?x2xf32>
    %emb = onnx.node "Concat"(%ang, %ang) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x4xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c') raised: 3 rotation(s) in 2 rope.apply}}
    %c = onnx.node "Cos"(%emb) {outputs = ["c"]} : (tensor<?x4xf32>) -> tensor<?x4xf32>
    %s = onnx.node "Sin"(%emb) {outputs = ["s"]} : (tensor<?x4xf32>) -> tensor<?x4xf32>
    %c1 = onnx.node "Unsqueeze"(%c, %ax0) {outputs = ["c1"]} : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<1x?x4xf32>
    %s1 = onnx.node "Unsqueeze"(%s, %ax0) {outputs = ["s1"]} : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<1x?x4xf32>
    %cu = onnx.node "Unsqueeze"(%c1, %ax0) {outputs = ["cu"]} : (tensor<1x?x4xf32>, tensor<1xi64>) -> tensor<1x1x?x4xf32>
    %su = onnx.node "Unsqueeze"(%s1, %ax0) {outputs = ["su"]} : (tensor<1x?x4xf32>, tensor<1xi64>) -> tensor<1x1x?x4xf32>
    %q12:2 = onnx.node "Split"(%q, %halves) {attrs = {axis = -1 : i64}, outputs = ["q1", "q2"]} : (tensor<1x2x?x4xf32>, tensor<2xi64>) -> (tensor<1x2x?x2xf32>, tensor<1x2x?x2xf32>)
    %nq2 = onnx.node "Neg"(%q12#1) {outputs = ["nq2"]} : (tensor<1x2x?x2xf32>) -> tensor<1x2x?x2xf32>
    %qrot = onnx.node "Concat"(%nq2, %q12#0) {attrs = {axis = -1 : i64}, outputs = ["qrot"]} : (tensor<1x2x?x2xf32>, tensor<1x2x?x2xf32>) -> tensor<1x2x?x4xf32>
    %qa = onnx.node "Mul"(%q, %cu) {outputs = ["qa"]} : (tensor<1x2x?x4xf32>, tensor<1x1x?x4xf32>) -> tensor<1x2x?x4xf32>
    %qb = onnx.node "Mul"(%qrot, %su) {outputs = ["qb"]} : (tensor<1x2x?x4xf32>, tensor<1x1x?x4xf32>) -> tensor<1x2x?x4xf32>
    %yq = onnx.node "Add"(%qa, %qb) {outputs = ["yq"]} : (tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
    %k12:2 = onnx.node "Split"(%k, %halves) {attrs = {axis = -1 : i64}, outputs = ["k1", "k2"]} : (tensor<1x2x?x4xf32>, tensor<2xi64>) -> (tensor<1x2x?x2xf32>, tensor<1x2x?x2xf32>)
    %nk2 = onnx.node "Neg"(%k12#1) {outputs = ["nk2"]} : (tensor<1x2x?x2xf32>) -> tensor<1x2x?x2xf32>
    %krot = onnx.node "Concat"(%nk2, %k12#0) {attrs = {axis = -1 : i64}, outputs = ["krot"]} : (tensor<1x2x?x2xf32>, tensor<1x2x?x2xf32>) -> tensor<1x2x?x4xf32>
    %ka = onnx.node "Mul"(%k, %cu) {outputs = ["ka"]} : (tensor<1x2x?x4xf32>, tensor<1x1x?x4xf32>) -> tensor<1x2x?x4xf32>
    %kb = onnx.node "Mul"(%krot, %su) {outputs = ["kb"]} : (tensor<1x2x?x4xf32>, tensor<1x1x?x4xf32>) -> tensor<1x2x?x4xf32>
    %yk = onnx.node "Add"(%ka, %kb) {outputs = ["yk"]} : (tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
    %h = onnx.node "Add"(%yq, %yk) {outputs = ["h"]} : (tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
    %h12:2 = onnx.node "Split"(%h, %halves) {attrs = {axis = -1 : i64}, outputs = ["h1", "h2"]} : (tensor<1x2x?x4xf32>, tensor<2xi64>) -> (tensor<1x2x?x2xf32>, tensor<1x2x?x2xf32>)
    %nh2 = onnx.node "Neg"(%h12#1) {outputs = ["nh2"]} : (tensor<1x2x?x2xf32>) -> tensor<1x2x?x2xf32>
    %hrot = onnx.node "Concat"(%nh2, %h12#0) {attrs = {axis = -1 : i64}, outputs = ["hrot"]} : (tensor<1x2x?x2xf32>, tensor<1x2x?x2xf32>) -> tensor<1x2x?x4xf32>
    %ha = onnx.node "Mul"(%h, %cu) {outputs = ["ha"]} : (tensor<1x2x?x4xf32>, tensor<1x1x?x4xf32>) -> tensor<1x2x?x4xf32>
    %hb = onnx.node "Mul"(%hrot, %su) {outputs = ["hb"]} : (tensor<1x2x?x4xf32>, tensor<1x1x?x4xf32>) -> tensor<1x2x?x4xf32>
    %y2 = onnx.node "Add"(%ha, %hb) {outputs = ["y2"]} : (tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
    onnx.return %y2 : tensor<1x2x?x4xf32>
  }
}

// -----

// Decoy: Concat(x2, -x1), the rotation the other way round (rope.apply
// rotates by +angle): left as it is.
// CHECK-LABEL: onnx.graph @other_direction
// CHECK-NOT: rope.apply
// CHECK: onnx.node "Cos"
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @other_direction(%q: tensor<?x?x?x8xf32> {onnx.name = "q"}, %position_ids: tensor<3x?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.name = "y"}) {
    %0 = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %1 = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["axes_last"]} : () -> tensor<1xi64>
    %2 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["axes_one"]} : () -> tensor<1xi64>
    %3 = onnx.node "Constant"() {attrs = {value = dense<[1, 2, 1, 1, 2, 1]> : tensor<6xi64>}, outputs = ["sizes"]} : () -> tensor<6xi64>
    %4 = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<i64>}, outputs = ["r0"]} : () -> tensor<i64>
    %5 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<i64>}, outputs = ["r1"]} : () -> tensor<i64>
    %6 = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<i64>}, outputs = ["r2"]} : () -> tensor<i64>
    %7 = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<3x?x?xi64>) -> tensor<3x?x?xf32>
    %8 = onnx.node "Unsqueeze"(%7, %1) {outputs = ["pu"]} : (tensor<3x?x?xf32>, tensor<1xi64>) -> tensor<3x?x?x1xf32>
    %9 = onnx.node "Mul"(%8, %0) {outputs = ["ang"]} : (tensor<3x?x?x1xf32>, tensor<4xf32>) -> tensor<3x?x?x4xf32>
    %10 = onnx.node "Concat"(%9, %9) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<3x?x?x4xf32>, tensor<3x?x?x4xf32>) -> tensor<3x?x?x8xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c3') left as is: rotation output 'y' is not provably x * cos + rotate(x) * sin: it rotates the other way, x * cos - rotate(x) * sin (rope.apply rotates by +angle)}}
    %11 = onnx.node "Cos"(%10) {outputs = ["c3"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %12 = onnx.node "Sin"(%10) {outputs = ["s3"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %13:6 = onnx.node "Split"(%11, %3) {attrs = {axis = -1 : i64}, outputs = ["c0", "c1", "c2", "c3b", "c4", "c5"]} : (tensor<3x?x?x8xf32>, tensor<6xi64>) -> (tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>)
    %14 = onnx.node "Gather"(%13#0, %4) {attrs = {axis = 0 : i64}, outputs = ["g0"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %15 = onnx.node "Gather"(%13#1, %5) {attrs = {axis = 0 : i64}, outputs = ["g1"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %16 = onnx.node "Gather"(%13#2, %6) {attrs = {axis = 0 : i64}, outputs = ["g2"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %17 = onnx.node "Gather"(%13#3, %4) {attrs = {axis = 0 : i64}, outputs = ["g3"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %18 = onnx.node "Gather"(%13#4, %5) {attrs = {axis = 0 : i64}, outputs = ["g4"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %19 = onnx.node "Gather"(%13#5, %6) {attrs = {axis = 0 : i64}, outputs = ["g5"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %20 = onnx.node "Concat"(%14, %15, %16, %17, %18, %19) {attrs = {axis = -1 : i64}, outputs = ["c"]} : (tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x8xf32>
    %21:6 = onnx.node "Split"(%12, %3) {attrs = {axis = -1 : i64}, outputs = ["s0", "s1", "s2", "s3c", "s4", "s5"]} : (tensor<3x?x?x8xf32>, tensor<6xi64>) -> (tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>)
    %22 = onnx.node "Gather"(%21#0, %4) {attrs = {axis = 0 : i64}, outputs = ["h0"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %23 = onnx.node "Gather"(%21#1, %5) {attrs = {axis = 0 : i64}, outputs = ["h1"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %24 = onnx.node "Gather"(%21#2, %6) {attrs = {axis = 0 : i64}, outputs = ["h2"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %25 = onnx.node "Gather"(%21#3, %4) {attrs = {axis = 0 : i64}, outputs = ["h3"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %26 = onnx.node "Gather"(%21#4, %5) {attrs = {axis = 0 : i64}, outputs = ["h4"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %27 = onnx.node "Gather"(%21#5, %6) {attrs = {axis = 0 : i64}, outputs = ["h5"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %28 = onnx.node "Concat"(%22, %23, %24, %25, %26, %27) {attrs = {axis = -1 : i64}, outputs = ["s"]} : (tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x8xf32>
    %29 = onnx.node "Unsqueeze"(%20, %2) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %30 = onnx.node "Unsqueeze"(%28, %2) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %31 = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<2xi64>}, outputs = ["split"]} : () -> tensor<2xi64>
    %32:2 = onnx.node "Split"(%q, %31) {attrs = {axis = -1 : i64}, outputs = ["x1", "x2"]} : (tensor<?x?x?x8xf32>, tensor<2xi64>) -> (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>)
    %33 = onnx.node "Neg"(%32#0) {outputs = ["nx2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %34 = onnx.node "Concat"(%32#1, %33) {attrs = {axis = -1 : i64}, outputs = ["rot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %35 = onnx.node "Mul"(%q, %29) {outputs = ["a"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %36 = onnx.node "Mul"(%34, %30) {outputs = ["b"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %37 = onnx.node "Add"(%35, %36) {outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    onnx.return %37 : tensor<?x?x?x8xf32>
  }
}


// -----

// f16 activations: the f32 tables are cast to f16 before the rotation (what
// Hugging Face does); the op rotates f16 with the f32 frequency table.
// CHECK-LABEL: onnx.graph @half
// CHECK-NOT: onnx.node "Cast"
// CHECK: rope.apply %q by %position_ids freqs %{{.*}} : tensor<?x?x?x4xf16> by tensor<?x?xi64> freqs tensor<2xf32> with #rope.semantics<sections = [2], rotary_dim = 4, theta = 1.000000e+04>
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @half(%q: tensor<?x?x?x4xf16> {onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x4xf16> {onnx.name = "y"}) {
    %inv = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 0.00999999977]> : tensor<2xf32>}, outputs = ["inv_freq"]} : () -> tensor<2xf32>
    %last = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %ax1 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["ax1"]} : () -> tensor<1xi64>
    %halves = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<2xi64>}, outputs = ["halves"]} : () -> tensor<2xi64>
    %pf = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["pf"]} : (tensor<?x?xi64>) -> tensor<?x?xf32>
    %pu = onnx.node "Unsqueeze"(%pf, %last) {outputs = ["pu"]} : (tensor<?x?xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %ang = onnx.node "Mul"(%pu, %inv) {outputs = ["ang"]} : (tensor<?x?x1xf32>, tensor<2xf32>) -> tensor<?x?x2xf32>
    %emb = onnx.node "Concat"(%ang, %ang) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<?x?x2xf32>, tensor<?x?x2xf32>) -> tensor<?x?x4xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c') raised: 1 rotation(s) in 1 rope.apply}}
    %c = onnx.node "Cos"(%emb) {outputs = ["c"]} : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32>
    %s = onnx.node "Sin"(%emb) {outputs = ["s"]} : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32>
    %ch = onnx.node "Cast"(%c) {attrs = {to = 10 : i64}, outputs = ["ch"]} : (tensor<?x?x4xf32>) -> tensor<?x?x4xf16>
    %sh = onnx.node "Cast"(%s) {attrs = {to = 10 : i64}, outputs = ["sh"]} : (tensor<?x?x4xf32>) -> tensor<?x?x4xf16>
    %cu = onnx.node "Unsqueeze"(%ch, %ax1) {outputs = ["cu"]} : (tensor<?x?x4xf16>, tensor<1xi64>) -> tensor<?x1x?x4xf16>
    %su = onnx.node "Unsqueeze"(%sh, %ax1) {outputs = ["su"]} : (tensor<?x?x4xf16>, tensor<1xi64>) -> tensor<?x1x?x4xf16>
    %x12:2 = onnx.node "Split"(%q, %halves) {attrs = {axis = -1 : i64}, outputs = ["x1", "x2"]} : (tensor<?x?x?x4xf16>, tensor<2xi64>) -> (tensor<?x?x?x2xf16>, tensor<?x?x?x2xf16>)
    %nx2 = onnx.node "Neg"(%x12#1) {outputs = ["nx2"]} : (tensor<?x?x?x2xf16>) -> tensor<?x?x?x2xf16>
    %rot = onnx.node "Concat"(%nx2, %x12#0) {attrs = {axis = -1 : i64}, outputs = ["rot"]} : (tensor<?x?x?x2xf16>, tensor<?x?x?x2xf16>) -> tensor<?x?x?x4xf16>
    %a = onnx.node "Mul"(%q, %cu) {outputs = ["a"]} : (tensor<?x?x?x4xf16>, tensor<?x1x?x4xf16>) -> tensor<?x?x?x4xf16>
    %b = onnx.node "Mul"(%rot, %su) {outputs = ["b"]} : (tensor<?x?x?x4xf16>, tensor<?x1x?x4xf16>) -> tensor<?x?x?x4xf16>
    %y = onnx.node "Add"(%a, %b) {outputs = ["y"]} : (tensor<?x?x?x4xf16>, tensor<?x?x?x4xf16>) -> tensor<?x?x?x4xf16>
    onnx.return %y : tensor<?x?x?x4xf16>
  }
}

// -----

// Unsigned positions (ONNX allows them): rope.apply takes signless integers,
// so the site stays as ONNX nodes, with a remark.
// CHECK-LABEL: onnx.graph @unsigned_positions
// CHECK-NOT: rope.apply
// CHECK: onnx.node "Cos"
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @unsigned_positions(%q: tensor<?x?x?x8xf32> {onnx.name = "q"}, %k: tensor<?x?x?x8xf32> {onnx.name = "k"}, %position_ids: tensor<?x?xui32> {onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.name = "yq"}, tensor<?x?x?x8xf32> {onnx.name = "yk"}) {
    %inv = onnx.node "Constant"() {attrs = {value = dense<[[1.000000e+00], [1.000000e-01], [0.00999999977], [1.000000e-03]]> : tensor<4x1xf32>}, outputs = ["inv_freq"]} : () -> tensor<4x1xf32>
    %ax1 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["axes_one"]} : () -> tensor<1xi64>
    %zero = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["zero"]} : () -> tensor<1xi64>
    %half = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<1xi64>}, outputs = ["half"]} : () -> tensor<1xi64>
    %full = onnx.node "Constant"() {attrs = {value = dense<8> : tensor<1xi64>}, outputs = ["full"]} : () -> tensor<1xi64>
    %last = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %pu = onnx.node "Unsqueeze"(%position_ids, %ax1) {outputs = ["pu"]} : (tensor<?x?xui32>, tensor<1xi64>) -> tensor<?x1x?xui32>
    %pf = onnx.node "Cast"(%pu) {attrs = {to = 1 : i64}, outputs = ["pf"]} : (tensor<?x1x?xui32>) -> tensor<?x1x?xf32>
    %freqs = onnx.node "MatMul"(%inv, %pf) {outputs = ["freqs"]} : (tensor<4x1xf32>, tensor<?x1x?xf32>) -> tensor<?x4x?xf32>
    %ft = onnx.node "Transpose"(%freqs) {attrs = {perm = array<i64: 0, 2, 1>}, outputs = ["ft"]} : (tensor<?x4x?xf32>) -> tensor<?x?x4xf32>
    %emb = onnx.node "Concat"(%ft, %ft) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c') left as is: its positions are unsigned integers, which rope.apply does not take}}
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
