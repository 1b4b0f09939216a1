"""Small models that call model-local functions, for inline-functions.test.

usage: make_function_models.py OUT_DIR

- calls.onnx: main calls `Scaled(x, w) -> y` three times (one call without
  a name), whose body reads an attribute by reference (`alpha` -> LeakyRelu's
  alpha) and calls a nested function `Twice(v) -> (v + v)`.
- passthrough.onnx: `Pass(x, w) -> (y, x)` passes an input through as an
  output (valid ONNX, which ONNX Runtime 1.2x refuses to load, so it is only
  imported): called once reading both outputs, once reading only the first.
- mismatch.onnx: a function whose body imports the default domain at opset 13
  while the model imports 17: the call stays, with a warning.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper


def model(nodes, functions, opset=17, inputs=("x",)):
    graph = helper.make_graph(
        nodes, "main",
        [helper.make_tensor_value_info(i, TensorProto.FLOAT, [2, 3]) for i in inputs],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2, 3])],
        initializer=[helper.make_tensor("w", TensorProto.FLOAT, [3], np.arange(3, dtype=np.float32))])
    return helper.make_model(graph, functions=functions, ir_version=8,
                             opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid("local", 1)])


def main(out):
    os.makedirs(out, exist_ok=True)
    twice = helper.make_function(
        "local", "Twice", ["v"], ["r"],
        [helper.make_node("Add", ["v", "v"], ["r"], name="add")],
        [helper.make_opsetid("", 17)])
    alpha = helper.make_attribute_ref("alpha", onnx.AttributeProto.FLOAT) \
        if hasattr(helper, "make_attribute_ref") else None
    if alpha is None:
        alpha = onnx.AttributeProto()
        alpha.name, alpha.ref_attr_name, alpha.type = "alpha", "alpha", onnx.AttributeProto.FLOAT
    def scaled_function(name, outputs):
        leaky = helper.make_node("LeakyRelu", ["t"], ["u"], name="leaky")
        leaky.attribute.append(alpha)
        return helper.make_function(
            "local", name, ["x", "w"], outputs,
            [helper.make_node("Mul", ["x", "w"], ["t"], name="mul"), leaky,
             helper.make_node("Twice", ["u"], ["y"], domain="local", name="twice")],
            [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)], attributes=["alpha"])

    nodes = [
        helper.make_node("Scaled", ["x", "w"], ["a"], domain="local", name="first", alpha=0.5),
        helper.make_node("Scaled", ["a", "w"], ["b"], domain="local", alpha=0.25),
        helper.make_node("Scaled", ["b", "w"], ["c"], domain="local", name="third", alpha=0.125),
        helper.make_node("Sum", ["c", "a", "b"], ["out"], name="sum"),
    ]
    m = model(nodes, [scaled_function("Scaled", ["y"]), twice])
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out, "calls.onnx"))

    nodes = [
        helper.make_node("Pass", ["x", "w"], ["a", "x_again"], domain="local", name="both", alpha=0.5),
        helper.make_node("Pass", ["a", "w"], ["b"], domain="local", name="first_only", alpha=0.25),
        helper.make_node("Sum", ["b", "x_again"], ["out"], name="sum"),
    ]
    m = model(nodes, [scaled_function("Pass", ["y", "x"]), twice])
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out, "passthrough.onnx"))

    old = helper.make_function("local", "Old", ["v"], ["r"],
                               [helper.make_node("Neg", ["v"], ["r"], name="neg")],
                               [helper.make_opsetid("", 13)])
    m = model([helper.make_node("Old", ["x"], ["out"], domain="local", name="old_call")], [old])
    onnx.save(m, os.path.join(out, "mismatch.onnx"))


if __name__ == "__main__":
    main(sys.argv[1])
