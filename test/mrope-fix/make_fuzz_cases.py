#!/usr/bin/env python3
"""Writes the mutants that crashed mrope-fix (issue 15, scripts/fuzz-fix.py,
fuzz/fix_fuzzer.cpp) as small named edits of zoo models:

    make_fuzz_cases.py ZOO OUT GROUP

writes OUT/<case>.onnx for every case of GROUP and prints one line per case,
"<case> <mode>" (mode: input | compute), for the test to loop over.
GROUP "fixed": classes the importer now refuses with one line (libonnx
crashes, the resource ceiling, opsets, domains, shape operands).
GROUP "open": crashes inside the analysis, the fix and the mrope_index
lowering, kept until those are fixed (fuzz-regressions-open.test).
"""
import os
import sys

import onnx
from onnx import TensorProto, helper

I64_MAX = 2**63 - 1


def node(g, op, nth=0):
    return [n for n in g.node if n.op_type == op][nth]


def named(g, name):
    return next(n for n in g.node if n.name == name)


def first_constant(g, dtype):
    return next(n for n in g.node if n.op_type == "Constant" and n.attribute[0].t.data_type == dtype)


def prepend_constant(g, name, dtype, dims, values):
    """Adds a Constant first (the graph stays sorted); it rebuilds g.node, so
    node references taken before are stale."""
    c = helper.make_node("Constant", [], [name], name=name,
                         value=helper.make_tensor(name, dtype, dims, values))
    nodes = [c] + list(g.node)
    del g.node[:]
    g.node.extend(nodes)


def raw_bytes(n):
    def edit(m):
        t = first_constant(m.graph, TensorProto.INT64).attribute[0].t
        del t.int64_data[:]
        t.raw_data = b"\x01" * n
    return edit


def control_flow(op):
    def edit(m):
        n = node(m.graph, "Mul", 3)
        n.op_type = op
        del n.attribute[:]
    return edit


def shape_operand(op, dtype, values):
    def edit(m):
        node(m.graph, op).input[1] = "fuzz_shape"
        prepend_constant(m.graph, "fuzz_shape", dtype, [len(values)], values)
    return edit


def opset_version(v):
    def edit(m):
        m.opset_import[0].version = v
    return edit


def remove_opsets(m):
    del m.opset_import[:]


def duplicate_opset(domain):
    def edit(m):
        o = m.opset_import.add()
        o.CopyFrom(m.opset_import[0])
        o.domain = domain
    return edit


def node_domain(op, domain):
    def edit(m):
        node(m.graph, op).domain = domain
    return edit


def huge_input_dim(m):
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1 << 40


def huge_value_info(m):
    vi = m.graph.value_info.add()
    vi.CopyFrom(helper.make_tensor_value_info(node(m.graph, "Cos").output[0], TensorProto.FLOAT,
                                              [1 << 30, 1 << 30, 4]))


def range_delta_zero(m):
    g = m.graph
    for name, v in (("fuzz_start", 0), ("fuzz_limit", 8), ("fuzz_delta", 0)):
        prepend_constant(g, name, TensorProto.INT64, [], [v])
    n = helper.make_node("Range", ["fuzz_start", "fuzz_limit", "fuzz_delta"], ["fuzz_range"],
                         name="fuzz_range")
    g.node.append(n)


# -- open: crashes in the analysis, the fix, the mrope_index lowering ---------

def constant_to_cos(m):  # findRopeSites
    named(m.graph, "/layers.1/input_layernorm/Constant").op_type = "Cos"


def unsqueeze_loses_axes(m):  # fixRopeSites, compute mode
    del named(m.graph, "/layers.0/self_attn/Unsqueeze_14").input[-1]


def cos_value_info_float16(m):  # fixRopeSites
    vi = m.graph.value_info.add()
    vi.CopyFrom(helper.make_tensor_value_info("/rotary_emb/Cos_output_0", TensorProto.FLOAT16, None))


def graph_output_internal(m):  # fixRopeSites
    m.graph.output[0].name = "/Unsqueeze_8_output_0"


def constant_to_gather(m):  # fixRopeSites
    named(m.graph, "Constant_249").op_type = "Gather"


def input_untyped(m):  # fixRopeSites, compute mode, vision tower
    m.graph.input[0].ClearField("type")


def grid_rank4(m):  # mrope_index lowering: writes a model the checker rejects
    m.graph.input.append(helper.make_tensor_value_info("image_grid_thw", TensorProto.INT64,
                                                       [1, 2, 3, 4]))


