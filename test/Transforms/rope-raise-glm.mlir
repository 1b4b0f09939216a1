// rope-raise on GLM-4V's rotary (transformers glm4v apply_multimodal_rotary_pos_emb):
// the cos/sin table (Concat(f, f), after the section merge where there is one)
// is sliced to its first half and repeated pairwise (stack + flatten), and the
// first rotary_dim channels of q are rotated in GPT-J pairs; the rest pass
// through the graph's own Concat. rope-raise reads what each channel of the
// table at the rotation holds (its frequency), not the spelling: channel k of
// GPT-J pairs must hold frequency k / 2, of rotate-half k % (R/2). Tables that
// hold other frequencies, or are scaled, are left as they are with a remark.
// RUN: mrope-opt %s -split-input-file -verify-diagnostics --rope-raise | FileCheck %s

// 1D positions (GLM-4V's 1D bug variant): one rope.apply with GPT-J pairs on
// the rotated slice of q; the table's Slice, stack and flatten go, the
// untouched channels are re-joined by the graph's Concat.
// CHECK-LABEL: onnx.graph @glm_1d
// CHECK-NOT: onnx.node "Cos"
// CHECK-NOT: onnx.node "Reshape"
// CHECK: %[[X:.*]] = onnx.node "Slice"(%q, {{.*}}) {outputs = ["xr"]}
// CHECK: %[[P:.*]] = onnx.node "Slice"(%q, {{.*}}) {outputs = ["xp"]}
// CHECK: %[[R:.*]] = rope.apply %[[X]] by %position_ids freqs %{{.*}} : tensor<?x?x?x8xf32> by tensor<?x?xi64> freqs tensor<4xf32> with #rope.semantics<sections = [4], rotary_dim = 8, theta = 1.000000e+04, layout = gptj>
// CHECK: onnx.node "Concat"(%[[R]], %[[P]])
// CHECK-NOT: onnx.node
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @glm_1d(%q: tensor<?x?x?x16xf32> {onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x16xf32> {onnx.name = "y"}) {
    %inv = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %last = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %one = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["one"]} : () -> tensor<1xi64>
    %two = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<1xi64>}, outputs = ["two"]} : () -> tensor<1xi64>
    %zero = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["zero"]} : () -> tensor<1xi64>
    %eight = onnx.node "Constant"() {attrs = {value = dense<8> : tensor<1xi64>}, outputs = ["eight"]} : () -> tensor<1xi64>
    %end = onnx.node "Constant"() {attrs = {value = dense<9223372036854775807> : tensor<1xi64>}, outputs = ["end"]} : () -> tensor<1xi64>
    %tb = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["tb"]} : () -> tensor<1xi64>
    %te = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<1xi64>}, outputs = ["te"]} : () -> tensor<1xi64>
    %ts = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["ts"]} : () -> tensor<1xi64>
    %flat = onnx.node "Constant"() {attrs = {value = dense<[0, 0, 0, -1]> : tensor<4xi64>}, outputs = ["flat"]} : () -> tensor<4xi64>
    %p = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<?x?xi64>) -> tensor<?x?xf32>
    %pu = onnx.node "Unsqueeze"(%p, %last) {outputs = ["pu"]} : (tensor<?x?xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %ang = onnx.node "Mul"(%pu, %inv) {outputs = ["ang"]} : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %emb = onnx.node "Concat"(%ang, %ang) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c') raised: 1 rotation(s) in 1 rope.apply}}
    %c = onnx.node "Cos"(%emb) {outputs = ["c"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %s = onnx.node "Sin"(%emb) {outputs = ["s"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %cu = onnx.node "Unsqueeze"(%c, %one) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %ch = onnx.node "Slice"(%cu, %tb, %te, %last, %ts) {outputs = ["ch"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %ca = onnx.node "Unsqueeze"(%ch, %last) {outputs = ["ca"]} : (tensor<?x1x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4x1xf32>
    %cst = onnx.node "Concat"(%ca, %ca) {attrs = {axis = -1 : i64}, outputs = ["cst"]} : (tensor<?x1x?x4x1xf32>, tensor<?x1x?x4x1xf32>) -> tensor<?x1x?x4x2xf32>
    %ct = onnx.node "Reshape"(%cst, %flat) {outputs = ["ct"]} : (tensor<?x1x?x4x2xf32>, tensor<4xi64>) -> tensor<?x1x?x8xf32>
    %su = onnx.node "Unsqueeze"(%s, %one) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %sh = onnx.node "Slice"(%su, %tb, %te, %last, %ts) {outputs = ["sh"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %sa = onnx.node "Unsqueeze"(%sh, %last) {outputs = ["sa"]} : (tensor<?x1x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4x1xf32>
    %sst = onnx.node "Concat"(%sa, %sa) {attrs = {axis = -1 : i64}, outputs = ["sst"]} : (tensor<?x1x?x4x1xf32>, tensor<?x1x?x4x1xf32>) -> tensor<?x1x?x4x2xf32>
    %st = onnx.node "Reshape"(%sst, %flat) {outputs = ["st"]} : (tensor<?x1x?x4x2xf32>, tensor<4xi64>) -> tensor<?x1x?x8xf32>
    %xr = onnx.node "Slice"(%q, %zero, %eight, %last) {outputs = ["xr"]} : (tensor<?x?x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x8xf32>
    %xp = onnx.node "Slice"(%q, %eight, %end, %last) {outputs = ["xp"]} : (tensor<?x?x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x8xf32>
    %xe = onnx.node "Slice"(%xr, %zero, %end, %last, %two) {outputs = ["xe"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %xo = onnx.node "Slice"(%xr, %one, %end, %last, %two) {outputs = ["xo"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %nxo = onnx.node "Neg"(%xo) {outputs = ["nxo"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %ro = onnx.node "Unsqueeze"(%nxo, %last) {outputs = ["ro"]} : (tensor<?x?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x?x4x1xf32>
    %re = onnx.node "Unsqueeze"(%xe, %last) {outputs = ["re"]} : (tensor<?x?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x?x4x1xf32>
    %rs = onnx.node "Concat"(%ro, %re) {attrs = {axis = -1 : i64}, outputs = ["rs"]} : (tensor<?x?x?x4x1xf32>, tensor<?x?x?x4x1xf32>) -> tensor<?x?x?x4x2xf32>
    %rot = onnx.node "Reshape"(%rs, %flat) {outputs = ["rot"]} : (tensor<?x?x?x4x2xf32>, tensor<4xi64>) -> tensor<?x?x?x8xf32>
    %qa = onnx.node "Mul"(%xr, %ct) {outputs = ["qa"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %qb = onnx.node "Mul"(%rot, %st) {outputs = ["qb"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %emb_q = onnx.node "Add"(%qa, %qb) {outputs = ["emb_q"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    %y = onnx.node "Concat"(%emb_q, %xp) {attrs = {axis = -1 : i64}, outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x16xf32>
    onnx.return %y : tensor<?x?x?x16xf32>
  }
}

// -----

// The second half of Concat(f, f) holds the same frequencies: by meaning it
// is the same table, raised the same way.
// CHECK-LABEL: onnx.graph @glm_second_half
// CHECK: rope.apply {{.*}} layout = gptj>
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @glm_second_half(%q: tensor<?x?x?x16xf32> {onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x16xf32> {onnx.name = "y"}) {
    %inv = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %last = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %one = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["one"]} : () -> tensor<1xi64>
    %two = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<1xi64>}, outputs = ["two"]} : () -> tensor<1xi64>
    %zero = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["zero"]} : () -> tensor<1xi64>
    %eight = onnx.node "Constant"() {attrs = {value = dense<8> : tensor<1xi64>}, outputs = ["eight"]} : () -> tensor<1xi64>
    %end = onnx.node "Constant"() {attrs = {value = dense<9223372036854775807> : tensor<1xi64>}, outputs = ["end"]} : () -> tensor<1xi64>
    %tb = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<1xi64>}, outputs = ["tb"]} : () -> tensor<1xi64>
    %te = onnx.node "Constant"() {attrs = {value = dense<8> : tensor<1xi64>}, outputs = ["te"]} : () -> tensor<1xi64>
    %ts = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["ts"]} : () -> tensor<1xi64>
    %flat = onnx.node "Constant"() {attrs = {value = dense<[0, 0, 0, -1]> : tensor<4xi64>}, outputs = ["flat"]} : () -> tensor<4xi64>
    %p = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<?x?xi64>) -> tensor<?x?xf32>
    %pu = onnx.node "Unsqueeze"(%p, %last) {outputs = ["pu"]} : (tensor<?x?xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %ang = onnx.node "Mul"(%pu, %inv) {outputs = ["ang"]} : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %emb = onnx.node "Concat"(%ang, %ang) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c') raised: 1 rotation(s) in 1 rope.apply}}
    %c = onnx.node "Cos"(%emb) {outputs = ["c"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %s = onnx.node "Sin"(%emb) {outputs = ["s"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %cu = onnx.node "Unsqueeze"(%c, %one) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %ch = onnx.node "Slice"(%cu, %tb, %te, %last, %ts) {outputs = ["ch"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %ca = onnx.node "Unsqueeze"(%ch, %last) {outputs = ["ca"]} : (tensor<?x1x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4x1xf32>
    %cst = onnx.node "Concat"(%ca, %ca) {attrs = {axis = -1 : i64}, outputs = ["cst"]} : (tensor<?x1x?x4x1xf32>, tensor<?x1x?x4x1xf32>) -> tensor<?x1x?x4x2xf32>
    %ct = onnx.node "Reshape"(%cst, %flat) {outputs = ["ct"]} : (tensor<?x1x?x4x2xf32>, tensor<4xi64>) -> tensor<?x1x?x8xf32>
    %su = onnx.node "Unsqueeze"(%s, %one) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %sh = onnx.node "Slice"(%su, %tb, %te, %last, %ts) {outputs = ["sh"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %sa = onnx.node "Unsqueeze"(%sh, %last) {outputs = ["sa"]} : (tensor<?x1x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4x1xf32>
    %sst = onnx.node "Concat"(%sa, %sa) {attrs = {axis = -1 : i64}, outputs = ["sst"]} : (tensor<?x1x?x4x1xf32>, tensor<?x1x?x4x1xf32>) -> tensor<?x1x?x4x2xf32>
    %st = onnx.node "Reshape"(%sst, %flat) {outputs = ["st"]} : (tensor<?x1x?x4x2xf32>, tensor<4xi64>) -> tensor<?x1x?x8xf32>
    %xr = onnx.node "Slice"(%q, %zero, %eight, %last) {outputs = ["xr"]} : (tensor<?x?x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x8xf32>
    %xp = onnx.node "Slice"(%q, %eight, %end, %last) {outputs = ["xp"]} : (tensor<?x?x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x8xf32>
    %xe = onnx.node "Slice"(%xr, %zero, %end, %last, %two) {outputs = ["xe"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %xo = onnx.node "Slice"(%xr, %one, %end, %last, %two) {outputs = ["xo"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %nxo = onnx.node "Neg"(%xo) {outputs = ["nxo"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %ro = onnx.node "Unsqueeze"(%nxo, %last) {outputs = ["ro"]} : (tensor<?x?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x?x4x1xf32>
    %re = onnx.node "Unsqueeze"(%xe, %last) {outputs = ["re"]} : (tensor<?x?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x?x4x1xf32>
    %rs = onnx.node "Concat"(%ro, %re) {attrs = {axis = -1 : i64}, outputs = ["rs"]} : (tensor<?x?x?x4x1xf32>, tensor<?x?x?x4x1xf32>) -> tensor<?x?x?x4x2xf32>
    %rot = onnx.node "Reshape"(%rs, %flat) {outputs = ["rot"]} : (tensor<?x?x?x4x2xf32>, tensor<4xi64>) -> tensor<?x?x?x8xf32>
    %qa = onnx.node "Mul"(%xr, %ct) {outputs = ["qa"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %qb = onnx.node "Mul"(%rot, %st) {outputs = ["qb"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %emb_q = onnx.node "Add"(%qa, %qb) {outputs = ["emb_q"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    %y = onnx.node "Concat"(%emb_q, %xp) {attrs = {axis = -1 : i64}, outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x16xf32>
    onnx.return %y : tensor<?x?x?x16xf32>
  }
}

// -----

// The angle's Concat(f, f) spelled as Tile of the last axis: the same
// channels, raised the same way.
// CHECK-LABEL: onnx.graph @glm_tile
// CHECK-NOT: onnx.node "Tile"
// CHECK: rope.apply {{.*}} layout = gptj>
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @glm_tile(%q: tensor<?x?x?x16xf32> {onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x16xf32> {onnx.name = "y"}) {
    %inv = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %last = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %one = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["one"]} : () -> tensor<1xi64>
    %two = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<1xi64>}, outputs = ["two"]} : () -> tensor<1xi64>
    %zero = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["zero"]} : () -> tensor<1xi64>
    %eight = onnx.node "Constant"() {attrs = {value = dense<8> : tensor<1xi64>}, outputs = ["eight"]} : () -> tensor<1xi64>
    %end = onnx.node "Constant"() {attrs = {value = dense<9223372036854775807> : tensor<1xi64>}, outputs = ["end"]} : () -> tensor<1xi64>
    %tb = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["tb"]} : () -> tensor<1xi64>
    %te = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<1xi64>}, outputs = ["te"]} : () -> tensor<1xi64>
    %ts = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["ts"]} : () -> tensor<1xi64>
    %flat = onnx.node "Constant"() {attrs = {value = dense<[0, 0, 0, -1]> : tensor<4xi64>}, outputs = ["flat"]} : () -> tensor<4xi64>
    %p = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<?x?xi64>) -> tensor<?x?xf32>
    %pu = onnx.node "Unsqueeze"(%p, %last) {outputs = ["pu"]} : (tensor<?x?xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %ang = onnx.node "Mul"(%pu, %inv) {outputs = ["ang"]} : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %reps = onnx.node "Constant"() {attrs = {value = dense<[1, 1, 2]> : tensor<3xi64>}, outputs = ["reps"]} : () -> tensor<3xi64>
    %emb = onnx.node "Tile"(%ang, %reps) {outputs = ["emb"]} : (tensor<?x?x4xf32>, tensor<3xi64>) -> tensor<?x?x8xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c') raised: 1 rotation(s) in 1 rope.apply}}
    %c = onnx.node "Cos"(%emb) {outputs = ["c"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %s = onnx.node "Sin"(%emb) {outputs = ["s"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %cu = onnx.node "Unsqueeze"(%c, %one) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %ch = onnx.node "Slice"(%cu, %tb, %te, %last, %ts) {outputs = ["ch"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %ca = onnx.node "Unsqueeze"(%ch, %last) {outputs = ["ca"]} : (tensor<?x1x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4x1xf32>
    %cst = onnx.node "Concat"(%ca, %ca) {attrs = {axis = -1 : i64}, outputs = ["cst"]} : (tensor<?x1x?x4x1xf32>, tensor<?x1x?x4x1xf32>) -> tensor<?x1x?x4x2xf32>
    %ct = onnx.node "Reshape"(%cst, %flat) {outputs = ["ct"]} : (tensor<?x1x?x4x2xf32>, tensor<4xi64>) -> tensor<?x1x?x8xf32>
    %su = onnx.node "Unsqueeze"(%s, %one) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %sh = onnx.node "Slice"(%su, %tb, %te, %last, %ts) {outputs = ["sh"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %sa = onnx.node "Unsqueeze"(%sh, %last) {outputs = ["sa"]} : (tensor<?x1x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4x1xf32>
    %sst = onnx.node "Concat"(%sa, %sa) {attrs = {axis = -1 : i64}, outputs = ["sst"]} : (tensor<?x1x?x4x1xf32>, tensor<?x1x?x4x1xf32>) -> tensor<?x1x?x4x2xf32>
    %st = onnx.node "Reshape"(%sst, %flat) {outputs = ["st"]} : (tensor<?x1x?x4x2xf32>, tensor<4xi64>) -> tensor<?x1x?x8xf32>
    %xr = onnx.node "Slice"(%q, %zero, %eight, %last) {outputs = ["xr"]} : (tensor<?x?x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x8xf32>
    %xp = onnx.node "Slice"(%q, %eight, %end, %last) {outputs = ["xp"]} : (tensor<?x?x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x8xf32>
    %xe = onnx.node "Slice"(%xr, %zero, %end, %last, %two) {outputs = ["xe"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %xo = onnx.node "Slice"(%xr, %one, %end, %last, %two) {outputs = ["xo"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %nxo = onnx.node "Neg"(%xo) {outputs = ["nxo"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %ro = onnx.node "Unsqueeze"(%nxo, %last) {outputs = ["ro"]} : (tensor<?x?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x?x4x1xf32>
    %re = onnx.node "Unsqueeze"(%xe, %last) {outputs = ["re"]} : (tensor<?x?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x?x4x1xf32>
    %rs = onnx.node "Concat"(%ro, %re) {attrs = {axis = -1 : i64}, outputs = ["rs"]} : (tensor<?x?x?x4x1xf32>, tensor<?x?x?x4x1xf32>) -> tensor<?x?x?x4x2xf32>
    %rot = onnx.node "Reshape"(%rs, %flat) {outputs = ["rot"]} : (tensor<?x?x?x4x2xf32>, tensor<4xi64>) -> tensor<?x?x?x8xf32>
    %qa = onnx.node "Mul"(%xr, %ct) {outputs = ["qa"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %qb = onnx.node "Mul"(%rot, %st) {outputs = ["qb"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %emb_q = onnx.node "Add"(%qa, %qb) {outputs = ["emb_q"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    %y = onnx.node "Concat"(%emb_q, %xp) {attrs = {axis = -1 : i64}, outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x16xf32>
    onnx.return %y : tensor<?x?x?x16xf32>
  }
}

// -----

// GLM-4V's M-RoPE: the section merge (sections doubled on Concat(f, f)) before
// the Slice; channel c of the merge keeps its frequency, so the op takes the
// [3, B, S] positions with the merge's sections and GPT-J pairs.
// CHECK-LABEL: onnx.graph @glm_mrope
// CHECK-NOT: onnx.node "Split"
// CHECK-NOT: onnx.node "Gather"
// CHECK: rope.apply %{{.*}} by %position_ids freqs %{{.*}} : tensor<?x?x?x8xf32> by tensor<3x?x?xi64> freqs tensor<4xf32> with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.000000e+04, layout = gptj>
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @glm_mrope(%q: tensor<?x?x?x16xf32> {onnx.name = "q"}, %position_ids: tensor<3x?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x16xf32> {onnx.name = "y"}) {
    %inv = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %last = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %one = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["one"]} : () -> tensor<1xi64>
    %two = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<1xi64>}, outputs = ["two"]} : () -> tensor<1xi64>
    %zero = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["zero"]} : () -> tensor<1xi64>
    %eight = onnx.node "Constant"() {attrs = {value = dense<8> : tensor<1xi64>}, outputs = ["eight"]} : () -> tensor<1xi64>
    %end = onnx.node "Constant"() {attrs = {value = dense<9223372036854775807> : tensor<1xi64>}, outputs = ["end"]} : () -> tensor<1xi64>
    %tb = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["tb"]} : () -> tensor<1xi64>
    %te = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<1xi64>}, outputs = ["te"]} : () -> tensor<1xi64>
    %ts = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["ts"]} : () -> tensor<1xi64>
    %flat = onnx.node "Constant"() {attrs = {value = dense<[0, 0, 0, -1]> : tensor<4xi64>}, outputs = ["flat"]} : () -> tensor<4xi64>
    %p = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<3x?x?xi64>) -> tensor<3x?x?xf32>
    %pu = onnx.node "Unsqueeze"(%p, %last) {outputs = ["pu"]} : (tensor<3x?x?xf32>, tensor<1xi64>) -> tensor<3x?x?x1xf32>
    %ang = onnx.node "Mul"(%pu, %inv) {outputs = ["ang"]} : (tensor<3x?x?x1xf32>, tensor<4xf32>) -> tensor<3x?x?x4xf32>
    %emb = onnx.node "Concat"(%ang, %ang) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<3x?x?x4xf32>, tensor<3x?x?x4xf32>) -> tensor<3x?x?x8xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c') raised: 1 rotation(s) in 1 rope.apply}}
    %c = onnx.node "Cos"(%emb) {outputs = ["c"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %s = onnx.node "Sin"(%emb) {outputs = ["s"]} : (tensor<3x?x?x8xf32>) -> tensor<3x?x?x8xf32>
    %sizes_c = onnx.node "Constant"() {attrs = {value = dense<[1, 2, 1, 1, 2, 1]> : tensor<6xi64>}, outputs = ["sizes_c"]} : () -> tensor<6xi64>
    %csp:6 = onnx.node "Split"(%c, %sizes_c) {attrs = {axis = -1 : i64}, outputs = ["csp0", "csp1", "csp2", "csp3", "csp4", "csp5"]} : (tensor<3x?x?x8xf32>, tensor<6xi64>) -> (tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>)
    %cr0 = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<i64>}, outputs = ["cr0"]} : () -> tensor<i64>
    %cg0 = onnx.node "Gather"(%csp#0, %cr0) {attrs = {axis = 0 : i64}, outputs = ["cg0"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %cr1 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<i64>}, outputs = ["cr1"]} : () -> tensor<i64>
    %cg1 = onnx.node "Gather"(%csp#1, %cr1) {attrs = {axis = 0 : i64}, outputs = ["cg1"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %cr2 = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<i64>}, outputs = ["cr2"]} : () -> tensor<i64>
    %cg2 = onnx.node "Gather"(%csp#2, %cr2) {attrs = {axis = 0 : i64}, outputs = ["cg2"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %cr3 = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<i64>}, outputs = ["cr3"]} : () -> tensor<i64>
    %cg3 = onnx.node "Gather"(%csp#3, %cr3) {attrs = {axis = 0 : i64}, outputs = ["cg3"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %cr4 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<i64>}, outputs = ["cr4"]} : () -> tensor<i64>
    %cg4 = onnx.node "Gather"(%csp#4, %cr4) {attrs = {axis = 0 : i64}, outputs = ["cg4"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %cr5 = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<i64>}, outputs = ["cr5"]} : () -> tensor<i64>
    %cg5 = onnx.node "Gather"(%csp#5, %cr5) {attrs = {axis = 0 : i64}, outputs = ["cg5"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %cm = onnx.node "Concat"(%cg0, %cg1, %cg2, %cg3, %cg4, %cg5) {attrs = {axis = -1 : i64}, outputs = ["cm"]} : (tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x8xf32>
    %cu = onnx.node "Unsqueeze"(%cm, %one) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %ch = onnx.node "Slice"(%cu, %tb, %te, %last, %ts) {outputs = ["ch"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %ca = onnx.node "Unsqueeze"(%ch, %last) {outputs = ["ca"]} : (tensor<?x1x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4x1xf32>
    %cst = onnx.node "Concat"(%ca, %ca) {attrs = {axis = -1 : i64}, outputs = ["cst"]} : (tensor<?x1x?x4x1xf32>, tensor<?x1x?x4x1xf32>) -> tensor<?x1x?x4x2xf32>
    %ct = onnx.node "Reshape"(%cst, %flat) {outputs = ["ct"]} : (tensor<?x1x?x4x2xf32>, tensor<4xi64>) -> tensor<?x1x?x8xf32>
    %sizes_s = onnx.node "Constant"() {attrs = {value = dense<[1, 2, 1, 1, 2, 1]> : tensor<6xi64>}, outputs = ["sizes_s"]} : () -> tensor<6xi64>
    %ssp:6 = onnx.node "Split"(%s, %sizes_s) {attrs = {axis = -1 : i64}, outputs = ["ssp0", "ssp1", "ssp2", "ssp3", "ssp4", "ssp5"]} : (tensor<3x?x?x8xf32>, tensor<6xi64>) -> (tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x1xf32>, tensor<3x?x?x2xf32>, tensor<3x?x?x1xf32>)
    %sr0 = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<i64>}, outputs = ["sr0"]} : () -> tensor<i64>
    %sg0 = onnx.node "Gather"(%ssp#0, %sr0) {attrs = {axis = 0 : i64}, outputs = ["sg0"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %sr1 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<i64>}, outputs = ["sr1"]} : () -> tensor<i64>
    %sg1 = onnx.node "Gather"(%ssp#1, %sr1) {attrs = {axis = 0 : i64}, outputs = ["sg1"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %sr2 = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<i64>}, outputs = ["sr2"]} : () -> tensor<i64>
    %sg2 = onnx.node "Gather"(%ssp#2, %sr2) {attrs = {axis = 0 : i64}, outputs = ["sg2"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %sr3 = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<i64>}, outputs = ["sr3"]} : () -> tensor<i64>
    %sg3 = onnx.node "Gather"(%ssp#3, %sr3) {attrs = {axis = 0 : i64}, outputs = ["sg3"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %sr4 = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<i64>}, outputs = ["sr4"]} : () -> tensor<i64>
    %sg4 = onnx.node "Gather"(%ssp#4, %sr4) {attrs = {axis = 0 : i64}, outputs = ["sg4"]} : (tensor<3x?x?x2xf32>, tensor<i64>) -> tensor<?x?x2xf32>
    %sr5 = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<i64>}, outputs = ["sr5"]} : () -> tensor<i64>
    %sg5 = onnx.node "Gather"(%ssp#5, %sr5) {attrs = {axis = 0 : i64}, outputs = ["sg5"]} : (tensor<3x?x?x1xf32>, tensor<i64>) -> tensor<?x?x1xf32>
    %sm = onnx.node "Concat"(%sg0, %sg1, %sg2, %sg3, %sg4, %sg5) {attrs = {axis = -1 : i64}, outputs = ["sm"]} : (tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>, tensor<?x?x1xf32>, tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x8xf32>
    %su = onnx.node "Unsqueeze"(%sm, %one) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %sh = onnx.node "Slice"(%su, %tb, %te, %last, %ts) {outputs = ["sh"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %sa = onnx.node "Unsqueeze"(%sh, %last) {outputs = ["sa"]} : (tensor<?x1x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4x1xf32>
    %sst = onnx.node "Concat"(%sa, %sa) {attrs = {axis = -1 : i64}, outputs = ["sst"]} : (tensor<?x1x?x4x1xf32>, tensor<?x1x?x4x1xf32>) -> tensor<?x1x?x4x2xf32>
    %st = onnx.node "Reshape"(%sst, %flat) {outputs = ["st"]} : (tensor<?x1x?x4x2xf32>, tensor<4xi64>) -> tensor<?x1x?x8xf32>
    %xr = onnx.node "Slice"(%q, %zero, %eight, %last) {outputs = ["xr"]} : (tensor<?x?x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x8xf32>
    %xp = onnx.node "Slice"(%q, %eight, %end, %last) {outputs = ["xp"]} : (tensor<?x?x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x8xf32>
    %xe = onnx.node "Slice"(%xr, %zero, %end, %last, %two) {outputs = ["xe"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %xo = onnx.node "Slice"(%xr, %one, %end, %last, %two) {outputs = ["xo"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %nxo = onnx.node "Neg"(%xo) {outputs = ["nxo"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %ro = onnx.node "Unsqueeze"(%nxo, %last) {outputs = ["ro"]} : (tensor<?x?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x?x4x1xf32>
    %re = onnx.node "Unsqueeze"(%xe, %last) {outputs = ["re"]} : (tensor<?x?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x?x4x1xf32>
    %rs = onnx.node "Concat"(%ro, %re) {attrs = {axis = -1 : i64}, outputs = ["rs"]} : (tensor<?x?x?x4x1xf32>, tensor<?x?x?x4x1xf32>) -> tensor<?x?x?x4x2xf32>
    %rot = onnx.node "Reshape"(%rs, %flat) {outputs = ["rot"]} : (tensor<?x?x?x4x2xf32>, tensor<4xi64>) -> tensor<?x?x?x8xf32>
    %qa = onnx.node "Mul"(%xr, %ct) {outputs = ["qa"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %qb = onnx.node "Mul"(%rot, %st) {outputs = ["qb"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %emb_q = onnx.node "Add"(%qa, %qb) {outputs = ["emb_q"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    %y = onnx.node "Concat"(%emb_q, %xp) {attrs = {axis = -1 : i64}, outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x16xf32>
    onnx.return %y : tensor<?x?x?x16xf32>
  }
}

// -----

// Decoy: every other channel of the table (frequencies 0, 2, 0, 2) repeated
// pairwise: not what GPT-J pairs rotate by. Left exactly as it is.
// CHECK-LABEL: onnx.graph @glm_strided
// CHECK-NOT: rope.apply
// CHECK: onnx.node "Cos"
// CHECK: onnx.node "Add"
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @glm_strided(%q: tensor<?x?x?x16xf32> {onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x16xf32> {onnx.name = "y"}) {
    %inv = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %last = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %one = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["one"]} : () -> tensor<1xi64>
    %two = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<1xi64>}, outputs = ["two"]} : () -> tensor<1xi64>
    %zero = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["zero"]} : () -> tensor<1xi64>
    %eight = onnx.node "Constant"() {attrs = {value = dense<8> : tensor<1xi64>}, outputs = ["eight"]} : () -> tensor<1xi64>
    %end = onnx.node "Constant"() {attrs = {value = dense<9223372036854775807> : tensor<1xi64>}, outputs = ["end"]} : () -> tensor<1xi64>
    %tb = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["tb"]} : () -> tensor<1xi64>
    %te = onnx.node "Constant"() {attrs = {value = dense<8> : tensor<1xi64>}, outputs = ["te"]} : () -> tensor<1xi64>
    %ts = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<1xi64>}, outputs = ["ts"]} : () -> tensor<1xi64>
    %flat = onnx.node "Constant"() {attrs = {value = dense<[0, 0, 0, -1]> : tensor<4xi64>}, outputs = ["flat"]} : () -> tensor<4xi64>
    %p = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<?x?xi64>) -> tensor<?x?xf32>
    %pu = onnx.node "Unsqueeze"(%p, %last) {outputs = ["pu"]} : (tensor<?x?xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %ang = onnx.node "Mul"(%pu, %inv) {outputs = ["ang"]} : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %emb = onnx.node "Concat"(%ang, %ang) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c') left as is: the cos table at rotation output 'emb_q' holds frequency 2 at channel 2, where GPT-J pairs take frequency 1}}
    %c = onnx.node "Cos"(%emb) {outputs = ["c"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %s = onnx.node "Sin"(%emb) {outputs = ["s"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %cu = onnx.node "Unsqueeze"(%c, %one) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %ch = onnx.node "Slice"(%cu, %tb, %te, %last, %ts) {outputs = ["ch"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %ca = onnx.node "Unsqueeze"(%ch, %last) {outputs = ["ca"]} : (tensor<?x1x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4x1xf32>
    %cst = onnx.node "Concat"(%ca, %ca) {attrs = {axis = -1 : i64}, outputs = ["cst"]} : (tensor<?x1x?x4x1xf32>, tensor<?x1x?x4x1xf32>) -> tensor<?x1x?x4x2xf32>
    %ct = onnx.node "Reshape"(%cst, %flat) {outputs = ["ct"]} : (tensor<?x1x?x4x2xf32>, tensor<4xi64>) -> tensor<?x1x?x8xf32>
    %su = onnx.node "Unsqueeze"(%s, %one) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %sh = onnx.node "Slice"(%su, %tb, %te, %last, %ts) {outputs = ["sh"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %sa = onnx.node "Unsqueeze"(%sh, %last) {outputs = ["sa"]} : (tensor<?x1x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4x1xf32>
    %sst = onnx.node "Concat"(%sa, %sa) {attrs = {axis = -1 : i64}, outputs = ["sst"]} : (tensor<?x1x?x4x1xf32>, tensor<?x1x?x4x1xf32>) -> tensor<?x1x?x4x2xf32>
    %st = onnx.node "Reshape"(%sst, %flat) {outputs = ["st"]} : (tensor<?x1x?x4x2xf32>, tensor<4xi64>) -> tensor<?x1x?x8xf32>
    %xr = onnx.node "Slice"(%q, %zero, %eight, %last) {outputs = ["xr"]} : (tensor<?x?x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x8xf32>
    %xp = onnx.node "Slice"(%q, %eight, %end, %last) {outputs = ["xp"]} : (tensor<?x?x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x8xf32>
    %xe = onnx.node "Slice"(%xr, %zero, %end, %last, %two) {outputs = ["xe"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %xo = onnx.node "Slice"(%xr, %one, %end, %last, %two) {outputs = ["xo"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %nxo = onnx.node "Neg"(%xo) {outputs = ["nxo"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %ro = onnx.node "Unsqueeze"(%nxo, %last) {outputs = ["ro"]} : (tensor<?x?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x?x4x1xf32>
    %re = onnx.node "Unsqueeze"(%xe, %last) {outputs = ["re"]} : (tensor<?x?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x?x4x1xf32>
    %rs = onnx.node "Concat"(%ro, %re) {attrs = {axis = -1 : i64}, outputs = ["rs"]} : (tensor<?x?x?x4x1xf32>, tensor<?x?x?x4x1xf32>) -> tensor<?x?x?x4x2xf32>
    %rot = onnx.node "Reshape"(%rs, %flat) {outputs = ["rot"]} : (tensor<?x?x?x4x2xf32>, tensor<4xi64>) -> tensor<?x?x?x8xf32>
    %qa = onnx.node "Mul"(%xr, %ct) {outputs = ["qa"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %qb = onnx.node "Mul"(%rot, %st) {outputs = ["qb"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %emb_q = onnx.node "Add"(%qa, %qb) {outputs = ["emb_q"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    %y = onnx.node "Concat"(%emb_q, %xp) {attrs = {axis = -1 : i64}, outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x16xf32>
    onnx.return %y : tensor<?x?x?x16xf32>
  }
}

// -----

// Decoy: the pairwise-repeated table with a rotate-half rotation: channel 1
// holds frequency 0, rotate-half needs frequency 1 there. Left as it is.
// CHECK-LABEL: onnx.graph @glm_rotate_half
// CHECK-NOT: rope.apply
// CHECK: onnx.node "Cos"
// CHECK: onnx.node "Add"
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @glm_rotate_half(%q: tensor<?x?x?x16xf32> {onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x16xf32> {onnx.name = "y"}) {
    %inv = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %last = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %one = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["one"]} : () -> tensor<1xi64>
    %two = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<1xi64>}, outputs = ["two"]} : () -> tensor<1xi64>
    %zero = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["zero"]} : () -> tensor<1xi64>
    %eight = onnx.node "Constant"() {attrs = {value = dense<8> : tensor<1xi64>}, outputs = ["eight"]} : () -> tensor<1xi64>
    %end = onnx.node "Constant"() {attrs = {value = dense<9223372036854775807> : tensor<1xi64>}, outputs = ["end"]} : () -> tensor<1xi64>
    %tb = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["tb"]} : () -> tensor<1xi64>
    %te = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<1xi64>}, outputs = ["te"]} : () -> tensor<1xi64>
    %ts = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["ts"]} : () -> tensor<1xi64>
    %flat = onnx.node "Constant"() {attrs = {value = dense<[0, 0, 0, -1]> : tensor<4xi64>}, outputs = ["flat"]} : () -> tensor<4xi64>
    %p = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<?x?xi64>) -> tensor<?x?xf32>
    %pu = onnx.node "Unsqueeze"(%p, %last) {outputs = ["pu"]} : (tensor<?x?xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %ang = onnx.node "Mul"(%pu, %inv) {outputs = ["ang"]} : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %emb = onnx.node "Concat"(%ang, %ang) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c') left as is: the cos table at rotation output 'emb_q' holds frequency 0 at channel 1, where rotate-half takes frequency 1}}
    %c = onnx.node "Cos"(%emb) {outputs = ["c"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %s = onnx.node "Sin"(%emb) {outputs = ["s"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %cu = onnx.node "Unsqueeze"(%c, %one) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %ch = onnx.node "Slice"(%cu, %tb, %te, %last, %ts) {outputs = ["ch"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %ca = onnx.node "Unsqueeze"(%ch, %last) {outputs = ["ca"]} : (tensor<?x1x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4x1xf32>
    %cst = onnx.node "Concat"(%ca, %ca) {attrs = {axis = -1 : i64}, outputs = ["cst"]} : (tensor<?x1x?x4x1xf32>, tensor<?x1x?x4x1xf32>) -> tensor<?x1x?x4x2xf32>
    %ct = onnx.node "Reshape"(%cst, %flat) {outputs = ["ct"]} : (tensor<?x1x?x4x2xf32>, tensor<4xi64>) -> tensor<?x1x?x8xf32>
    %su = onnx.node "Unsqueeze"(%s, %one) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %sh = onnx.node "Slice"(%su, %tb, %te, %last, %ts) {outputs = ["sh"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %sa = onnx.node "Unsqueeze"(%sh, %last) {outputs = ["sa"]} : (tensor<?x1x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4x1xf32>
    %sst = onnx.node "Concat"(%sa, %sa) {attrs = {axis = -1 : i64}, outputs = ["sst"]} : (tensor<?x1x?x4x1xf32>, tensor<?x1x?x4x1xf32>) -> tensor<?x1x?x4x2xf32>
    %st = onnx.node "Reshape"(%sst, %flat) {outputs = ["st"]} : (tensor<?x1x?x4x2xf32>, tensor<4xi64>) -> tensor<?x1x?x8xf32>
    %xr = onnx.node "Slice"(%q, %zero, %eight, %last) {outputs = ["xr"]} : (tensor<?x?x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x8xf32>
    %xp = onnx.node "Slice"(%q, %eight, %end, %last) {outputs = ["xp"]} : (tensor<?x?x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x8xf32>
    %four = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<1xi64>}, outputs = ["four"]} : () -> tensor<1xi64>
    %x1 = onnx.node "Slice"(%xr, %zero, %four, %last) {outputs = ["x1"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %x2 = onnx.node "Slice"(%xr, %four, %eight, %last) {outputs = ["x2"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %nx2 = onnx.node "Neg"(%x2) {outputs = ["nx2"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %rot = onnx.node "Concat"(%nx2, %x1) {attrs = {axis = -1 : i64}, outputs = ["rot"]} : (tensor<?x?x?x4xf32>, tensor<?x?x?x4xf32>) -> tensor<?x?x?x8xf32>
    %qa = onnx.node "Mul"(%xr, %ct) {outputs = ["qa"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %qb = onnx.node "Mul"(%rot, %st) {outputs = ["qb"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %emb_q = onnx.node "Add"(%qa, %qb) {outputs = ["emb_q"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    %y = onnx.node "Concat"(%emb_q, %xp) {attrs = {axis = -1 : i64}, outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x16xf32>
    onnx.return %y : tensor<?x?x?x16xf32>
  }
}

// -----

// Decoy: the repeated table scaled by 0.5 (not cos of the angle any more):
// its channels cannot be read as frequencies, and the structural walk
// refuses the Mul. Left as it is.
// CHECK-LABEL: onnx.graph @glm_scaled
// CHECK-NOT: rope.apply
// CHECK: onnx.node "Cos"
// CHECK: onnx.node "Add"
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @glm_scaled(%q: tensor<?x?x?x16xf32> {onnx.name = "q"}, %position_ids: tensor<?x?xi64> {onnx.name = "position_ids"}) -> (tensor<?x?x?x16xf32> {onnx.name = "y"}) {
    %inv = onnx.node "Constant"() {attrs = {value = dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>}, outputs = ["inv_freq"]} : () -> tensor<4xf32>
    %last = onnx.node "Constant"() {attrs = {value = dense<-1> : tensor<1xi64>}, outputs = ["last"]} : () -> tensor<1xi64>
    %one = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["one"]} : () -> tensor<1xi64>
    %two = onnx.node "Constant"() {attrs = {value = dense<2> : tensor<1xi64>}, outputs = ["two"]} : () -> tensor<1xi64>
    %zero = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["zero"]} : () -> tensor<1xi64>
    %eight = onnx.node "Constant"() {attrs = {value = dense<8> : tensor<1xi64>}, outputs = ["eight"]} : () -> tensor<1xi64>
    %end = onnx.node "Constant"() {attrs = {value = dense<9223372036854775807> : tensor<1xi64>}, outputs = ["end"]} : () -> tensor<1xi64>
    %tb = onnx.node "Constant"() {attrs = {value = dense<0> : tensor<1xi64>}, outputs = ["tb"]} : () -> tensor<1xi64>
    %te = onnx.node "Constant"() {attrs = {value = dense<4> : tensor<1xi64>}, outputs = ["te"]} : () -> tensor<1xi64>
    %ts = onnx.node "Constant"() {attrs = {value = dense<1> : tensor<1xi64>}, outputs = ["ts"]} : () -> tensor<1xi64>
    %flat = onnx.node "Constant"() {attrs = {value = dense<[0, 0, 0, -1]> : tensor<4xi64>}, outputs = ["flat"]} : () -> tensor<4xi64>
    %p = onnx.node "Cast"(%position_ids) {attrs = {to = 1 : i64}, outputs = ["p"]} : (tensor<?x?xi64>) -> tensor<?x?xf32>
    %pu = onnx.node "Unsqueeze"(%p, %last) {outputs = ["pu"]} : (tensor<?x?xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %ang = onnx.node "Mul"(%pu, %inv) {outputs = ["ang"]} : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %emb = onnx.node "Concat"(%ang, %ang) {attrs = {axis = -1 : i64}, outputs = ["emb"]} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
    // expected-remark @+1 {{rope-raise: site 0 (output 'c') left as is: the table reaches the rotation through Mul node output 'ct', which rope.apply does not express}}
    %c = onnx.node "Cos"(%emb) {outputs = ["c"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %s = onnx.node "Sin"(%emb) {outputs = ["s"]} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %cu = onnx.node "Unsqueeze"(%c, %one) {outputs = ["cu"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %ch = onnx.node "Slice"(%cu, %tb, %te, %last, %ts) {outputs = ["ch"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %ca = onnx.node "Unsqueeze"(%ch, %last) {outputs = ["ca"]} : (tensor<?x1x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4x1xf32>
    %cst = onnx.node "Concat"(%ca, %ca) {attrs = {axis = -1 : i64}, outputs = ["cst"]} : (tensor<?x1x?x4x1xf32>, tensor<?x1x?x4x1xf32>) -> tensor<?x1x?x4x2xf32>
    %cf = onnx.node "Reshape"(%cst, %flat) {outputs = ["cf"]} : (tensor<?x1x?x4x2xf32>, tensor<4xi64>) -> tensor<?x1x?x8xf32>
    %ck = onnx.node "Constant"() {attrs = {value = dense<5.000000e-01> : tensor<f32>}, outputs = ["ck"]} : () -> tensor<f32>
    %ct = onnx.node "Mul"(%cf, %ck) {outputs = ["ct"]} : (tensor<?x1x?x8xf32>, tensor<f32>) -> tensor<?x1x?x8xf32>
    %su = onnx.node "Unsqueeze"(%s, %one) {outputs = ["su"]} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x1x?x8xf32>
    %sh = onnx.node "Slice"(%su, %tb, %te, %last, %ts) {outputs = ["sh"]} : (tensor<?x1x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x?x4xf32>
    %sa = onnx.node "Unsqueeze"(%sh, %last) {outputs = ["sa"]} : (tensor<?x1x?x4xf32>, tensor<1xi64>) -> tensor<?x1x?x4x1xf32>
    %sst = onnx.node "Concat"(%sa, %sa) {attrs = {axis = -1 : i64}, outputs = ["sst"]} : (tensor<?x1x?x4x1xf32>, tensor<?x1x?x4x1xf32>) -> tensor<?x1x?x4x2xf32>
    %sf = onnx.node "Reshape"(%sst, %flat) {outputs = ["sf"]} : (tensor<?x1x?x4x2xf32>, tensor<4xi64>) -> tensor<?x1x?x8xf32>
    %sk = onnx.node "Constant"() {attrs = {value = dense<5.000000e-01> : tensor<f32>}, outputs = ["sk"]} : () -> tensor<f32>
    %st = onnx.node "Mul"(%sf, %sk) {outputs = ["st"]} : (tensor<?x1x?x8xf32>, tensor<f32>) -> tensor<?x1x?x8xf32>
    %xr = onnx.node "Slice"(%q, %zero, %eight, %last) {outputs = ["xr"]} : (tensor<?x?x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x8xf32>
    %xp = onnx.node "Slice"(%q, %eight, %end, %last) {outputs = ["xp"]} : (tensor<?x?x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x8xf32>
    %xe = onnx.node "Slice"(%xr, %zero, %end, %last, %two) {outputs = ["xe"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %xo = onnx.node "Slice"(%xr, %one, %end, %last, %two) {outputs = ["xo"]} : (tensor<?x?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?x?x4xf32>
    %nxo = onnx.node "Neg"(%xo) {outputs = ["nxo"]} : (tensor<?x?x?x4xf32>) -> tensor<?x?x?x4xf32>
    %ro = onnx.node "Unsqueeze"(%nxo, %last) {outputs = ["ro"]} : (tensor<?x?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x?x4x1xf32>
    %re = onnx.node "Unsqueeze"(%xe, %last) {outputs = ["re"]} : (tensor<?x?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x?x4x1xf32>
    %rs = onnx.node "Concat"(%ro, %re) {attrs = {axis = -1 : i64}, outputs = ["rs"]} : (tensor<?x?x?x4x1xf32>, tensor<?x?x?x4x1xf32>) -> tensor<?x?x?x4x2xf32>
    %rot = onnx.node "Reshape"(%rs, %flat) {outputs = ["rot"]} : (tensor<?x?x?x4x2xf32>, tensor<4xi64>) -> tensor<?x?x?x8xf32>
    %qa = onnx.node "Mul"(%xr, %ct) {outputs = ["qa"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %qb = onnx.node "Mul"(%rot, %st) {outputs = ["qb"]} : (tensor<?x?x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x?x?x8xf32>
    %emb_q = onnx.node "Add"(%qa, %qb) {outputs = ["emb_q"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x8xf32>
    %y = onnx.node "Concat"(%emb_q, %xp) {attrs = {axis = -1 : i64}, outputs = ["y"]} : (tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>) -> tensor<?x?x?x16xf32>
    onnx.return %y : tensor<?x?x?x16xf32>
  }
}
