"""Evaluate zoo models in torch, optionally with the rotary tables taken from mrope.reference.

``reference_model(entry)`` is the zoo model with its cos/sin producer replaced
by :func:`mrope.reference.cos_sin` / :func:`mrope.reference.vision_cos_sin`
(``inv_freq`` recomputed from theta by the reference, not read from the model),
driven by the site description of the entry.  Comparing ONNX Runtime's output
of an exported model with it checks the exported rotary embedding against the
numpy ground truth, through the whole network.
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
import torch

from .. import reference as ref
from .generate import build
from .models import Decoder, VisionTower
from .spec import Entry

torch.set_num_threads(1)


def torch_run(model, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Run ``model`` on numpy ``feeds`` keyed by its input names."""
    args = [torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in model.input_names() if n in feeds]
    with torch.no_grad():
        out = model(*args)
    out = out if isinstance(out, tuple) else (out,)
    return {n: o.numpy() for n, o in zip(model.output_names(), out)}


def _site(entry: Entry) -> dict:
    if len(entry.sites) != 1:
        raise ValueError(f"{entry.name}: needs exactly one rotary site")
    return entry.sites[0]


def reference_model(entry: Entry):
    """``build(entry)`` with ``model.rotary`` replaced by reference tables."""
    model = build(entry)
    s = _site(entry)
    sections, theta = s["sections"], s["theta"]

    if isinstance(model, VisionTower):
        def vision_rotary(hidden_states, pos_ids=None, window_index=None):
            if s["positions"] == "2d":
                hw = pos_ids.numpy()
                if model.cfg.positions == "grid":          # pos_ids is grid_thw
                    hw = ref.vision_positions(hw, model.cfg.spatial_merge)
                c, si = ref.vision_cos_sin(hw, head_dim=s["rotary_dim"], theta=theta)
            else:
                n = hidden_states.shape[0]
                c, si = ref.cos_sin(np.arange(n)[None, None], sections=sections, theta=theta)
                c, si = c[0], si[0]
            if window_index is not None:
                # patches of merge unit window_index[u] go to slot u, tables with them
                unit = model.cfg.spatial_merge ** 2
                rows = (window_index.numpy()[:, None] * unit + np.arange(unit)).reshape(-1)
                c, si = c[rows], si[rows]
            return torch.from_numpy(np.ascontiguousarray(c)), torch.from_numpy(np.ascontiguousarray(si))
        model.rotary = vision_rotary
        return model

    cfg = model.cfg

    def rotary(x, pos):
        p = pos.numpy()
        if len(sections) == 3 and p.ndim == 2:
            p = np.broadcast_to(p, (3,) + p.shape)
        if len(sections) == 1:
            p = p[None]
        c, si = ref.cos_sin(p, sections=sections, theta=theta, layout=s["layout"], interleaved=s["interleaved"],
                            rotary_dim=s["rotary_dim"])
        if cfg.rope in ("gptj", "mrope-gptj"):
            c, si = c[..., 0::2], si[..., 0::2]          # the model duplicates pairs itself
        if cfg.rope in ("mrope", "mrope-cache") and cfg.merge_per_layer:
            # merging three identical merged tables gives the merged table back
            c, si = np.broadcast_to(c, (3,) + c.shape), np.broadcast_to(si, (3,) + si.shape)
        return torch.from_numpy(np.ascontiguousarray(c)), torch.from_numpy(np.ascontiguousarray(si))

    model.rotary = rotary
    return model
