// rope-fix on raised sites (rope.apply inside onnx.graph): only the
// semantics and the positions operand change; no table is built.
// RUN: mrope-opt %s -split-input-file -verify-diagnostics --rope-fix="arch=qwen2-vl" | FileCheck %s
// Under --arch text (and auto) 1D RoPE is right: those graphs come out as
// they went in (the degenerate M-RoPE is a bug under every arch).
// RUN: mrope-opt %s -split-input-file --rope-fix="arch=text" 2>/dev/null | FileCheck %s --check-prefix=TEXT

// Degenerate M-RoPE: the rows the graph Expands from [B, S] become the
// input itself, retyped to [3, B, S]; the Expand chain goes; semantics and
// freqs stay. Both layers' ops of the site change, reported once.
// CHECK-LABEL: onnx.graph @degenerate
// CHECK-SAME: %position_ids: tensor<3x1x5xi64> {onnx.dim_params = ["", "batch", "seq"], onnx.name = "position_ids"}
// CHECK-NOT: "Expand"
// CHECK-NOT: "Unsqueeze"
// CHECK: %[[L0:.*]]:2 = rope.apply %q, %k by %position_ids freqs %inv_freq : {{.*}} with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.000000e+04> {mrope.site = 0 : i64}
// CHECK: rope.apply %[[L0]]#0, %[[L0]]#1 by %position_ids freqs %inv_freq : {{.*}} with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.000000e+04> {mrope.site = 0 : i64}
// TEXT-LABEL: onnx.graph @degenerate
// TEXT: %position_ids: tensor<3x1x5xi64>
// TEXT-NOT: "Expand"
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  // expected-remark @below {{fixed: site 0 (mrope-degenerate): rows built by output 'rows' from input 'position_ids' replaced by input 'position_ids' [3, batch, seq] (2 rope.apply ops)}}
  // expected-remark @below {{fixed: removed 2 node(s) only the old positions or tables used}}
  // expected-remark @below {{fixed: input 'position_ids' is now int64 [3, batch, seq] (was [batch, seq])}}
  onnx.graph @degenerate(%q: tensor<1x2x5x8xf32> {onnx.name = "q"}, %k: tensor<1x1x5x8xf32> {onnx.name = "k"}, %pos: tensor<1x5xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "position_ids"}) -> (tensor<1x2x5x8xf32> {onnx.name = "q_out"}, tensor<1x1x5x8xf32> {onnx.name = "k_out"}) {
    %inv = onnx.initializer "inv_freq" : tensor<4xf32> = dense<[1.0, 0.1, 0.01, 0.001]>
    %axes = onnx.initializer "axes" : tensor<1xi64> = dense<0>
    %shape = onnx.initializer "shape" : tensor<3xi64> = dense<[3, 1, 1]>
    %u = onnx.node "Unsqueeze"(%pos, %axes) : (tensor<1x5xi64>, tensor<1xi64>) -> tensor<1x1x5xi64>
    %rows = onnx.node "Expand"(%u, %shape) {outputs = ["rows"]} : (tensor<1x1x5xi64>, tensor<3xi64>) -> tensor<3x1x5xi64>
    %q1, %k1 = rope.apply %q, %k by %rows freqs %inv : tensor<1x2x5x8xf32>, tensor<1x1x5x8xf32> by tensor<3x1x5xi64> freqs tensor<4xf32> with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.0e4> {mrope.site = 0 : i64}
    %q2, %k2 = rope.apply %q1, %k1 by %rows freqs %inv : tensor<1x2x5x8xf32>, tensor<1x1x5x8xf32> by tensor<3x1x5xi64> freqs tensor<4xf32> with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.0e4> {mrope.site = 0 : i64}
    onnx.return %q2, %k2 : tensor<1x2x5x8xf32>, tensor<1x1x5x8xf32>
  }
}

// -----

// 1D text RoPE under qwen2-vl: the architecture's sections scaled to 8
// frequencies ([16, 24, 24] * 8 / 64), the graph's freqs kept, the [B, S]
// input retyped to [3, B, S] (its Cast on the way goes with it).
// CHECK-LABEL: onnx.graph @text
// CHECK-SAME: %position_ids: tensor<3x?x?xi64> {onnx.dim_params = ["", "batch", "seq"], onnx.name = "position_ids"}
// CHECK-NOT: "Cast"
// CHECK: rope.apply %q, %k by %position_ids freqs %inv_freq : tensor<1x2x?x16xf32>, tensor<1x1x?x16xf32> by tensor<3x?x?xi64> freqs tensor<8xf32> with #rope.semantics<sections = [2, 3, 3], rotary_dim = 16, theta = 1.000000e+04> {mrope.site = 3 : i64}
// TEXT-LABEL: onnx.graph @text
// TEXT: %position_ids: tensor<?x?xi32>
// TEXT: onnx.node "Cast"
// TEXT: rope.apply {{.*}} with #rope.semantics<sections = [8], rotary_dim = 16, theta = 1.000000e+04>
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  // expected-remark @below {{fixed: site 3 (1d): M-RoPE [2, 3, 3] from input 'position_ids' [3, batch, seq] (was input 'position_ids')}}
  // expected-remark @below {{fixed: removed 1 node(s) only the old positions or tables used}}
  // expected-remark @below {{fixed: input 'position_ids' is now int64 [3, batch, seq] (was [batch, seq])}}
  onnx.graph @text(%q: tensor<1x2x?x16xf32> {onnx.name = "q"}, %k: tensor<1x1x?x16xf32> {onnx.name = "k"}, %pos: tensor<?x?xi32> {onnx.dim_params = ["batch", "seq"], onnx.name = "position_ids"}) -> (tensor<1x2x?x16xf32> {onnx.name = "q_out"}, tensor<1x1x?x16xf32> {onnx.name = "k_out"}) {
    %inv = onnx.initializer "inv_freq" : tensor<8xf32> = dense<[1.0, 0.316227764, 0.1, 0.0316227749, 0.00999999977, 0.00316227763, 0.001, 0.000316227757]>
    %p64 = onnx.node "Cast"(%pos) {attrs = {to = 7 : i64}} : (tensor<?x?xi32>) -> tensor<?x?xi64>
    %q2, %k2 = rope.apply %q, %k by %p64 freqs %inv : tensor<1x2x?x16xf32>, tensor<1x1x?x16xf32> by tensor<?x?xi64> freqs tensor<8xf32> with #rope.semantics<sections = [8], rotary_dim = 16, theta = 1.0e4> {mrope.site = 3 : i64}
    onnx.return %q2, %k2 : tensor<1x2x?x16xf32>, tensor<1x1x?x16xf32>
  }
}

