// The whole CPU pipeline on tensors: bufferized in place (no copies of q/k),
// lowered to loops, then to the LLVM dialect with nothing else left.
// RUN: mrope-opt %s --mrope-cpu-pipeline | FileCheck %s
// RUN: mrope-opt %s --one-shot-bufferize="bufferize-function-boundaries" | FileCheck %s --check-prefix=BUF

// BUF-LABEL: func.func @qk
// BUF-NOT: memref.alloc
// BUF-NOT: memref.copy
// BUF: rope.apply %{{.*}}, %{{.*}} by %{{.*}} : memref<1x28x?x128xf32{{.*}}>, memref<1x4x?x128xf32{{.*}}> by memref<3x1x?xi64{{.*}}> with
// BUF-NEXT: return

// The cos/sin tables are stack slots; sin/cos need no intrinsic that could
// become a libcall (llvm.roundeven is one on x86-64 without SSE4.1).
// CHECK-LABEL: llvm.func @qk
// CHECK: llvm.alloca
// CHECK-NOT: llvm.intr.roundeven
// CHECK: llvm.load %{{.*}} {{.*}}: !llvm.ptr -> vector<8xf32>
// CHECK: llvm.store %{{.*}}, %{{.*}} {{.*}}: vector<8xf32>, !llvm.ptr
// CHECK-NOT: rope.
// CHECK-NOT: scf.
// CHECK-NOT: vector.
// CHECK-NOT: memref.
func.func @qk(%q: tensor<1x28x?x128xf32>, %k: tensor<1x4x?x128xf32>, %pos: tensor<3x1x?xi64>)
    -> (tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32>) {
  %q2, %k2 = rope.apply %q, %k by %pos : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32> by tensor<3x1x?xi64>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return %q2, %k2 : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32>
}
