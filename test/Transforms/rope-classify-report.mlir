// rope-classify's JSON report (report=-), and a bad arch option.
// RUN: mrope-opt %s --rope-classify="report=-" -o %t.out 2>/dev/null | FileCheck %s --check-prefix=JSON
// RUN: not mrope-opt %s --rope-classify=arch=llama -o %t.out 2>&1 | FileCheck %s --check-prefix=BADARCH
// BADARCH: error: arch must be auto, qwen2-vl, qwen2.5-vl, qwen3-vl, qwen3.5, qwen2.5-omni, qwen3-omni, glm4v or text, got 'llama'
// JSON: "sites": [
// JSON: "bug": true,
// JSON: "layout": "neox",
// JSON: "positions": "mrope-degenerate",
// JSON: "positions_source": "input 'position_ids'",
// JSON: "rotary_dim": 8,
// JSON: "rotations": 1,
// JSON: "sections": [
// JSON-NEXT: 1,
// JSON-NEXT: 2,
// JSON-NEXT: 1
// JSON: "summary": {
// JSON-NEXT: "bugs": 1,
// JSON-NEXT: "rotations": 1,
// JSON-NEXT: "sites": 1

// The degenerate M-RoPE graph (Inputs/mrope-degenerate.onnxtext, imported).
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

