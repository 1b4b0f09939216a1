"""Zoo for the archs past Qwen-VL: Qwen3.5, GLM-4V, Qwen2.5-Omni, Qwen3-Omni.

``python -m mrope.zoo.newarch --out test/models/zoo-newarch``

Per arch a correct decoder (its text rotary as transformers writes it,
small hidden size, the released head dim and rotary dim so that the arch's
default sections apply), the 1D bug (plain text RoPE from position_ids
[B,S]) and the degenerate bug (position_ids [B,S] expanded to three equal
rows before the section merge), both with the correct model's weights.

Upstream facts the models follow (transformers, read not copied):

* ``qwen3.5``: Qwen3_5TextRotaryEmbedding (models/qwen3_5): Qwen3-VL's
  interleaved M-RoPE on ``inv_freq`` over ``head_dim * partial_rotary_factor``
  channels; released text config ``head_dim`` 256, ``partial_rotary_factor``
  0.25 (rotary dim 64), ``mrope_section`` [11, 11, 10],
  ``mrope_interleaved`` true, ``rope_theta`` 1e7; the attention rotates the
  first 64 channels rotate-half style (Qwen3-Next's partial rotary), q/k
  RMSNorm, no qkv bias.
* ``glm4v``: Glm4vTextRotaryEmbedding + apply_multimodal_rotary_pos_emb
  (models/glm4v): contiguous sections [8, 12, 12] merged on cat(freqs, freqs)
  (each section doubled, as Qwen2-VL), then the first half of the merged
  table repeated pairwise (``repeat_interleave(2)``) and the first
  ``rotary_dim`` channels rotated in interleaved pairs (rotate_half_llm:
  (-x_odd, x_even)); GLM-4.1V text config ``partial_rotary_factor`` 0.5 of
  head dim 128 (rotary dim 64), ``rope_theta`` 1e4, qkv bias.
* ``qwen2.5-omni``: the thinker's text decoder is Qwen2.5-VL's
  (contiguous [16, 24, 24], head dim 128, ``rope_theta`` 1e6, rotate-half);
  what differs is get_rope_index (audio, time in position_id_per_seconds).
* ``qwen3-omni``: Qwen3OmniMoeThinkerTextRotaryEmbedding is Qwen3-VL(-MoE)'s
  text rotary (models/qwen3_omni_moe): interleaved M-RoPE, released thinker
  text config ``mrope_section`` [24, 20, 20], ``mrope_interleaved`` true,
  ``head_dim`` 128, ``rope_theta`` 1e6, q/k RMSNorm, no qkv bias (the MoE
  MLP is left out: it does not touch positions). Its get_rope_index gives
  float positions (time rows ``i * seconds * position_id_per_seconds``, not
  truncated) and the rotary reads them with ``position_ids.float()``, so the
  correct twin takes ``position_ids`` float32 [3,B,S]; the bug variants take
  int64 [B,S] (a text-style arange), as the other archs' do.
"""

from __future__ import annotations

import argparse
import io
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch

from .models import Attention, Decoder, DecoderConfig, Qwen3VLRotaryEmbedding, merge_mrope_sections, \
    rotate_every_two
from .spec import Entry, site

torch.set_num_threads(1)

# The three archs: one config each (small hidden size; released head dim, rotary dim, sections, theta).
QWEN35 = DecoderConfig(hidden=32, layers=2, q_heads=2, kv_heads=1, head_dim=256, intermediate=64, vocab=64,
                       theta=1e7, rope="mrope-interleaved", sections=(11, 11, 10), rotary_dim=64,
                       positions="input3", qkv_bias=False, qk_norm=True)
GLM4V = DecoderConfig(hidden=32, layers=2, q_heads=2, kv_heads=1, head_dim=128, intermediate=64, vocab=64,
                      theta=1e4, rope="mrope", sections=(8, 12, 12), rotary_dim=64, positions="input3",
                      merge_per_layer=True, qkv_bias=True)
