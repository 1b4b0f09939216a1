"""rope-raise then convert-rope-to-onnx on every zoo model, run in ONNX
Runtime: the raised-and-lowered graph computes what the original computes.

For each model: import, raise the RoPE tables to rope.cos_sin, lower them
back to ONNX nodes, export; then run original and round-tripped model on the
zoo's standard multimodal inputs. Tolerance 1e-5: the lowered tables form
each channel's angle with the same single f32 product as the original
(MatMul with K = 1, or Mul), so ORT's Cos/Sin see equal inputs; the observed
difference is printed.

usage: check_raise_roundtrip.py BIN_DIR ZOO_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from mrope import ort
from mrope.zoo import feeds as zoo_feeds

TOL = 1e-5


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def main():
    bindir, zoo = sys.argv[1], sys.argv[2]
    tool = lambda name: os.path.join(bindir, name)
    index = json.load(open(os.path.join(zoo, "index.json")))["models"]
    passed = failed = 0
    for entry in index:
        desc = json.load(open(os.path.join(zoo, entry["json"])))
        if not desc["sites"]:
            continue
        model = os.path.join(zoo, desc["model"])
        with tempfile.TemporaryDirectory() as tmp:
            imported = run([tool("mrope-translate"), "--import-onnx", model]).stdout
            raised = run([tool("mrope-opt"), "--rope-raise"], input=imported)
            count = raised.stdout.count("rope.apply")
            lowered = run([tool("mrope-opt"), "--convert-rope-to-onnx"], input=raised.stdout).stdout
            mlir = os.path.join(tmp, "m.mlir")
            with open(mlir, "w") as f:
                f.write(lowered)
            out = os.path.join(tmp, "out.onnx")
            run([tool("mrope-translate"), "--export-onnx", mlir, "-o", out])
            feeds, _ = zoo_feeds.feeds_for(desc, "multimodal")
            want = ort.run(model, feeds)
            got = ort.run(out, feeds)
            diff = max(float(np.max(np.abs(got[k] - want[k]))) for k in want)
        ok = diff <= TOL
        passed += ok
        failed += not ok
        print(f"{'ok' if ok else 'FAIL'} {desc['model']}: {count} rope.apply op(s), "
              f"|round trip - original| = {diff:.1e} (tol {TOL:g})")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
