// rope.mrope_index built from graph inputs of any type (mrope-fix
// --positions compute takes image_grid_thw / video_grid_thw as the model
// declares them): the lowering checks the operand types before it reads
// them and fails with the verifier's error instead of crashing (issue #15,
// crash class 2: an int32 rank-4 image_grid_thw segfaulted). The parser's
// verifier is off so that the invalid ops reach the pass.
// RUN: mrope-opt %s --mlir-very-unsafe-disable-verifier-on-parsing --convert-rope-to-onnx -split-input-file -verify-diagnostics

module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
                   %img: tensor<1x1x1x3xi32> {onnx.name = "image_grid_thw"})
      -> (tensor<3x?x?xi64> {onnx.dim_params = ["", "batch", "seq"], onnx.name = "position_ids"},
          tensor<?x1xi64> {onnx.dim_params = ["batch", ""], onnx.name = "rope_deltas"}) {
    // expected-error @+2 {{image_grid_thw must be [N, 3] (t, h, w per block)}}
    // expected-error @+1 {{could not lower rope.mrope_index to ONNX}}
    %pos, %delta = rope.mrope_index %ids images %img
        : (tensor<?x?xi64>, tensor<1x1x1x3xi32>) -> (tensor<3x?x?xi64>, tensor<?x1xi64>)
    onnx.return %pos, %delta : tensor<3x?x?xi64>, tensor<?x1xi64>
  }
}

// -----

module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
                   %vid: tensor<*xi32> {onnx.name = "video_grid_thw"})
      -> (tensor<3x?x?xi64> {onnx.dim_params = ["", "batch", "seq"], onnx.name = "position_ids"},
          tensor<?x1xi64> {onnx.dim_params = ["batch", ""], onnx.name = "rope_deltas"}) {
    // expected-error @+2 {{operand #1 must be ranked tensor of signless integer values, but got 'tensor<*xi32>'}}
    // expected-error @+1 {{could not lower rope.mrope_index to ONNX}}
    %pos, %delta = rope.mrope_index %ids videos %vid
        : (tensor<?x?xi64>, tensor<*xi32>) -> (tensor<3x?x?xi64>, tensor<?x1xi64>)
    onnx.return %pos, %delta : tensor<3x?x?xi64>, tensor<?x1xi64>
  }
}

// -----

module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @main(%ids: tensor<?x?xf32> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"})
      -> (tensor<3x?x?xi64> {onnx.dim_params = ["", "batch", "seq"], onnx.name = "position_ids"},
          tensor<?x1xi64> {onnx.dim_params = ["batch", ""], onnx.name = "rope_deltas"}) {
    // expected-error @+2 {{operand #0 must be ranked tensor of signless integer values, but got 'tensor<?x?xf32>'}}
    // expected-error @+1 {{could not lower rope.mrope_index to ONNX}}
    %pos, %delta = rope.mrope_index %ids
        : (tensor<?x?xf32>) -> (tensor<3x?x?xi64>, tensor<?x1xi64>)
    onnx.return %pos, %delta : tensor<3x?x?xi64>, tensor<?x1xi64>
  }
}
