// The KV-cache write after QK-norm + RoPE. Canonicalize + CSE drop what
// fusion left dead (the untiled producers, and the clone upstream leaves in
// the loop when a fusion is refused).
// RUN: mrope-opt %s --inline --transform-interpreter --canonicalize --cse | FileCheck %s
// RUN: mrope-opt %s --inline --transform-interpreter --canonicalize --cse --eliminate-empty-tensors \
// RUN:   --one-shot-bufferize=bufferize-function-boundaries --cse --canonicalize | FileCheck %s --check-prefix=BUF

#id = affine_map<(b, h, s, d) -> (b, h, s, d)>
#row = affine_map<(b, h, s, d) -> (b, h, s)>
#ch = affine_map<(b, h, s, d) -> (d)>
#sem = #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 5.0e6, order = interleaved>

// k is inserted into the cache after the fused loop (upstream has no public
// consumer fusion, and tensor.insert_slice is not tileable). Bufferization
// fuses the write: the loop's destination for k (the norm's tensor.empty)
// becomes the cache slot, so the norm writes each tile of k into the cache
// and the rotation rotates it there.
// CHECK-LABEL: func.func @cache_after_loop
// CHECK: scf.for
// CHECK: rope.apply
// CHECK: tensor.insert_slice %{{.*}}#1 into %{{.*}}[0, 0, %{{.*}}, 0] [1, 2, %{{.*}}, 128]
// BUF-LABEL: func.func @cache_after_loop
// BUF-SAME: %[[CACHE:[^:]*]]: memref<1x2x4096x128xf32, strided<[?, ?, ?, ?], offset: ?>>, %[[OFF:[^:]*]]: index)
// The only [B, H, S, D] buffer allocated is q's (what the function returns).
// BUF-NOT: memref.alloc({{.*}}) {{.*}} : memref<1x2x?x128xf32>
// BUF: %[[SLOT:.*]] = memref.subview %[[CACHE]][0, 0, %[[OFF]], 0] [1, 2, %{{.*}}, 128] [1, 1, 1, 1]
// BUF-NOT: memref.copy
// BUF: scf.for
// BUF: %[[KT:.*]] = memref.subview %[[SLOT]][0, 0, %{{.*}}, 0] [1, 2, %{{.*}}, 128] [1, 1, 1, 1]
// BUF: linalg.generic {{.*}} outs(%[[KT]] :
// BUF: rope.apply %{{.*}}, %[[KT]] by
// BUF-NOT: memref.copy
// BUF: return
func.func @cache_after_loop(%q: tensor<1x8x?x128xf32>, %k: tensor<1x2x?x128xf32>,
                            %wq: tensor<128xf32>, %wk: tensor<128xf32>, %pos: tensor<3x1x?xi64>,
                            %cache: tensor<1x2x4096x128xf32>, %off: index)
    -> (tensor<1x8x?x128xf32>, tensor<1x2x4096x128xf32>) {
  %c2 = arith.constant 2 : index
  %s = tensor.dim %k, %c2 : tensor<1x2x?x128xf32>
  %qn = call @rms_q(%q, %wq) : (tensor<1x8x?x128xf32>, tensor<128xf32>) -> tensor<1x8x?x128xf32>
  %kn = call @rms_k(%k, %wk) : (tensor<1x2x?x128xf32>, tensor<128xf32>) -> tensor<1x2x?x128xf32>
  %q2, %k2 = rope.apply %qn, %kn by %pos : tensor<1x8x?x128xf32>, tensor<1x2x?x128xf32> by tensor<3x1x?xi64>
      with #sem {fuse}
  %c = tensor.insert_slice %k2 into %cache[0, 0, %off, 0] [1, 2, %s, 128] [1, 1, 1, 1]
      : tensor<1x2x?x128xf32> into tensor<1x2x4096x128xf32>
  return %q2, %c : tensor<1x8x?x128xf32>, tensor<1x2x4096x128xf32>
}

