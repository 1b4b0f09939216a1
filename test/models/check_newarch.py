"""mrope-fix on the new-arch zoo (python/mrope/zoo/newarch.py), in ONNX Runtime.

Per model of the zoo (each declared with its own --arch):

1. ``--report``: one site whose kind, sections, rotary dim, pair layout,
   order and theta are the generator's, flagged a bug exactly on the bug
   variants (1D RoPE is a bug under every new arch), the report naming the
   arch;
2. ``--check`` exits 3 on a bug variant and 0 on the correct model;
3. a correct model's ``-o`` is a byte-identical copy (no semantic change);
4. a bug variant's ``-o`` (positions from an input) fed the arch's true
   positions (``mrope.position_ids(..., arch=...)`` of the multimodal batch
   of newarch.batch: images, videos, for qwen2.5-omni an audio span, a
   left-padded row; for the Omni archs also a batch with a video whose audio
   is interleaved with its frames, use_audio_in_video; for qwen3-omni
   float32 positions with fractional time rows, up to past B*S) equals the
   twin (the correct model, same weights) fed
   the same positions, and so does ``-o --emit ort`` (ORT's fused rotary
   ops where the fix can use them; they may contract x*cos + rot(x)*sin
   into an FMA, about one f32 ulp per value, far under the tolerance);
5. a bug variant's ``--positions compute`` (refused in one line under
   qwen3-omni, nothing written) fed the raw batch (token ids,
   mask, grids, and second_per_grid_ts where the arch has temporal scaling)
   computes exactly the positions and rope_deltas ``mrope.position_ids``
   gives (the positions tensor the rotary reads is made a graph output),
   and its logits equal the twin's on them;
6. under qwen3-omni (float32 positions), the ``-o`` model fed the same
   positions as int64 is refused by ONNX Runtime (its input is float32);
   the line shows what a user sees.

Tolerance 1e-5 on the logits (check_fixed_models.py's: fixed and twin run
the same f32 ops on equal positions; observed differences are printed);
positions and rope_deltas must be equal (integers; qwen3-omni's float32
ones bit for bit, which the op and its lowering claim).

usage: check_newarch.py MROPE_FIX ZOO_NEWARCH_DIR [--only NAME,...] [--skip NAME,...]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

from mrope import ort
from mrope.zoo import newarch

TOL = 1e-5
# Archs whose positions are float32 (mrope.position_ids gives float32 for them).
FLOAT_ARCHS = ("qwen3-omni",)


def run(tool, *args):
    return subprocess.run([tool, *args], capture_output=True, text=True)


class Checker:
    def __init__(self):
        self.failed = 0

    def __call__(self, name, what, ok, detail=""):
        print(f"{'PASS' if ok else 'FAIL'}: {name} {what}{': ' + detail if detail else ''}", flush=True)
        self.failed += not ok


def check_report(check, tool, name, arch, model, desc, tmp):
    path = os.path.join(tmp, "r.json")
    p = run(tool, model, "--arch", arch, "--report", path, "-q")
    if p.returncode != 0 or not os.path.exists(path):
        check(name, "report", False, p.stderr.strip())
        return
    report = json.load(open(path))
    sites = report["sites"]
    want = desc["sites"]
    got = [{"positions": s["positions"], "sections": s["sections"], "rotary_dim": s["rotary_dim"],
            "layout": s["layout"], "interleaved": s["interleaved"], "theta": float(s["theta"]),
            "bug": s["bug"]} for s in sites]
    exp = [{"positions": s["positions"], "sections": s["sections"], "rotary_dim": s["rotary_dim"],
            "layout": s["layout"], "interleaved": s["interleaved"], "theta": s["theta"],
            "bug": s["positions"] in ("1d", "mrope-degenerate")} for s in want]
    ok = report["arch"] == arch and got == exp and report["summary"]["bugs"] == desc["expected"]["declared"]["bugs"]
    s = got[0] if got else {}
    check(name, f"report under --arch {arch}", ok,
          f"{s.get('positions')} {s.get('sections')} {s.get('layout')}, rotary_dim {s.get('rotary_dim')}, "
          f"bug {str(s.get('bug')).lower()}" if ok else f"got {got}, want {exp}")


def positions_output(fixed_input, computed):
    """``computed`` with the tensor its rotary reads in place of position_ids added as an output
    ``checked_positions``: the nodes that read ``position_ids`` in the input-mode fix read it
    (same node names) in the compute-mode fix."""
    readers = [(n.name, list(n.input).index("position_ids")) for n in onnx.load(fixed_input).graph.node
               if "position_ids" in n.input]
    m = onnx.load(computed)
    by_name = {n.name: n for n in m.graph.node}
    tensors = {by_name[r].input[i] for r, i in readers if r in by_name}
    if len(tensors) != 1:
        return None
    out = onnx.helper.make_empty_tensor_value_info(tensors.pop())
    m.graph.output.append(out)
    path = computed + ".pos.onnx"
    onnx.save(m, path)
    return path, out.name


def check_batch(check, name, arch, kind, zoo, entry, desc, fixed, fused, computed):
    """Checks 4 and 5 on one batch of the arch (newarch.batch(arch, kind)); a fix that was not
    written is skipped here (its failure is already counted)."""
    label = f" [{kind}]" if kind else ""
    ids, mask, grids, extra = newarch.batch(arch, kind)
    true_pos, true_deltas = newarch.true_positions(arch, kind)
    B, S = ids.shape
    hidden = int(desc["inputs"]["inputs_embeds"][2])
    embeds = np.random.default_rng(0).standard_normal((B, S, hidden)).astype(np.float32)
    given = {"inputs_embeds": embeds, "attention_mask": mask, "position_ids": true_pos}
    want = ort.run(os.path.join(zoo, entry["twin"]), given)[desc["output"]]
    if os.path.exists(fixed):
        diff = float(np.abs(ort.run(fixed, given)[desc["output"]] - want).max())
        check(name, f"-o == twin on true positions{label}", diff <= TOL, f"max |diff| {diff:.3g}")
        if true_pos.dtype == np.float32 and not kind:
            try:
                ort.run(fixed, {**given, "position_ids": true_pos.astype(np.int64)})
                check(name, "-o refuses int64 positions", False, "ONNX Runtime ran it")
            except ort.OrtError as e:
                msg = " ".join(str(e).split())
                msg = msg[msg.find("Error:"):] if "Error:" in msg else msg   # past the temporary path
                check(name, "-o refuses int64 positions", "position_ids" in msg or "type" in msg.lower(),
                      msg[:160])
    if os.path.exists(fused):
        ops = {n.op_type for n in onnx.load(fused).graph.node if n.domain == "com.microsoft"}
        diff = float(np.abs(ort.run(fused, given)[desc["output"]] - want).max())
        check(name, f"--emit ort == twin on true positions{label}", diff <= TOL,
              f"max |diff| {diff:.3g}, {', '.join(sorted(ops)) or 'no fused op'}")
    if not os.path.exists(computed):
        return
    probe = positions_output(fixed, computed) if os.path.exists(fixed) else None
    feeds = {"inputs_embeds": embeds, "attention_mask": mask, "input_ids": ids, **grids}
    if "second_per_grid_ts" in extra:
        feeds["second_per_grid_ts"] = extra["second_per_grid_ts"]
    names = [i.name for i in onnx.load(computed).graph.input]
    missing = sorted(set(names) - set(feeds))
    if missing:
        check(name, f"--positions compute{label}", False, f"unexpected inputs {missing}")
        return
    out = ort.run(probe[0] if probe else computed, {k: v for k, v in feeds.items() if k in names})
    diff = float(np.abs(out[desc["output"]] - want).max())
    deltas = np.asarray(out["rope_deltas"])
    same_deltas = deltas.shape == true_deltas.shape and bool((deltas == true_deltas).all())
    if probe:
        pos = np.asarray(out[probe[1]])
        same_pos = pos.shape == true_pos.shape and bool((pos == true_pos).all())
        pos_note = "positions == mrope.position_ids" if same_pos else \
            f"positions {pos.tolist()} vs {true_pos.tolist()}"
    else:
        same_pos, pos_note = False, "the positions the rotary reads were not found"
    check(name, f"--positions compute == mrope.position_ids and twin{label}",
          same_pos and same_deltas and diff <= TOL,
          f"{pos_note}, rope_deltas {deltas.ravel().tolist()} vs {true_deltas.ravel().tolist()}, "
          f"max |diff| {diff:.3g}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tool")
    ap.add_argument("zoo")
    ap.add_argument("--only", default="")
    ap.add_argument("--skip", default="")
    a = ap.parse_args()
    only = set(filter(None, a.only.split(",")))
    skip = set(filter(None, a.skip.split(",")))
    index = json.load(open(os.path.join(a.zoo, "index.json")))
    check = Checker()
    count = 0
    for entry in index["models"]:
        name, arch = entry["name"], entry["arch"]
        if (only and name not in only) or name in skip:
            continue
        count += 1
        model = os.path.join(a.zoo, entry["model"])
        desc = json.load(open(os.path.join(a.zoo, entry["json"])))
        with tempfile.TemporaryDirectory() as tmp:
            check_report(check, a.tool, name, arch, model, desc, tmp)
            p = run(a.tool, model, "--arch", arch, "--check", "-q")
            want_rc = 3 if entry["bug"] else 0
            check(name, f"--check exits {want_rc}", p.returncode == want_rc, f"exit {p.returncode}")

            fixed = os.path.join(tmp, "fixed.onnx")
            p = run(a.tool, model, "--arch", arch, "-o", fixed, "-q")
            if not entry["bug"]:
                same = p.returncode == 0 and open(fixed, "rb").read() == open(model, "rb").read()
                check(name, "-o writes it unchanged", same, p.stderr.strip() if p.returncode else "")
                continue

            fused = os.path.join(tmp, "fused.onnx")
            if p.returncode != 0:
                check(name, "-o", False, p.stderr.strip())
            else:
                q = run(a.tool, model, "--arch", arch, "-o", fused, "-q", "--emit", "ort")
                if q.returncode != 0:
                    check(name, "--emit ort", False, q.stderr.strip())
            computed = os.path.join(tmp, "computed.onnx")
            q = run(a.tool, model, "--arch", arch, "-o", computed, "-q", "--positions", "compute")
            if arch in FLOAT_ARCHS:
                # Refused in one line, nothing written (docs/mrope-fix.md, Qwen3-Omni).
                err = q.stderr.strip()
                check(name, "--positions compute refused", q.returncode == 1 and len(err.splitlines()) == 1
                      and "not available under --arch" in err and not os.path.exists(computed), err[-120:])
            elif q.returncode != 0:
                check(name, "--positions compute", False, q.stderr.strip())
            for kind in newarch.batch_kinds(arch):
                check_batch(check, name, arch, kind, a.zoo, entry, desc, fixed, fused, computed)
    print(f"{count} models, {check.failed} failed")
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
