// RUN: mrope-opt %s --convert-rope-to-loops="vector-width=16" --split-input-file | FileCheck %s

// An RMSNorm tiled into the rope.apply's loop (what tile-and-fuse and
// bufferization leave in the fused kernel's tile: fill, sum of squares,
// rsqrt, scale) becomes part of the rotation's loops. The heads of a token
// block go in groups of ceil(W / n) (n rows per head: one head of a prefill
// block, W heads of a one-token decode step). Per group: one loop sums each
// row's squares (the 8 16-lane chunks of the source into four
// accumulators, `contract` only so that LLVM keeps them apart, then a tree
// and one reduction) into a slot of a zeroed stack buffer (two slots of
// round_up(W + T, W) floats); one loop takes the slot's rsqrt 16 lanes at a
// time (divf, addf eps, rsqrt: the linalg op's order, on a vector); then the
// rows are re-read (from L1), scaled by r and the weight, rotated (products
// fused into the sums: fastmath<contract>) and stored into the rope.apply
// input. The sums run one group ahead of the rotation (group 0 before the
// group loop); each row summed prefetches the same row of the head a group
// later. q is normalized in place; k's
// norm reads k and writes the cache slot. No linalg op is left; without the
// streaming attribute no store is non-temporal.
#id = affine_map<(b, h, s, d) -> (b, h, s, d)>
#row = affine_map<(b, h, s, d) -> (b, h, s)>
#ch = affine_map<(b, h, s, d) -> (d)>
#id3 = affine_map<(b, h, s) -> (b, h, s)>
// CHECK-LABEL: func.func @fused_tile
// CHECK-SAME: (%[[Q:[^:]*]]: memref<1x4x?x128xf32>, %[[K:[^:]*]]: memref<1x2x?x128xf32>, %[[SLOT:[^:]*]]: memref<1x2x?x128xf32>, %{{[^:]*}}: memref<3x1x?xi64>, %[[WQ:[^:]*]]: memref<128xf32>, %[[WK:[^:]*]]: memref<128xf32>
// CHECK-NOT: linalg.
// CHECK: %[[RS:.*]] = memref.alloca() {alignment = 64 : i64} : memref<96xf32>
// CHECK: scf.for %[[Z:.*]] = %c0 to %c96 step %c16
// CHECK-NEXT: vector.store %{{.*}}, %[[RS]][%[[Z]]] : memref<96xf32>, vector<16xf32>
// CHECK: scf.for %[[S0:.*]] = %c0 to %{{.*}} step %c32
// CHECK: %[[LEFT:.*]] = arith.subi %{{.*}}, %[[S0]] : index
// CHECK: %[[N:.*]] = arith.minsi %[[LEFT]], %c32 : index
// CHECK: %[[NM1:.*]] = arith.subi %[[N]], %c1 : index
// CHECK: %[[NW:.*]] = arith.addi %[[NM1]], %c16 : index
// CHECK: %[[PER:.*]] = arith.divui %[[NW]], %[[N]] : index
// CHECK: %[[G:.*]] = arith.minsi %[[PER]], %c4 : index
// CHECK: scf.for %[[H0:.*]] = %c0 to %{{.*}} step %c1
// CHECK: scf.for %{{.*}} = %c0 to %[[N]] step %c1
// CHECK-COUNT-8: memref.prefetch %[[Q]][%{{.*}}], read, locality<2>, data
// CHECK: %[[X0:.*]] = vector.load %[[Q]][%{{.*}}, %[[H0]], %{{.*}}, %c0] : memref<1x4x?x128xf32>, vector<16xf32>
// CHECK: %[[SQ0:.*]] = arith.mulf %[[X0]], %[[X0]] fastmath<contract> : vector<16xf32>
// CHECK-COUNT-7: arith.addf %{{.*}} fastmath<contract> : vector<16xf32>
// CHECK: %[[SUM:.*]] = vector.reduction <add>, %{{.*}} fastmath<reassoc,contract> : vector<16xf32> into f32
// CHECK: memref.store %[[SUM]], %[[RS]][%{{.*}}]
// CHECK-NOT: math.rsqrt %{{.*}} : f32
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c16
// CHECK: %[[SUMS:.*]] = vector.load %[[RS]][%{{.*}}] : memref<96xf32>, vector<16xf32>
// CHECK: %[[MEAN:.*]] = arith.divf %[[SUMS]], %{{.*}} : vector<16xf32>
// CHECK: %[[V:.*]] = arith.addf %[[MEAN]], %{{.*}} : vector<16xf32>
// CHECK: %[[R16:.*]] = math.rsqrt %[[V]] : vector<16xf32>
// CHECK: vector.store %[[R16]], %[[RS]][%{{.*}}] : memref<96xf32>, vector<16xf32>
// CHECK: scf.for %[[GQ:.*]] = %c0 to %c4 step %[[G]]
// CHECK: %[[NEXT:.*]] = arith.addi %[[GQ]], %[[G]] : index
// CHECK: scf.for %[[HN:.*]] = %[[NEXT]] to %{{.*}} step %c1
// CHECK: vector.load %[[Q]][%{{.*}}, %[[HN]], %{{.*}}, %c0]
// CHECK: memref.store %{{.*}}, %[[RS]]
// CHECK: math.rsqrt %{{.*}} : vector<16xf32>
// CHECK: scf.for %[[H:.*]] = %[[GQ]] to %{{.*}} step %c1
// CHECK: scf.for %[[T2:.*]] = %c0 to %[[N]] step %c1
// CHECK: %[[R:.*]] = memref.load %[[RS]][%{{.*}}]
// CHECK: %[[XA:.*]] = vector.load %[[Q]][%{{.*}}, %[[H]], %{{.*}}, %c0]
// CHECK: %[[GA:.*]] = vector.load %[[WQ]][%c0] : memref<128xf32>, vector<16xf32>
// CHECK: %[[RB:.*]] = vector.broadcast %[[R]] : f32 to vector<16xf32>
// CHECK: %[[NA:.*]] = arith.mulf %[[XA]], %[[RB]] : vector<16xf32>
// CHECK: %[[YA:.*]] = arith.mulf %[[NA]], %[[GA]] : vector<16xf32>
// CHECK: vector.load %[[Q]][%{{.*}}, %[[H]], %{{.*}}, %c64]
// CHECK: %[[GB:.*]] = vector.load %[[WQ]][%c64]
// CHECK: %[[NB:.*]] = arith.mulf %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK: %[[YB:.*]] = arith.mulf %[[NB]], %[[GB]] : vector<16xf32>
// CHECK: %[[X1C:.*]] = arith.mulf %[[YA]], %[[C:.*]] fastmath<contract> : vector<16xf32>
// CHECK: %[[X2S:.*]] = arith.mulf %[[YB]], %[[S:.*]] fastmath<contract> : vector<16xf32>
// CHECK: %[[Y1:.*]] = arith.subf %[[X1C]], %[[X2S]] fastmath<contract> : vector<16xf32>
// CHECK: %[[X2C:.*]] = arith.mulf %[[YB]], %[[C]] fastmath<contract> : vector<16xf32>
// CHECK: %[[X1S:.*]] = arith.mulf %[[YA]], %[[S]] fastmath<contract> : vector<16xf32>
// CHECK: %[[Y2:.*]] = arith.addf %[[X2C]], %[[X1S]] fastmath<contract> : vector<16xf32>
// CHECK: vector.store %[[Y1]], %[[Q]][%{{.*}}, %[[H]], %{{.*}}, %c0] : memref<1x4x?x128xf32>, vector<16xf32>
// CHECK: vector.store %[[Y2]], %[[Q]][%{{.*}}, %[[H]], %{{.*}}, %c64] : memref<1x4x?x128xf32>, vector<16xf32>
// CHECK: vector.load %[[K]][%{{.*}}, %c0]
// CHECK: math.rsqrt %{{.*}} : vector<16xf32>
// CHECK: vector.load %[[K]][%{{.*}}, %c0]
// CHECK: math.rsqrt %{{.*}} : vector<16xf32>
// CHECK: scf.for %[[HK:.*]] = %{{.*}} to %{{.*}} step %c1
// CHECK: vector.load %[[K]][%{{.*}}, %[[HK]], %{{.*}}, %c0]
// CHECK: vector.load %[[WK]][%c0]
// CHECK: vector.store %{{.*}}, %[[SLOT]][%{{.*}}, %[[HK]], %{{.*}}, %c0] : memref<1x2x?x128xf32>, vector<16xf32>
// CHECK-NOT: nontemporal
// CHECK-NOT: linalg.
// CHECK-NOT: math.rsqrt %{{.*}} : f32
// CHECK: return
func.func @fused_tile(%q: memref<1x4x?x128xf32>, %k: memref<1x2x?x128xf32>,
                      %slot: memref<1x2x?x128xf32>, %pos: memref<3x1x?xi64>,
                      %wq: memref<128xf32>, %wk: memref<128xf32>, %n: index) {
  %zero = arith.constant 0.0 : f32
  %dim = arith.constant 128.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %ssq = memref.alloc(%n) : memref<1x4x?xf32>
  %ssk = memref.alloc(%n) : memref<1x2x?xf32>
  linalg.fill ins(%zero : f32) outs(%ssq : memref<1x4x?xf32>)
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q : memref<1x4x?x128xf32>) outs(%ssq : memref<1x4x?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %o, %sq fastmath<reassoc> : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%ssq : memref<1x4x?xf32>) outs(%ssq : memref<1x4x?xf32>) {
  ^bb0(%s: f32, %o: f32):
    %m = arith.divf %s, %dim : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id, #row, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q, %ssq, %wq : memref<1x4x?x128xf32>, memref<1x4x?xf32>, memref<128xf32>) outs(%q : memref<1x4x?x128xf32>) {
  ^bb0(%a: f32, %r: f32, %g: f32, %o: f32):
    %x = arith.mulf %a, %r : f32
    %y = arith.mulf %x, %g : f32
    linalg.yield %y : f32
  }
  linalg.fill ins(%zero : f32) outs(%ssk : memref<1x2x?xf32>)
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%k : memref<1x2x?x128xf32>) outs(%ssk : memref<1x2x?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %sq, %o fastmath<reassoc> : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%ssk : memref<1x2x?xf32>) outs(%ssk : memref<1x2x?xf32>) {
  ^bb0(%s: f32, %o: f32):
    %m = arith.divf %s, %dim : f32
    %v = arith.addf %eps, %m : f32
    %r = math.rsqrt %v : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id, #row, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%k, %ssk, %wk : memref<1x2x?x128xf32>, memref<1x2x?xf32>, memref<128xf32>) outs(%slot : memref<1x2x?x128xf32>) {
  ^bb0(%a: f32, %r: f32, %g: f32, %o: f32):
    %x = arith.mulf %a, %r : f32
    %y = arith.mulf %x, %g : f32
    linalg.yield %y : f32
  }
  rope.apply %q, %slot by %pos : memref<1x4x?x128xf32>, memref<1x2x?x128xf32> by memref<3x1x?xi64>
      with #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 5.0e6, order = interleaved>
  return
}

