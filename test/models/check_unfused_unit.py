"""An Unsqueeze of an unfused site spelled as a Reshape to
Concat(Gather(Shape(x), 0), 1, ...) (python/mrope/zoo/rewrite.py, kind
unsqueeze_reshape, its "Shape + Gather" form), alone or combined with other
rewrites: shape inference leaves what follows untyped, yet the report must
keep its meaning and `mrope-fix -o` must equal the twin in ONNX Runtime
(scripts/metamorphic.py's own checks).

usage: check_unfused_unit.py MROPE_FIX CASE [CASE...]
  CASE = ZOO_DIR/MODEL:KIND[,KIND...]:UNSQUEEZE, the variant whose
  unsqueeze_reshape rewrite spells node UNSQUEEZE by Shape + Gather (the
  first such among seeds 0..79).
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


def find_variant(model, kinds, unsqueeze, feeds, info):
    want = f"unsqueeze_reshape: Unsqueeze {unsqueeze} -> Reshape (Shape + Gather)"
    for seed in range(80):
        try:
            new, applied = rw.rewrite(model, kinds, feeds, seed=seed, info=info)
        except rw.NotApplicable:
            return None, None
        if want in applied and len(applied) == len(kinds):
            return new, applied
    return None, None


def main(argv):
    tool = shutil.which(argv[1]) or argv[1]
    passed = failed = 0
    for case in argv[2:]:
        path, kinds, unsqueeze = case.rsplit(":", 2)
        zoo, name = os.path.split(path)
        m = mm.Model(Path(zoo), name + ".json")
        model = onnx.load(m.path)
        feeds = m.feeds("multimodal")
        new, applied = find_variant(model, kinds.split(","), unsqueeze, feeds, rw.probe(model, feeds))
        if new is None:
            failed += 1
            print(f"FAIL {name}: no variant spells {unsqueeze} by Shape + Gather")
            continue
        base = {a: mm.report(tool, m.path, a) for a in ("auto", m.arch)}
        with tempfile.TemporaryDirectory() as tmp:
            variant = os.path.join(tmp, "variant.onnx")
            onnx.save(new, variant)
            problems = []
            for arch in base:
                problems += mm.meaning_diff(mm.report(tool, variant, arch), base[arch], arch)
            problems += mm.check_fix(tool, m, variant, tmp, {})
        what = " + ".join(a.split(": ", 1)[1] for a in applied)
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
