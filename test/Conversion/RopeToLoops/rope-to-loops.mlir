// RUN: mrope-opt %s --convert-rope-to-loops --split-input-file | FileCheck %s

// M-RoPE, q and k in one loop nest: one scf.parallel over tokens, the three
// position rows loaded once per token, cos/sin of the 64 frequencies formed
// once as vectors and reused by every head of q and of k, halves moved with
// contiguous vector loads/stores.
// CHECK-LABEL: func.func @mrope_qk
// CHECK-SAME: (%[[Q:.*]]: memref<1x28x?x128xf32>, %[[K:.*]]: memref<1x4x?x128xf32>, %[[P:.*]]: memref<3x1x?xi64>)
// CHECK-DAG: %[[INV:.*]] = arith.constant dense<[1.000000e+00, 0.80584222, {{.*}}]> : vector<64xf32>
// CHECK-DAG: arith.constant dense<[false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, true, {{.*}}]> : vector<64xi1>
// CHECK: scf.parallel (%[[B:.*]], %[[S:.*]]) =
// CHECK-COUNT-3: memref.load %[[P]][%{{.*}}, %[[B]], %[[S]]] : memref<3x1x?xi64>
// CHECK-NOT: memref.load
// CHECK: %[[ANGLE:.*]] = arith.mulf %{{.*}}, %[[INV]] : vector<64xf32>
// CHECK: arith.extf %[[ANGLE]] : vector<64xf32> to vector<64xf64>
// CHECK: math.roundeven %{{.*}} : vector<64xf64>
// CHECK: %[[SIN:.*]] = arith.truncf %{{.*}} : vector<64xf64> to vector<64xf32>
// CHECK: %[[COS:.*]] = arith.truncf %{{.*}} : vector<64xf64> to vector<64xf32>
// CHECK: scf.for %[[H:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[X1:.*]] = vector.load %[[Q]][%[[B]], %[[H]], %[[S]], %{{.*}}] : memref<1x28x?x128xf32>, vector<64xf32>
// CHECK: %[[X2:.*]] = vector.load %[[Q]][%[[B]], %[[H]], %[[S]], %{{.*}}] : memref<1x28x?x128xf32>, vector<64xf32>
// CHECK: %[[C:.*]] = arith.mulf %[[X2]], %[[SIN]]
// CHECK: %[[A:.*]] = arith.mulf %[[X1]], %[[COS]]
// CHECK: %[[Y1:.*]] = arith.subf %[[A]], %[[C]]
// CHECK: %[[E:.*]] = arith.mulf %[[X1]], %[[SIN]]
// CHECK: %[[D:.*]] = arith.mulf %[[X2]], %[[COS]]
// CHECK: %[[Y2:.*]] = arith.addf %[[D]], %[[E]]
// CHECK: vector.store %[[Y1]], %[[Q]][%[[B]], %[[H]], %[[S]], %{{.*}}] : memref<1x28x?x128xf32>, vector<64xf32>
// CHECK: vector.store %[[Y2]], %[[Q]][%[[B]], %[[H]], %[[S]], %{{.*}}] : memref<1x28x?x128xf32>, vector<64xf32>
// CHECK: scf.for
// CHECK: vector.load %[[K]]
// CHECK-NOT: math.sin
// CHECK-NOT: rope.apply
func.func @mrope_qk(%q: memref<1x28x?x128xf32>, %k: memref<1x4x?x128xf32>, %pos: memref<3x1x?xi64>) {
  rope.apply %q, %k by %pos : memref<1x28x?x128xf32>, memref<1x4x?x128xf32> by memref<3x1x?xi64>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return
}

// -----

// GPT-J pairs on a partial rotary dim: the 16 rotated channels are one
// vector; pairs are swapped in registers, channels 16..63 are not touched.
// One position row ([B, S]) is loaded once.
// CHECK-LABEL: func.func @gptj_partial
// CHECK: scf.parallel
// CHECK: memref.load %{{.*}}[%{{.*}}, %{{.*}}] : memref<?x?xi32>
// CHECK: arith.sitofp %{{.*}} : i32 to f32
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7] : vector<8xf32>, vector<8xf32>
// CHECK: scf.for
// CHECK: %[[X:.*]] = vector.load %{{.*}} : memref<?x8x?x64xf32>, vector<16xf32>
// CHECK: vector.shuffle %[[X]], %[[X]] [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14]
// CHECK: vector.store %{{.*}} : memref<?x8x?x64xf32>, vector<16xf32>
// CHECK-NOT: vector.store
func.func @gptj_partial(%x: memref<?x8x?x64xf32>, %pos: memref<?x?xi32>) {
  rope.apply %x by %pos : memref<?x8x?x64xf32> by memref<?x?xi32>
      with #rope.semantics<sections = [8], rotary_dim = 16, theta = 1.0e4, layout = gptj>
  return
}

// -----

// An explicit frequency table is loaded once, outside the token loop; vision
// frequencies restart per section, so the 20-entry table is spread over the
// 40 lanes by a shuffle. bf16 storage is rotated in f32.
// CHECK-LABEL: func.func @vision_table_bf16
// CHECK: %[[T:.*]] = vector.load %{{.*}}[%{{.*}}] : memref<20xf32>, vector<20xf32>
// CHECK: %[[INV:.*]] = vector.shuffle %[[T]], %[[T]] [0, 1, 2, {{.*}}, 19, 0, 1, {{.*}}, 19] : vector<20xf32>, vector<20xf32>
// CHECK: scf.parallel
// CHECK: arith.mulf %{{.*}}, %[[INV]] : vector<40xf32>
// CHECK: vector.load {{.*}} : memref<1x16x?x80xbf16>, vector<40xbf16>
// CHECK: arith.extf %{{.*}} : vector<40xbf16> to vector<40xf32>
// CHECK: arith.truncf %{{.*}} : vector<40xf32> to vector<40xbf16>
func.func @vision_table_bf16(%x: memref<1x16x?x80xbf16>, %pos: memref<2x1x?xi64>, %inv: memref<20xf32>) {
  rope.apply %x by %pos freqs %inv : memref<1x16x?x80xbf16> by memref<2x1x?xi64> freqs memref<20xf32>
      with #rope.semantics<sections = [20, 20], rotary_dim = 80, theta = 1.0e4, freqs = per_section>
  return
}

