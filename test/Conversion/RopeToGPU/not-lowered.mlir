// RUN: not mrope-opt %s --convert-rope-to-gpu 2>&1 | FileCheck %s
// RUN: not mrope-opt %s --convert-rope-to-gpu="freqs-per-thread=3" --split-input-file 2>&1 | FileCheck %s --check-prefix=WIDTH
// CHECK: error: could not lower rope.apply to a GPU kernel: it works on tensors; bufferize first
// WIDTH: error: could not lower rope.apply to a GPU kernel: it works on tensors; bufferize first
func.func @tensors(%x: tensor<1x2x4x128xf32>, %p: tensor<1x4xi64>) -> tensor<1x2x4x128xf32> {
  %y = rope.apply %x by %p : tensor<1x2x4x128xf32> by tensor<1x4xi64>
      with #rope.semantics<sections = [64], rotary_dim = 128, theta = 1.0e6>
  return %y : tensor<1x2x4x128xf32>
}

// -----

// WIDTH: error: could not lower rope.apply to a GPU kernel: freqs-per-thread 3 does not divide the number of frequencies 64
func.func @width(%x: memref<1x2x4x128xf32>, %p: memref<1x4xi64>) {
  rope.apply %x by %p : memref<1x2x4x128xf32> by memref<1x4xi64>
      with #rope.semantics<sections = [64], rotary_dim = 128, theta = 1.0e6>
  return
}