// The write as a tileable consumer (linalg.copy into the slot), tiled over
// tokens: rope.apply (as producer, generateResultTileValue) and the norm are
// fused into the copy's loop.
// CHECK-LABEL: func.func @copy_tiled_by_tokens
// CHECK-NOT: rope.apply
// CHECK: scf.for
// CHECK: linalg.generic
// CHECK: %[[Y:.*]] = rope.apply %{{.*}} by %{{.*}} : tensor<1x2x?x128xf32> by tensor<3x1x?xi64>
// CHECK: linalg.copy {{.*}}ins(%[[Y]] : tensor<1x2x?x128xf32>)
// CHECK: }
// CHECK-NOT: rope.apply
// CHECK: return
func.func @copy_tiled_by_tokens(%k: tensor<1x2x?x128xf32>, %wk: tensor<128xf32>, %pos: tensor<3x1x?xi64>,
                                %cache: tensor<1x2x4096x128xf32>, %off: index) -> tensor<1x2x4096x128xf32> {
  %c2 = arith.constant 2 : index
  %s = tensor.dim %k, %c2 : tensor<1x2x?x128xf32>
  %kn = call @rms_k(%k, %wk) : (tensor<1x2x?x128xf32>, tensor<128xf32>) -> tensor<1x2x?x128xf32>
  %k2 = rope.apply %kn by %pos : tensor<1x2x?x128xf32> by tensor<3x1x?xi64> with #sem
  %slot = tensor.extract_slice %cache[0, 0, %off, 0] [1, 2, %s, 128] [1, 1, 1, 1]
      : tensor<1x2x4096x128xf32> to tensor<1x2x?x128xf32>
  %w = linalg.copy {tokens} ins(%k2 : tensor<1x2x?x128xf32>) outs(%slot : tensor<1x2x?x128xf32>) -> tensor<1x2x?x128xf32>
  %c = tensor.insert_slice %w into %cache[0, 0, %off, 0] [1, 2, %s, 128] [1, 1, 1, 1]
      : tensor<1x2x?x128xf32> into tensor<1x2x4096x128xf32>
  return %c : tensor<1x2x4096x128xf32>
}

// Negative: the same consumer tiled along D (32 channels) or along heads
// would need a piece of a rotation; rope.apply refuses the slice and stays
// whole, before the loop (the norm, which it reads, stays there too).
// CHECK-LABEL: func.func @copy_tiled_by_channels
// CHECK: %[[Y:.*]] = rope.apply %{{.*}} by %{{.*}} : tensor<1x2x?x128xf32> by tensor<3x1x?xi64>
// CHECK: scf.for
// CHECK: scf.for
// CHECK-NOT: rope.apply
// CHECK: tensor.extract_slice %[[Y]]{{.*}} [1, 2, %{{.*}}, 32]
// CHECK-NOT: rope.apply
// CHECK: linalg.copy
// CHECK-NOT: rope.apply
// CHECK: return
func.func @copy_tiled_by_channels(%k: tensor<1x2x?x128xf32>, %wk: tensor<128xf32>, %pos: tensor<3x1x?xi64>,
                                  %cache: tensor<1x2x4096x128xf32>, %off: index) -> tensor<1x2x4096x128xf32> {
  %c2 = arith.constant 2 : index
  %s = tensor.dim %k, %c2 : tensor<1x2x?x128xf32>
  %kn = call @rms_k(%k, %wk) : (tensor<1x2x?x128xf32>, tensor<128xf32>) -> tensor<1x2x?x128xf32>
  %k2 = rope.apply %kn by %pos : tensor<1x2x?x128xf32> by tensor<3x1x?xi64> with #sem
  %slot = tensor.extract_slice %cache[0, 0, %off, 0] [1, 2, %s, 128] [1, 1, 1, 1]
      : tensor<1x2x4096x128xf32> to tensor<1x2x?x128xf32>
  %w = linalg.copy {channels} ins(%k2 : tensor<1x2x?x128xf32>) outs(%slot : tensor<1x2x?x128xf32>) -> tensor<1x2x?x128xf32>
  %c = tensor.insert_slice %w into %cache[0, 0, %off, 0] [1, 2, %s, 128] [1, 1, 1, 1]
      : tensor<1x2x?x128xf32> into tensor<1x2x4096x128xf32>
  return %c : tensor<1x2x4096x128xf32>
}

