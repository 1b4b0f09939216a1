"""mrope-fix --positions compute on zoo models with nothing to fix.

- A correct M-RoPE decoder that takes position_ids [3, batch, seq] comes out
  computing them in the graph (get_rope_index from input_ids, the mask and
  the grids): fed those, it equals the original fed
  mrope.reference.rope_index positions of the same batch (exactly: the
  positions are integers, the rest of the graph is untouched), its
  rope_deltas equal the reference's, and the position input is gone.
- A text model gets a note that nothing applies, exit 0, and is written
  unchanged.

usage: check_compute_correct.py MROPE_FIX ZOO_DIR
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

from mrope import ort, reference
from mrope.zoo import feeds as zoo_feeds

CORRECT = ["qwen2vl_mrope.onnx", "qwen2vl_small_mrope.onnx", "qwen2vl_mrope_op17.onnx"]
TEXT = ["text_rope.onnx"]


def inputs(path):
    return [i.name for i in onnx.load(path, load_external_data=False).graph.input]


def main():
    tool, zoo = sys.argv[1], sys.argv[2]
    failed = passed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in CORRECT + TEXT:
            model = os.path.join(zoo, name)
            out = os.path.join(tmp, "computed.onnx")
            proc = subprocess.run([tool, model, "--positions", "compute", "-o", out],
                                  capture_output=True, text=True)
            problems = []
            if proc.returncode:
                problems.append(proc.stderr.strip())
            elif name in TEXT:
                if "nothing applies" not in proc.stdout:
                    problems.append("no 'nothing applies' note")
                if inputs(out) != inputs(model):
                    problems.append("inputs changed")
                verdict = "nothing applies, written unchanged"
            else:
                desc = os.path.join(zoo, name.replace(".onnx", ".json"))
                feeds, keep = zoo_feeds.decoder_feeds(desc, "multimodal")
                ids, mask, grids = zoo_feeds.batch("multimodal", padded=True)
                names = inputs(out)
                if "position_ids" in names:
                    problems.append("position_ids is still an input")
                cfeeds = {k: v for k, v in feeds.items() if k in names}
                cfeeds.update(input_ids=ids, attention_mask=mask, **grids)
                got = ort.run(out, cfeeds)
                want = ort.run(model, feeds)
                d = max(float(np.abs(got[k] - want[k]).max()) for k in want)
                _, deltas = reference.rope_index(ids, attention_mask=mask, **grids)
                if d != 0.0:
                    problems.append(f"|computed - original| = {d:.1e}")
                if not np.array_equal(got["rope_deltas"], deltas):
                    problems.append("rope_deltas differ from the reference")
                verdict = f"|computed - original| = {d:.1e}, rope_deltas as reference"
            bad = bool(problems)
            failed += bad
            passed += not bad
            print(("FAIL %s: %s" % (name, "; ".join(problems))) if bad
                  else "ok %s: %s" % (name, verdict))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
