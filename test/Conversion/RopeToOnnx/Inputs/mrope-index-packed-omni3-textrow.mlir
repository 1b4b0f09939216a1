// get_rope_index as a graph: packed rows, Qwen3-Omni (f32), positions [4, B, S] with the text row first.
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
                   %mask: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "attention_mask"},
                   %seg: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "segment_ids"},
                   %img: tensor<?x3xi64> {onnx.dim_params = ["images", ""], onnx.name = "image_grid_thw"},
                   %vid: tensor<?x3xi64> {onnx.dim_params = ["videos", ""], onnx.name = "video_grid_thw"},
                   %sec: tensor<?xf32> {onnx.dim_params = ["videos"], onnx.name = "second_per_grid_ts"})
      -> (tensor<4x?x?xf32> {onnx.dim_params = ["", "batch", "seq"], onnx.name = "position_ids"},
          tensor<?x?xf32> {onnx.dim_params = ["batch", "segments"], onnx.name = "rope_deltas"}) {
    %pos, %delta = rope.mrope_index %ids mask %mask segments %seg images %img videos %vid seconds %sec {arch = #rope.index_arch<qwen3_omni>}
        : (tensor<?x?xi64>, tensor<?x?xi64>, tensor<?x?xi64>, tensor<?x3xi64>, tensor<?x3xi64>, tensor<?xf32>) -> (tensor<4x?x?xf32>, tensor<?x?xf32>)
    onnx.return %pos, %delta : tensor<4x?x?xf32>, tensor<?x?xf32>
  }
}
