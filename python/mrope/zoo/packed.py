"""Packed-batch zoo: decoders that take ``segment_ids`` and restart positions per sample.

``python -m mrope.zoo.packed --out test/models/zoo-packed``

Packing puts several samples in one row; ``segment_ids [B,S]`` says which
(0 = padding, 1..k = the samples). A decoder that computes its positions from
``segment_ids`` as per-sample 1D counts (restarting at every sample) and
expands them to three rows has the packed form of the Qwen2-VL bug: each
sample's text is right, its image and video tokens get 1D positions. Its
correct twin is the main zoo's ``qwen2vl_mrope`` (the same weights), fed the
3D positions ``mrope.position_ids(..., segment_ids=...)`` computes.

The batch the checks use (:func:`packed_batch`): row 0 packs the main zoo's
image sample (3 text, image grid [1,4,6], 2 text) and a 3-token text sample;
row 1 packs a 2-token text sample and the video sample (1 text, vision
start, video grid [2,4,4], 2 text), then 1 padding token.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import List, Optional

import numpy as np

from .. import positions as mpos
from . import feeds as zoo_feeds
from .spec import BIG, Entry, site

DEGEN_BIG = site("mrope-degenerate", (16, 24, 24), 1e6, 128, 2 * BIG.layers)

ENTRIES: List[Entry] = [
    Entry("qwen2vl_packed_bug", "the bug in a packed batch: no position input; positions restart per "
          "sample of segment_ids [B,S] as 1D counts (the number of earlier tokens of the same sample), "
          "expanded to three rows", "qwen2-vl", replace(BIG, positions="packed"), seed=1,
          twin="qwen2vl_mrope", sites=[DEGEN_BIG]),
]
BY_NAME = {e.name: e for e in ENTRIES}


def packed_batch():
    """(input_ids [2,15], attention_mask, segment_ids, grids) of the packed batch above
    (the metamorphic suite's feeds build the same batch without torch)."""
    return zoo_feeds.packed_batch("packed")


def true_positions(arch: str = "qwen2-vl") -> np.ndarray:
    """The correct [3,B,S] positions of :func:`packed_batch` (per sample, as if alone)."""
    ids, mask, seg, grids = packed_batch()
    pos, _ = mpos.position_ids(ids, arch=arch, attention_mask=mask, segment_ids=seg, **grids)
    return np.asarray(pos, np.int64)


def main(argv: Optional[List[str]] = None) -> int:
    from .generate import dumps, export
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="output directory (test/models/zoo-packed)")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    for e in ENTRIES:
        p = export(e, a.out)
        desc_path = a.out / f"{e.name}.json"
        desc = json.loads(desc_path.read_text())
        desc["twin"] = f"../zoo/{e.twin}.onnx"  # the twin is the main zoo's
        desc["generator"] = "python -m mrope.zoo.packed (python/mrope/zoo/packed.py)"
        desc_path.write_text(dumps(desc))
        print(f"{p}  {p.stat().st_size} bytes", flush=True)
    index = {"models": [{"name": e.name, "model": f"{e.name}.onnx", "json": f"{e.name}.json",
                         "arch": e.arch, "bug": e.is_bug, "twin": f"../zoo/{e.twin}.onnx"}
                        for e in ENTRIES]}
    (a.out / "index.json").write_text(dumps(index))
    return 0


if __name__ == "__main__":
    sys.exit(main())
