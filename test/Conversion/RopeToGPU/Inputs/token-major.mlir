// [B, S, H, D] q and k seen as [B, H, S, D] through strides, for ptxas.test.
func.func @tm(%q: memref<1x28x?x128xf32, strided<[?, 128, 3584, 1]>>, %k: memref<1x4x?x128xf32, strided<[?, 128, 512, 1]>>, %pos: memref<3x1x?xi64>) {
  rope.apply %q, %k by %pos : memref<1x28x?x128xf32, strided<[?, 128, 3584, 1]>>, memref<1x4x?x128xf32, strided<[?, 128, 512, 1]>> by memref<3x1x?xi64>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}
