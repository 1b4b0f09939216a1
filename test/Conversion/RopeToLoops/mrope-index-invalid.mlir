// The loop lowering of rope.mrope_index checks operand types before it reads
// them (as the ONNX lowering does, issue #15 crash class 2): an op with a
// rank-4 int32 grid or a float input_ids is left alone with the verifier's
// error, never lowered into out-of-bounds loads (a lowered op would leave no
// error behind). The parser's verifier is off so that the invalid ops reach
// the pass.
// RUN: mrope-opt %s --mlir-very-unsafe-disable-verifier-on-parsing --convert-rope-index-to-loops -split-input-file -verify-diagnostics

func.func @grid_rank(%ids: tensor<2x8xi64>, %g: tensor<1x1x1x3xi32>) -> tensor<3x2x8xi64> {
  // expected-error @+1 {{image_grid_thw must be [N, 3] (t, h, w per block)}}
  %p, %d = rope.mrope_index %ids images %g : (tensor<2x8xi64>, tensor<1x1x1x3xi32>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return %p : tensor<3x2x8xi64>
}

// -----

func.func @ids_type(%ids: tensor<2x8xf32>) -> tensor<3x2x8xi64> {
  // expected-error @+1 {{operand #0 must be ranked tensor of signless integer values, but got 'tensor<2x8xf32>'}}
  %p, %d = rope.mrope_index %ids : (tensor<2x8xf32>) -> (tensor<3x2x8xi64>, tensor<2x1xi64>)
  return %p : tensor<3x2x8xi64>
}