// CHECK-LABEL: func.func @copy_tiled_by_heads
// CHECK: %[[Y:.*]] = rope.apply %{{.*}} by %{{.*}} : tensor<1x2x?x128xf32> by tensor<3x1x?xi64>
// CHECK: scf.for
// CHECK-NOT: rope.apply
// CHECK: tensor.extract_slice %[[Y]]{{.*}} [1, 1, %{{.*}}, 128]
// CHECK-NOT: rope.apply
// CHECK: return
func.func @copy_tiled_by_heads(%k: tensor<1x2x?x128xf32>, %wk: tensor<128xf32>, %pos: tensor<3x1x?xi64>,
                               %cache: tensor<1x2x4096x128xf32>, %off: index) -> tensor<1x2x4096x128xf32> {
  %c2 = arith.constant 2 : index
  %s = tensor.dim %k, %c2 : tensor<1x2x?x128xf32>
  %kn = call @rms_k(%k, %wk) : (tensor<1x2x?x128xf32>, tensor<128xf32>) -> tensor<1x2x?x128xf32>
  %k2 = rope.apply %kn by %pos : tensor<1x2x?x128xf32> by tensor<3x1x?xi64> with #sem
  %slot = tensor.extract_slice %cache[0, 0, %off, 0] [1, 2, %s, 128] [1, 1, 1, 1]
      : tensor<1x2x4096x128xf32> to tensor<1x2x?x128xf32>
  %w = linalg.copy {heads} ins(%k2 : tensor<1x2x?x128xf32>) outs(%slot : tensor<1x2x?x128xf32>) -> tensor<1x2x?x128xf32>
  %c = tensor.insert_slice %w into %cache[0, 0, %off, 0] [1, 2, %s, 128] [1, 1, 1, 1]
      : tensor<1x2x?x128xf32> into tensor<1x2x4096x128xf32>
  return %c : tensor<1x2x4096x128xf32>
}

func.func private @rms_q(%x: tensor<1x8x?x128xf32>, %w: tensor<128xf32>) -> tensor<1x8x?x128xf32> {
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %dim = arith.constant 128.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %s = tensor.dim %x, %c2 : tensor<1x8x?x128xf32>
  %e3 = tensor.empty(%s) : tensor<1x8x?xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e3 : tensor<1x8x?xf32>) -> tensor<1x8x?xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x : tensor<1x8x?x128xf32>) outs(%acc : tensor<1x8x?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %o, %sq : f32
    linalg.yield %r : f32
  } -> tensor<1x8x?xf32>
  %e4 = tensor.empty(%s) : tensor<1x8x?x128xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %ss, %w : tensor<1x8x?x128xf32>, tensor<1x8x?xf32>, tensor<128xf32>) outs(%e4 : tensor<1x8x?x128xf32>) {
  ^bb0(%a: f32, %sum: f32, %g: f32, %o: f32):
    %m = arith.divf %sum, %dim : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %z = arith.mulf %n, %g : f32
    linalg.yield %z : f32
  } -> tensor<1x8x?x128xf32>
  return %y : tensor<1x8x?x128xf32>
}

func.func private @rms_k(%x: tensor<1x2x?x128xf32>, %w: tensor<128xf32>) -> tensor<1x2x?x128xf32> {
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %dim = arith.constant 128.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %s = tensor.dim %x, %c2 : tensor<1x2x?x128xf32>
  %e3 = tensor.empty(%s) : tensor<1x2x?xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e3 : tensor<1x2x?xf32>) -> tensor<1x2x?xf32>
  %ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x : tensor<1x2x?x128xf32>) outs(%acc : tensor<1x2x?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %o, %sq : f32
    linalg.yield %r : f32
  } -> tensor<1x2x?xf32>
  %e4 = tensor.empty(%s) : tensor<1x2x?x128xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %ss, %w : tensor<1x2x?x128xf32>, tensor<1x2x?xf32>, tensor<128xf32>) outs(%e4 : tensor<1x2x?x128xf32>) {
  ^bb0(%a: f32, %sum: f32, %g: f32, %o: f32):
    %m = arith.divf %sum, %dim : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %a, %r : f32
    %z = arith.mulf %n, %g : f32
    linalg.yield %z : f32
  } -> tensor<1x2x?x128xf32>
  return %y : tensor<1x2x?x128xf32>
}

module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
    %apply = transform.structured.match ops{["rope.apply"]} attributes{fuse} in %root
        : (!transform.any_op) -> !transform.any_op
    %f0, %l0 = transform.structured.fuse %apply tile_sizes [0, 16]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %tokens = transform.structured.match ops{["linalg.copy"]} attributes{tokens} in %root
        : (!transform.any_op) -> !transform.any_op
    %f1, %l1 = transform.structured.fuse %tokens tile_sizes [0, 0, 16, 0]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    %channels = transform.structured.match ops{["linalg.copy"]} attributes{channels} in %root
        : (!transform.any_op) -> !transform.any_op
    %f2, %l2:2 = transform.structured.fuse %channels tile_sizes [0, 0, 16, 32]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op, !transform.any_op)
    %heads = transform.structured.match ops{["linalg.copy"]} attributes{heads} in %root
        : (!transform.any_op) -> !transform.any_op
    %f3, %l3 = transform.structured.fuse %heads tile_sizes [0, 1, 0, 0]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }
}
