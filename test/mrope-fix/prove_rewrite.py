"""Writes a zoo model respelled by the metamorphic rewriter (mrope.zoo.rewrite):
the same computation, another spelling, for the proof's tests
(prove-spellings.test).

usage: prove_rewrite.py ZOO_DIR MODEL_NAME KIND[,KIND...] OUT.onnx [SEED]
"""
import json
import sys
from pathlib import Path

import onnx

from mrope.zoo import rewrite, spellings


def main():
    zoo, name, kinds, out = Path(sys.argv[1]), sys.argv[2], sys.argv[3].split(","), sys.argv[4]
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    desc = json.loads((zoo / f"{name}.json").read_text())
    path = zoo / desc["model"]
    feeds = spellings.model_feeds(desc, "multimodal", str(path))
    model, applied = rewrite.rewrite(onnx.load(path), kinds, feeds, seed=seed)
    onnx.save(model, out)
    print("\n".join(applied))


if __name__ == "__main__":
    main()
