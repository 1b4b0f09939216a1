// What `mrope-opt --rope-raise` makes of a model (hand-written in that form):
// each raised site is rope.apply ops on the graph's tensors, q and k of a
// layer in one op, the graph's exact frequency table as an initializer, and
// `mrope.site` naming the site in analysis order.
//   site 0: 1D RoPE, two layers (28 q heads, 4 kv heads, head dim 16)
//   site 1: M-RoPE (sections 2,3,3), f16, dynamic head counts, a table
//           (2^-i) that theta does not give
//   site 2: GPT-J pairs, partial rotary (8 of 16 channels), q only
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @main(%q0: tensor<1x28x?x16xf32>, %k0: tensor<1x4x?x16xf32>, %q1: tensor<1x28x?x16xf32>, %k1: tensor<1x4x?x16xf32>, %pos: tensor<1x?xi64>, %mq: tensor<1x?x?x16xf16>, %mk: tensor<1x?x?x16xf16>, %mpos: tensor<3x1x?xi64>, %gq: tensor<1x2x?x16xf32>) -> (tensor<1x28x?x16xf32>, tensor<1x4x?x16xf32>, tensor<1x28x?x16xf32>, tensor<1x4x?x16xf32>, tensor<1x?x?x16xf16>, tensor<1x?x?x16xf16>, tensor<1x2x?x16xf32>) {
    %inv = onnx.initializer "inv_freq" : tensor<8xf32> = dense<[1.000000e+00, 0.316227764, 0.100000001, 0.0316227749, 0.00999999977, 0.00316227763, 0.00100000005, 3.16227757E-4]>
    %minv = onnx.initializer "mrope_inv_freq" : tensor<8xf32> = dense<[1.000000e+00, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125]>
    %ginv = onnx.initializer "gptj_inv_freq" : tensor<4xf32> = dense<[1.000000e+00, 0.1, 0.01, 0.001]>
    %rq0, %rk0 = rope.apply %q0, %k0 by %pos freqs %inv : tensor<1x28x?x16xf32>, tensor<1x4x?x16xf32> by tensor<1x?xi64> freqs tensor<8xf32> with #rope.semantics<sections = [8], rotary_dim = 16, theta = 1.000000e+04> {mrope.site = 0 : i64}
    %rq1, %rk1 = rope.apply %q1, %k1 by %pos freqs %inv : tensor<1x28x?x16xf32>, tensor<1x4x?x16xf32> by tensor<1x?xi64> freqs tensor<8xf32> with #rope.semantics<sections = [8], rotary_dim = 16, theta = 1.000000e+04> {mrope.site = 0 : i64}
    %rmq, %rmk = rope.apply %mq, %mk by %mpos freqs %minv : tensor<1x?x?x16xf16>, tensor<1x?x?x16xf16> by tensor<3x1x?xi64> freqs tensor<8xf32> with #rope.semantics<sections = [2, 3, 3], rotary_dim = 16, theta = 1.000000e+04> {mrope.site = 1 : i64}
    %rgq = rope.apply %gq by %pos freqs %ginv : tensor<1x2x?x16xf32> by tensor<1x?xi64> freqs tensor<4xf32> with #rope.semantics<sections = [4], rotary_dim = 8, theta = 1.000000e+04, layout = gptj> {mrope.site = 2 : i64}
    onnx.return %rq0, %rk0, %rq1, %rk1, %rmq, %rmk, %rgq : tensor<1x28x?x16xf32>, tensor<1x4x?x16xf32>, tensor<1x28x?x16xf32>, tensor<1x4x?x16xf32>, tensor<1x?x?x16xf16>, tensor<1x?x?x16xf16>, tensor<1x2x?x16xf32>
  }
}
