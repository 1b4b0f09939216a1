// rope-classify on small graphs, one per exporter spelling: each site gets
// a remark on its Cos node, decoys get none, and the graph is not changed.
// The graphs are what `mrope-translate --import-onnx` makes of
// Inputs/<name>.onnxtext (rope-mul-split, rope-matmul-slice, mrope-merge,
// mrope-degenerate, decoy-learned-table, decoy-absolute), renamed.
// RUN: mrope-opt %s -split-input-file -verify-diagnostics --rope-classify | FileCheck %s

// Angle by Mul with the frequency constant first, halves by Split, products
// with commuted operands and a commuted Add.
// CHECK-LABEL: onnx.graph @mul_split(
// CHECK: onnx.node "Cos"
// CHECK: onnx.node "Add"
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @mul_split(%q: tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.dim_params = ["B", "S"], onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "y"}) attributes {graph_name = "rope_mul_split"} {
    %0 = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %1 = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["axes_last"]} : () -> tensor<1xi64>
    %2 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["axes_one"]} : () -> tensor<1xi64>
    %3 = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<2xi64>}, outputs = ["split"]} : () -> tensor<2xi64>
    %4 = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<?x?xi64>) -> tensor<?x?xf32>
    %5 = onnx.node "Unsqueeze"(%4, %1) {outputs = ["pu"]} : (tensor<?x?xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %6 = onnx.node "Mul"(%0, %5) {outputs = ["ang"]} : (tensor<4xf32>, tensor<?x?x1xf32>) -> tensor<?x?x4xf32>
    %7 = onnx.node "Concat"(%6, %6) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    // expected-remark @+1 {{rope site: 1d [4] neox, rotary_dim 8, theta 1.000000e+04, 1 rotations; ok: 1D positions from input 'position_ids': right for a text model (declare --arch qwen2-vl to check it as a Qwen VL model)}}
    %8 = onnx.node "Cos"(%7) {outputs = ["c"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %9 = onnx.node "Sin"(%7) {outputs = ["s"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %10 = onnx.node "Unsqueeze"(%8, %2) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %11 = onnx.node "Unsqueeze"(%9, %2) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %12:2 = onnx.node "Split"(%q, %3) {attrs = {axis = -1 : i64}, outputs = ["x1", "x2"]} : (tensor<?x?x?x8xf32>, tensor<2xi64>) -> (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>)
    %13 = onnx.node "Neg"(%12#1) {outputs = ["nx2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %14 = onnx.node "Concat"(%13, %12#0) {attrs = {axis = -1 : i64}, outputs = ["rot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %15 = onnx.node "Mul"(%10, %q) {outputs = ["a"]} : (tensor<?x1x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    %16 = onnx.node "Mul"(%14, %11) {outputs = ["b"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %17 = onnx.node "Add"(%16, %15) {outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    onnx.return %17 : tensor<?x?x?x8xf32>
  }
}

// -----

// Angle by MatMul of [F, 1] frequencies and [B, 1, S] positions, then a
// Transpose; halves by Slice with constant bounds; q and k share the tables.
// CHECK-LABEL: onnx.graph @matmul_slice(
// CHECK: onnx.node "Cos"
// CHECK: onnx.node "Add"
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @matmul_slice(%q: tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "q"}, %k: tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "k"}, %position_ids: tensor<?x?xi64> {onnx.dim_params = ["B", "S"], onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "yq"}, tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "yk"}) attributes {graph_name = "rope_matmul_slice"} {
    %0 = onnx.node "Constant"() {attrs = {value = dense<[[1.000000e+00], [1.000000e-01], [0.00999999977], [1.000000e-03]]> : tensor<4x1xf32>}, outputs = ["inv_freq"]} : () -> tensor<4x1xf32>
    %1 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["axes_one"]} : () -> tensor<1xi64>
    %2 = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["zero"]} : () -> tensor<1xi64>
    %3 = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<1xi64>}, outputs = ["half"]} : () -> tensor<1xi64>
    %4 = onnx.node "Constant"() {attrs = {value = dense<8> : tensor<1xi64>}, outputs = ["full"]} : () -> tensor<1xi64>
    %5 = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %6 = onnx.node "Unsqueeze"(%position_ids, %1) {outputs = ["pu"]} : (tensor<?x?xi64>, tensor<1xi64>) -> tensor<?x1x?xi64>
    %7 = onnx.node "Cast"(%6) {attrs = {to = 1 : i64}, outputs = ["pf"]} : (tensor<?x1x?xi64>) -> tensor<?x1x?xf32>
    %8 = onnx.node "MatMul"(%0, %7) {outputs = ["freqs"]} : (tensor<4x1xf32>, tensor<?x1x?xf32>) -> tensor<?x4x?xf32>
    %9 = onnx.node "Transpose"(%8) {attrs = {perm = array<i64: 0, 2, 1>}, outputs = ["ft"]} : (tensor<?x4x?xf32>) -> tensor<?x?x4xf32>
    %10 = onnx.node "Concat"(%9, %9) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    // expected-remark @+1 {{rope site: 1d [4] neox, rotary_dim 8, theta 1.000000e+04, 2 rotations; ok: 1D positions from input 'position_ids': right for a text model (declare --arch qwen2-vl to check it as a Qwen VL model)}}
    %11 = onnx.node "Cos"(%10) {outputs = ["c"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %12 = onnx.node "Sin"(%10) {outputs = ["s"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %13 = onnx.node "Unsqueeze"(%11, %1) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %14 = onnx.node "Unsqueeze"(%12, %1) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %15 = onnx.node "Slice"(%q, %2, %3, %5) {outputs = ["q1"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %16 = onnx.node "Slice"(%q, %3, %4, %5) {outputs = ["q2"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %17 = onnx.node "Neg"(%16) {outputs = ["nq2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %18 = onnx.node "Concat"(%17, %15) {attrs = {axis = -1 : i64}, outputs = ["qrot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %19 = onnx.node "Mul"(%q, %13) {outputs = ["qa"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %20 = onnx.node "Mul"(%18, %14) {outputs = ["qb"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %21 = onnx.node "Add"(%19, %20) {outputs = ["yq"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    %22 = onnx.node "Slice"(%k, %2, %3, %5) {outputs = ["k1"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %23 = onnx.node "Slice"(%k, %3, %4, %5) {outputs = ["k2"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %24 = onnx.node "Neg"(%23) {outputs = ["nk2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %25 = onnx.node "Concat"(%24, %22) {attrs = {axis = -1 : i64}, outputs = ["krot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %26 = onnx.node "Mul"(%k, %13) {outputs = ["ka"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %27 = onnx.node "Mul"(%25, %14) {outputs = ["kb"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %28 = onnx.node "Add"(%26, %27) {outputs = ["yk"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    onnx.return %21, %28 : tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>
  }
}

// -----

// M-RoPE with [3, B, S] positions and HF's Split/Gather/Concat section merge:
// sections come from the Split sizes.
// CHECK-LABEL: onnx.graph @mrope_merge(
// CHECK: onnx.node "Cos"
// CHECK: onnx.node "Add"
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @mrope_merge(%q: tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "q"}, %position_ids: tensor<3x?x?xi64> {onnx.dim_params = ["", "B", "S"], onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "y"}) attributes {graph_name = "mrope_merge"} {
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
    // expected-remark @+1 {{rope site: mrope [1, 2, 1] neox, rotary_dim 8, theta 1.000000e+04, 1 rotations; ok: 3D positions [3, batch, seq] from input 'position_ids'}}
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

// The same merge fed by three rows Expanded from one [B, S] input.
// CHECK-LABEL: onnx.graph @mrope_degenerate(
// CHECK: onnx.node "Cos"
// CHECK: onnx.node "Add"
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @mrope_degenerate(%q: tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.dim_params = ["B", "S"], onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "y"}) attributes {graph_name = "mrope_degenerate"} {
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
    // expected-remark @+1 {{rope site: mrope-degenerate [1, 2, 1] neox, rotary_dim 8, theta 1.000000e+04, 1 rotations; BUG: the 3 position rows of this M-RoPE are built in the graph from one 1D tensor (input 'position_ids'): text, image and video tokens all get 1D positions}}
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

// Decoy: a rotate-half whose tables are constants (no remark).
// CHECK-LABEL: onnx.graph @decoy_learned_table(
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @decoy_learned_table(%q: tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.dim_params = ["B", "S"], onnx.name = "position_ids"}) -> (tensor<?x?x?x8xf32> {onnx.dim_params = ["B", "H", "S", ""], onnx.name = "y"}) attributes {graph_name = "decoy_learned_table"} {
    %0 = onnx.node "Constant"() {attrs = {value = dense<[1.000000e-01, 2.000000e-01, 3.000000e-01, 4.000000e-01, 5.000000e-01, 6.000000e-01, 0.699999988, 8.000000e-01]> : tensor<8xf32>}, outputs = ["table"]} : () -> tensor<8xf32>
    %1 = onnx.node "Cos"(%0) {outputs = ["c"]} : (tensor<8xf32>) -> tensor<8xf32>
    %2 = onnx.node "Sin"(%0) {outputs = ["s"]} : (tensor<8xf32>) -> tensor<8xf32>
    %3 = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<2xi64>}, outputs = ["split"]} : () -> tensor<2xi64>
    %4:2 = onnx.node "Split"(%q, %3) {attrs = {axis = -1 : i64}, outputs = ["x1", "x2"]} : (tensor<?x?x?x8xf32>, tensor<2xi64>) -> (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>)
    %5 = onnx.node "Neg"(%4#1) {outputs = ["nx2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %6 = onnx.node "Concat"(%5, %4#0) {attrs = {axis = -1 : i64}, outputs = ["rot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %7 = onnx.node "Mul"(%q, %1) {outputs = ["a"]} : (tensor<?x?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x?x8xf32>
    %8 = onnx.node "Mul"(%6, %2) {outputs = ["b"]} : (tensor<?x?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x?x8xf32>
    %9 = onnx.node "Add"(%7, %8) {outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    onnx.return %9 : tensor<?x?x?x8xf32>
  }
}

// -----

// Decoy: absolute sinusoidal embeddings added to the input (positions, Sin,
// Cos, but no rotation; no remark).
// CHECK-LABEL: onnx.graph @decoy_absolute(
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @decoy_absolute(%x: tensor<?x?x8xf32> {onnx.dim_params = ["B", "S", ""], onnx.name = "x"}, %position_ids: tensor<?x?xi64> {onnx.dim_params = ["B", "S"], onnx.name = "position_ids"}) -> (tensor<?x?x8xf32> {onnx.dim_params = ["B", "S", ""], onnx.name = "y"}) attributes {graph_name = "decoy_absolute"} {
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

