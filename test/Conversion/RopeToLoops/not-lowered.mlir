// RUN: not mrope-opt %s --convert-rope-to-loops 2>&1 | FileCheck %s
// CHECK: error: could not lower rope.apply to loops: it works on tensors; bufferize first
func.func @tensors(%x: tensor<1x2x4x128xf32>, %p: tensor<1x4xi64>) -> tensor<1x2x4x128xf32> {
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<1x4xi64>
      with #rope.semantics<sections = [64], rotary_dim = 128, theta = 1.0e6>
  return %y : tensor<1x2x4x128xf32>
}