OMNI = DecoderConfig(hidden=32, layers=2, q_heads=2, kv_heads=1, head_dim=128, intermediate=64, vocab=64,
                     theta=1e6, rope="mrope", sections=(16, 24, 24), positions="input3", merge_per_layer=True)
OMNI3 = DecoderConfig(hidden=32, layers=2, q_heads=2, kv_heads=1, head_dim=128, intermediate=64, vocab=64,
                      theta=1e6, rope="mrope-interleaved", sections=(24, 20, 20), positions="input3",
                      qkv_bias=False, qk_norm=True)

# Models whose position_ids input is float32 (Qwen3-Omni's correct decoder).
_FLOAT_POSITIONS = {"qwen3omni_mrope"}

# Which decoders rotate GLM's way (interleaved pairs on the repeated first half of the table).
_GLM_NAMES = set()


class GlmAttention(Attention):
    """Glm4vTextAttention's rotation: the section merge, the first half of the merged table repeated
    pairwise, interleaved pairs (rotate_half_llm) on the first rotary_dim channels."""

    def _rotate(self, q, k, cos, sin, hidden_states):
        cfg = self.cfg
        if cfg.rope == "mrope":
            cos, sin = merge_mrope_sections(cos, sin, cfg.sections)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        # Upstream: cos[..., : cos.shape[-1] // 2].repeat_interleave(2, dim=-1). Written as the same values
        # with a constant bound and stack + flatten, since torch 1.13's exporter turns repeat_interleave on
        # a traced shape into a Loop over SplitToSequence that no exporter used for these models writes.
        rd = cfg.rotary_dim
        cos = torch.stack((cos[..., : rd // 2], cos[..., : rd // 2]), dim=-1).flatten(-2)
        sin = torch.stack((sin[..., : rd // 2], sin[..., : rd // 2]), dim=-1).flatten(-2)
        q_rot, q_pass = q[..., :rd], q[..., rd:]
        k_rot, k_pass = k[..., :rd], k[..., rd:]
        q_embed = (q_rot * cos) + (rotate_every_two(q_rot) * sin)
        k_embed = (k_rot * cos) + (rotate_every_two(k_rot) * sin)
        return torch.cat((q_embed, q_pass), dim=-1), torch.cat((k_embed, k_pass), dim=-1)


class NewArchDecoder(Decoder):
    """models.Decoder with the two rotaries it does not spell: Qwen3.5's interleaved M-RoPE on a
    partial rotary dim, and GLM-4V's pair rotation. Only non-persistent buffers and the attention
    class change, so the state_dict is Decoder's (a bug model loads its twin's)."""

    def __init__(self, cfg: DecoderConfig, glm: bool):
        super().__init__(cfg)
        rd = cfg.rotary_dim or cfg.head_dim
        if cfg.rope == "mrope-interleaved" and rd < cfg.head_dim:
            self.rotary_emb = Qwen3VLRotaryEmbedding(rd, cfg.theta, cfg.sections)
        if glm:
            for layer in self.layers:
                layer.self_attn.__class__ = GlmAttention


class NewArchEntry(Entry):
    """A zoo entry of a new arch: 1D RoPE is a bug there, as under a Qwen-VL arch."""

    def expected(self) -> dict:
        auto = sum(1 for s in self.sites if s["positions"] == "mrope-degenerate")
        declared = auto + sum(1 for s in self.sites if s["positions"] == "1d")
        return {"auto": {"bugs": auto}, "declared": {"arch": self.arch, "bugs": declared}}


def _entries() -> List[NewArchEntry]:
    E: List[NewArchEntry] = []

    def family(prefix, arch, cfg, seed, what, correct_site, oned_site, degen_site, glm=False):
        twin = f"{prefix}_mrope"
        E.extend([
            NewArchEntry(twin, f"{what}: correct M-RoPE from position_ids [3,B,S]", arch, cfg, seed=seed,
                         opset=17, sites=[correct_site]),
            NewArchEntry(f"{prefix}_1d_bug", f"the bug in a {arch} decoder: position_ids [B,S] feeding plain "
                         f"1D RoPE (same rotary dim and pair layout); weights of {twin}", arch,
                         replace(cfg, rope="1d", positions="input2"), seed=seed, opset=17, twin=twin,
                         sites=[oned_site]),
            NewArchEntry(f"{prefix}_expand_bug", f"the bug in a {arch} decoder: position_ids [B,S] expanded "
                         f"to three equal rows before the section merge; weights of {twin}", arch,
                         replace(cfg, positions="input2" if cfg.rope == "mrope-interleaved" else "expand"),
                         seed=seed, opset=17, twin=twin, sites=[degen_site]),
        ])
        if glm:
            _GLM_NAMES.update(e.name for e in E[-3:])

    r = 2 * QWEN35.layers
    family("qwen35", "qwen3.5", QWEN35, 21,
           "Qwen3.5 text attention (interleaved M-RoPE [11,11,10] on the first 64 of 256 channels, "
           "theta 1e7, q/k RMSNorm)",
           site("mrope-interleaved", (11, 11, 10), 1e7, 64, r, interleaved=True),
           site("1d", (32,), 1e7, 64, r),
           site("mrope-degenerate", (11, 11, 10), 1e7, 64, r, interleaved=True))
    family("glm4v", "glm4v", GLM4V, 22,
           "GLM-4V text attention (contiguous M-RoPE [8,12,12], interleaved pairs on the first 64 of 128 "
           "channels, theta 1e4)",
           site("mrope", (8, 12, 12), 1e4, 64, r, layout="gptj"),
           site("1d", (32,), 1e4, 64, r, layout="gptj"),
           site("mrope-degenerate", (8, 12, 12), 1e4, 64, r, layout="gptj"), glm=True)
    family("qwen25omni", "qwen2.5-omni", OMNI, 23,
           "Qwen2.5-Omni thinker text decoder (Qwen2.5-VL's rotary: contiguous [16,24,24], head dim 128, "
           "theta 1e6)",
           site("mrope", (16, 24, 24), 1e6, 128, r),
           site("1d", (64,), 1e6, 128, r),
           site("mrope-degenerate", (16, 24, 24), 1e6, 128, r))
    family("qwen3omni", "qwen3-omni", OMNI3, 24,
           "Qwen3-Omni thinker text decoder (Qwen3-VL's rotary: interleaved [24,20,20], head dim 128, "
           "theta 1e6, q/k RMSNorm; float32 positions)",
           site("mrope-interleaved", (24, 20, 20), 1e6, 128, r, interleaved=True),
           site("1d", (64,), 1e6, 128, r),
           site("mrope-degenerate", (24, 20, 20), 1e6, 128, r, interleaved=True))
    return E


ENTRIES: List[NewArchEntry] = _entries()
BY_NAME: Dict[str, NewArchEntry] = {e.name: e for e in ENTRIES}


def build(entry: NewArchEntry) -> NewArchDecoder:
    """The torch model of ``entry`` (eval mode), weights made as generate._construct makes the main
    zoo's (seeded, norm weights perturbed); a bug model loads its twin's state_dict (strict)."""
    if entry.twin is not None:
        model = build(replace(entry, twin=None))
        model.load_state_dict(build(BY_NAME[entry.twin]).state_dict(), strict=True)
        return model.eval()
    torch.manual_seed(entry.seed)
    model = NewArchDecoder(entry.config, entry.name in _GLM_NAMES)
    g = torch.Generator().manual_seed(1000 + entry.seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "layernorm" in name:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model.eval()


# -- the multimodal batch the checks feed -------------------------------------------------------------

def batch_kinds(arch: str) -> List[str]:
    """The batches :func:`batch` has for ``arch``: "" (images, videos, Omni audio) and, for the Omni archs,
    "audio-in-video" (use_audio_in_video: a video whose audio is interleaved with its frames)."""
    return ["", "audio-in-video"] if arch in ("qwen2.5-omni", "qwen3-omni") else [""]


def batch(arch: str, kind: str = ""):
    """(input_ids [2, L], attention_mask, grids, arch inputs) of a two-row batch with an image, a video
    (and for qwen2.5-omni an audio span), as each arch's processor lays them out; row 1 left-padded.
    ``kind`` "audio-in-video" (qwen2.5-omni): row 1 holds a 4-frame video with its audio, written as
    the processor writes use_audio_in_video: <vision_start><audio_start>, the video's 2-second chunks
    (2 frames = 8 tokens each at 25 positions per second) and the audio's (4 tokens, one chunk) in
    time order, <audio_end><vision_end>."""
    from ..archs import arch_spec
    s = arch_spec(arch)
    I, V, VS, VE = s.image_token_id, s.video_token_id, s.vision_start_token_id, s.vision_end_token_id
    extra: Dict[str, np.ndarray] = {}
    if arch == "glm4v":
        # GLM-4V: frames are image tokens inside <|begin_of_video|> ... <|end_of_video|>, each frame
        # <|begin_of_image|> ... <|end_of_image|> after its timestamp text.
        BV, EV = s.video_start_token_id, s.video_end_token_id
        row0 = [1, 2, VS] + [I] * 6 + [VE, 3, 4]
        row1 = [5, BV, 7, VS] + [I] * 4 + [VE, 8, VS] + [I] * 4 + [VE, EV, 9]
        images = [[1, 4, 6]]
        videos = [[2, 4, 4]]
    elif arch in ("qwen3.5", "qwen3-vl"):
        # Qwen3-VL/3.5: every frame after its timestamp text and its own vision_start.
        row0 = [1, 2, VS] + [I] * 6 + [VE, 3, 4]
        row1 = [5, 7, VS] + [V] * 4 + [VE, 8, VS] + [V] * 4 + [VE, 9]
        images = [[1, 4, 6]]
        videos = [[2, 4, 4]]
    elif arch == "qwen2.5-omni" and kind == "audio-in-video":
        AS, A, AE = s.audio_start_token_id, s.audio_token_id, s.audio_end_token_id
        row0 = [1, 2, VS] + [I] * 6 + [VE, 3, 4]
        row1 = [5, VS, AS] + [V] * 8 + [A] * 4 + [V] * 8 + [AE, VE, 9]
        images = [[1, 4, 6]]
        videos = [[4, 4, 4]]
        extra["second_per_grid_ts"] = np.array([1.0], np.float32)
        extra["audio_seqlens"] = np.array([16], np.int64)
        extra["use_audio_in_video"] = True
    elif arch == "qwen3-omni" and kind == "audio-in-video":
        # Qwen3-Omni merges the video's tokens and its audio's token by token by row t (video first on
        # a tie): frames at t = 0, 19.5, 39, 58.5 (1.5 s per grid step x 13 positions per second), 4
        # tokens each, and 4 audio tokens at t = 0..3: V*4, A*4, V*12. Fractional time rows, and
        # positions past B*S (62.5 > 2 * 23).
        AS, A, AE = s.audio_start_token_id, s.audio_token_id, s.audio_end_token_id
        row0 = [1, 2, VS] + [I] * 6 + [VE, 3, 4]
        row1 = [5, VS, AS] + [V] * 4 + [A] * 4 + [V] * 12 + [AE, VE, 9]
        images = [[1, 4, 6]]
        videos = [[4, 4, 4]]
        extra["second_per_grid_ts"] = np.array([1.5], np.float32)
        extra["audio_seqlens"] = np.array([32], np.int64)      # 32 mel frames -> 4 audio tokens
        extra["use_audio_in_video"] = True
    elif arch == "qwen3-omni":
        # An image and an audio span in row 0; a 4-frame video in row 1 at 1.5 s per grid step: time
        # rows 0, 19.5, 39, 58.5 from its start (fractional, and past B*S = 2 * 20).
        AS, A, AE = s.audio_start_token_id, s.audio_token_id, s.audio_end_token_id
        row0 = [1, 2, VS] + [I] * 6 + [VE, 3, AS] + [A] * 4 + [AE, 4]
        row1 = [5, VS] + [V] * 16 + [VE, 9]
        images = [[1, 4, 6]]
        videos = [[4, 4, 4]]
        extra["second_per_grid_ts"] = np.array([1.5], np.float32)
        extra["audio_seqlens"] = np.array([32], np.int64)      # 32 mel frames -> 4 audio tokens
    elif arch == "qwen2.5-omni":
        AS, A, AE = s.audio_start_token_id, s.audio_token_id, s.audio_end_token_id
        row0 = [1, 2, VS] + [I] * 6 + [VE, 3, AS] + [A] * 4 + [AE, 4]
        row1 = [5, VS] + [V] * 8 + [VE, 9]
        images = [[1, 4, 6]]
        videos = [[2, 4, 4]]
        extra["second_per_grid_ts"] = np.array([1.0], np.float32)
        extra["audio_seqlens"] = np.array([16], np.int64)      # 16 mel frames -> 4 audio tokens
    else:
        raise ValueError(arch)
    L = max(len(row0), len(row1))
    ids = np.zeros((2, L), np.int64)
    mask = np.zeros((2, L), np.int64)
    for b, row in enumerate((row0, row1)):
        ids[b, L - len(row):] = row
        mask[b, L - len(row):] = 1
    grids = {"image_grid_thw": np.array(images, np.int64), "video_grid_thw": np.array(videos, np.int64)}
    return ids, mask, grids, extra


def true_positions(arch: str, kind: str = ""):
    """(positions [3,2,L], rope_deltas) of :func:`batch` from :func:`mrope.position_ids`: int64, float32
    for qwen3-omni (its upstream positions are float)."""
    from ..archs import arch_spec
    from ..positions import position_ids
    ids, mask, grids, extra = batch(arch, kind)
    pos, deltas = position_ids(ids, arch=arch, attention_mask=mask, **grids, **extra)
    dtype = np.float32 if arch_spec(arch).dtype == np.float32 else np.int64
    return np.asarray(pos, dtype), np.asarray(deltas, dtype)


# -- export ------------------------------------------------------------------------------------------------

def export(entry: NewArchEntry, out_dir: Path) -> Path:
    import onnx
    from .generate import describe, dumps, example_inputs
    model = build(entry)
    args = example_inputs(entry, model)
    if entry.name in _FLOAT_POSITIONS:   # position_ids is the third input
        args = args[:2] + (args[2].to(torch.float32),) + args[3:]
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, buf, input_names=model.input_names(), output_names=model.output_names(),
                          dynamic_axes=model.dynamic_axes(), opset_version=entry.opset, do_constant_folding=True)
    m = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(m)
    m.doc_string = entry.description
    path = out_dir / f"{entry.name}.onnx"
    path.write_bytes(m.SerializeToString())
    desc = describe(entry, model)
    desc["generator"] = "python -m mrope.zoo.newarch (python/mrope/zoo/newarch.py)"
    (out_dir / f"{entry.name}.json").write_text(dumps(desc))
    return path


def main(argv: Optional[List[str]] = None) -> int:
    from .generate import dumps
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="output directory (test/models/zoo-newarch)")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    for e in ENTRIES:
        p = export(e, a.out)
        print(f"{p}  {p.stat().st_size} bytes", flush=True)
    index = {"models": [{"name": e.name, "model": f"{e.name}.onnx", "json": f"{e.name}.json", "arch": e.arch,
                         "bug": e.is_bug, "twin": f"{e.twin}.onnx" if e.twin else None} for e in ENTRIES]}
    (a.out / "index.json").write_text(dumps(index))
    return 0


if __name__ == "__main__":
    sys.exit(main())
