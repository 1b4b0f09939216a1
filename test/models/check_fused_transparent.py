"""An Identity and a same-type Cast on every input of every fused rotary op
(test/mrope-fix/insert_transparent.py ... all), checked per model:

1. the rewritten model equals the original in ONNX Runtime (graph
   optimizations off) on the multimodal and text batches within
   mrope.zoo.rewrite.EQUAL_TOL (the insertion is exact: observed 0);
2. `mrope-fix --report --check` under --arch auto and the declared arch says
   what it says of the original, by meaning (scripts/metamorphic.py's
   comparison: sites, rotations, --check exit code);
3. with --compute: `mrope-fix --positions compute -o` on the rewritten
   model passes test/mrope-fix/check_fused_compute.py's checks
   (mrope.zoo.fused_harness) under each arch they list for the model.

The Cast's type comes from the producers (mrope.zoo.elemtype), so this holds
where shape inference types nothing: GroupQueryAttention's inputs after the
first layer's attention, opset-23 RotaryEmbedding.

usage: check_fused_transparent.py [--compute] MROPE_FIX ZOO_DIR MODEL...
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import onnx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import metamorphic as mm  # noqa: E402
from mrope.zoo import fused_harness as fh  # noqa: E402
from mrope.zoo import rewrite as rw  # noqa: E402

INSERT = REPO / "test" / "mrope-fix" / "insert_transparent.py"


def check(tool, zoo, name, compute=False):
    m = mm.Model(Path(zoo), name + ".json")
    ops = sorted({n.op_type for n in onnx.load(m.path).graph.node} & rw.ROTARY_OPS)
    with tempfile.TemporaryDirectory() as tmp:
        path = m.path
        for k, op in enumerate(ops):
            out = os.path.join(tmp, f"v{k}.onnx")
            subprocess.run([sys.executable, str(INSERT), path, out, op, "all"], check=True,
                           capture_output=True)
            path = out
        model = onnx.load(path)
        casts = sum(1 for n in model.graph.node if n.name.startswith("insert/Cast"))
        sets = [m.feeds(k) for k in m.equal_kinds()]
        d = rw.max_diff_sets(rw.run_outputs(m.path, sets), rw.run_outputs(path, sets))
        problems = [] if d <= rw.EQUAL_TOL else [f"|rewritten - original| = {d:.3g}"]
        for arch in ("auto", m.arch):
            problems += mm.meaning_diff(mm.report(tool, path, arch), mm.report(tool, m.path, arch),
                                        f"--arch {arch}")
        archs = []
        if compute:
            cache = {}
            for j, case in enumerate(fh.compute_cases_of(name)):
                problems += mm.check_compute(tool, m, path, j, cache)
                archs.append(case[3])
        if archs:
            return problems, f"{casts} inputs of {', '.join(ops)}, compute mode under {', '.join(archs)}"
    return problems, f"{casts} inputs of {', '.join(ops)}, |rewritten - original| = {d:.1g}, report unchanged"


def main():
    args = sys.argv[1:]
    compute = args[0] == "--compute"
    tool, zoo, *names = args[1:] if compute else args
    return fh.run_cases((name, check, (tool, zoo, name, compute)) for name in names)


if __name__ == "__main__":
    sys.exit(main())
