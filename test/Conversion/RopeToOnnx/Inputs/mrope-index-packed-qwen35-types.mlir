// get_rope_index as a graph: packed rows, Qwen3.5. Token types (mm_token_type_ids) type the vision tokens.
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
                   %mask: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "attention_mask"},
                   %seg: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "segment_ids"},
                   %typ: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "token_types"},
                   %img: tensor<?x3xi64> {onnx.dim_params = ["images", ""], onnx.name = "image_grid_thw"},
                   %vid: tensor<?x3xi64> {onnx.dim_params = ["videos", ""], onnx.name = "video_grid_thw"})
      -> (tensor<3x?x?xi64> {onnx.dim_params = ["", "batch", "seq"], onnx.name = "position_ids"},
          tensor<?x?xi64> {onnx.dim_params = ["batch", "segments"], onnx.name = "rope_deltas"}) {
    %pos, %delta = rope.mrope_index %ids mask %mask segments %seg types %typ images %img videos %vid {arch = #rope.index_arch<qwen3_5>, image_token = 248056 : i64, video_token = 248057 : i64, vision_start = 248053 : i64}
        : (tensor<?x?xi64>, tensor<?x?xi64>, tensor<?x?xi64>, tensor<?x?xi64>, tensor<?x3xi64>, tensor<?x3xi64>) -> (tensor<3x?x?xi64>, tensor<?x?xi64>)
    onnx.return %pos, %delta : tensor<3x?x?xi64>, tensor<?x?xi64>
  }
}
