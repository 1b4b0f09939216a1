// f32 positions are used as they are: through mrope-cpu-pipeline and JIT-run
// by mlir-runner, position 2.5 rotates by 2.5 * inv_freq (cos 2.5 =
// -0.801144), not by 2 * inv_freq (cos 2 = -0.416147, the next token's).
// x = (1, 1, 0, 0) per token with rotate-half pairs (0, 2), (1, 3) comes out
// as (cos a0, cos a1, sin a0, sin a1), a_i = p * inv_freq[i], inv_freq =
// theta^(-2i/4) = (1, 0.1) for theta 100. Expected values are float64
// cos/sin of those angles, printed to 6 digits (the kernel's f32 sin/cos
// are within 2e-6 of them, docs/lowering.md, far below the digits checked).
// RUN: mrope-opt %s --mrope-cpu-pipeline | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_lib_dir/libmlir_runner_utils.so,%mlir_lib_dir/libmlir_c_runner_utils.so | FileCheck %s

// CHECK: sizes = [1, 1, 4, 4]
// CHECK: [1, 1, 0, 0]
// CHECK-NEXT: [-0.80114{{[0-9]}}, 0.96891{{[0-9]}}, 0.59847{{[0-9]}}, 0.24740{{[0-9]}}]
// CHECK-NEXT: [-0.41614{{[0-9]}}, 0.98006{{[0-9]}}, 0.90929{{[0-9]}}, 0.19866{{[0-9]}}]
// CHECK-NEXT: [0.56792{{[0-9]}}, 0.74849{{[0-9]}}, 0.82308{{[0-9]}}, 0.66313{{[0-9]}}]

func.func private @printMemrefF32(memref<*xf32>)

func.func @main() {
  %x = arith.constant dense<[[[[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0],
                               [1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]]]]> : tensor<1x1x4x4xf32>
  %p = arith.constant dense<[[[0.0, 2.5, 2.0, 7.25]]]> : tensor<1x1x4xf32>
  %y = rope.apply %x by %p : tensor<1x1x4x4xf32> by tensor<1x1x4xf32>
      with #rope.semantics<sections = [2], rotary_dim = 4, theta = 100.0>
  %m = bufferization.to_buffer %y : tensor<1x1x4x4xf32> to memref<1x1x4x4xf32>
  %u = memref.cast %m : memref<1x1x4x4xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}
