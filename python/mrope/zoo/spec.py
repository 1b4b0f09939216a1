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
# Partial rotary / pair layout under a Qwen-VL arch: head dim 32, rotary dim 16 (8 frequencies),
# M-RoPE sections [2,3,3] over those 8 frequencies.
PARTIAL = replace(SMALL, rotary_dim=16, sections=(2, 3, 3), merge_per_layer=True, qkv_bias=False)


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
    # -- real-export spellings (issue #12) ----------------------------------------------------------
    E += [
        Entry("qwen2vl_vision_grid", "stock Qwen2-VL vision tower rotary: (h, w) computed in the graph from "
              "grid_thw [1,3] (aranges reshaped/permuted into 2x2 merge-block order, stacked, repeated over "
              "t); rows of a [max(h,w), 20] frequency table gathered by h and by w, flattened to 40; "
              "cat(freqs, freqs); cos/sin. Head dim 80", "vision", replace(VISION, positions="grid"),
              seed=10, opset=17, declared_arch="qwen2-vl", sites=[site("2d", (20, 20), 1e4, 80, rv)]),
        Entry("qwen25vl_vision_window", "stock Qwen2.5-VL vision tower rotary: (h, w) from grid_thw as in "
              "qwen2vl_vision_grid, then the patches and the rotary table reordered by window_index "
              "(merge units in window order, an input computed by the host as get_window_index does), "
              "the output put back by argsort(window_index). Full attention in every block",
              "vision", replace(VISION, positions="grid", window=True), seed=11, opset=17,
              declared_arch="qwen2.5-vl", sites=[site("2d", (20, 20), 1e4, 80, rv)]),
        Entry("qwen25vl_vision_window_flat_bug", "vision bug under window attention: 1D RoPE over the whole "
              "head dim indexed by the flattened patch number arange(N), that table reordered by "
              "window_index with the patches (no grid_thw input: nothing reads it)", "vision",
              replace(VISION, positions="1d-range", window=True), seed=11, opset=17,
              declared_arch="qwen2.5-vl", twin="qwen25vl_vision_window", sites=[site("1d", (40,), 1e4, 80, rv)]),
    ]
    r_small = 2 * SMALL.layers
    E += [
        Entry("qwen2vl_const_table_mrope", "Qwen2-VL decoder with pre-computed cos/sin tables [256,32] held "
              "in Constant nodes (how torch exports non-persistent buffers), gathered by position_ids "
              "[3,B,S] to [3,B,S,32], then the section merge [4,6,6] in every layer", "qwen2-vl",
              replace(SMALL, rope="mrope-cache", merge_per_layer=True), seed=12, opset=17,
              sites=[site("mrope", (4, 6, 6), 1e6, 32, r_small)]),
        Entry("qwen2vl_const_table_1d_bug", "the bug with Constant-node tables: the [256,32] cos/sin tables "
              "gathered by 1D position_ids [B,S] (pre-4.45 text rotary) in a Qwen2-VL decoder",
              "qwen2-vl", replace(SMALL, rope="1d-cache", positions="input2"), seed=12, opset=17,
              twin="qwen2vl_const_table_mrope", sites=[site("1d", (16,), 1e6, 32, r_small)]),
        Entry("qwen2vl_gptj_mrope", "M-RoPE in the GPT-J pair layout: a [256,16] sin|cos Constant table "
              "gathered by position_ids [3,B,S], sections [2,3,3] picked on the frequency axis, pairs "
              "(rotate_every_two) on the first 16 of 32 channels, rotation before the head transpose",
              "qwen2-vl", replace(PARTIAL, rope="mrope-gptj"), seed=13, opset=17,
              sites=[site("mrope", (2, 3, 3), 1e6, 16, r_small, layout="gptj")]),
        Entry("qwen2vl_gptj_1d_bug", "the bug in the GPT-J pair layout: 1D position_ids [B,S] gather the "
              "sin|cos table (rotate_every_two, partial rotary 16 of 32) in a Qwen2-VL decoder",
              "qwen2-vl", replace(PARTIAL, rope="gptj", positions="input2"), seed=13, opset=17,
              twin="qwen2vl_gptj_mrope", sites=[site("1d", (8,), 1e6, 16, r_small, layout="gptj")]),
        Entry("qwen2vl_partial_mrope", "M-RoPE on a partial rotary range: rotate-half on the first 16 of "
              "32 channels (the other 16 pass through), inv_freq over 16, sections [2,3,3], position_ids "
              "[3,B,S]", "qwen2-vl", replace(PARTIAL, rope="mrope"), seed=14, opset=17,
              sites=[site("mrope", (2, 3, 3), 1e6, 16, r_small)]),
        Entry("qwen2vl_partial_1d_bug", "the bug with partial rotary: 1D position_ids [B,S], rotate-half on "
              "the first 16 of 32 channels (Phi/StableLM-style text rotary) in a Qwen2-VL decoder",
              "qwen2-vl", replace(PARTIAL, rope="1d", positions="input2"), seed=14, opset=17,
              twin="qwen2vl_partial_mrope", sites=[site("1d", (8,), 1e6, 16, r_small)]),
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
