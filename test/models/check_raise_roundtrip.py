"""rope-raise then convert-rope-to-onnx on every zoo model, run in ONNX
Runtime: the raised-and-lowered graph computes what the original computes.

For each model: import, raise every site to rope.apply, lower back to ONNX
nodes (emit=plain), export; run original and round trip on the zoo's
standard inputs (mrope.zoo.feeds: the multimodal batch for decoders, one
image for vision towers) and compare every output.

Tolerances (absolute, on every output):
- tables the graph computes with Cos/Sin: 1e-6. The lowering forms each
  channel's angle as the same single f32 product f32(position) * inv_freq
  (the graph's MatMul with K = 1, or Mul) and takes Cos/Sin of it, so only
  the runtime's choice of vector or scalar cos for a differently shaped
  tensor can differ, by an ulp; observed: 0.
- tables gathered from constant caches: 1e-5. The raise recomputes them;
  it refuses caches further than 1e-6 from cos/sin of the f32 angle, and
  the layers after the rotation amplify that a little; observed <= 5e-7.
A control run lowers the raised graph with its first inverse frequency
changed from 1 to 1.5 and must differ by more than 1e-3, so the comparison
sees the raised ops at all.

A model with no raised site must come out of rope-raise exactly as it went
in (textually, after the same round through mrope-opt); the remark saying
why is printed. The models mrope-fix writes with --positions compute (the
graph computes its positions with get_rope_index) are raised as well.

usage: check_raise_roundtrip.py BIN_DIR ZOO_DIR
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

from mrope import ort
from mrope.zoo import feeds as zoo_feeds

TOL_COMPUTED = 1e-6
TOL_CACHE = 1e-5
CONTROL_MIN = 1e-3
COMPUTE = ["qwen2vl_mrope.onnx", "qwen3vl_mrope.onnx"]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


class Tools:
    def __init__(self, bindir, tmp):
        self.bin, self.tmp = bindir, tmp

    def tool(self, name):
        return os.path.join(self.bin, name)

    def imported(self, model):
        text = run([self.tool("mrope-translate"), "--import-onnx", model]).stdout
        return run([self.tool("mrope-opt")], input=text).stdout

    def raised(self, text):
        proc = run([self.tool("mrope-opt"), "--rope-raise"], input=text)
        remarks = [m.group(1) for m in re.finditer(r"remark: rope-raise: (.*)", proc.stderr)]
        return proc.stdout, remarks

    def export(self, text, name):
        lowered = run([self.tool("mrope-opt"), "--convert-rope-to-onnx"], input=text).stdout
        mlir = os.path.join(self.tmp, name + ".mlir")
        with open(mlir, "w") as f:
            f.write(lowered)
        out = os.path.join(self.tmp, name + ".onnx")
        run([self.tool("mrope-translate"), "--export-onnx", mlir, "-o", out])
        return out


def max_diff(got, want):
    return max(float(np.max(np.abs(got[k] - want[k]))) for k in want)


def perturbed(text):
    """The raised graph with its first inverse frequency (1 for every RoPE)
    set to 1.5."""
    return re.sub(r'(onnx.initializer "mrope_raise.inv_freq[^"]*" : tensor<\d+xf32> = dense<\[)1.000000e\+00',
                  r"\g<1>1.500000e+00", text, count=1)


def check(tools, name, model, feeds):
    """One model: (ok, line)."""
    imported = tools.imported(model)
    raised, remarks = tools.raised(imported)
    count = raised.count("rope.apply")
    if count == 0:
        same = raised == imported
        why = "; ".join(remarks) if remarks else "no RoPE site"
        return same, f"{name}: not raised ({why}); " + (
            "untouched" if same else "CHANGED although nothing was raised")
    tol = TOL_CACHE if any("recomputed" in r for r in remarks) else TOL_COMPUTED
    want = ort.run(model, feeds)
    got = ort.run(tools.export(raised, "raised"), feeds)
    diff = max_diff(got, want)
    control = max_diff(ort.run(tools.export(perturbed(raised), "control"), feeds), want)
    ok = diff <= tol and control > CONTROL_MIN
    return ok, (f"{name}: {count} rope.apply, |round trip - original| = {diff:.1e} "
                f"(tol {tol:g}), control {control:.1e}")


def main():
    bindir, zoo = sys.argv[1], sys.argv[2]
    index = json.load(open(os.path.join(zoo, "index.json")))["models"]
    passed = failed = 0

    def report(ok, line):
        nonlocal passed, failed
        passed += ok
        failed += not ok
        print(("ok " if ok else "FAIL ") + line)

    with tempfile.TemporaryDirectory() as tmp:
        tools = Tools(bindir, tmp)
        for entry in index:
            desc = json.load(open(os.path.join(zoo, entry["json"])))
            feeds, _ = zoo_feeds.feeds_for(desc, "multimodal")
            report(*check(tools, desc["model"], os.path.join(zoo, desc["model"]), feeds))
        for name in COMPUTE:
            model = os.path.join(zoo, name)
            fixed = os.path.join(tmp, "computed_" + name)
            run([tools.tool("mrope-fix"), model, "--positions", "compute", "-o", fixed])
            desc = os.path.join(zoo, name.replace(".onnx", ".json"))
            arch = json.load(open(desc))["arch"]
            feeds, _ = zoo_feeds.decoder_feeds(desc, "multimodal", arch=arch)
            ids, mask, grids = zoo_feeds.batch("multimodal", padded=True, arch=arch)
            import onnx
            names = [i.name for i in onnx.load(fixed, load_external_data=False).graph.input]
            cfeeds = {k: v for k, v in feeds.items() if k in names}
            cfeeds.update(input_ids=ids, attention_mask=mask, **grids)
            cfeeds = {k: v for k, v in cfeeds.items() if k in names}
            report(*check(tools, "computed positions " + name, fixed, cfeeds))
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