// -----

// mrope.streaming_out on the function (the fused kernel's _nt variant): the
// rows the norm writes out of place (k's, into the cache slot) are stored
// non-temporally, aligned to the 64-byte store; q, normalized in place, is
// stored as before.
#id = affine_map<(b, h, s, d) -> (b, h, s, d)>
#row = affine_map<(b, h, s, d) -> (b, h, s)>
#ch = affine_map<(b, h, s, d) -> (d)>
#id3 = affine_map<(b, h, s) -> (b, h, s)>
// CHECK-LABEL: func.func @streaming
// CHECK-SAME: (%[[Q:[^:]*]]: memref<1x4x?x128xf32>, %[[K:[^:]*]]: memref<1x2x?x128xf32>, %[[SLOT:[^:]*]]: memref<1x2x?x128xf32>
// CHECK-COUNT-8: vector.store %{{.*}}, %[[Q]][%{{.*}}] : memref<1x4x?x128xf32>, vector<16xf32>
// CHECK-NOT: vector.store {{.*}}%[[Q]]{{.*}}nontemporal
// CHECK-COUNT-8: vector.store %{{.*}}, %[[SLOT]][%{{.*}}] {alignment = 64 : i64, nontemporal = true} : memref<1x2x?x128xf32>, vector<16xf32>
// CHECK: return
func.func @streaming(%q: memref<1x4x?x128xf32>, %k: memref<1x2x?x128xf32>,
                      %slot: memref<1x2x?x128xf32>, %pos: memref<3x1x?xi64>,
                      %wq: memref<128xf32>, %wk: memref<128xf32>, %n: index) attributes {mrope.streaming_out} {
  %zero = arith.constant 0.0 : f32
  %dim = arith.constant 128.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %ssq = memref.alloc(%n) : memref<1x4x?xf32>
  %ssk = memref.alloc(%n) : memref<1x2x?xf32>
  linalg.fill ins(%zero : f32) outs(%ssq : memref<1x4x?xf32>)
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q : memref<1x4x?x128xf32>) outs(%ssq : memref<1x4x?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %o, %sq fastmath<reassoc> : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%ssq : memref<1x4x?xf32>) outs(%ssq : memref<1x4x?xf32>) {
  ^bb0(%s: f32, %o: f32):
    %m = arith.divf %s, %dim : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id, #row, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q, %ssq, %wq : memref<1x4x?x128xf32>, memref<1x4x?xf32>, memref<128xf32>) outs(%q : memref<1x4x?x128xf32>) {
  ^bb0(%a: f32, %r: f32, %g: f32, %o: f32):
    %x = arith.mulf %a, %r : f32
    %y = arith.mulf %x, %g : f32
    linalg.yield %y : f32
  }
  linalg.fill ins(%zero : f32) outs(%ssk : memref<1x2x?xf32>)
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%k : memref<1x2x?x128xf32>) outs(%ssk : memref<1x2x?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %sq, %o fastmath<reassoc> : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%ssk : memref<1x2x?xf32>) outs(%ssk : memref<1x2x?xf32>) {
  ^bb0(%s: f32, %o: f32):
    %m = arith.divf %s, %dim : f32
    %v = arith.addf %eps, %m : f32
    %r = math.rsqrt %v : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id, #row, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%k, %ssk, %wk : memref<1x2x?x128xf32>, memref<1x2x?xf32>, memref<128xf32>) outs(%slot : memref<1x2x?x128xf32>) {
  ^bb0(%a: f32, %r: f32, %g: f32, %o: f32):
    %x = arith.mulf %a, %r : f32
    %y = arith.mulf %x, %g : f32
    linalg.yield %y : f32
  }
  rope.apply %q, %slot by %pos : memref<1x4x?x128xf32>, memref<1x2x?x128xf32> by memref<3x1x?xi64>
      with #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 5.0e6, order = interleaved>
  return
}

