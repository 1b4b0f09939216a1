// mrope-cpu-pipeline on IR that was tiled by tokens: the tiles are subviews
// with dynamic offsets, which expand-strided-metadata computes with
// affine.apply. The pipeline must lower those (lower-affine after it, and the
// arith that produces converted after that) and leave only the LLVM dialect.
// RUN: mrope-opt %s --mrope-cpu-pipeline | FileCheck %s
// The tensor form with a fused RMSNorm producer (linalg) and a KV-cache
// slot: the pipeline eliminates the empty tensor, bufferizes in place and
// lowers linalg to loops as well.
// RUN: mrope-opt %s --mrope-cpu-pipeline | FileCheck %s --check-prefix=NORM

#sem = #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 5.0e6, order = interleaved>
#id = affine_map<(b, h, s, d) -> (b, h, s, d)>
#row = affine_map<(b, h, s, d) -> (b, h, s)>
#ch = affine_map<(b, h, s, d) -> (d)>

// CHECK-LABEL: llvm.func @tiled_memref
// CHECK-NOT: affine.
// CHECK-NOT: arith.
// CHECK-NOT: memref.
// CHECK-NOT: scf.
// CHECK-NOT: rope.
// CHECK: llvm.return
func.func @tiled_memref(%k: memref<1x2x?x128xf32>, %pos: memref<3x1x?xi64>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c16 = arith.constant 16 : index
  %s = memref.dim %k, %c2 : memref<1x2x?x128xf32>
  scf.for %i = %c0 to %s step %c16 {
    %n = affine.min affine_map<(i)[s] -> (16, s - i)>(%i)[%s]
    %kt = memref.subview %k[0, 0, %i, 0] [1, 2, %n, 128] [1, 1, 1, 1]
        : memref<1x2x?x128xf32> to memref<1x2x?x128xf32, strided<[?, ?, 128, 1], offset: ?>>
    %pt = memref.subview %pos[0, 0, %i] [3, 1, %n] [1, 1, 1]
        : memref<3x1x?xi64> to memref<3x1x?xi64, strided<[?, ?, 1], offset: ?>>
    rope.apply %kt by %pt : memref<1x2x?x128xf32, strided<[?, ?, 128, 1], offset: ?>>
        by memref<3x1x?xi64, strided<[?, ?, 1], offset: ?>> with #sem
  }
  return
}

// NORM-LABEL: llvm.func @norm_rope_cache
// NORM-NOT: affine.
// NORM-NOT: linalg.
// NORM-NOT: bufferization.
// NORM-NOT: memref.
// NORM-NOT: rope.
// NORM: llvm.return
func.func @norm_rope_cache(%k: tensor<1x2x?x128xf32>, %w: tensor<128xf32>, %pos: tensor<3x1x?xi64>,
                           %cache: tensor<1x2x64x128xf32>, %off: index) -> tensor<1x2x64x128xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c16 = arith.constant 16 : index
  %zero = arith.constant 0.0 : f32
  %dim = arith.constant 128.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %s = tensor.dim %k, %c2 : tensor<1x2x?x128xf32>
  %e = tensor.empty(%s) : tensor<1x2x?x128xf32>
  %r = scf.for %i = %c0 to %s step %c16 iter_args(%acc = %e) -> tensor<1x2x?x128xf32> {
    %n = affine.min affine_map<(i)[s] -> (16, s - i)>(%i)[%s]
    %kt = tensor.extract_slice %k[0, 0, %i, 0] [1, 2, %n, 128] [1, 1, 1, 1]
        : tensor<1x2x?x128xf32> to tensor<1x2x?x128xf32>
    %pt = tensor.extract_slice %pos[0, 0, %i] [3, 1, %n] [1, 1, 1]
        : tensor<3x1x?xi64> to tensor<3x1x?xi64>
    %e3 = tensor.empty(%n) : tensor<1x2x?xf32>
    %z = linalg.fill ins(%zero : f32) outs(%e3 : tensor<1x2x?xf32>) -> tensor<1x2x?xf32>
    %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
        ins(%kt : tensor<1x2x?x128xf32>) outs(%z : tensor<1x2x?xf32>) {
    ^bb0(%a: f32, %o: f32):
      %sq = arith.mulf %a, %a : f32
      %t = arith.addf %o, %sq : f32
      linalg.yield %t : f32
    } -> tensor<1x2x?xf32>
    %dst = tensor.extract_slice %acc[0, 0, %i, 0] [1, 2, %n, 128] [1, 1, 1, 1]
        : tensor<1x2x?x128xf32> to tensor<1x2x?x128xf32>
    %y = linalg.generic {indexing_maps = [#id, #row, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
        ins(%kt, %ss, %w : tensor<1x2x?x128xf32>, tensor<1x2x?xf32>, tensor<128xf32>) outs(%dst : tensor<1x2x?x128xf32>) {
    ^bb0(%a: f32, %sum: f32, %g: f32, %o: f32):
      %m = arith.divf %sum, %dim : f32
      %v = arith.addf %m, %eps : f32
      %rs = math.rsqrt %v : f32
      %nn = arith.mulf %a, %rs : f32
      %out = arith.mulf %nn, %g : f32
      linalg.yield %out : f32
    } -> tensor<1x2x?x128xf32>
    %rot = rope.apply %y by %pt : tensor<1x2x?x128xf32> by tensor<3x1x?xi64> with #sem
    %next = tensor.insert_slice %rot into %acc[0, 0, %i, 0] [1, 2, %n, 128] [1, 1, 1, 1]
        : tensor<1x2x?x128xf32> into tensor<1x2x?x128xf32>
    scf.yield %next : tensor<1x2x?x128xf32>
  }
  %c = tensor.insert_slice %r into %cache[0, 0, %off, 0] [1, 2, %s, 128] [1, 1, 1, 1]
      : tensor<1x2x?x128xf32> into tensor<1x2x64x128xf32>
  return %c : tensor<1x2x64x128xf32>
}
