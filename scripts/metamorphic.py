#!/usr/bin/env python3
"""Metamorphic suite: the same RoPE spelled differently must get the same report and fix.

For every model of the zoos (test/models/zoo, zoo-fused, zoo-spellings, zoo-packed,
zoo-newarch) and N
rewritten variants of it (python/mrope/zoo/rewrite.py: each rewrite keeps the
model's meaning and is checked equal to the original in ONNX Runtime first):

1. the report's meaning (per site: kind, layout, sections, rotary dim, theta,
   rotations, fused op, positions source, bug; ``--check`` exit code, under
   ``--arch auto`` and under the model's declared arch) must equal the
   original model's (for the original itself: the sites its JSON describes);
2. ``mrope-fix -o`` on a bug model must give a model equal to the correct twin
   in ONNX Runtime (<= 1e-5) on multimodal feeds (the spelling zoo adds
   positions >= B*S and Qwen2.5-VL time-scaled video, the packed zoo a packed
   batch with per-sample positions, the new-arch zoo its arch's own batch and
   positions) and equal to the model itself on text; on a correct model ``-o`` must make no semantic change
   (same inputs, same outputs within 1e-5, or nothing written).
3. on the fused-site models mrope.zoo.fused_harness has compute cases for (the fused
   zoo; the spelling zoo's GenAI builder and dynamo models), ``mrope-fix --positions
   compute -o`` on the first ``--compute`` variants (one arch per variant, in turn) must
   pass test/mrope-fix/check_fused_compute.py's checks: a bug model's fix equals the twin
   fed reference positions (Qwen2.5-VL time-scaled video: past B*S), a correct model's
   computed positions give its outputs on reference positions, the result re-analyses clean.

Expected failures: ``test/models/metamorphic-xfail.txt``, one ``MODEL LABEL  #
reason`` per line; LABEL is ``original``, a rewrite kind (its single-kind
variants) or ``combo`` (variants combining kinds).  A variant is expected to
fail when its model's ``original``, one of its kinds, or (for combos) ``combo``
is listed.  A listed entry whose items all ran and passed is an XPASS, an
error: the list can only shrink.  A rewrite whose output differs from the
original is a rewriter bug, never expected.

usage: scripts/metamorphic.py [--tool build/bin/mrope-fix] [--variants N]
       [--seed S] [--seconds T] [--jobs J] [--compute N] [--models REGEX] [--kinds K,K]
       [--xfail FILE | --no-xfail] [--write-xfail FILE] [-v]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

import numpy as np  # noqa: E402
import onnx  # noqa: E402

from mrope import positions as mpos  # noqa: E402
from mrope.zoo import feeds as zoo_feeds  # noqa: E402
from mrope.zoo import fused_harness as fh  # noqa: E402
from mrope.zoo import rewrite as rw  # noqa: E402
from mrope.zoo import spellings as sp  # noqa: E402

ZOOS = ("zoo", "zoo-fused", "zoo-spellings", "zoo-packed", "zoo-newarch")
FIX_TOL = 1e-5            # the bar: fused kernels vs tables, same math, other order
COMBO = "combo"


# --------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------

def source_of(text: str) -> str:
    """A positions source as the report words it, without node names (they change with the spelling)."""
    m = re.match(r"input '([^']*)'", text or "")
    if m:
        return m.group(1)
    return (text or "").split(" ")[0]


def site_meaning(s: dict) -> tuple:
    return (s["positions"], s.get("layout"), tuple(s.get("sections", [])), s.get("rotary_dim"),
            f"{float(s.get('theta', 0)):.4g}", s.get("interleaved", False), s.get("fused_op") or "",
            source_of(s.get("positions_source", "")), bool(s.get("bug")))


def report(tool: str, model: str, arch: str) -> dict:
    """{'exit': --check exit code, 'sites': {meaning...}, 'rotations': total} or {'error': line}.

    The sites are a set: the same meaning found as one site or as one site per layer (or per
    fused op) is the same answer; the total of rotations must still match (a rotation the
    analysis stops seeing is a layer the fix leaves alone)."""
    with tempfile.TemporaryDirectory(prefix="mrope-mm-") as tmp:
        out = os.path.join(tmp, "r.json")
        p = subprocess.run([tool, model, "--arch", arch, "--check", "-q", "--report", out],
                           capture_output=True, text=True, timeout=300)
        if p.returncode not in (0, 3) or not os.path.exists(out):
            return {"error": f"exit {p.returncode}: " + _first_line(p.stderr)}
        r = json.loads(Path(out).read_text())
    return {"exit": p.returncode, "sites": sorted({site_meaning(s) for s in r["sites"]}),
            "rotations": sum(s.get("rotations", 0) for s in r["sites"])}


def _first_line(text: str) -> str:
    """A tool's first error line (past its notes) without the model's folder (the list must not
    depend on it)."""
    lines = text.strip().splitlines() or [""]
    line = next((l for l in lines if "error:" in l), lines[0])
    return re.sub(r"(/[^ :]*/)([^/ :]+\.onnx)", r"\2", line)[:200]


def meaning_diff(got: dict, want: dict, label: str) -> list:
    if "error" in got or "error" in want:
        return [] if got == want else [f"{label}: {got.get('error', 'ok')} vs original {want.get('error', 'ok')}"]
    problems = []
    if got["exit"] != want["exit"]:
        problems.append(f"{label}: --check exit {got['exit']}, original {want['exit']}")
    lost = [s for s in want["sites"] if s not in got["sites"]]
    new = [s for s in got["sites"] if s not in want["sites"]]
    if lost or new:
        problems.append(f"{label}: sites [{_show(new)}] instead of [{_show(lost)}]")
    if got["rotations"] != want["rotations"]:
        problems.append(f"{label}: {got['rotations']} rotations, original {want['rotations']}")
    return problems


def _show(sites) -> str:
    return "; ".join(f"{s[0]} {list(s[2])} {s[1]} r{s[3]} theta {s[4]}{' interleaved' if s[5] else ''} "
                     f"{s[6] or 'unfused'} from {s[7]}{' BUG' if s[8] else ''}" for s in sites)


# --------------------------------------------------------------------------
# Models and feeds
# --------------------------------------------------------------------------

def newarch_feeds(desc: dict, kind: str, path) -> dict:
    """The new-arch zoo's feeds (python/mrope/zoo/newarch.py): ``multimodal`` is the arch's own
    batch (newarch.batch: images, videos, Omni's audio, a left-padded row) with the positions
    mrope.position_ids gives for that arch; ``text`` the same mask with text tokens only. A
    [B, S] position input gets the text row (what the bug feeds), a [3, B, S] one the 3D rows;
    the fix kinds of the other zoos (``late``, ``qwen25``, ``packed``) are not asked of it."""
    from mrope.zoo import newarch
    arch = desc["arch"]
    ids, mask, grids, extra = newarch.batch(arch)
    if kind == "text":
        ids = np.where(mask.astype(bool), 5, 0).astype(np.int64)
        grids, extra = {}, {}
    pos3 = np.asarray(mpos.position_ids(ids, arch=arch, attention_mask=mask, **grids, **extra)[0])
    ins = sp.inputs_of(path)["inputs"]
    B, S = ids.shape
    feeds = {"inputs_embeds": np.random.default_rng(0).standard_normal(
        (B, S, int(ins["inputs_embeds"][2]))).astype(np.float32), "attention_mask": mask}
    if "position_ids" in ins:
        # On text the three rows are one (the arch's padding value included): its 1D positions.
        one_d = (pos3[0] if kind == "text" else mpos.text_row(mask)).astype(np.int64)
        feeds["position_ids"] = pos3 if len(ins["position_ids"]) == 3 else one_d
    return feeds


def feeds_of(desc: dict, kind: str, path) -> dict:
    """Feeds of ``kind`` for the inputs of ``path`` (a zoo model or a rewritten / fixed copy):
    the packed batches (``packed``, ``packed_text``: segment_ids and per-sample positions,
    python/mrope/zoo/feeds.py) for any decoder, the zoos' own batches otherwise."""
    if "zoo.newarch" in desc.get("generator", ""):
        return newarch_feeds(desc, "text" if kind.startswith("text") else "multimodal", path)
    if kind.startswith("packed"):
        return zoo_feeds.decoder_feeds(dict(desc, **sp.inputs_of(path)), kind)[0]
    return sp.model_feeds(desc, kind, path)


class Model:
    def __init__(self, zoo: Path, desc_file: str):
        self.zoo = zoo
        self.desc = json.loads((zoo / desc_file).read_text())
        self.path = str(zoo / self.desc["model"])
        self.name = self.desc["model"][:-len(".onnx")]
        self.arch = self.desc["expected"]["declared"]["arch"]
        self.bug = bool(self.desc["bug"])
        self.twin = str(zoo / self.desc["twin"]) if self.desc.get("twin") else None
        self.spellings = "zoo.spellings" in self.desc.get("generator", "")
        self.vision = "hidden_states" in self.desc["inputs"]
        self.packed = "segment_ids" in self.desc["inputs"]

    def fix_kinds(self):
        if self.packed:
            return ["multimodal", "packed"]
        return ["multimodal", "late", "qwen25"] if self.spellings else ["multimodal"]

    def text_kind(self):
        return "packed_text" if self.packed else "text"

    def equal_kinds(self):
        """The feeds a variant must give the original's outputs on."""
        return ["multimodal", "text"] + (["packed"] if self.packed else [])

    def feeds(self, kind, path=None):
        return feeds_of(self.desc, kind, path or self.path)

    def has_positions(self):
        return any(n in self.desc["inputs"] for n in ("position_ids", "cache_position"))


def short_error(e: Exception) -> str:
    """The line of an ONNX Runtime failure that says what went wrong (not its warnings or stack)."""
    lines = [l for l in str(e).splitlines() if "W:onnxruntime" not in l and not l.strip().startswith("at ")]
    for l in lines:
        if "Error" in l or "error" in l:
            return re.sub(r"\x1b\[[0-9;]*m", "", l.replace("mrope ort_run.js: ", "")).strip()[:240]
    return (lines[-1] if lines else str(e))[:240]


def outputs(path, feed_sets):
    return rw.run_outputs(path, feed_sets)


# --------------------------------------------------------------------------
# One item: the original or a variant
# --------------------------------------------------------------------------

def check_fix(tool: str, m: Model, path: str, tmp: str, cache: dict) -> list:
    """mrope-fix -o on ``path`` (the model or a variant of it, equal to it in ORT).

    ``cache``: outputs already known, filled on first use: 'twin' (the twin on the fix
    kinds), 'model' (the model on the fix kinds + text).
    """
    fixed = os.path.join(tmp, "fixed.onnx")
    if os.path.exists(fixed):
        os.unlink(fixed)
    p = subprocess.run([tool, path, "--arch", m.arch, "-q", "-o", fixed], capture_output=True, text=True,
                       timeout=300)
    if p.returncode != 0:
        return [f"-o: exit {p.returncode}: " + _first_line(p.stderr)]
    kinds = m.fix_kinds()
    if "model" not in cache:
        cache["model"] = outputs(m.path, [m.feeds(k) for k in kinds + [m.text_kind()]])
    if not m.bug:
        if not os.path.exists(fixed):
            return []                                  # nothing written: no change
        sig = {k: len(v) for k, v in sp.inputs_of(fixed)["inputs"].items()}
        if sig != {k: len(v) for k, v in sp.inputs_of(m.path)["inputs"].items()}:
            return [f"-o changed a correct model's inputs to {sig}"]
        try:
            got = outputs(fixed, [m.feeds(k, fixed) for k in kinds + [m.text_kind()]])
        except Exception as e:
            return [f"-o on a correct model: fixed model fails in ORT: {short_error(e)}"]
        d = rw.max_diff_sets(cache["model"], got)
        return [] if d <= FIX_TOL else [f"-o changed a correct model: |fixed - model| = {d:.3g}"]
    if not os.path.exists(fixed):
        return ["-o wrote nothing for a bug model"]
    twin_desc = json.loads(Path(m.twin).with_suffix(".json").read_text())   # the packed zoo's is the zoo's
    if "twin" not in cache:
        cache["twin"] = outputs(m.twin, [feeds_of(twin_desc, k, m.twin) for k in kinds])
    # Text: only where the fixed model and the model are fed the same batch (the torch zoo pads
    # the batch of a model with a position input and not of one without; the packed batch is
    # the same for both).
    text = not m.vision and (m.has_positions() or m.spellings or m.packed)
    sets = [feeds_of(twin_desc, k, fixed) for k in kinds] + ([m.feeds(m.text_kind(), fixed)] if text else [])
    try:
        got = outputs(fixed, sets)
    except Exception as e:
        return [f"-o: fixed model fails in ORT: {short_error(e)}"]
    problems = []
    for k, a, b in zip(kinds, got, cache["twin"]):
        d = rw.max_diff(a, b)
        if d > FIX_TOL:
            problems.append(f"|fixed - twin| = {d:.3g} on {k}")
    if text:
        a, b = got[-1], cache["model"][-1]
        if m.packed:
            # Padding tokens (segment 0) are no sample: the model counts them as one from 0, the
            # feeds give them position 1 as get_rope_index does; compare the samples' tokens.
            keep = m.feeds(m.text_kind())["attention_mask"].astype(bool)
            a, b = ({k: v[keep] for k, v in x.items()} for x in (a, b))
        d = rw.max_diff(a, b)
        if d > FIX_TOL:
            problems.append(f"|fixed - model| = {d:.3g} on text")
    return problems


def check_compute(tool: str, m: Model, path: str, j: int, cache: dict) -> list:
    """``mrope-fix --positions compute -o`` on ``path`` (variant ``j`` of a model
    mrope.zoo.fused_harness has compute cases for), the checks of
    test/mrope-fix/check_fused_compute.py: a bug model's fix equals the twin on
    reference positions (Qwen2.5-VL time-scaled video: past B*S), its rope_deltas the
    reference's, the model itself on text; a correct model's computed positions give
    the model's outputs on reference positions; the result re-analyses clean. Variant
    ``j`` takes the model's ``j % n``-th case (arch), so consecutive variants cover
    every arch."""
    cases = fh.compute_cases_of(m.name)
    what, zoo, twin, arch = cases[j % len(cases)]
    try:
        if what == "bug":
            problems, _ = fh.check_compute_bug(tool, zoo, path, str(m.zoo / (twin + ".onnx")), arch,
                                               original=m.path, cache=cache)
        else:
            problems, _ = fh.check_compute_correct(tool, zoo, path, arch, original=m.path, cache=cache)
    except Exception as e:            # the tool's refusal or ORT's error: one line
        problems = [_first_line(str(e)) if "mrope-fix" in str(e) else short_error(e)]
    return [f"compute --arch {arch}: {p}" for p in problems]


class Runner:
    def __init__(self, a):
        self.a = a
        self.deadline = time.monotonic() + a.seconds if a.seconds else None
        self.lock = threading.Lock()
        self.results = []

    def log(self, line):
        if self.a.verbose:
            with self.lock:
                print(line, flush=True)

    def out_of_time(self):
        return self.deadline is not None and time.monotonic() > self.deadline

    def plans(self, m: Model):
        """The variants of a model: every kind once (in a per-model order), then combos of 2-3 kinds."""
        kinds = self.a.kinds
        h = int(hashlib.sha1(f"{self.a.seed}:{m.name}".encode()).hexdigest(), 16)
        order = [kinds[(i + h) % len(kinds)] for i in range(len(kinds))]
        out = []
        for j in range(self.a.variants):
            seed = (h + 7919 * j) % (2 ** 31)
            if j < len(order):
                out.append(([order[j]], seed))
            else:
                import random
                r = random.Random(seed)
                out.append((r.sample(kinds, min(len(kinds), r.choice([2, 3]))), seed))
        return out

    def run_model(self, m: Model):
        with tempfile.TemporaryDirectory(prefix="mrope-mm-") as tmp:
            base = {"auto": report(self.a.tool, m.path, "auto"), "declared": report(self.a.tool, m.path, m.arch)}
            cache = {}
            problems = check_fix(self.a.tool, m, m.path, tmp, cache)
            self.add(m, "original", [], [], "fail" if problems else "pass", problems)
            model = onnx.load(m.path)
            feeds = m.feeds("multimodal")
            sets = [m.feeds(k) for k in m.equal_kinds()]
            ref_out = outputs(m.path, sets)
            info = rw.probe(model, feeds)
            compute = bool(fh.compute_cases_of(m.name)) and m.zoo.name in ("zoo-fused", "zoo-spellings")
            compute_cache = {}
            applied_n = 0                  # variants that applied: the compute bound counts these
            for kinds, seed in self.plans(m):
                if self.out_of_time():
                    return
                if self.a.only is not None and (m.name, tuple(kinds)) not in self.a.only:
                    continue
                label = kinds[0] if len(kinds) == 1 else COMBO
                try:
                    new, applied = rw.rewrite(model, kinds, feeds, seed=seed, info=info)
                except rw.NotApplicable:
                    self.add(m, label, kinds, [], "n/a", [])
                    continue
                vpath = os.path.join(tmp, "variant.onnx")
                Path(vpath).write_bytes(new.SerializeToString())
                try:
                    d = rw.max_diff_sets(ref_out, outputs(vpath, sets))
                except Exception as e:
                    d, err = float("inf"), short_error(e)
                else:
                    err = f"|variant - original| = {d:.3g}"
                if d > rw.EQUAL_TOL:
                    self.add(m, label, kinds, applied, "rewriter-bug", [err])
                    continue
                problems = []
                for arch_key, arch in (("auto", "auto"), ("declared", m.arch)):
                    problems += meaning_diff(report(self.a.tool, vpath, arch), base[arch_key], f"--arch {arch}")
                problems += check_fix(self.a.tool, m, vpath, tmp, cache)
                if compute and applied_n < self.a.compute:
                    problems += check_compute(self.a.tool, m, vpath, applied_n, compute_cache)
                applied_n += 1
                self.add(m, label, kinds, applied, "fail" if problems else "pass", problems)

    def add(self, m, label, kinds, applied, status, problems):
        r = {"model": m.name, "label": label, "kinds": kinds, "applied": applied, "status": status,
             "problems": problems}
        with self.lock:
            self.results.append(r)
        self.log(f"{status:12} {m.name} {'+'.join(kinds) or label}: {'; '.join(problems)}"
                 + (f"\n             applied: {' | '.join(applied)}" if applied and self.a.verbose > 1 else ""))


def read_xfail(path):
    out = {}
    if not path or not os.path.exists(path):
        return out
    for line in Path(path).read_text().splitlines():
        body, _, reason = line.partition("#")
        parts = body.split()
        if len(parts) == 2:
            out[(parts[0], parts[1])] = reason.strip()
        elif parts:
            raise SystemExit(f"{path}: bad line {line!r} (want: MODEL LABEL  # reason)")
    return out


def expected_fail(r, xfail):
    m = r["model"]
    if (m, "original") in xfail:
        return True
    if any((m, k) in xfail for k in r["kinds"]):
        return True
    return r["label"] == COMBO and (m, COMBO) in xfail


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tool", default=str(REPO / "build" / "bin" / "mrope-fix"))
    ap.add_argument("--zoos", nargs="*", default=list(ZOOS))
    ap.add_argument("--variants", type=int, default=len(rw.KINDS) + 2,
                    help="variants per model: each kind once (in a per-model order), then combos of 2-3 kinds "
                         "(default: every kind and 2 combos)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=0, help="stop starting variants after this long (0: no limit)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--compute", type=int, default=10 ** 6, metavar="N",
                    help="check --positions compute on the first N applicable variants of each fused-site model "
                         "(mrope.zoo.fused_harness's cases; default: every variant; 0: none)")
    ap.add_argument("--models", default="", help="regex on model names")
    ap.add_argument("--kinds", default=",".join(rw.KINDS))
    ap.add_argument("--xfail", default=str(REPO / "test" / "models" / "metamorphic-xfail.txt"))
    ap.add_argument("--no-xfail", action="store_true")
    ap.add_argument("--write-xfail", help="write today's failures as an expected-failure list here")
    ap.add_argument("--json", help="write every item's result here")
    ap.add_argument("--only-failed", metavar="JSON",
                    help="run only the models and variants that failed in this --json of an earlier run "
                         "(the same plan: a pass stays a pass; for rebuilding the list quickly)")
    ap.add_argument("-v", "--verbose", action="count", default=0)
    a = ap.parse_args(argv)
    a.kinds = [k for k in a.kinds.split(",") if k]
    for k in a.kinds:
        if k not in rw.KINDS:
            ap.error(f"unknown rewrite kind {k!r} (known: {', '.join(rw.KINDS)})")
    if not os.access(a.tool, os.X_OK):
        ap.error(f"no mrope-fix at {a.tool}")
    xfail = {} if a.no_xfail else read_xfail(a.xfail)

    a.only = None
    if a.only_failed:
        a.only = {(r["model"], tuple(r["kinds"])) for r in json.loads(Path(a.only_failed).read_text())
                  if r["status"] in ("fail", "rewriter-bug")}
    models = []
    for z in a.zoos:
        zoo = REPO / "test" / "models" / z
        for e in json.loads((zoo / "index.json").read_text())["models"]:
            if re.search(a.models, e["name"]) and (a.only is None or any(m == e["name"] for m, _ in a.only)):
                models.append(Model(zoo, e["json"]))
    t0 = time.monotonic()
    runner = Runner(a)
    with cf.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        futs = {ex.submit(runner.run_model, m): m for m in models}
        for f in cf.as_completed(futs):
            try:
                f.result()
            except Exception as e:  # a crash of the harness on one model is a failure of that model
                m = futs[f]
                runner.add(m, "original", [], [], "fail", [f"harness: {type(e).__name__}: {e}"])
    results = sorted(runner.results, key=lambda r: (r["model"], r["label"] != "original", r["label"],
                                                    r["kinds"]))

    # Classify against the expected-failure list.
    passed = failed = xfailed = na = 0
    table = {}
    lines = []
    matched = {k: [] for k in xfail}
    for r in results:
        row = table.setdefault(r["label"], {"run": 0, "pass": 0, "fail": 0, "xfail": 0, "n/a": 0, "bug": 0})
        key = (r["model"], r["label"])
        if key in matched:
            matched[key].append(r)
        if r["status"] == "n/a":
            row["n/a"] += 1
            na += 1
            continue
        row["run"] += 1
        what = "+".join(r["kinds"]) or "original"
        if r["status"] == "rewriter-bug":
            row["bug"] += 1
            failed += 1
            lines.append(f"REWRITER BUG {r['model']} {what}: {'; '.join(r['problems'])} [{' | '.join(r['applied'])}]")
        elif r["status"] == "pass":
            row["pass"] += 1
            passed += 1
        elif expected_fail(r, xfail):
            row["xfail"] += 1
            xfailed += 1
            if a.verbose:
                lines.append(f"XFAIL {r['model']} {what}: {'; '.join(r['problems'])}")
        else:
            row["fail"] += 1
            failed += 1
            lines.append(f"FAIL {r['model']} {what}: {'; '.join(r['problems'])}"
                         + (f" [{' | '.join(r['applied'])}]" if r["applied"] else ""))
    xpass = 0
    for key, items in sorted(matched.items()):
        ran = [r for r in items if r["status"] != "n/a"]
        if ran and all(r["status"] == "pass" for r in ran):
            xpass += 1
            failed += 1
            lines.append(f"XPASS {key[0]} {key[1]}: listed in the expected failures ({xfail[key]}) but passes: "
                         "remove it from the list")
    for line in lines:
        print(line)
    print()
    print(f"{'rewrite kind':18} {'run':>5} {'pass':>5} {'fail':>5} {'xfail':>5} {'n/a':>5} {'rw-bug':>6}")
    for label in ["original"] + a.kinds + [COMBO]:
        if label in table:
            t = table[label]
            print(f"{label:18} {t['run']:5} {t['pass']:5} {t['fail']:5} {t['xfail']:5} {t['n/a']:5} {t['bug']:6}")
    print(f"{len(models)} models, {time.monotonic() - t0:.0f} s, {xfailed} expected failures, {xpass} XPASS, "
          f"{na} not applicable")
    print(f"{passed} passed, {failed} failed")

    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    if a.write_xfail:
        # check_spellings.py's `MODEL report` lines live in the same list: keep them.
        keep = [l for l in Path(a.xfail).read_text().splitlines()
                if len(l.partition("#")[0].split()) == 2 and l.split()[1] == "report"] \
            if os.path.exists(a.xfail) else []
        write_xfail(a.write_xfail, results, keep)
    return 0 if failed == 0 else 1


def write_xfail(path, results, keep=()):
    """Today's failures as the expected-failure list: a failing original covers its variants; a
    failing single kind covers its combos."""
    fails = {}
    for r in results:
        if r["status"] == "fail":
            fails.setdefault(r["model"], []).append(r)
    out = ["# Metamorphic suite (scripts/metamorphic.py): (model, rewrite) pairs the analysis gets wrong",
           "# today. MODEL LABEL  # first problem. LABEL: original | a rewrite kind | combo.",
           "# An entry that passes is an error (XPASS): remove it when the analysis learns the spelling.",
           "# Regenerate: scripts/metamorphic.py --no-xfail --write-xfail test/models/metamorphic-xfail.txt",
           "# (`MODEL report` lines: test/models/check_spellings.py's known failures, kept as they are)."]
    out += list(keep)
    for model in sorted(fails):
        rs = fails[model]
        orig = [r for r in rs if r["label"] == "original"]
        if orig:
            out.append(f"{model} original  # {orig[0]['problems'][0]}")
            continue
        singles = {}
        for r in rs:
            if r["label"] != COMBO:
                singles.setdefault(r["label"], r)
        for k in sorted(singles):
            out.append(f"{model} {k}  # {singles[k]['problems'][0]}")
        combos = [r for r in rs if r["label"] == COMBO and not any(k in singles for k in r["kinds"])]
        if combos:
            out.append(f"{model} {COMBO}  # {'+'.join(combos[0]['kinds'])}: {combos[0]['problems'][0]}")
    Path(path).write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    sys.exit(main())