// -----

// Partial rotary (32 of 64 channels): the norm covers the whole row, so the
// channels the rotation leaves alone are scaled and stored too.
#id = affine_map<(b, h, s, d) -> (b, h, s, d)>
#row = affine_map<(b, h, s, d) -> (b, h, s)>
#ch = affine_map<(b, h, s, d) -> (d)>
#id3 = affine_map<(b, h, s) -> (b, h, s)>
// CHECK-LABEL: func.func @partial
// CHECK-NOT: linalg.
// CHECK: math.rsqrt
// CHECK: vector.store %{{.*}}, %[[OUT:.*]][%{{.*}}, %{{.*}}, %{{.*}}, %c0] : memref<1x2x?x64xf32>, vector<16xf32>
// CHECK: vector.store %{{.*}}, %[[OUT]][%{{.*}}, %{{.*}}, %{{.*}}, %c16] : memref<1x2x?x64xf32>, vector<16xf32>
// CHECK: vector.load %[[SRC:.*]][%{{.*}}, %{{.*}}, %{{.*}}, %c32] : memref<1x2x?x64xf32>, vector<16xf32>
// CHECK: vector.load %{{.*}}[%c32] : memref<64xf32>, vector<16xf32>
// CHECK: vector.store %{{.*}}, %[[OUT]][%{{.*}}, %{{.*}}, %{{.*}}, %c32]
// CHECK: vector.store %{{.*}}, %[[OUT]][%{{.*}}, %{{.*}}, %{{.*}}, %c48]
// CHECK-NOT: linalg.
func.func @partial(%x: memref<1x2x?x64xf32>, %out: memref<1x2x?x64xf32>, %pos: memref<1x?xi64>,
                   %w: memref<64xf32>, %n: index) {
  %zero = arith.constant 0.0 : f32
  %dim = arith.constant 64.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %ss = memref.alloca(%n) : memref<1x2x?xf32>
  %rs = memref.alloca(%n) : memref<1x2x?xf32>
  linalg.fill ins(%zero : f32) outs(%ss : memref<1x2x?xf32>)
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x : memref<1x2x?x64xf32>) outs(%ss : memref<1x2x?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %o, %sq : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%ss : memref<1x2x?xf32>) outs(%rs : memref<1x2x?xf32>) {
  ^bb0(%s: f32, %o: f32):
    %m = arith.divf %s, %dim : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id, #row, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %rs, %w : memref<1x2x?x64xf32>, memref<1x2x?xf32>, memref<64xf32>) outs(%out : memref<1x2x?x64xf32>) {
  ^bb0(%a: f32, %r: f32, %g: f32, %o: f32):
    %x2 = arith.mulf %a, %r : f32
    %y = arith.mulf %x2, %g : f32
    linalg.yield %y : f32
  }
  rope.apply %out by %pos : memref<1x2x?x64xf32> by memref<1x?xi64>
      with #rope.semantics<sections = [16], rotary_dim = 32, theta = 1.0e4>
  return
}

