"""The fused-op zoo (python/mrope/zoo/fused.py) through the fused-site
analysis and fix, checked in ONNX Runtime.

For every model of test/models/zoo-fused/index.json:
1. `rope-classify-fused` under --arch auto and under the model's arch
   reports what its JSON description says (kind, layout, sections, rotary
   dim, theta within 1e-4, rotations, op) and the expected bug counts;
2. a bug model fixed by `rope-fix-fused` (then exported) equals its correct
   twin fed the same true 3D positions, and the original model on a
   text-only batch (three equal rows against the original's 1D positions),
   both within 1e-5: the fixed graph runs the same fused kernels over the
   same caches as the twin, so only the order of float operations may
   differ (observed differences are printed); the fixed model analysed
   again has no bug;
3. a correct model comes out of `rope-fix-fused` byte-identical to a plain
   import/export round trip.

usage: check_fused_models.py MROPE_TRANSLATE MROPE_OPT ZOO_DIR [MROPE_FIX]
"""
import json
import os
import subprocess
import sys
import tempfile

from mrope import ort
from mrope.zoo import fused
from mrope.zoo import fused_harness as fh

TOL = fh.TOL


# mrope-fix, when given: fix with the tool instead of rope-fix-fused.
FIXER = None


def pipeline(translate, opt, model, passes, out=None):
    """import | mrope-opt passes [| export -o out]; returns mrope-opt's stderr."""
    imported = subprocess.run([translate, "--import-onnx", model], capture_output=True, check=True)
    proc = subprocess.run([opt] + passes, input=imported.stdout, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode().strip().splitlines()[0])
    if out:
        subprocess.run([translate, "--export-onnx", "-o", out], input=proc.stdout, check=True)
    return proc.stderr.decode()


def classify(translate, opt, model, arch):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sites.json")
        pipeline(translate, opt, model, [f"--rope-classify-fused=arch={arch} report={path}",
                                         "-o", os.devnull])
        with open(path) as f:
            return json.load(f)


def compare_sites(got, want):
    if len(got) != len(want):
        return [f"{len(got)} fused sites, expected {len(want)}"]
    problems = []
    for g, w in zip(got, want):
        for field in ("positions", "layout", "sections", "rotary_dim", "rotations",
                      "interleaved", "fused_op"):
            if g[field] != w[field]:
                problems.append(f"{field}: got {g[field]!r}, expected {w[field]!r}")
        if abs(g["theta"] - w["theta"]) > 1e-4 * w["theta"]:
            problems.append(f"theta: got {g['theta']}, expected {w['theta']}")
    return problems


def run(path, kind):
    return ort.run(path, fused.feeds({"inputs": fh.inputs_of(path)}, kind))


max_diff = fh.max_diff


def check(translate, opt, zoo, desc):
    model = os.path.join(zoo, desc["model"])
    arch = desc["expected"]["declared"]["arch"]
    problems = []
    auto = classify(translate, opt, model, "auto")
    problems += compare_sites(auto, desc["sites"])
    if sum(s["bug"] for s in auto) != desc["expected"]["auto"]["bugs"]:
        problems.append(f"auto: {sum(s['bug'] for s in auto)} bugs")
    declared = classify(translate, opt, model, arch)
    if sum(s["bug"] for s in declared) != desc["expected"]["declared"]["bugs"]:
        problems.append(f"--arch {arch}: {sum(s['bug'] for s in declared)} bugs")
    detail = ""
    with tempfile.TemporaryDirectory() as tmp:
        fixed = os.path.join(tmp, "fixed.onnx")
        if FIXER:  # the user's path: mrope-fix -o
            subprocess.run([FIXER, model, "--arch", arch, "-q", "-o", fixed], check=True)
        else:
            pipeline(translate, opt, model, [f"--rope-fix-fused=arch={arch}"], fixed)
        if desc["bug"]:
            twin = os.path.join(zoo, desc["twin"])
            d_twin = max_diff(run(fixed, "multimodal"), run(twin, "multimodal"))
            d_text = max_diff(run(fixed, "text"), run(model, "text"))
            mm_vs_orig = max_diff(run(fixed, "multimodal"), run(model, "multimodal"))
            if d_twin > TOL:
                problems.append(f"|fixed - twin| = {d_twin:.3g} on 3D positions")
            if d_text > TOL:
                problems.append(f"|fixed - original| = {d_text:.3g} on text")
            # The batch must tell the bug from the fix, else (1) proves nothing.
            if mm_vs_orig < 1e-3:
                problems.append(f"the multimodal batch does not tell fixed from original ({mm_vs_orig:.3g})")
            if any(s["bug"] for s in classify(translate, opt, fixed, arch)):
                problems.append("the fixed model still has a bug")
            detail = f": |fixed - twin| = {d_twin:.1e}, text |fixed - original| = {d_text:.1e}"
        else:
            plain = os.path.join(tmp, "plain.onnx")
            # mrope-fix -o copies a correct model byte for byte; the pass
            # pipeline (mrope-opt) re-exports it unchanged.
            pipeline(translate, opt, model, [], plain)
            expected = model if FIXER else plain
            with open(fixed, "rb") as a, open(expected, "rb") as b:
                if a.read() != b.read():
                    problems.append("the fix changed a correct model")
            detail = ": unchanged"
    return problems, detail


def main():
    global FIXER
    translate, opt, zoo = sys.argv[1:4]
    FIXER = sys.argv[4] if len(sys.argv) > 4 else None
    with open(os.path.join(zoo, "index.json")) as f:
        index = json.load(f)["models"]
    descs = []
    for entry in index:
        with open(os.path.join(zoo, entry["json"])) as f:
            descs.append(json.load(f))
    return fh.run_cases(((d["model"], check, (translate, opt, zoo, d)) for d in descs), sep="")


if __name__ == "__main__":
    sys.exit(main())
