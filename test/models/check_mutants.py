"""mrope-fix on single-edit mutants of zoo models: never a crash.

Each mutant is one protobuf edit that once crashed `mrope-fix -o` (issue
#15, class 1: a null or unranked type dereferenced in the fix). For every
mutant, `mrope-fix MODEL --arch ARCH -o OUT` (and `--positions compute`)
must either
- exit 1 with exactly one line on stderr and leave no OUT behind, or
- exit 0 and write an OUT that the ONNX checker accepts and ONNX Runtime
  loads and runs on feeds built from its declared inputs.
A signal (segfault, abort) or any other exit status is a failure.

usage: check_mutants.py MROPE_FIX ZOO_DIR
"""
import copy
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mrope import ort


def first(model, op_type):
    for n in model.graph.node:
        if n.op_type == op_type:
            return n
    raise KeyError(op_type)


def set_opset(version):
    def edit(m):
        for o in m.opset_import:
            if o.domain in ("", "ai.onnx"):
                o.version = version
    return edit


def remove_opset(m):
    keep = [o for o in m.opset_import if o.domain not in ("", "ai.onnx")]
    del m.opset_import[:]
    m.opset_import.extend(keep)


def duplicate_opset(m):
    o = [o for o in m.opset_import if o.domain in ("", "ai.onnx")][0]
    m.opset_import.append(helper.make_opsetid("", 18 if o.version != 18 else 17))


def set_domain(op_type, domain):
    def edit(m):
        first(m, op_type).domain = domain
    return edit


def rename_op(old, new):
    def edit(m):
        first(m, old).op_type = new
    return edit


def shape_input(op_type, values, dtype):
    """Replace the shape input of the first `op_type` node by a new
    initializer."""
    def edit(m):
        node = first(m, op_type)
        name = "mutant_shape_%s" % op_type
        arr = np.array(values, dtype=dtype)
        m.graph.initializer.append(numpy_helper.from_array(arr, name))
        node.input[1] = name
    return edit


def wrong_value_info(m):
    """value_info typing the RoPE frequency constant (the input of the Cos
    angle's chain) as int64."""
    cos = first(m, "Cos")
    producers = {o: n for n in m.graph.node for o in n.output}
    # Walk back from the angle to the first float Constant.
    work, seen = [cos.input[0]], set()
    while work:
        v = work.pop()
        if v in seen or v not in producers:
            continue
        seen.add(v)
        n = producers[v]
        if n.op_type == "Constant":
            t = n.attribute[0].t if n.attribute and n.attribute[0].type == onnx.AttributeProto.TENSOR else None
            if t is not None and t.data_type == TensorProto.FLOAT and len(t.dims) >= 1:
                m.graph.value_info.append(helper.make_tensor_value_info(
                    v, TensorProto.INT64, list(t.dims)))
                return
        work.extend(n.input)
    # No Constant on the way: type the Cos output itself wrongly.
    m.graph.value_info.append(helper.make_tensor_value_info(
        cos.output[0], TensorProto.INT64, None))


def initializer_named_like_input(m):
    inp = [i for i in m.graph.input if i.name in ("position_ids", "attention_mask")][0]
    shape = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
    m.graph.initializer.append(numpy_helper.from_array(
        np.zeros(shape, dtype=np.int64), inp.name))


EDITS = [
    ("opset 0", set_opset(0)),
    ("opset 1", set_opset(1)),
    ("opset 7", set_opset(7)),
    ("opset -5", set_opset(-5)),
    ("opset removed", remove_opset),
    ("opset listed twice", duplicate_opset),
    ("Constant domain ai.onnx", set_domain("Constant", "ai.onnx")),
    ("Constant domain custom", set_domain("Constant", "com.example")),
    ("Concat domain custom", set_domain("Concat", "com.example")),
    ("Unsqueeze domain custom", set_domain("Unsqueeze", "com.example")),
    ("Where domain custom", set_domain("Where", "com.example")),
    ("Constant renamed Identity", rename_op("Constant", "Identity")),
    ("Reshape renamed Expand", rename_op("Reshape", "Expand")),
    ("Expand shape [-1]", shape_input("Expand", [-1], np.int64)),
    ("Reshape shape int32 [1]", shape_input("Reshape", [1], np.int32)),
    ("value_info int64 on a RoPE Constant", wrong_value_info),
    ("initializer named like an input", initializer_named_like_input),
]

MODELS = [("qwen2vl_1d_bug.onnx", "qwen2-vl"),
          ("qwen2vl_expand_bug.onnx", "qwen2-vl")]


def feeds_for(path):
    m = onnx.load(path)
    inits = {i.name for i in m.graph.initializer}
    feeds = {}
    for i in m.graph.input:
        if i.name in inits:
            continue
        tt = i.type.tensor_type
        dims = [d.dim_value if d.dim_value else 2 for d in tt.shape.dim]
        if len(dims) == 3 and dims[0] == 3 and i.name.startswith("position"):
            dims = [3, 2, 2]
        dtype = onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[tt.elem_type]
        if np.issubdtype(dtype, np.integer):
            feeds[i.name] = np.ones(dims, dtype=dtype)
        else:
            feeds[i.name] = np.full(dims, 0.5, dtype=dtype)
    return feeds


def check(tool, path, arch, positions, tmp):
    out = os.path.join(tmp, "out.onnx")
    if os.path.exists(out):
        os.remove(out)
    proc = subprocess.run([tool, path, "--arch", arch, "-q", "-o", out,
                           "--positions", positions],
                          capture_output=True, text=True, timeout=120)
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    if proc.returncode < 0 or proc.returncode not in (0, 1):
        return "exit %d (crash)" % proc.returncode
    if proc.returncode == 1:
        if len(lines) != 1:
            return "%d-line error: %s" % (len(lines), " | ".join(lines))
        if os.path.exists(out):
            return "error but %s was written" % out
        return "error: " + lines[0]
    try:
        onnx.checker.check_model(onnx.load(out))
    except Exception as e:  # noqa: BLE001
        return "FAIL written model rejected by the checker: %s" % str(e).splitlines()[0]
    try:
        ort.run(out, feeds_for(out))
    except Exception as e:  # noqa: BLE001
        return "FAIL written model does not run in ORT: %s" % str(e).splitlines()[0][:200]
    return "written, runs in ORT"


def main():
    tool, zoo = sys.argv[1], sys.argv[2]
    failed = passed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for model, arch in MODELS:
            base = onnx.load(os.path.join(zoo, model))
            for name, edit in EDITS:
                m = copy.deepcopy(base)
                try:
                    edit(m)
                except KeyError:
                    continue
                path = os.path.join(tmp, "mutant.onnx")
                onnx.save(m, path)
                for positions in ("input", "compute"):
                    verdict = check(tool, path, arch, positions, tmp)
                    bad = verdict.startswith(("exit", "FAIL")) or "-line error" in verdict \
                        or "was written" in verdict
                    failed += bad
                    passed += not bad
                    print("%s %s, %s, --positions %s: %s" % (
                        "FAIL" if bad else "ok", model, name, positions, verdict))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