// -----

// Not absorbed: a store between the norm and the rotation (here into the
// weight the norm read) must see the norm's writes in program order, so the
// norm stays as linalg ops and the rotation reads its input in place.
#id = affine_map<(b, h, s, d) -> (b, h, s, d)>
#row = affine_map<(b, h, s, d) -> (b, h, s)>
#ch = affine_map<(b, h, s, d) -> (d)>
#id3 = affine_map<(b, h, s) -> (b, h, s)>
// CHECK-LABEL: func.func @store_between
// CHECK: linalg.fill
// CHECK-COUNT-3: linalg.generic
// CHECK: memref.store
// CHECK-NOT: math.rsqrt
// CHECK: return
func.func @store_between(%x: memref<1x2x?x64xf32>, %pos: memref<1x?xi64>,
                         %w: memref<64xf32>, %n: index) {
  %zero = arith.constant 0.0 : f32
  %dim = arith.constant 64.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %c0 = arith.constant 0 : index
  %ss = memref.alloca(%n) : memref<1x2x?xf32>
  linalg.fill ins(%zero : f32) outs(%ss : memref<1x2x?xf32>)
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x : memref<1x2x?x64xf32>) outs(%ss : memref<1x2x?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %o, %sq : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%ss : memref<1x2x?xf32>) outs(%ss : memref<1x2x?xf32>) {
  ^bb0(%s: f32, %o: f32):
    %m = arith.divf %s, %dim : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id, #row, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %ss, %w : memref<1x2x?x64xf32>, memref<1x2x?xf32>, memref<64xf32>) outs(%x : memref<1x2x?x64xf32>) {
  ^bb0(%a: f32, %r: f32, %g: f32, %o: f32):
    %x2 = arith.mulf %a, %r : f32
    %y = arith.mulf %x2, %g : f32
    linalg.yield %y : f32
  }
  memref.store %zero, %w[%c0] : memref<64xf32>
  rope.apply %x by %pos : memref<1x2x?x64xf32> by memref<1x?xi64>
      with #rope.semantics<sections = [16], rotary_dim = 32, theta = 1.0e4>
  return
}

