"""ONNX Runtime harness shared by the fused-site checks.

Used by test/models/check_fused_models.py (the fused zoo through
rope-classify-fused / rope-fix-fused / mrope-fix -o), test/mrope-fix/
check_fused_compute.py (``mrope-fix --positions compute`` on fused sites) and
scripts/metamorphic.py (the same compute-mode checks on rewritten variants):

- :func:`run_cases`: run labelled checks, print one ``ok LABEL...`` or
  ``FAIL LABEL: ...`` line each and ``N passed, N failed``; a check that
  raises (a failing tool or runtime) is a failed case, not a crash;
- :func:`check_compute_bug` / :func:`check_compute_correct`: compute mode on
  a bug model against its correct twin, and on a correct model against
  itself, both fed the reference positions (mrope.reference.rope_index).
  ``model`` may be a rewritten copy of ``original`` (equal to it in ONNX
  Runtime); ``cache`` keeps the outputs of the twin and the original between
  calls (they do not depend on the copy).

Tolerance :data:`TOL` = 1e-5: the fixed graph runs the same fused kernels over
the same (or equally computed) caches as the twin; only the order of float
operations may differ.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import onnx

from .. import ort, reference
from . import feeds as zoo_feeds
from . import fused as zoo_fused

TOL = 1e-5
HIDDEN = zoo_fused.HIDDEN

# Compute mode: (zoo, bug model, twin, arch) and (zoo, correct model, arch).
COMPUTE_CASES = [
    ("zoo-fused", "fused_ms_rotary_bug", "fused_ms_mrotary", "qwen2-vl"),
    ("zoo-fused", "fused_ms_rotary_bug", "fused_ms_mrotary", "qwen2.5-vl"),
    ("zoo-fused", "fused_ms_mrotary_expand_bug", "fused_ms_mrotary", "qwen2-vl"),
    ("zoo-fused", "fused_ms_mrotary_expand_bug", "fused_ms_mrotary", "qwen2.5-vl"),
    ("zoo-fused", "fused_onnx23_bug", "fused_onnx23_mrope", "qwen2-vl"),
    ("zoo-fused", "fused_onnx23_bug", "fused_onnx23_mrope", "qwen2.5-vl"),
    ("zoo-fused", "fused_onnx23_partial_bug", "fused_onnx23_partial_mrope", "qwen2.5-vl"),
    ("zoo-fused", "fused_qwen3_gptj_bug", "fused_qwen3_mrotary", "qwen3-vl"),
    ("zoo-fused", "fused_gqa_bug", "fused_gqa_mrope", "qwen2-vl"),
    ("zoo-fused", "fused_gqa_bug", "fused_gqa_mrope", "qwen2.5-vl"),
    ("zoo-spellings", "genai_range_bug", "genai_mrope", "qwen2.5-vl"),
    ("zoo-spellings", "genai_expand_bug", "genai_mrope", "qwen2.5-vl"),
    ("zoo-spellings", "dynamo_1d_bug", "dynamo_mrope", "qwen2-vl"),
    ("zoo-spellings", "dynamo_1d_bug", "dynamo_mrope", "qwen2.5-vl"),
]
COMPUTE_CORRECT = [
    ("zoo-fused", "fused_ms_mrotary", "qwen2.5-vl"),
    ("zoo-fused", "fused_onnx23_mrope", "qwen2-vl"),
    ("zoo-fused", "fused_qwen3_mrotary", "qwen3-vl"),
    ("zoo-fused", "fused_onnx23_partial_mrope", "qwen2.5-vl"),
    ("zoo-fused", "fused_gqa_mrope", "qwen2.5-vl"),
    ("zoo-spellings", "genai_mrope", "qwen2.5-vl"),
    ("zoo-spellings", "dynamo_mrope", "qwen2-vl"),
]
# Seconds per video grid under qwen2.5-vl (2 tokens per second): frame 1 of
# the zoo batch's video sits 2 * SECONDS positions after frame 0. Caches
# that are constants hold 64 rows (mrope.zoo.fused.MAX_POS); computed
# ones have no bound.
SECONDS = {"zoo-fused": 14.0, "zoo-spellings": 60.0}
COMPUTE_INPUTS = {"input_ids", "attention_mask", "image_grid_thw", "video_grid_thw"}


# --------------------------------------------------------------------------
# The case loop
# --------------------------------------------------------------------------

def first_line(e: Exception) -> str:
    return str(e).splitlines()[0] if str(e) else repr(e)


def run_cases(jobs: Iterable[Tuple[str, Callable, Sequence]], sep: str = ": ") -> int:
    """Run ``fn(*args) -> (problems, detail)`` per ``(label, fn, args)``; print
    ``ok LABEL{sep}DETAIL`` (``ok LABEL`` when detail is empty) or
    ``FAIL LABEL: problem; problem``, then ``N passed, N failed``.
    Returns the exit code (1 on any failure)."""
    passed = failed = 0
    for label, fn, args in jobs:
        try:
            problems, detail = fn(*args)
        except Exception as e:  # a failing tool or runtime is a failed case
            problems, detail = [first_line(e)], ""
        if problems:
            failed += 1
            print(f"FAIL {label}: " + "; ".join(problems))
        else:
            passed += 1
            print(f"ok {label}{sep + detail if detail else ''}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


# --------------------------------------------------------------------------
# Models, feeds, runs
# --------------------------------------------------------------------------

def inputs_of(path) -> Dict[str, list]:
    """{input name: dims (dim_param or dim_value)}."""
    m = onnx.load(str(path))
    return {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
            for i in m.graph.input}


def max_diff(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray], names=None) -> float:
    """max |a - b| over ``names`` (default: every output of ``a``)."""
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in (a if names is None else names))


def _cached(cache: Optional[dict], key, compute):
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def fix_compute(tool, model, arch, out, extra=()) -> str:
    """``mrope-fix --positions compute -o out``; raises on a non-zero exit."""
    p = subprocess.run([tool, str(model), "--arch", arch, "--positions", "compute", "-q", "-o", str(out),
                        *extra], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"mrope-fix exit {p.returncode}: {p.stderr.strip()}")
    return p.stderr


def check_clean(tool, model, arch) -> int:
    p = subprocess.run([tool, str(model), "--arch", arch, "--check", "-q"], capture_output=True, text=True)
    return p.returncode


def batch(kind, arch, zoo, kv):
    """(ids, mask, grids kwargs for the model, rope_index kwargs)."""
    rule = arch if arch in ("qwen3-vl", "qwen2.5-vl") else None
    ids, mask, grids = zoo_feeds.batch(kind, padded=not kv, arch="qwen3-vl" if rule == "qwen3-vl"
                                       else None)
    model_grids = {"image_grid_thw": grids.get("image_grid_thw", np.zeros((0, 3), np.int64)),
                   "video_grid_thw": grids.get("video_grid_thw", np.zeros((0, 3), np.int64))}
    ref_kw = dict(grids, arch=rule)
    if rule == "qwen2.5-vl":
        seconds = np.full((len(model_grids["video_grid_thw"]),), SECONDS[zoo], np.float32)
        model_grids["second_per_grid_ts"] = seconds
        if len(seconds):
            ref_kw["second_per_grid_ts"] = seconds
    return ids, mask, model_grids, ref_kw


def decode_step(fixed, twin, outs_fixed, outs_twin, ids, mask, inputs, problems):
    """One text token after the prefill, KV caches and rope_deltas fed back."""
    B, S = ids.shape
    rng = np.random.default_rng(7)
    step = {"inputs_embeds": rng.standard_normal((B, 1, HIDDEN)).astype(np.float32),
            "seqlens_k": np.full((B,), S, np.int32),
            "total_sequence_length": np.array(S + 1, np.int32)}
    layers = sorted(n[len("past_key_values."):] for n in inputs if n.startswith("past_key_values."))
    past_f = {f"past_key_values.{l}": outs_fixed[f"present.{l}"] for l in layers}
    past_t = {f"past_key_values.{l}": outs_twin[f"present.{l}"] for l in layers}
    deltas = outs_fixed["rope_deltas"]
    pos = np.broadcast_to((S + deltas)[None], (3, B, 1)).astype(np.int64)
    got = ort.run(fixed, {**step, **past_f, "input_ids": np.full((B, 1), 42, np.int64),
                          "attention_mask": np.ones((B, S + 1), np.int64),
                          "image_grid_thw": np.zeros((0, 3), np.int64),
                          "video_grid_thw": np.zeros((0, 3), np.int64),
                          "past_rope_deltas": deltas,
                          **({"second_per_grid_ts": np.zeros((0,), np.float32)}
                             if "second_per_grid_ts" in inputs_of(fixed) else {})})
    want = ort.run(twin, {**step, **past_t, "position_ids": pos})
    d = max_diff(got, want, want.keys())
    if d > TOL:
        problems.append(f"decode step: |fixed - twin| = {d:.2e}")
    if not np.array_equal(got["rope_deltas"], deltas):
        problems.append("decode step: rope_deltas not passed through")
    return d


# --------------------------------------------------------------------------
# --positions compute on fused sites
# --------------------------------------------------------------------------

def check_compute_bug(tool, zoo, model, twin, arch, original=None, cache=None):
    """Compute mode on the bug model ``model`` (a zoo model of ``zoo``, or a copy of
    ``original`` spelled otherwise) against its correct ``twin``. Returns
    (problems, detail)."""
    original = original or model
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        fixed = os.path.join(tmp, "fixed.onnx")
        fix_compute(tool, model, arch, fixed)
        orig_in, fixed_in = inputs_of(model), inputs_of(fixed)
        kv = any(n.startswith("past_key_values") for n in orig_in)
        # 1. the original's inputs minus positions, plus compute mode's.
        allowed = (set(orig_in) - {"position_ids"}) | COMPUTE_INPUTS
        if arch == "qwen2.5-vl":
            allowed.add("second_per_grid_ts")
        if kv:
            allowed.add("past_rope_deltas")
        extra = set(fixed_in) - allowed
        missing = set(orig_in) - {"position_ids"} - set(fixed_in)
        if extra or missing:
            problems.append(f"inputs: unexpected {sorted(extra)}, missing {sorted(missing)}")
            if extra:                 # compute mode's feeds cannot run it: say why, not ORT's error
                return problems, ""
        # 2. multimodal: == twin on reference positions.
        ids, mask, grids, ref_kw = batch("multimodal", arch, zoo, kv)
        B, S = ids.shape
        pos, deltas = reference.rope_index(ids, attention_mask=mask, **ref_kw)
        common = zoo_fused.decoder_feeds(orig_in, B, S)
        one_d = ({"position_ids": np.tile(np.arange(S, dtype=np.int64), (B, 1))}
                 if "position_ids" in orig_in else {})
        feeds = {**common, "input_ids": ids, "attention_mask": mask, **grids}
        if kv:
            feeds["past_rope_deltas"] = np.zeros((B, 1), np.int64)
        got = ort.run(fixed, {k: v for k, v in feeds.items() if k in fixed_in})
        want = _cached(cache, ("twin", twin, arch), lambda: ort.run(
            twin, {**zoo_fused.decoder_feeds(inputs_of(twin), B, S), "position_ids": pos}))
        d_twin = max_diff(got, want, want.keys())
        if d_twin > TOL:
            problems.append(f"multimodal: |fixed - twin| = {d_twin:.2e} > {TOL}")
        if not np.array_equal(got["rope_deltas"], deltas):
            problems.append("rope_deltas differ from the reference")
        # The original on its 1D positions: the same feeds on both batches (the
        # text batch has the multimodal one's shape).
        want_t = _cached(cache, ("original", original, arch),
                         lambda: ort.run(original, {**common, **one_d}))
        d_orig = max_diff(got, want_t, ["logits"])
        if d_orig < 1e-3:
            problems.append(f"the multimodal batch does not tell fixed from original ({d_orig:.2g})")
        # 3. text-only: == original on its own 1D positions (unpadded).
        tids, tmask, tgrids, _ = batch("text", arch, zoo, kv=True)
        tfeeds = {**common, "input_ids": tids, "attention_mask": tmask, **tgrids}
        if kv:
            tfeeds["past_rope_deltas"] = np.zeros((B, 1), np.int64)
        got_t = ort.run(fixed, {k: v for k, v in tfeeds.items() if k in fixed_in})
        d_text = max_diff(got_t, want_t, want_t.keys())
        if d_text > TOL:
            problems.append(f"text: |fixed - original| = {d_text:.2e} > {TOL}")
        d_dec = None
        if kv:
            d_dec = decode_step(fixed, twin, got, want, ids, mask, orig_in, problems)
        # 4. nothing left to fix.
        rc = check_clean(tool, fixed, arch)
        if rc != 0:
            problems.append(f"mrope-fix --check on the fixed model: exit {rc}")
    top = int(pos.max())
    dec = f", decode step {d_dec:.1e}" if d_dec is not None else ""
    detail = (f"|fixed - twin| = {d_twin:.1e} (positions up to {top}, B*S = {B * S}), "
              f"text |fixed - original| = {d_text:.1e}{dec}")
    return problems, detail


def check_compute_correct(tool, zoo, model, arch, original=None, cache=None):
    """Compute mode on the correct model ``model`` (or a copy of ``original``):
    its [3, B, S] input becomes the computation, and the result equals the
    original fed the reference positions. Returns (problems, detail)."""
    original = original or model
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        fixed = os.path.join(tmp, "computed.onnx")
        fix_compute(tool, model, arch, fixed)
        orig_in, fixed_in = inputs_of(model), inputs_of(fixed)
        kv = any(n.startswith("past_key_values") for n in orig_in)
        if "position_ids" in fixed_in:
            problems.append("position_ids is still an input")
            return problems, ""       # compute mode's feeds cannot run it
        ids, mask, grids, ref_kw = batch("multimodal", arch, zoo, kv)
        B, S = ids.shape
        pos, deltas = reference.rope_index(ids, attention_mask=mask, **ref_kw)
        common = zoo_fused.decoder_feeds(orig_in, B, S)
        feeds = {**common, "input_ids": ids, "attention_mask": mask, **grids,
                 "past_rope_deltas": np.zeros((B, 1), np.int64)}
        got = ort.run(fixed, {k: v for k, v in feeds.items() if k in fixed_in})
        want = _cached(cache, ("reference", original, arch),
                       lambda: ort.run(original, {**common, "position_ids": pos}))
        d = max_diff(got, want, want.keys())
        if d > TOL:
            problems.append(f"|computed - original on reference positions| = {d:.2e} > {TOL}")
        if not np.array_equal(got["rope_deltas"], deltas):
            problems.append("rope_deltas differ from the reference")
        rc = check_clean(tool, fixed, arch)
        if rc != 0:
            problems.append(f"mrope-fix --check on the computed model: exit {rc}")
    return problems, f"|computed - original| = {d:.1e} (positions up to {int(pos.max())})"


def compute_cases_of(name: str) -> List[tuple]:
    """Compute-mode checks of one zoo model: ('bug', zoo, twin, arch) and
    ('correct', zoo, None, arch) entries, in the order of the lists above."""
    out = [("bug", z, t, a) for z, n, t, a in COMPUTE_CASES if n == name]
    return out + [("correct", z, None, a) for z, n, a in COMPUTE_CORRECT if n == name]
