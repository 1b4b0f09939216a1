"""Each Unsqueeze of a zoo model's RoPE subgraph spelled as a Reshape to a
Shape + Gather target (python/mrope/zoo/rewrite.py, kind unsqueeze_reshape):
shape inference leaves everything after it untyped, yet the report must keep
its meaning and `mrope-fix -o` must still equal the twin in ONNX Runtime
(scripts/metamorphic.py's own checks, one variant per Unsqueeze).

usage: check_unsqueeze_reshape.py MROPE_FIX ZOO_DIR MODEL [MODEL...]
"""
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import onnx

from mrope.zoo import rewrite as rw

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location(
    "metamorphic", HERE.parent.parent / "scripts" / "metamorphic.py")
mm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mm)


def main(argv):
    tool, zoo, models = shutil.which(argv[1]) or argv[1], Path(argv[2]), argv[3:]
    passed = failed = 0
    for name in models:
        m = mm.Model(zoo, name + ".json")
        model = onnx.load(m.path)
        feeds = m.feeds("multimodal")
        info = rw.probe(model, feeds)
        base = {a: mm.report(tool, m.path, a) for a in ("auto", m.arch)}
        done = set()
        for seed in range(40):
            try:
                new, applied = rw.rewrite(model, ["unsqueeze_reshape"], feeds, seed=seed, info=info)
            except rw.NotApplicable:
                break
            if applied[0] in done:
                continue
            done.add(applied[0])
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "variant.onnx")
                onnx.save(new, path)
                problems = []
                for arch in base:
                    problems += mm.meaning_diff(mm.report(tool, path, arch), base[arch], arch)
                problems += mm.check_fix(tool, m, path, tmp, {})
            what = applied[0].split(": ", 1)[1]
            if problems:
                failed += 1
                print(f"FAIL {name}: {what}: {problems[0]}")
            else:
                passed += 1
                print(f"ok {name}: {what}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