// -----

// Not absorbed: the sums of squares are read again after the rotation (a
// caller keeping them), so they must still be computed; and a reduction that
// is not a sum of squares (sum of |x|: an L1 norm) is not an RMSNorm.
#id = affine_map<(b, h, s, d) -> (b, h, s, d)>
#row = affine_map<(b, h, s, d) -> (b, h, s)>
#ch = affine_map<(b, h, s, d) -> (d)>
#id3 = affine_map<(b, h, s) -> (b, h, s)>
// CHECK-LABEL: func.func @kept_and_l1
// CHECK: linalg.fill
// CHECK-COUNT-3: linalg.generic
// CHECK: linalg.fill
// CHECK-COUNT-3: linalg.generic
// CHECK-NOT: math.rsqrt
// CHECK: memref.copy
func.func @kept_and_l1(%x: memref<1x2x?x64xf32>, %y: memref<1x2x?x64xf32>, %pos: memref<1x?xi64>,
                       %w: memref<64xf32>, %keep: memref<1x2x?xf32>, %n: index) {
  %zero = arith.constant 0.0 : f32
  %dim = arith.constant 64.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %ss = memref.alloca(%n) : memref<1x2x?xf32>
  linalg.fill ins(%zero : f32) outs(%ss : memref<1x2x?xf32>)
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x : memref<1x2x?x64xf32>) outs(%ss : memref<1x2x?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %sq = arith.mulf %a, %a : f32
    %r = arith.addf %o, %sq : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%ss : memref<1x2x?xf32>) outs(%ss : memref<1x2x?xf32>) {
  ^bb0(%s: f32, %o: f32):
    %m = arith.divf %s, %dim : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id, #row, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %ss, %w : memref<1x2x?x64xf32>, memref<1x2x?xf32>, memref<64xf32>) outs(%x : memref<1x2x?x64xf32>) {
  ^bb0(%a: f32, %r: f32, %g: f32, %o: f32):
    %x2 = arith.mulf %a, %r : f32
    %y2 = arith.mulf %x2, %g : f32
    linalg.yield %y2 : f32
  }
  %sy = memref.alloca(%n) : memref<1x2x?xf32>
  linalg.fill ins(%zero : f32) outs(%sy : memref<1x2x?xf32>)
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%y : memref<1x2x?x64xf32>) outs(%sy : memref<1x2x?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %abs = math.absf %a : f32
    %r = arith.addf %o, %abs : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%sy : memref<1x2x?xf32>) outs(%sy : memref<1x2x?xf32>) {
  ^bb0(%s: f32, %o: f32):
    %m = arith.divf %s, %dim : f32
    %v = arith.addf %m, %eps : f32
    %r = math.rsqrt %v : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#id, #row, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y, %sy, %w : memref<1x2x?x64xf32>, memref<1x2x?xf32>, memref<64xf32>) outs(%y : memref<1x2x?x64xf32>) {
  ^bb0(%a: f32, %r: f32, %g: f32, %o: f32):
    %x2 = arith.mulf %a, %r : f32
    %y2 = arith.mulf %x2, %g : f32
    linalg.yield %y2 : f32
  }
  rope.apply %x, %y by %pos : memref<1x2x?x64xf32>, memref<1x2x?x64xf32> by memref<1x?xi64>
      with #rope.semantics<sections = [16], rotary_dim = 32, theta = 1.0e4>
  memref.copy %ss, %keep : memref<1x2x?xf32> to memref<1x2x?xf32>
  return
}
