// mrope-gpu-pipeline on tensors: bufferized in place, one kernel outlined
// into a gpu.module for sm_90 with PTX ISA 8.0 (the upstream default +ptx60
// is rejected for sm_90), lowered to NVVM with no libdevice call, then
// serialized to PTX by LLVM's NVPTX backend alone.
// RUN: mrope-opt %s --mrope-gpu-pipeline="serialize=false" | FileCheck %s --check-prefix=NVVM
// RUN: mrope-opt %s --mrope-gpu-pipeline | FileCheck %s --check-prefix=PTX
// RUN: mrope-opt %s --mrope-gpu-pipeline="chip=sm_80" | FileCheck %s --check-prefix=SM80

// NVVM-NOT: memref.global
// NVVM-LABEL: func.func @qk
// NVVM-NOT: memref.alloc
// NVVM-NOT: memref.copy
// NVVM: gpu.launch_func @qk_kernel::@qk_kernel blocks in ({{.*}}) threads in ({{.*}}) args(%{{.*}} : memref<1x28x?x128xf32>, %{{.*}} : memref<1x4x?x128xf32>, %{{.*}} : memref<3x1x?xi64>)
// NVVM: gpu.module @qk_kernel [#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">]
// NVVM: llvm.func @qk_kernel(
// NVVM-SAME: gpu.kernel
// NVVM-SAME: nvvm.kernel, nvvm.maxntid = array<i32: 16, 16, 1>
// NVVM-NOT: llvm.call
// NVVM: nvvm.read.ptx.sreg.tid.x
// NVVM: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr -> vector<4xf32>
// NVVM: llvm.store %{{.*}}, %{{.*}} {alignment = 16 : i64} : vector<4xf32>, !llvm.ptr
// NVVM-NOT: llvm.call
// NVVM-DAG: llvm.mlir.global private constant @__rope_axis_of_freq
// NVVM-DAG: llvm.mlir.global private constant @__rope_inv_freq

// PTX-LABEL: func.func @qk
// PTX: gpu.launch_func @qk_kernel::@qk_kernel
// PTX: gpu.binary @qk_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">, {{.*}}assembly = "{{.*}}.version 8.0{{.*}}.target sm_90{{.*}}.visible .entry qk_kernel({{.*}}.maxntid 16, 16, 1{{.*}}ld.global.v4.b32{{.*}}st.global.v4.b32
// PTX-NOT: __nv_

// SM80: #nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">{{.*}}.target sm_80
func.func @qk(%q: tensor<1x28x?x128xf32>, %k: tensor<1x4x?x128xf32>, %pos: tensor<3x1x?xi64>)
    -> (tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32>) {
  %q2, %k2 = rope.apply %q, %k by %pos : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32> by tensor<3x1x?xi64>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return %q2, %k2 : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32>
}
