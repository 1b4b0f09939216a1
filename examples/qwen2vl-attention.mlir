// One Qwen2-VL-7B attention's rotary embedding, as the rope dialect states it:
// q (28 heads) and k (4 KV heads) rotated by 3D positions (t, h, w).
func.func @qwen2vl_attention_rope(%q: tensor<1x28x?x128xf32>, %k: tensor<1x4x?x128xf32>,
                                  %pos: tensor<3x1x?xi64>)
    -> (tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32>) {
  %q2, %k2 = rope.apply %q, %k by %pos : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32> by tensor<3x1x?xi64>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return %q2, %k2 : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32>
}
