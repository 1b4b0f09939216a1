// get_rope_index as a graph: Qwen3.5 (one block per frame, padded slots 0, deltas against the unpadded length).
module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
                   %mask: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "attention_mask"},
                   %img: tensor<?x3xi64> {onnx.dim_params = ["images", ""], onnx.name = "image_grid_thw"},
                   %vid: tensor<?x3xi64> {onnx.dim_params = ["videos", ""], onnx.name = "video_grid_thw"})
      -> (tensor<3x?x?xi64> {onnx.dim_params = ["", "batch", "seq"], onnx.name = "position_ids"},
          tensor<?x1xi64> {onnx.dim_params = ["batch", ""], onnx.name = "rope_deltas"}) {
    %pos, %delta = rope.mrope_index %ids mask %mask images %img videos %vid {arch = #rope.index_arch<qwen3_5>, image_token = 248056 : i64, video_token = 248057 : i64, vision_start = 248053 : i64}
        : (tensor<?x?xi64>, tensor<?x?xi64>, tensor<?x3xi64>, tensor<?x3xi64>) -> (tensor<3x?x?xi64>, tensor<?x1xi64>)
    onnx.return %pos, %delta : tensor<3x?x?xi64>, tensor<?x1xi64>
  }
}