FIXED = {
    # crash class 3: libonnx ParseData memcpy on short int64 raw_data
    "raw_data_1_byte": ("qwen2vl_1d_bug.onnx", raw_bytes(1), "input"),
    "raw_data_5_bytes": ("qwen2vl_1d_bug.onnx", raw_bytes(5), "compute"),
    # crash class 4: ScanInferenceFunction on a Scan without body
    "scan_without_body": ("vision_rope2d.onnx", control_flow("Scan"), "input"),
    "loop_without_body": ("qwen2vl_1d_bug.onnx", control_flow("Loop"), "input"),
    "if_without_branches": ("qwen2vl_1d_bug.onnx", control_flow("If"), "compute"),
    # crash class 5: out of memory on a Reshape to [2^63-1]; the ceiling
    "reshape_int64_max": ("qwen2vl_1d_bug.onnx", shape_operand("Reshape", TensorProto.INT64, [I64_MAX]), "input"),
    "reshape_2e62_elements": ("qwen2vl_1d_bug.onnx", shape_operand("Reshape", TensorProto.INT64, [1 << 30, 1 << 30, 4]), "input"),
    "expand_minus_one": ("qwen2vl_expand_bug.onnx", shape_operand("Expand", TensorProto.INT64, [-1]), "input"),
    "reshape_int32_shape": ("qwen2vl_1d_bug.onnx", shape_operand("Reshape", TensorProto.INT32, [1]), "input"),
    "range_delta_zero": ("qwen2vl_1d_bug.onnx", range_delta_zero, "input"),
    "input_dim_2e40": ("qwen2vl_1d_bug.onnx", huge_input_dim, "input"),
    "value_info_2e62_elements": ("qwen2vl_1d_bug.onnx", huge_value_info, "input"),
    # opset read once, checked
    "opset_removed": ("qwen2vl_1d_bug.onnx", remove_opsets, "input"),
    "opset_removed_compute": ("qwen2vl_1d_bug.onnx", remove_opsets, "compute"),
    "opset_0": ("qwen2vl_1d_bug.onnx", opset_version(0), "input"),
    "opset_1": ("qwen2vl_1d_bug.onnx", opset_version(1), "input"),
    "opset_7": ("qwen2vl_1d_bug.onnx", opset_version(7), "compute"),
    "opset_minus_5": ("qwen2vl_1d_bug.onnx", opset_version(-5), "input"),
    "opset_1000": ("qwen2vl_1d_bug.onnx", opset_version(1000), "input"),
    "opset_twice": ("qwen2vl_1d_bug.onnx", duplicate_opset(""), "input"),
    "opset_twice_ai_onnx": ("qwen2vl_1d_bug.onnx", duplicate_opset("ai.onnx"), "compute"),
    "constant_custom_domain": ("qwen2vl_1d_bug.onnx", node_domain("Constant", "custom"), "input"),
    "where_com_microsoft": ("qwen2vl_expand_bug.onnx", node_domain("Where", "com.microsoft"), "input"),
}

OPEN = {
    "constant_to_cos": ("qwen2vl_1d_bug.onnx", constant_to_cos, "input"),
    "unsqueeze_loses_axes": ("qwen2vl_range_kv_bug.onnx", unsqueeze_loses_axes, "compute"),
    "concat_ai_onnx_domain": ("qwen2vl_range_kv_bug.onnx", node_domain("Concat", "ai.onnx"), "input"),
    "cos_value_info_float16": ("qwen2vl_expand_bug.onnx", cos_value_info_float16, "compute"),
    "graph_output_internal": ("qwen2vl_expand_bug.onnx", graph_output_internal, "input"),
    "constant_to_gather": ("qwen2vl_expand_bug.onnx", constant_to_gather, "input"),
    "vision_input_untyped": ("vision_rope1d_bug.onnx", input_untyped, "compute"),
    "grid_thw_rank4": ("qwen2vl_1d_bug.onnx", grid_rank4, "compute"),
}


def main():
    zoo, out, group = sys.argv[1:4]
    cases = {"fixed": FIXED, "open": OPEN}[group]
    os.makedirs(out, exist_ok=True)
    for name, (model, edit, mode) in cases.items():
        m = onnx.load(os.path.join(zoo, model))
        edit(m)
        with open(os.path.join(out, name + ".onnx"), "wb") as f:
            f.write(m.SerializeToString())
        print(name, mode)


if __name__ == "__main__":
    main()
