// What the exporter does with IR a pass changed: nodes without names or
// output names get fresh unique names, graph outputs keep their names (the
// returned value is renamed, the old producer moves aside), an Identity is
// added where an output returns an input or a value returned twice, and
// everything stays valid for ONNX Runtime.
// RUN: rm -rf %t && mkdir -p %t
// RUN: mrope-translate --export-onnx %s -o %t/out.onnx
// RUN: %python -c "import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m); [print(n.op_type, n.name, list(n.input), '->', list(n.output)) for n in m.graph.node]; print('outputs', [o.name for o in m.graph.output])" %t/out.onnx | FileCheck %s
// CHECK: Relu  ['x'] -> ['y_0']
// CHECK-NEXT: Neg  ['x'] -> ['mrope']
// CHECK-NEXT: Abs /fix/Abs ['mrope'] -> ['y']
// CHECK-NEXT: Abs /fix/Abs_1 ['mrope'] -> ['/fix/Abs_output_0']
// CHECK-NEXT: Add  ['/fix/Abs_output_0', 'w'] -> ['sum']
// CHECK-NEXT: Identity  ['y'] -> ['z']
// CHECK-NEXT: Identity  ['x'] -> ['x_copy']
// CHECK-NEXT: outputs ['y', 'z', 'x_copy', 'sum']
// RUN: %python -c "import sys; sys.path.insert(0, sys.argv[2]); from mrope import ort; import numpy as np; print(ort.run(sys.argv[1], {'x': np.array([1, -2], np.float32)}) if ort.available() else 'no ort')" %t/out.onnx %mrope_src_root/python | FileCheck %s --check-prefix=ORT
// ORT: {{no ort|'y': array\(\[1., 2.\], dtype=float32\)}}

module attributes {onnx.ir_version = 8 : i64, onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @main(%x: tensor<2xf32> {onnx.name = "x"})
      -> (tensor<2xf32> {onnx.name = "y"}, tensor<2xf32> {onnx.name = "z"},
          tensor<2xf32> {onnx.name = "x_copy"}, tensor<2xf32> {onnx.name = "sum"}) {
    %w = onnx.initializer "w" : tensor<2xf32> = dense<1.0>
    // The model's old producer of "y"; a pass replaced its use.
    %old = onnx.node "Relu"(%x) {outputs = ["y"]} : (tensor<2xf32>) -> tensor<2xf32>
    // New nodes of a pass: no names at all, or a clashing node name.
    %a = onnx.node "Neg"(%x) : (tensor<2xf32>) -> tensor<2xf32>
    %b = onnx.node "Abs"(%a) {name = "/fix/Abs"} : (tensor<2xf32>) -> tensor<2xf32>
    %c = onnx.node "Abs"(%a) {name = "/fix/Abs"} : (tensor<2xf32>) -> tensor<2xf32>
    %d = onnx.node "Add"(%c, %w) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    onnx.return %b, %b, %x, %d : tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>
  }
}
