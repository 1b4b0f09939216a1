"""The zoo: what each committed model is, how it is built, and what a checker must find in it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional

from .models import DecoderConfig, VisionConfig

QWEN_VL_ARCHS = ("qwen2-vl", "qwen2.5-vl", "qwen3-vl")


@dataclass
class Entry:
    name: str
    description: str
    arch: str                       # "qwen2-vl" | "qwen2.5-vl" | "qwen3-vl" | "text" | "vision"
    config: object                  # DecoderConfig | VisionConfig
    seed: int                       # weights: torch.manual_seed(seed) at construction
    twin: Optional[str] = None      # correct twin (same weights) of a bug model
    opset: int = 14
    sites: List[dict] = field(default_factory=list)
    declared_arch: Optional[str] = None   # the model's real arch for --arch declared (default: arch)

    @property
    def is_bug(self) -> bool:
        return self.twin is not None

    def expected(self) -> dict:
        auto = sum(1 for s in self.sites if s["positions"] == "mrope-degenerate")
        arch = self.declared_arch or self.arch
        declared = auto
        if arch in QWEN_VL_ARCHS:
            declared += sum(1 for s in self.sites if s["positions"] == "1d")
        return {"auto": {"bugs": auto}, "declared": {"arch": arch, "bugs": declared}}


def site(positions, sections, theta, rotary_dim, rotations, layout="neox", interleaved=False):
    return {"positions": positions, "layout": layout, "sections": list(sections), "theta": float(theta),
            "rotary_dim": int(rotary_dim), "rotations": int(rotations), "interleaved": bool(interleaved)}


# Qwen2-VL text decoder, head dim 128, sections [16,24,24] (the released configuration's rotary).
BIG = DecoderConfig(hidden=32, layers=2, q_heads=2, kv_heads=1, head_dim=128, intermediate=64, vocab=64,
                    theta=1e6, rope="mrope", sections=(16, 24, 24), positions="input3", merge_per_layer=True)
# Smaller head dim with proportional sections; the merge hoisted out of the layers (computed once).
SMALL = DecoderConfig(hidden=32, layers=2, q_heads=2, kv_heads=1, head_dim=32, intermediate=64, vocab=64,
                      theta=1e6, rope="mrope", sections=(4, 6, 6), positions="input3", merge_per_layer=False)
# Qwen3-VL text decoder: interleaved M-RoPE [24,20,20], q/k RMSNorm, no qkv bias.
QWEN3 = DecoderConfig(hidden=32, layers=2, q_heads=2, kv_heads=1, head_dim=128, intermediate=64, vocab=64,
                      theta=1e6, rope="mrope-interleaved", sections=(24, 20, 20), positions="input3",
                      qkv_bias=False, qk_norm=True)
# Plain text (Llama/Qwen2-like) decoders where 1D RoPE is right.
TEXT = DecoderConfig(hidden=32, layers=2, q_heads=2, kv_heads=1, head_dim=32, intermediate=64, vocab=64,
                     theta=1e6, rope="1d", sections=(16,), positions="input2", qkv_bias=False)
VISION = VisionConfig(hidden=80, heads=1, head_dim=80, blocks=2, mlp=32, theta=1e4, positions="2d")


def _entries() -> List[Entry]:
    E = []
    r_big = 2 * BIG.layers
    mrope_big = site("mrope", (16, 24, 24), 1e6, 128, r_big)
    degen_big = site("mrope-degenerate", (16, 24, 24), 1e6, 128, r_big)
    E += [
        Entry("qwen2vl_mrope", "Qwen2-VL text decoder, correct M-RoPE: position_ids [3,B,S], sections "
              "[16,24,24] at head dim 128, section merge inside every layer as in transformers",
              "qwen2-vl", BIG, seed=1, opset=14, sites=[mrope_big]),
        Entry("qwen2vl_mrope_op17", "same model and weights as qwen2vl_mrope, exported at opset 17",
              "qwen2-vl", BIG, seed=1, opset=17, sites=[mrope_big]),
        Entry("qwen2vl_1d_bug", "the bug, spelling (a): position_ids [B,S] feeding plain 1D RoPE "
              "(Qwen2 text rotary) in a Qwen2-VL decoder; weights of qwen2vl_mrope",
              "qwen2-vl", replace(BIG, rope="1d", positions="input2"), seed=1, twin="qwen2vl_mrope",
              sites=[site("1d", (64,), 1e6, 128, r_big)]),
        Entry("qwen2vl_expand_bug", "the bug, spelling (b): position_ids [B,S] expanded to three identical "
              "rows in the graph (position_ids[None].expand(3,B,-1)) before the M-RoPE section merge",
              "qwen2-vl", replace(BIG, positions="expand"), seed=1, twin="qwen2vl_mrope", sites=[degen_big]),
        Entry("qwen2vl_range_bug", "the bug, spelling (c): no position input; positions = arange(S) "
              "expanded to three rows (transformers 4.45 Qwen2-VL without position_ids)",
              "qwen2-vl", replace(BIG, positions="range"), seed=1, twin="qwen2vl_mrope", sites=[degen_big]),
        Entry("qwen2vl_mrope_kv", "correct M-RoPE decoder with KV cache inputs/outputs like a merged "
              "decoder export (past_key_values.N.key/value -> present.N.key/value)",
              "qwen2-vl", replace(BIG, kv_cache=True), seed=1, opset=14, sites=[mrope_big]),
        Entry("qwen2vl_range_kv_bug", "the bug, spelling (c) with a KV cache: no position input; positions = "
              "arange(past_len, past_len+S) expanded to three rows",
              "qwen2-vl", replace(BIG, kv_cache=True, positions="range"), seed=1, twin="qwen2vl_mrope_kv",
              sites=[degen_big]),
    ]
    r_small = 2 * SMALL.layers
    E += [
        Entry("qwen2vl_small_mrope", "Qwen2-VL-style decoder, head dim 32, sections [4,6,6], section merge "
              "computed once for all layers", "qwen2-vl", SMALL, seed=2, opset=17,
              sites=[site("mrope", (4, 6, 6), 1e6, 32, r_small)]),
        Entry("qwen2vl_small_1d_bug", "the bug (a) on the small decoder: position_ids [B,S], plain 1D RoPE",
              "qwen2-vl", replace(SMALL, rope="1d", positions="input2"), seed=2, opset=17,
              twin="qwen2vl_small_mrope", sites=[site("1d", (16,), 1e6, 32, r_small)]),
        Entry("qwen2vl_small_stack_bug", "the bug (b) on the small decoder: position_ids [B,S] stacked three "
              "times (Unsqueeze+Concat) before the section merge", "qwen2-vl",
              replace(SMALL, positions="stack"), seed=2, opset=17, twin="qwen2vl_small_mrope",
              sites=[site("mrope-degenerate", (4, 6, 6), 1e6, 32, r_small)]),
    ]
    r3 = 2 * QWEN3.layers
    E += [
        Entry("qwen3vl_mrope", "Qwen3-VL text decoder, correct interleaved M-RoPE [24,20,20] (h on i%3==1, "
              "w on i%3==2), q/k RMSNorm", "qwen3-vl", QWEN3, seed=3, opset=17,
              sites=[site("mrope-interleaved", (24, 20, 20), 1e6, 128, r3, interleaved=True)]),
        Entry("qwen3vl_expand_bug", "the bug (b) in Qwen3-VL: position_ids [B,S] expanded to three rows "
              "inside the rotary (the 2D branch of Qwen3VLTextRotaryEmbedding)", "qwen3-vl",
              replace(QWEN3, positions="input2"), seed=3, opset=17, twin="qwen3vl_mrope",
              sites=[site("mrope-degenerate", (24, 20, 20), 1e6, 128, r3, interleaved=True)]),
    ]
    rt = 2 * TEXT.layers
    E += [
        Entry("text_rope", "plain text decoder (Llama/Qwen2 style), 1D RoPE computed on the fly from "
              "position_ids [B,S]; 1D is right here", "text", TEXT, seed=4, opset=14,
              sites=[site("1d", (16,), 1e6, 32, rt)]),
        Entry("text_rope_cache", "plain text decoder with cos/sin cache tables [256,32] gathered by "
              "position_ids (pre-4.45 transformers)", "text", replace(TEXT, rope="1d-cache"), seed=4, opset=14,
              sites=[site("1d", (16,), 1e6, 32, rt)]),
        Entry("text_rope_range", "plain text decoder without a position input: positions = arange(S) "
              "(right for a text model)", "text", replace(TEXT, positions="range"), seed=4, opset=14,
              sites=[site("1d", (16,), 1e6, 32, rt)]),
        Entry("text_rope_gptj", "GPT-J style: sin|cos table gathered by position, interleaved pairs "
              "(rotate_every_two), partial rotary (16 of 32 channels), rotation before the head transpose",
              "text", replace(TEXT, rope="gptj", rotary_dim=16), seed=5, opset=14,
              sites=[site("1d", (8,), 1e6, 16, rt, layout="gptj")]),
    ]
    rv = 2 * VISION.blocks
    E += [
        Entry("vision_rope2d", "Qwen2-VL vision blocks with the correct 2D RoPE: (h,w) per patch in merge "
              "order, head dim 80, channels [h20|w20|h20|w20], frequencies restart per section "
              "(inv_freq over dim 40)", "vision", VISION, seed=6, opset=17, declared_arch="qwen2-vl",
              sites=[site("2d", (20, 20), 1e4, 80, rv)]),
        Entry("vision_rope1d_bug", "vision bug: 1D RoPE over the whole head dim (inv_freq over dim 80) "
              "indexed by the flattened patch number arange(N)", "vision",
              replace(VISION, positions="1d-range"), seed=6, opset=17, declared_arch="qwen2-vl",
              twin="vision_rope2d", sites=[site("1d", (40,), 1e4, 80, rv)]),
    ]
    E += [
        Entry("decoy_rotate_half_const", "decoy: q*C + rotate_half(q)*S with learned vectors C,S that do "
              "not come from positions; no position input", "text",
              replace(TEXT, rope="decoy-const", positions="range"), seed=7, opset=14),
        Entry("decoy_rotate_half_activation", "decoy: rotate-half with cos/sin of a linear projection of "
              "the hidden states (data-dependent tables)", "text",
              replace(TEXT, rope="decoy-activation", positions="range"), seed=8, opset=14),
        Entry("decoy_sinusoidal_abs", "decoy: absolute sinusoidal embedding cat(sin(p*f), cos(p*f)) of "
              "position_ids added to inputs_embeds; Cos/Sin of positions but no rotation", "text",
              replace(TEXT, rope="decoy-sinusoidal"), seed=9, opset=14),
    ]
    return E


ENTRIES: List[Entry] = _entries()
BY_NAME: Dict[str, Entry] = {e.name: e for e in ENTRIES}
