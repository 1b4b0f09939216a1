"""Zoo models exported by torch with their modules as ONNX model-local
functions (`torch.onnx.export(..., export_modules_as_functions={...})`): the
main graph then calls `Attention`, `DecoderLayer`, the rotary module..., and
RoPE lives inside the function bodies. mrope-fix inlines the calls at import;
the report must mean what the zoo model's means and `mrope-fix -o` must equal
the twin in ONNX Runtime (scripts/metamorphic.py's checks).

usage: check_functions.py MROPE_FIX ZOO_DIR MODULES MODEL [MODEL...]

MODULES: comma-separated class names of python/mrope/zoo/models.py exported as
functions (nested modules give nested functions).
"""
import importlib.util
import io
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import onnx
import torch

from mrope.zoo import generate as gen
from mrope.zoo import models as zoo_models
from mrope.zoo import rewrite as rw
from mrope.zoo import spec as zoo_spec

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location(
    "metamorphic", HERE.parent.parent / "scripts" / "metamorphic.py")
mm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mm)


def export_with_functions(name, modules):
    """The zoo entry `name` exported as the zoo does (same weights, opset, axes), with the
    classes `modules` as model-local functions."""
    entry = zoo_spec.BY_NAME[name]
    model = gen.build(entry)
    args = gen.example_inputs(entry, model)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, buf, input_names=model.input_names(),
                          output_names=model.output_names(), dynamic_axes=model.dynamic_axes(),
                          opset_version=max(entry.opset, 15), do_constant_folding=True,
                          export_modules_as_functions=modules)
    exported = onnx.load_from_string(buf.getvalue())
    # torch 1.13 names a graph output that a function call computes after the
    # call's internal value ("295" for last_hidden_state); one output is
    # renamed back (with several, their order is not the module's either:
    # such models are not used here).
    want = model.output_names()
    got = [o.name for o in exported.graph.output]
    if got != want and len(got) == len(want) == 1:
        for n in exported.graph.node:
            n.output[:] = [want[0] if o == got[0] else o for o in n.output]
            n.input[:] = [want[0] if i == got[0] else i for i in n.input]
        exported.graph.output[0].name = want[0]
    return exported


def main(argv):
    tool, zoo, modules, models = shutil.which(argv[1]) or argv[1], Path(argv[2]), argv[3], argv[4:]
    classes = {getattr(zoo_models, c) for c in modules.split(",")}
    passed = failed = 0
    for name in models:
        m = mm.Model(zoo, name + ".json")
        exported = export_with_functions(name, classes)
        local = {(f.domain, f.name) for f in exported.functions}
        calls = sum((n.domain, n.op_type) in local for n in exported.graph.node)
        problems = [] if calls else ["the export calls no model-local function (nothing tested)"]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "functions.onnx")
            onnx.save(exported, path)
            feeds = m.feeds("multimodal")
            d = rw.max_diff(mm.outputs(m.path, [feeds])[0], mm.outputs(path, [feeds])[0])
            if d > 1e-5:
                problems.append(f"the function export differs from the zoo model by {d:.3g} in ORT")
            for arch in ("auto", m.arch):
                problems += mm.meaning_diff(mm.report(tool, path, arch), mm.report(tool, m.path, arch), arch)
            if not problems:
                problems += mm.check_fix(tool, m, path, tmp, {})
        what = f"{len(exported.functions)} functions, {calls} calls in the main graph"
        if problems:
            failed += 1
            print(f"FAIL {name}: {what}: {problems[0]}")
        else:
            passed += 1
            print(f"ok {name}: {what}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
