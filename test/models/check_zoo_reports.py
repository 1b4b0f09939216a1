"""Runs `mrope-fix --report` on every model of the zoo and compares the report
with the model's JSON description (what the generator knows it built): the
sites, their kind, layout, sections, rotary dim, theta, rotation count, and
the number of bugs under --arch auto and under the model's declared arch.

usage: check_zoo_reports.py MROPE_FIX ZOO_DIR
"""
import json
import os
import subprocess
import sys
import tempfile


def run_report(tool, model, arch):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "report.json")
        proc = subprocess.run([tool, model, "--report", out, "--arch", arch, "-q"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"mrope-fix failed on {model}: {proc.stderr.strip()}")
        with open(out) as f:
            return json.load(f)


def compare_sites(got, want):
    problems = []
    if len(got) != len(want):
        return [f"{len(got)} sites, expected {len(want)}"]
    key = lambda s: (s["positions"], s["rotary_dim"])
    for g, w in zip(sorted(got, key=key), sorted(want, key=key)):
        for field in ("positions", "layout", "sections", "rotary_dim", "rotations",
                      "interleaved"):
            if g[field] != w[field]:
                problems.append(f"{field}: got {g[field]!r}, expected {w[field]!r}")
        if abs(g["theta"] - w["theta"]) > 1e-4 * w["theta"]:
            problems.append(f"theta: got {g['theta']}, expected {w['theta']}")
    return problems


def main():
    tool, zoo = sys.argv[1], sys.argv[2]
    with open(os.path.join(zoo, "index.json")) as f:
        index = json.load(f)["models"]
    passed = failed = 0
    for entry in index:
        with open(os.path.join(zoo, entry["json"])) as f:
            desc = json.load(f)
        model = os.path.join(zoo, desc["model"])
        problems = []
        auto = run_report(tool, model, "auto")
        problems += compare_sites(auto["sites"], desc["sites"])
        if auto["summary"]["bugs"] != desc["expected"]["auto"]["bugs"]:
            problems.append(f"auto: {auto['summary']['bugs']} bugs, expected "
                            f"{desc['expected']['auto']['bugs']}")
        declared = desc["expected"]["declared"]
        rep = run_report(tool, model, declared["arch"])
        if rep["summary"]["bugs"] != declared["bugs"]:
            problems.append(f"--arch {declared['arch']}: {rep['summary']['bugs']} bugs, "
                            f"expected {declared['bugs']}")
        if problems:
            failed += 1
            print(f"FAIL {desc['model']}: " + "; ".join(problems))
        else:
            passed += 1
            print(f"ok {desc['model']}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
