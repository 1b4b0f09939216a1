"""mrope-fix on the packed-batch zoo (python/mrope/zoo/packed.py), in ONNX Runtime.

A packed decoder counts each token's position inside its own sample from
``segment_ids`` and expands that 1D count to three rows. For every model:

1. ``--check`` exits 3 and the report names the site's rows as per-sample
   1D counts of ``segment_ids``;
2. ``-o`` (positions from an input) writes a model that takes
   ``position_ids [3, batch, seq]`` and no ``segment_ids``; fed the packed
   batch's true positions (``mrope.position_ids(..., segment_ids=...)``:
   every sample's positions as if it were alone) it equals the twin (the
   main zoo's correct model, same weights) fed the same positions;
3. ``--positions compute`` writes a model that computes those positions from
   input_ids, attention_mask, the grids and ``segment_ids``; fed the raw
   packed batch it equals the twin fed the true positions, and its
   ``rope_deltas`` equal ``position_ids``'s per segment.

Tolerance 1e-5 (check_fixed_models.py's: the fixed and twin graphs run the
same f32 ops on equal positions; observed differences are printed). Padding
tokens are compared too: both models see the same positions there.

usage: check_packed.py MROPE_FIX ZOO_PACKED_DIR ZOO_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

from mrope import ort
from mrope.positions import position_ids
from mrope.zoo import packed

TOL = 1e-5


def run(tool, *args):
    return subprocess.run([tool, *args], capture_output=True, text=True)


def inputs_of(path):
    return [i.name for i in onnx.load(path).graph.input]


def main(tool, packed_dir, zoo_dir):
    index = json.load(open(os.path.join(packed_dir, "index.json")))
    ids, mask, seg, grids = packed.packed_batch()
    true_pos, true_deltas = position_ids(ids, arch="qwen2-vl", attention_mask=mask, segment_ids=seg, **grids)
    true_pos = np.asarray(true_pos, np.int64)
    B, S = ids.shape
    failed = 0
    for entry in index["models"]:
        name = entry["name"]
        model = os.path.join(packed_dir, entry["model"])
        desc = json.load(open(os.path.join(packed_dir, entry["json"])))
        twin = os.path.join(packed_dir, entry["twin"])
        hidden = int(desc["inputs"]["inputs_embeds"][2])
        embeds = np.random.default_rng(0).standard_normal((B, S, hidden)).astype(np.float32)
        want = ort.run(twin, {"inputs_embeds": embeds, "attention_mask": mask, "position_ids": true_pos})
        want = want[desc["output"]]

        def check(what, ok, detail=""):
            nonlocal failed
            print(f"{'PASS' if ok else 'FAIL'}: {name} {what}{': ' + detail if detail else ''}")
            failed += not ok

        with tempfile.TemporaryDirectory() as tmp:
            report = os.path.join(tmp, "r.json")
            p = run(tool, model, "--arch", entry["arch"], "--check", "-q", "--report", report)
            sites = json.load(open(report))["sites"] if os.path.exists(report) else []
            text = json.dumps(sites)
            check("check", p.returncode == 3 and "per packed sample of input 'segment_ids'" in text,
                  f"exit {p.returncode}")

            fixed = os.path.join(tmp, "fixed.onnx")
            p = run(tool, model, "--arch", entry["arch"], "-o", fixed, "-q")
            if p.returncode != 0:
                check("input fix", False, p.stderr.strip())
            else:
                names = inputs_of(fixed)
                got = ort.run(fixed, {"inputs_embeds": embeds, "attention_mask": mask, "position_ids": true_pos})
                got = got[desc["output"]]
                diff = float(np.abs(got - want).max())
                check("input fix == twin", "segment_ids" not in names and "position_ids" in names and diff <= TOL,
                      f"inputs {names}, max |diff| {diff:.3g}")

            computed = os.path.join(tmp, "computed.onnx")
            p = run(tool, model, "--arch", entry["arch"], "-o", computed, "-q", "--positions", "compute")
            if p.returncode != 0:
                check("compute fix", False, p.stderr.strip())
                continue
            feeds = {"inputs_embeds": embeds, "attention_mask": mask, "segment_ids": seg, "input_ids": ids, **grids}
            names = inputs_of(computed)
            out = ort.run(computed, {k: v for k, v in feeds.items() if k in names})
            got = out[desc["output"]]
            diff = float(np.abs(got - want).max())
            deltas = np.asarray(out["rope_deltas"])
            wd = np.asarray(true_deltas)
            same = deltas.shape == wd.shape and bool((deltas == wd).all())
            check("compute fix == twin", diff <= TOL and same,
                  f"max |diff| {diff:.3g}, rope_deltas {deltas.tolist()} vs {wd.tolist()}")
    print(f"{len(index['models'])} models, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
