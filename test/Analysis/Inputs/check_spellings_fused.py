"""The fused sites of the exporter-spelling zoo (python/mrope/zoo/spellings.py)
through mrope-fix and ONNX Runtime.

For every model of ZOO_DIR/index.json whose description has a fused op:
the report of ``mrope-fix --arch ARCH`` (kind, sections, theta within 1e-4
relative, rotary dim, rotations, source) equals the description; a bug model
is fixed by ``mrope-fix -o`` or refused in one line; a fixed model equals its
correct twin in ONNX Runtime within 1e-5 on the zoo's batches (multimodal,
positions >= B*S, Qwen2.5-VL time-scaled video) and checks clean; a correct
model gives --check 0 and its -o output equals it.

usage: check_spellings_fused.py MROPE_FIX ZOO_DIR OUT_DIR
"""
import json
import os
import subprocess
import sys

import numpy as np

from mrope import ort
from mrope.zoo import spellings

TOL = 1e-5
KINDS = ("multimodal", "late", "qwen25", "text")


def report(fix, model, arch, out):
    with_report = os.path.join(out, os.path.basename(model) + ".report.json")
    subprocess.run([fix, model, "--arch", arch, "-q", "--report", with_report], check=True)
    with open(with_report) as f:
        return json.load(f)["sites"]


def outputs(model, feeds):
    out = ort.run(model, feeds)
    return [np.asarray(v) for v in (out.values() if isinstance(out, dict) else out)]


def main():
    fix, zoo, out = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    index = json.load(open(os.path.join(zoo, "index.json")))
    names = [e["name"] if isinstance(e, dict) else e for e in index.get("models", index)]
    failed = 0
    for name in names:
        desc = json.load(open(os.path.join(zoo, name + ".json")))
        if not any(s.get("fused_op") for s in desc["sites"]):
            continue
        model = os.path.join(zoo, name + ".onnx")
        arch = desc["arch"]
        got = [s for s in report(fix, model, arch, out) if s.get("fused_op")]
        keys = ("positions", "sections", "rotary_dim", "rotations", "fused_op")
        same = len(got) == len(desc["sites"]) and all(
            all(g[k] == w[k] for k in keys) and abs(g["theta"] - w["theta"]) <= 1e-4 * w["theta"]
            and w["positions_source"] in g["positions_source"]
            for g, w in zip(got, desc["sites"]))
        failed += not same
        print(f"{'ok' if same else 'FAIL'} {name}: report "
              + "; ".join(f"{g['positions']} {g['sections']} theta {g['theta']:g} x{g['rotations']} from "
                          f"{g['positions_source']}" for g in got))
        fixed = os.path.join(out, name + ".fixed.onnx")
        proc = subprocess.run([fix, model, "--arch", arch, "-q", "-o", fixed], capture_output=True, text=True)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            print(f"refused {name}: {lines[-1] if lines else proc.returncode} ({len(lines)} line(s))")
            continue
        twin_name = (desc.get("twin") or name).replace(".onnx", "")
        twin = os.path.join(zoo, twin_name + ".onnx")
        tdesc = json.load(open(os.path.join(zoo, twin_name + ".json")))
        worst = 0.0
        for kind in KINDS:
            want = outputs(twin, spellings.model_feeds(tdesc, kind, path=twin))
            have = outputs(fixed, spellings.model_feeds(desc, kind, path=fixed))
            worst = max(worst, *(float(np.abs(a - b).max()) for a, b in zip(want, have)))
        clean = subprocess.run([fix, fixed, "--arch", arch, "--check", "-q"]).returncode == 0
        ok = worst <= TOL and clean
        failed += not ok
        print(f"{'ok' if ok else 'FAIL'} {name}: fixed vs {os.path.basename(twin)} max |diff| = {worst:.2e} "
              f"over {', '.join(KINDS)}; fixed checks {'clean' if clean else 'DIRTY'}")
    print(f"{'FAIL' if failed else 'PASS'}: {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
