"""Regenerate the model zoo: ``python -m mrope.zoo.generate --out test/models/zoo``.

Deterministic: fixed seeds, one torch thread, fixed example inputs.  Writes
``NAME.onnx`` + ``NAME.json`` for every entry of :mod:`mrope.zoo.spec` and an
``index.json`` listing them.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import warnings
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import numpy as np
import torch

from .models import Decoder, DecoderConfig, VisionConfig, VisionTower
from .spec import BY_NAME, ENTRIES, Entry

torch.set_num_threads(1)


def build(entry: Entry) -> torch.nn.Module:
    """The torch model of ``entry`` with its deterministic weights (eval mode).

    A bug model is built from its own config and then loads its twin's
    ``state_dict`` (strict), so both have identical weights.
    """
    if entry.twin is not None:
        twin = build(BY_NAME[entry.twin])
        model = _construct(entry)
        model.load_state_dict(twin.state_dict(), strict=True)
        return model.eval()
    return _construct(entry).eval()


def _construct(entry: Entry) -> torch.nn.Module:
    torch.manual_seed(entry.seed)
    cfg = entry.config
    model = Decoder(cfg) if isinstance(cfg, DecoderConfig) else VisionTower(cfg)
    g = torch.Generator().manual_seed(1000 + entry.seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            # Norm weights default to ones/zeros: perturb them so every weight is informative.
            if name.endswith("norm.weight") or "layernorm" in name or ".norm1." in name or ".norm2." in name:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model


def example_inputs(entry: Entry, model) -> tuple:
    """Tracing inputs (batch 2, sequence 5, cache length 3)."""
    g = torch.Generator().manual_seed(7)
    cfg = entry.config
    if isinstance(cfg, VisionConfig):
        from mrope import reference as ref
        from .feeds import PATCH_SIZE, WINDOW_SIZE
        n = 24
        x = torch.randn(n, cfg.hidden, generator=g)
        args = [x]
        if cfg.positions == "2d":
            args.append(torch.from_numpy(ref.vision_positions([[1, 4, 6]])))
        if cfg.positions == "grid":
            args.append(torch.tensor([[1, 4, 6]], dtype=torch.int64))
        if cfg.window:
            args.append(torch.from_numpy(ref.vision_window_index([[1, 4, 6]], window_size=WINDOW_SIZE,
                                                                 patch_size=PATCH_SIZE)))
        return tuple(args)
    B, S, P = 2, 5, 3
    args = [torch.randn(B, S, cfg.hidden, generator=g),
            torch.ones(B, (P + S) if cfg.kv_cache else S, dtype=torch.int64)]
    if cfg.position_input:
        pos = torch.arange(S, dtype=torch.int64)[None].expand(B, S) + (P if cfg.kv_cache else 0)
        if cfg.positions == "packed":
            pos = torch.tensor([[1, 1, 2, 2, 2], [1, 1, 1, 2, 0]], dtype=torch.int64)  # segment_ids
        args.append(pos[None].expand(3, B, S).contiguous() if cfg.positions == "input3" else pos.contiguous())
    if cfg.kv_cache:
        for _ in range(cfg.layers):
            args += [torch.randn(B, cfg.kv_heads, P, cfg.head_dim, generator=g) for _ in range(2)]
    return tuple(args)


def describe(entry: Entry, model) -> dict:
    return {
        "model": f"{entry.name}.onnx",
        "description": entry.description,
        "arch": entry.arch,
        "twin": f"{entry.twin}.onnx" if entry.twin else None,
        "opset": entry.opset,
        "inputs": model.input_shapes(),
        "outputs": model.output_names(),
        "output": "logits" if isinstance(entry.config, DecoderConfig) else "last_hidden_state",
        "bug": entry.is_bug,
        "sites": entry.sites,
        "expected": entry.expected(),
        "generator": "python -m mrope.zoo.generate (python/mrope/zoo/spec.py)",
    }


def export(entry: Entry, out_dir: Path) -> Path:
    model = build(entry)
    args = example_inputs(entry, model)
    path = out_dir / f"{entry.name}.onnx"
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, buf, input_names=model.input_names(),
                          output_names=model.output_names(), dynamic_axes=model.dynamic_axes(),
                          opset_version=entry.opset, do_constant_folding=True)
    data = buf.getvalue()
    import onnx
    m = onnx.load_from_string(data)
    if entry.tables != "constant":
        move_tables(m, identity=entry.tables == "identity")
    onnx.checker.check_model(m)
    m.doc_string = entry.description
    path.write_bytes(m.SerializeToString())
    (out_dir / f"{entry.name}.json").write_text(dumps(describe(entry, model)))
    return path


def move_tables(m, identity: bool) -> None:
    """Constant nodes whose value a Gather by position_ids reads become initializers (of the same
    name), read directly or through an Identity node."""
    import onnx
    from onnx import helper
    g = m.graph
    tables = {n.input[0] for n in g.node if n.op_type == "Gather" and n.input[1] == "position_ids"}
    moved = [n for n in g.node if n.op_type == "Constant" and n.output[0] in tables]
    if not moved:
        raise RuntimeError("no Constant table gathered by position_ids")
    nodes = [n for n in g.node if n not in moved]
    for n in moved:
        t = onnx.TensorProto()
        t.CopyFrom(n.attribute[0].t)
        name = n.output[0]
        if identity:
            t.name = name + "_init"
            nodes.insert(0, helper.make_node("Identity", [t.name], [name], name=n.name + "_identity"))
        else:
            t.name = name
        g.initializer.append(t)
    del g.node[:]
    g.node.extend(nodes)


def dumps(obj) -> str:
    """JSON with two-space indent and lists of scalars on one line."""
    text = json.dumps(obj, indent=2)
    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text) + "\n"


def write_index(out_dir: Path, entries: Iterable[Entry]) -> None:
    index = {"models": [{"name": e.name, "model": f"{e.name}.onnx", "json": f"{e.name}.json",
                         "arch": e.arch, "bug": e.is_bug, "twin": f"{e.twin}.onnx" if e.twin else None}
                        for e in entries]}
    (out_dir / "index.json").write_text(dumps(index))


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="output directory (e.g. test/models/zoo)")
    ap.add_argument("--only", nargs="*", help="regenerate only these models (no index.json)")
    ap.add_argument("--list", action="store_true", help="list the models and exit")
    a = ap.parse_args(argv)
    if a.list:
        for e in ENTRIES:
            print(f"{e.name:32s} {e.arch:10s} {'bug of ' + e.twin if e.twin else ''}")
        return 0
    a.out.mkdir(parents=True, exist_ok=True)
    entries = ENTRIES if not a.only else [BY_NAME[n] for n in a.only]
    for e in entries:
        p = export(e, a.out)
        print(f"{p}  {p.stat().st_size} bytes", flush=True)
    if not a.only:
        write_index(a.out, ENTRIES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