// -----

// GPT-J pairs and partial rotary (16 of 24 channels): the layout and the
// rotated range stay; a second user of the old input keeps it, so the
// positions come in as a new input.
// CHECK-LABEL: onnx.graph @gptj_partial
// CHECK-SAME: %position_ids: tensor<1x5xi64>
// CHECK-SAME: %position_ids_3d: tensor<3x1x5xi64> {onnx.dim_params = ["", "batch", "sequence"], onnx.name = "position_ids_3d"}
// CHECK: rope.apply %q by %position_ids_3d freqs %inv_freq : tensor<1x2x5x24xf32> by tensor<3x1x5xi64> freqs tensor<8xf32> with #rope.semantics<sections = [2, 3, 3], rotary_dim = 16, theta = 1.000000e+04, layout = gptj>
// CHECK: onnx.return %{{.*}}, %position_ids
// TEXT-LABEL: onnx.graph @gptj_partial
// TEXT: sections = [8], rotary_dim = 16, theta = 1.000000e+04, layout = gptj
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  // expected-remark @below {{fixed: site rope.apply (1d, gptj pairs): M-RoPE [2, 3, 3] from input 'position_ids' [3, batch, seq] (was input 'position_ids')}}
  // expected-remark @below {{fixed: removed 0 node(s) only the old positions or tables used}}
  // expected-remark @below {{fixed: added input 'position_ids_3d' int64 [3, batch, seq] (the old positions input is still used elsewhere and stays)}}
  onnx.graph @gptj_partial(%q: tensor<1x2x5x24xf32> {onnx.name = "q"}, %pos: tensor<1x5xi64> {onnx.name = "position_ids"}) -> (tensor<1x2x5x24xf32> {onnx.name = "q_out"}, tensor<1x5xi64> {onnx.name = "pos_out"}) {
    %inv = onnx.initializer "inv_freq" : tensor<8xf32> = dense<[1.0, 0.316227764, 0.1, 0.0316227749, 0.00999999977, 0.00316227763, 0.001, 0.000316227757]>
    %q2 = rope.apply %q by %pos freqs %inv : tensor<1x2x5x24xf32> by tensor<1x5xi64> freqs tensor<8xf32> with #rope.semantics<sections = [8], rotary_dim = 16, theta = 1.0e4, layout = gptj>
    onnx.return %q2, %pos : tensor<1x2x5x24xf32>, tensor<1x5xi64>
  }
}

// -----

// Must not touch: true M-RoPE from a [3, B, S] input, rows computed from the
// tokens (rope.mrope_index), 2D (h, w) vision RoPE.
// CHECK-LABEL: onnx.graph @correct
// CHECK-SAME: %position_ids: tensor<3x1x5xi64>
// CHECK: rope.apply %q by %position_ids : {{.*}} with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.000000e+04>
// CHECK: %positions, %{{.*}} = rope.mrope_index %input_ids
// CHECK: rope.apply %q by %positions : {{.*}} with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.000000e+04>
// CHECK: rope.apply %q by %hw : {{.*}} with #rope.semantics<sections = [2, 2], rotary_dim = 8, theta = 1.000000e+04, freqs = per_section>
// TEXT-LABEL: onnx.graph @correct
// TEXT-SAME: %position_ids: tensor<3x1x5xi64>
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @correct(%q: tensor<1x2x5x8xf32> {onnx.name = "q"}, %pos: tensor<3x1x5xi64> {onnx.name = "position_ids"}, %ids: tensor<1x5xi64> {onnx.name = "input_ids"}, %grid: tensor<?x3xi64> {onnx.name = "image_grid_thw"}, %hw: tensor<2x1x5xi64> {onnx.name = "hw"}) -> (tensor<1x2x5x8xf32> {onnx.name = "a"}, tensor<1x2x5x8xf32> {onnx.name = "b"}, tensor<1x2x5x8xf32> {onnx.name = "c"}) {
    %a = rope.apply %q by %pos : tensor<1x2x5x8xf32> by tensor<3x1x5xi64> with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.0e4>
    %p:2 = rope.mrope_index %ids images %grid : (tensor<1x5xi64>, tensor<?x3xi64>) -> (tensor<3x1x5xi64>, tensor<1x1xi64>)
    %b = rope.apply %q by %p#0 : tensor<1x2x5x8xf32> by tensor<3x1x5xi64> with #rope.semantics<sections = [1, 2, 1], rotary_dim = 8, theta = 1.0e4>
    %c = rope.apply %q by %hw : tensor<1x2x5x8xf32> by tensor<2x1x5xi64> with #rope.semantics<sections = [2, 2], rotary_dim = 8, theta = 1.0e4, freqs = per_section>
    onnx.return %a, %b, %c : tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>
  }
}
