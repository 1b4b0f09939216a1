// get_rope_index of Qwen3-Omni as a graph, one sample per row: f32 positions
// and rope_deltas, 13 positions per second (the qwen3_omni default), audio read from the tokens.
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
                   %mask: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "attention_mask"},
                   %img: tensor<?x3xi64> {onnx.dim_params = ["images", ""], onnx.name = "image_grid_thw"},
                   %vid: tensor<?x3xi64> {onnx.dim_params = ["videos", ""], onnx.name = "video_grid_thw"},
                   %sec: tensor<?xf32> {onnx.dim_params = ["videos"], onnx.name = "second_per_grid_ts"})
      -> (tensor<3x?x?xf32> {onnx.dim_params = ["", "batch", "seq"], onnx.name = "position_ids"},
          tensor<?x1xf32> {onnx.dim_params = ["batch", ""], onnx.name = "rope_deltas"}) {
    %pos, %delta = rope.mrope_index %ids mask %mask images %img videos %vid seconds %sec {arch = #rope.index_arch<qwen3_omni>}
        : (tensor<?x?xi64>, tensor<?x?xi64>, tensor<?x3xi64>, tensor<?x3xi64>, tensor<?xf32>) -> (tensor<3x?x?xf32>, tensor<?x1xf32>)
    onnx.return %pos, %delta : tensor<3x?x?xf32>, tensor<?x1xf32>
  }
}
