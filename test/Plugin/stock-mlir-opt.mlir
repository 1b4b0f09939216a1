// The stock mlir-opt (Debian's mlir-opt-22: links nothing of mrope) runs our
// dialects, passes and pipelines through mrope-plugin.so.
//
// Plugin passes are named inside --pass-pipeline: the stock tool builds its
// per-pass flags (--rope-classify ...) before it loads any plugin, so those
// flags do not exist there (as in upstream's standalone plugin example).
//
// RUN: %stock_mlir_opt --load-dialect-plugin=%mrope_plugin --load-pass-plugin=%mrope_plugin %s --pass-pipeline='builtin.module(mrope-cpu-pipeline)' | FileCheck %s --check-prefix=CPU
// RUN: %stock_mlir_opt --load-dialect-plugin=%mrope_plugin --load-pass-plugin=%mrope_plugin %s --pass-pipeline='builtin.module(func.func(rope-decompose))' | FileCheck %s --check-prefix=DECOMPOSE
// The dialect plugin alone: rope parses, verifies and prints back.
// RUN: %stock_mlir_opt --load-dialect-plugin=%mrope_plugin %s | FileCheck %s --check-prefix=ROUNDTRIP
// Without the plugin the stock tool does not know the rope dialect.
// RUN: not %stock_mlir_opt %s 2>&1 | FileCheck %s --check-prefix=NOPLUGIN
// NOPLUGIN: error: Dialect `rope' not found for custom op 'rope.apply'
//
// ONNX graphs: classify, raise, fix, lower, classify again.
// RUN: %stock_mlir_opt --load-dialect-plugin=%mrope_plugin --load-pass-plugin=%mrope_plugin %S/Inputs/mrope-degenerate.mlir --pass-pipeline='builtin.module(rope-classify{arch=qwen2-vl},rope-raise,rope-fix{arch=qwen2-vl},convert-rope-to-onnx,rope-classify{arch=qwen2-vl})' -o %t.out 2>&1 | FileCheck %s --check-prefix=FIX
// RUN: %stock_mlir_opt --load-dialect-plugin=%mrope_plugin --load-pass-plugin=%mrope_plugin %S/Inputs/mrope-degenerate.mlir --pass-pipeline='builtin.module(rope-raise,rope-fix{arch=qwen2-vl},convert-rope-to-onnx)' 2>/dev/null | FileCheck %s --check-prefix=FIXED
// FIX: remark: rope site: mrope-degenerate [1, 2, 1] neox, rotary_dim 8, theta 1.000000e+04, 1 rotations; BUG
// FIX: remark: fixed: input 'position_ids' is now int64 [3, batch, seq] (was [batch, seq])
// FIX: remark: rope site: mrope [1, 2, 1] neox, rotary_dim 8, theta 1.000000e+04, 1 rotations; ok
// FIXED-LABEL: onnx.graph @main
// FIXED-SAME: %position_ids: tensor<3x?x?xi64>
// FIXED-NOT: "Expand"
// FIXED: "Cos"
// FIXED-NOT: "Expand"
// FIXED: onnx.return

// CPU-LABEL: llvm.func @qk
// CPU-NOT: rope.
// CPU-NOT: memref.
// DECOMPOSE-LABEL: func.func @qk
// DECOMPOSE-NOT: rope.apply
// DECOMPOSE: rope.cos_sin
// DECOMPOSE-NOT: rope.apply
// ROUNDTRIP-LABEL: func.func @qk
// ROUNDTRIP: rope.apply %{{.*}}, %{{.*}} by %{{.*}} : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32> by tensor<3x1x?xi64> with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.000000e+06>
func.func @qk(%q: tensor<1x28x?x128xf32>, %k: tensor<1x4x?x128xf32>, %pos: tensor<3x1x?xi64>)
    -> (tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32>) {
  %q2, %k2 = rope.apply %q, %k by %pos : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32> by tensor<3x1x?xi64>
      with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
  return %q2, %k2 : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32>
}
