#!/usr/bin/env python3
"""Writes the small ONNX models the Target/Onnx lit tests round-trip and the
bad inputs they must reject (onnx 1.12 helpers; run at test time).

    make_models.py good OUTDIR    # models that must round-trip exactly
    make_models.py bad OUTDIR     # inputs that must be rejected
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

H = helper


def vi(name, elem, shape):
    return H.make_tensor_value_info(name, elem, shape)


def model(graph, opset=17, **kw):
    m = H.make_model(graph, opset_imports=[H.make_opsetid("", opset)], **kw)
    m.ir_version = kw.pop("ir_version", 8)
    return m


def save(m, path):
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


# --------------------------------------------------------------------------
# Good models
# --------------------------------------------------------------------------

def all_features():
    """Every attribute kind, tensor storage form, metadata field."""
    big = np.arange(300, dtype=np.float32).reshape(3, 100) / 7.0
    inits = [
        numpy_helper.from_array(big, "big_raw"),                              # blob
        H.make_tensor("small_typed", TensorProto.FLOAT, [3], [1.5, -2.0, 3.25]),  # float_data
        H.make_tensor("i64_typed", TensorProto.INT64, [2], [-1, 7]),
        H.make_tensor("f16_typed", TensorProto.FLOAT16, [2],
                      np.array([1.0, -0.5], np.float16).view(np.uint16).tolist()),
        H.make_tensor("bf16_typed", TensorProto.BFLOAT16, [2], [0x3F80, 0xC000]),
        H.make_tensor("u8_typed", TensorProto.UINT8, [3], [0, 200, 255]),
        H.make_tensor("bool_typed", TensorProto.BOOL, [3], [1, 0, 1]),
        H.make_tensor("u32_typed", TensorProto.UINT32, [2], [1, 4000000000]),
        H.make_tensor("u64_typed", TensorProto.UINT64, [1], [2**63 + 5]),
        H.make_tensor("f64_typed", TensorProto.DOUBLE, [2], [1e300, -0.0]),
        H.make_tensor("str_t", TensorProto.STRING, [2], [b"hello", b"\xff\x00bytes"]),
        numpy_helper.from_array(np.array([np.nan, -np.inf, 1e-45], np.float32), "specials"),
        numpy_helper.from_array(np.zeros((0, 4), np.float32), "empty"),
        numpy_helper.from_array(np.arange(100, dtype=np.int8), "i8_blob"),
        numpy_helper.from_array((np.arange(100) % 3 == 0), "bool_blob"),
        numpy_helper.from_array(np.arange(70, dtype=np.float16), "f16_blob"),
        numpy_helper.from_array(np.array(3, dtype=np.int64), "scalar"),
    ]
    inits[0].doc_string = "a doc on an initializer"
    sparse = H.make_sparse_tensor(
        H.make_tensor("sparse_w", TensorProto.FLOAT, [2], [1.0, 2.0]),
        H.make_tensor("sparse_w_idx", TensorProto.INT64, [2], [0, 5]), [2, 4])
    const_t = numpy_helper.from_array(np.array([[1, 2], [3, 4]], np.int64))
    const_t.name = ""
    body = H.make_graph(
        [H.make_node("Add", ["acc_in", "small_typed"], ["acc_out"], name="body_add"),
         H.make_node("Identity", ["cond_in"], ["cond_out"])],
        "loop_body",
        [vi("iter", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []),
         vi("acc_in", TensorProto.FLOAT, [3])],
        [vi("cond_out", TensorProto.BOOL, []), vi("acc_out", TensorProto.FLOAT, [3])])
    then_g = H.make_graph([H.make_node("Identity", ["small_typed"], ["then_out"])], "then",
                          [], [vi("then_out", TensorProto.FLOAT, [3])])
    else_g = H.make_graph([H.make_node("Neg", ["small_typed"], ["else_out"])], "else",
                          [], [vi("else_out", TensorProto.FLOAT, [3])],
                          initializer=[H.make_tensor("inner_init", TensorProto.FLOAT, [1], [1.0])])
    nodes = [
        H.make_node("Constant", [], ["c_tensor"], name="const_tensor", value=const_t),
        H.make_node("Constant", [], ["c_int"], value_int=5),
        H.make_node("Constant", [], ["c_ints"], value_ints=[1, 2, 3]),
        H.make_node("Constant", [], ["c_float"], value_float=0.5),
        H.make_node("Constant", [], ["c_floats"], value_floats=[0.25, 1e-30]),
        H.make_node("Constant", [], ["c_string"], value_string="abc"),
        H.make_node("Constant", [], ["c_strings"], value_strings=["a", "b"]),
        H.make_node("Mul", ["x", "small_typed"], ["/Mul_output_0"], name="/Mul",
                    doc_string="node doc"),
        H.make_node("Clip", ["/Mul_output_0", "", "c_float"], ["clipped"], name="clip"),
        H.make_node("Loop", ["trip", "cond", "clipped"], ["loop_out"], name="loop", body=body),
        H.make_node("If", ["cond"], ["if_out"], name="if", then_branch=then_g, else_branch=else_g),
        H.make_node("Dropout", ["loop_out"], ["drop_out", ""], name="drop"),
        H.make_node("Custom", ["x", "", "x", ""], ["custom_out"], name="custom", domain="my.domain",
                    i=-3, f=1.25, s=b"\x00\xffraw", ints=[],
                    t=numpy_helper.from_array(np.ones((2, 2), np.float32)),
                    ts=[numpy_helper.from_array(np.ones(2, np.int32)),
                        numpy_helper.from_array(np.zeros(1, np.float16))],
                    intlist=[1, -2], floatlist=[0.1, 0.2], strlist=["p", "q"]),
        H.make_node("Identity", ["sparse_w"], ["sparse_out"]),
    ]
    # Attribute kinds helper.make_node cannot spell.
    custom = nodes[12]
    tp = H.make_attribute("tp", TensorProto.FLOAT)  # placeholder, replaced below
    tp = onnx.AttributeProto(name="tp", type=onnx.AttributeProto.TYPE_PROTO)
    tp.tp.CopyFrom(H.make_tensor_type_proto(TensorProto.FLOAT, ["n", 3]))
    custom.attribute.append(tp)
    sp = onnx.AttributeProto(name="sp", type=onnx.AttributeProto.SPARSE_TENSOR)
    sp.sparse_tensor.CopyFrom(sparse)
    custom.attribute.append(sp)
    gs = onnx.AttributeProto(name="gs", type=onnx.AttributeProto.GRAPHS)
    gs.graphs.extend([then_g])
    custom.attribute.append(gs)
    # Empty FLOATS / STRINGS (helper.make_attribute makes empty lists INTS).
    custom.attribute.append(onnx.AttributeProto(name="floats", type=onnx.AttributeProto.FLOATS))
    custom.attribute.append(onnx.AttributeProto(name="strings", type=onnx.AttributeProto.STRINGS))
    # Unsorted attribute order must survive.
    z = onnx.AttributeProto(name="aaa", type=onnx.AttributeProto.INT, i=1)
    custom.attribute.append(z)
    g = H.make_graph(
        nodes, "main_graph",
        [vi("x", TensorProto.FLOAT, ["batch", 3]), vi("trip", TensorProto.INT64, []),
         vi("cond", TensorProto.BOOL, []),
         H.make_tensor_sequence_value_info("seq_in", TensorProto.FLOAT, None),
         onnx.ValueInfoProto(name="untyped_in")],
        [vi("loop_out", TensorProto.FLOAT, [3]), vi("if_out", TensorProto.FLOAT, None),
         vi("custom_out", TensorProto.FLOAT, None), vi("c_tensor", TensorProto.INT64, [2, 2]),
         vi("x", TensorProto.FLOAT, ["batch", 3]), vi("big_raw", TensorProto.FLOAT, [3, 100])],
        initializer=inits,
        value_info=[vi("clipped", TensorProto.FLOAT, ["batch", 3]),
                    vi("/Mul_output_0", TensorProto.FLOAT, ["batch", None]),
                    vi("never_defined", TensorProto.FLOAT, [1])],
        doc_string="graph doc")
    g.input[0].doc_string = "input doc"
    g.sparse_initializer.extend([sparse])
    g.sparse_initializer[0].values.name = "sparse_w"
    m = H.make_model(g, opset_imports=[H.make_opsetid("", 17), H.make_opsetid("my.domain", 3)],
                     producer_name="make_models", producer_version="1.0", domain="test.domain",
                     model_version=42, doc_string="model doc")
    m.ir_version = 8
    H.set_model_props(m, {"b_key": "2", "a_key": "1"})
    f = onnx.FunctionProto(name="MyFn", domain="my.domain", input=["a"], output=["b"],
                           node=[H.make_node("Identity", ["a"], ["b"])],
                           opset_import=[H.make_opsetid("", 17)])
    m.functions.extend([f])
    return m


def unsorted():
    """Nodes out of topological order (valid for ORT): imported sorted."""
    g = H.make_graph(
        [H.make_node("Relu", ["a"], ["b"], name="second"),
         H.make_node("Neg", ["x"], ["a"], name="first")],
        "g", [vi("x", TensorProto.FLOAT, [2])], [vi("b", TensorProto.FLOAT, [2])])
    return model(g)


def initializer_as_input():
    """IR 3 style: an initializer that is also a graph input (a default)."""
    w = numpy_helper.from_array(np.ones(2, np.float32), "w")
    g = H.make_graph([H.make_node("Add", ["x", "w"], ["y"])], "g",
                     [vi("x", TensorProto.FLOAT, [2]), vi("w", TensorProto.FLOAT, [2])],
                     [vi("y", TensorProto.FLOAT, [2])], initializer=[w])
    return model(g, ir_version=3)


def opset23():
    """An opset libonnx 1.12 does not know (RotaryEmbedding-23, Attention-23)."""
    g = H.make_graph(
        [H.make_node("RotaryEmbedding", ["x", "cos", "sin", "pos"], ["y"], name="rope",
                     interleaved=0, num_heads=2)],
        "g", [vi("x", TensorProto.FLOAT, [1, 2, 4, 8]), vi("cos", TensorProto.FLOAT, [16, 4]),
              vi("sin", TensorProto.FLOAT, [16, 4]), vi("pos", TensorProto.INT64, [1, 4])],
        [vi("y", TensorProto.FLOAT, [1, 2, 4, 8])])
    m = model(g, opset=23)
    m.ir_version = 10
    return m


def external(out_dir):
    """Weights in an external data file (onnx.save_model with external data)."""
    w = numpy_helper.from_array(np.arange(4096, dtype=np.float32).reshape(64, 64), "w")
    b = numpy_helper.from_array(np.arange(64, dtype=np.float32), "b")
    small = numpy_helper.from_array(np.arange(4, dtype=np.int64), "small")
    g = H.make_graph(
        [H.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
         H.make_node("Add", ["h", "b"], ["y"], name="add"),
         H.make_node("Shape", ["small"], ["s"], name="shape")],
        "g", [vi("x", TensorProto.FLOAT, ["n", 64])],
        [vi("y", TensorProto.FLOAT, ["n", 64]), vi("s", TensorProto.INT64, [1])],
        initializer=[w, b, small])
    m = model(g)
    path = os.path.join(out_dir, "external.onnx")
    onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="external.onnx.data", size_threshold=100)
    return None


GOOD = {
    "all_features": all_features,
    "unsorted": unsorted,
    "initializer_as_input": initializer_as_input,
    "opset23": opset23,
}

# --------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------

def simple(nodes, inputs=None, outputs=None, inits=None):
    g = H.make_graph(nodes, "g", inputs or [vi("x", TensorProto.FLOAT, [2])],
                     outputs or [vi("y", TensorProto.FLOAT, [2])], initializer=inits or [])
    return model(g)


def ext_model(location, offset=0, length=None, dims=(4,)):
    t = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=list(dims))
    t.data_location = TensorProto.EXTERNAL
    e = [("location", location), ("offset", str(offset))]
    if length is not None:
        e.append(("length", str(length)))
    for k, v in e:
        t.external_data.add(key=k, value=v)
    return simple([H.make_node("Add", ["x", "w"], ["y"], name="add")], inits=[t])


def write_bad(out):
    def w(name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    good = simple([H.make_node("Relu", ["x"], ["y"], name="relu")]).SerializeToString()
    w("empty.onnx", b"")
    w("truncated.onnx", good[: len(good) // 2])
    w("random.onnx", bytes(np.random.default_rng(1).integers(0, 256, 512, dtype=np.uint8)))
    w("wrong_proto.onnx", numpy_helper.from_array(np.ones(4, np.float32), "t").SerializeToString())
    os.makedirs(os.path.join(out, "a_directory.onnx"), exist_ok=True)
    save(simple([H.make_node("Add", ["x", "nowhere"], ["y"], name="add_undef")]),
         os.path.join(out, "undefined_input.onnx"))
    save(simple([H.make_node("Relu", ["x", ], ["a"], name="r1"),
                 H.make_node("Add", ["a", "c"], ["b"], name="cyc_add"),
                 H.make_node("Relu", ["b"], ["c"], name="cyc_relu"),
                 H.make_node("Identity", ["b"], ["y"], name="out")]),
         os.path.join(out, "cycle.onnx"))
    save(simple([H.make_node("Relu", ["x"], ["y"], name="first"),
                 H.make_node("Neg", ["x"], ["y"], name="second")]),
         os.path.join(out, "duplicate_output.onnx"))
    save(simple([H.make_node("Relu", ["x"], ["y"], name="relu")],
                outputs=[vi("missing_out", TensorProto.FLOAT, [2])]),
         os.path.join(out, "undefined_output.onnx"))
    # Tensors whose byte size does not match their shape and type.
    t = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4], raw_data=b"\0" * 12)
    save(simple([H.make_node("Add", ["x", "w"], ["y"])], inits=[t]), os.path.join(out, "raw_size.onnx"))
    t = onnx.TensorProto(name="w", data_type=TensorProto.INT64, dims=[3], int64_data=[1, 2])
    save(simple([H.make_node("Add", ["x", "w"], ["y"])], inits=[t]), os.path.join(out, "typed_size.onnx"))
    t = onnx.TensorProto(name="w", data_type=99, dims=[1], raw_data=b"\0")
    save(simple([H.make_node("Add", ["x", "w"], ["y"])], inits=[t]), os.path.join(out, "bad_dtype.onnx"))
    # External data.
    ext = os.path.join(out, "ext")
    os.makedirs(ext, exist_ok=True)
    w("ext/data.bin", b"\0" * 16)
    save(ext_model("/etc/passwd"), os.path.join(ext, "absolute.onnx"))
    save(ext_model("../ext/data.bin"), os.path.join(ext, "dotdot.onnx"))
    if not os.path.lexists(os.path.join(ext, "link.bin")):
        os.symlink("data.bin", os.path.join(ext, "link.bin"))
    save(ext_model("link.bin"), os.path.join(ext, "symlink.onnx"))
    save(ext_model("data.bin", offset=8, length=16), os.path.join(ext, "past_end.onnx"))
    save(ext_model("data.bin", offset=0, length=12), os.path.join(ext, "ext_size.onnx"))
    save(ext_model("missing.bin"), os.path.join(ext, "missing.onnx"))
    save(ext_model("data.bin", offset=0, length=16), os.path.join(ext, "ok.onnx"))


def main():
    kind, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    if kind == "good":
        for name, fn in GOOD.items():
            save(fn(), os.path.join(out, name + ".onnx"))
        external(out)
    else:
        write_bad(out)


if __name__ == "__main__":
    main()
