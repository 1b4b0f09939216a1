"""mrope-fix's report on every model of the exporter-spelling zoo
(python/mrope/zoo/spellings.py) against the model's JSON description.

Per model, under --arch auto and under the declared arch, with --check:
the sites grouped by meaning (kind, sections, rotary dim, theta to 4
significant digits, layout, interleave, fused op, positions source, bug
verdict) with their rotations summed must equal the JSON's (so the same
computation split into one site per layer or per rotated tensor is the same
meaning); the --check exit code (3 on a bug) must be the JSON's.

Known failures are (MODEL report) lines of the expected-failure list
(test/models/metamorphic-xfail.txt); a listed model that passes is an XPASS,
an error.

usage: check_spellings.py MROPE_FIX ZOO_DIR [XFAIL_FILE]
"""
import json
import os
import re
import subprocess
import sys
import tempfile


def source_of(text):
    m = re.match(r"input '([^']*)'", text or "")
    return m.group(1) if m else (text or "").split(" ")[0]


def groups(sites, bug_of):
    """{meaning: rotations}: sites with the same meaning (and bug verdict) merged."""
    out = {}
    for s in sites:
        key = (s["positions"], tuple(s["sections"]), s["rotary_dim"], f"{float(s['theta']):.4g}",
               s.get("layout", "neox"), bool(s.get("interleaved", False)), s.get("fused_op") or "",
               source_of(s.get("positions_source", "")), bool(bug_of(s)))
        out[key] = out.get(key, 0) + s["rotations"]
    return out


def show(g):
    return "; ".join(f"{k[0]} {list(k[1])} r{k[2]} theta {k[3]} {k[6] or 'unfused'} from {k[7]}"
                     f"{' BUG' if k[8] else ''}: {v} rotations" for k, v in sorted(g.items()))


def report(tool, model, arch):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        p = subprocess.run([tool, model, "--arch", arch, "--check", "-q", "--report", out],
                           capture_output=True, text=True)
        if p.returncode not in (0, 3) or not os.path.exists(out):
            raise RuntimeError(f"exit {p.returncode}: {p.stderr.strip()[:200]}")
        with open(out) as f:
            return p.returncode, json.load(f)


# What is a bug (docs/mrope-fix.md): under --arch auto only degenerate M-RoPE; under a Qwen VL
# arch also 1D positions (text decoders and vision towers alike).
BUG = {"auto": lambda s: s["positions"] == "mrope-degenerate",
       "declared": lambda s: s["positions"] in ("mrope-degenerate", "1d")}


def check(tool, zoo, desc):
    model = os.path.join(zoo, desc["model"])
    problems = []
    for which in ("auto", "declared"):
        exp = desc["expected"][which]
        arch = exp.get("arch", "auto")
        rc, rep = report(tool, model, arch)
        got = groups(rep["sites"], lambda s: s["bug"])
        want = groups(desc["sites"], BUG[which])
        if got != want:
            problems.append(f"--arch {arch}: sites [{show(got)}], expected [{show(want)}]")
        if rc != exp["check_exit"]:
            problems.append(f"--arch {arch} --check: exit {rc}, expected {exp['check_exit']}")
    return problems


def read_xfail(path):
    out = {}
    if path and os.path.exists(path):
        for line in open(path):
            body, _, reason = line.partition("#")
            parts = body.split()
            if len(parts) == 2 and parts[1] == "report":
                out[parts[0]] = reason.strip()
    return out


def main():
    tool, zoo = sys.argv[1], sys.argv[2]
    xfail = read_xfail(sys.argv[3] if len(sys.argv) > 3 else None)
    with open(os.path.join(zoo, "index.json")) as f:
        index = json.load(f)["models"]
    passed = failed = xfailed = 0
    for entry in index:
        with open(os.path.join(zoo, entry["json"])) as f:
            desc = json.load(f)
        name = entry["name"]
        try:
            problems = check(tool, zoo, desc)
        except Exception as e:  # a failing tool is a failed model
            problems = [str(e)]
        if problems and name in xfail:
            xfailed += 1
            print(f"XFAIL {desc['model']}: " + "; ".join(problems))
        elif problems:
            failed += 1
            print(f"FAIL {desc['model']}: " + "; ".join(problems))
        elif name in xfail:
            failed += 1
            print(f"XPASS {desc['model']}: listed as a known failure ({xfail[name]}) but passes: "
                  "remove it from the list")
        else:
            passed += 1
            print(f"ok {desc['model']}")
    print(f"{passed} passed, {failed} failed, {xfailed} expected failures")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
