"""Small, faithful torch re-implementations of the RoPE spellings found in the wild.

The code follows the Hugging Face modeling files it names (Qwen2-VL / Qwen2.5-VL
text decoder and vision tower, Qwen3-VL text rotary, Llama/Qwen2 text rotary,
the pre-4.45 cos/sin-cache rotary, GPT-J) closely enough that
``torch.onnx.export`` emits the same operator patterns, but with tiny sizes.

Every model takes ``inputs_embeds`` (decoders) or patch ``hidden_states``
(vision) instead of token ids, so no vocabulary-sized table is needed.
All inv_freq / cos-sin buffers are non-persistent: the ``state_dict`` holds the
learned weights only, and a bug model loads its correct twin's ``state_dict``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import List, Optional, Sequence

import torch
from torch import nn

F32_MIN = torch.finfo(torch.float32).min


def hf_inv_freq(dim: int, theta: float) -> torch.Tensor:
    """``1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))`` (HF)."""
    return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rotate_every_two(x):
    # GPT-J
    x1 = x[:, :, :, ::2]
    x2 = x[:, :, :, 1::2]
    x = torch.stack((-x2, x1), dim=-1)
    return x.flatten(-2)


class RMSNorm(nn.Module):
    """Qwen2RMSNorm."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(variance + self.eps)
        return self.weight * x


# --------------------------------------------------------------------------
# Rotary producers (one per model, shared by all layers)
# --------------------------------------------------------------------------

class Qwen2VLRotaryEmbedding(nn.Module):
    """Qwen2-VL / Qwen2.5-VL text rotary: positions [3,B,S] -> cos/sin [3,B,S,D] (unmerged)."""

    def __init__(self, dim, theta):
        super().__init__()
        self.register_buffer("inv_freq", hf_inv_freq(dim, theta), persistent=False)
        self.attention_scaling = 1.0

    def forward(self, x, position_ids):
        inv_freq_expanded = self.inv_freq[None, None, :, None].float().expand(3, position_ids.shape[1], -1, 1)
        position_ids_expanded = position_ids[:, :, None, :].float()
        freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(2, 3)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos() * self.attention_scaling
        sin = emb.sin() * self.attention_scaling
        return cos.to(x.dtype), sin.to(x.dtype)


def merge_mrope_sections(cos, sin, mrope_section):
    """The section merge of ``apply_multimodal_rotary_pos_emb`` (Qwen2-VL)."""
    mrope_section = list(mrope_section) * 2
    cos = torch.cat([m[i % 3] for i, m in enumerate(cos.split(mrope_section, dim=-1))], dim=-1)
    sin = torch.cat([m[i % 3] for i, m in enumerate(sin.split(mrope_section, dim=-1))], dim=-1)
    return cos, sin


class Qwen3VLRotaryEmbedding(nn.Module):
    """Qwen3-VL text rotary: interleaved M-RoPE merged on the frequencies, cos/sin [B,S,D]."""

    def __init__(self, dim, theta, mrope_section):
        super().__init__()
        self.register_buffer("inv_freq", hf_inv_freq(dim, theta), persistent=False)
        self.mrope_section = list(mrope_section)
        self.attention_scaling = 1.0

    def apply_interleaved_mrope(self, freqs, mrope_section):
        freqs_t = freqs[0]  # just overwrite the first dimension T
        for dim, offset in enumerate((1, 2), start=1):  # H, W
            length = mrope_section[dim] * 3
            idx = slice(offset, length, 3)
            freqs_t[..., idx] = freqs[dim, ..., idx]
        return freqs_t

    def forward(self, x, position_ids):
        if position_ids.ndim == 2:
            position_ids = position_ids[None, ...].expand(3, position_ids.shape[0], -1)
        inv_freq_expanded = self.inv_freq[None, None, :, None].float().expand(3, position_ids.shape[1], -1, 1)
        position_ids_expanded = position_ids[:, :, None, :].float()
        freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(2, 3)
        freqs = self.apply_interleaved_mrope(freqs, self.mrope_section)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos() * self.attention_scaling
        sin = emb.sin() * self.attention_scaling
        return cos.to(x.dtype), sin.to(x.dtype)


class TextRotaryEmbedding(nn.Module):
    """Llama / Qwen2 text rotary (transformers >= 4.45): positions [B,S] -> cos/sin [B,S,D]."""

    def __init__(self, dim, theta):
        super().__init__()
        self.register_buffer("inv_freq", hf_inv_freq(dim, theta), persistent=False)
        self.attention_scaling = 1.0

    def forward(self, x, position_ids):
        inv_freq_expanded = self.inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
        position_ids_expanded = position_ids[:, None, :].float()
        freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos() * self.attention_scaling
        sin = emb.sin() * self.attention_scaling
        return cos.to(x.dtype), sin.to(x.dtype)


class CachedRotaryEmbedding(nn.Module):
    """Pre-4.45 Llama / Qwen2 rotary: cos/sin tables [max_pos, D] built once, gathered by position."""

    def __init__(self, dim, theta, max_position_embeddings):
        super().__init__()
        self.register_buffer("inv_freq", hf_inv_freq(dim, theta), persistent=False)
        t = torch.arange(max_position_embeddings, dtype=torch.int64).type_as(self.inv_freq)
        freqs = torch.outer(t, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos(), persistent=False)
        self.register_buffer("sin_cached", emb.sin(), persistent=False)

    def forward(self, x, position_ids):
        return self.cos_cached[position_ids].to(x.dtype), self.sin_cached[position_ids].to(x.dtype)


class GPTJSinCos(nn.Module):
    """GPT-J: one [max_pos, rotary_dim] sin|cos table gathered by position."""

    def __init__(self, rotary_dim, theta, max_position_embeddings):
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, rotary_dim, 2, dtype=torch.int64) / rotary_dim))
        self.register_buffer("inv_freq", inv_freq.float(), persistent=False)
        sinusoid_inp = torch.einsum("i , j -> i j", torch.arange(max_position_embeddings, dtype=torch.int64).float(),
                                    inv_freq).float()
        self.register_buffer("embed_positions", torch.cat((torch.sin(sinusoid_inp), torch.cos(sinusoid_inp)), dim=1),
                             persistent=False)
        self.rotary_dim = rotary_dim

    def forward(self, x, position_ids):
        sincos = self.embed_positions[position_ids]
        sin, cos = torch.split(sincos, sincos.shape[-1] // 2, dim=-1)
        return cos, sin


# --------------------------------------------------------------------------
# Decoder
# --------------------------------------------------------------------------

@dataclass
class DecoderConfig:
    hidden: int = 32
    layers: int = 2
    q_heads: int = 2
    kv_heads: int = 1
    head_dim: int = 128
    intermediate: int = 64
    vocab: int = 64
    theta: float = 1e6
    # "mrope" (Qwen2-VL), "mrope-interleaved" (Qwen3-VL), "1d" (Qwen2/Llama on the fly),
    # "1d-cache" (gathered cos/sin tables), "mrope-cache" (the same tables gathered by [3,B,S]
    # positions, then the section merge), "gptj" (1D, pairs), "mrope-gptj" (M-RoPE with the GPT-J
    # pair layout: the sections merged on the frequency axis of the gathered sin|cos table), or a decoy:
    # "decoy-const", "decoy-activation", "decoy-sinusoidal"
    rope: str = "mrope"
    sections: Sequence[int] = (16, 24, 24)
    # partial rotary: only the first rotary_dim channels rotate (gptj: required; "1d"/"mrope":
    # None means the whole head dim)
    rotary_dim: Optional[int] = None
    # "input3" [3,B,S] input, "input2" [B,S] input, "expand" [B,S] input expanded to 3 rows in the
    # graph, "stack" [B,S] input stacked three times, "range" no position input (arange over the
    # sequence, offset by the cache length), "packed" no position input but segment_ids [B,S]
    # (0 = padding, 1..k = the samples packed into a row): positions restart per segment in the
    # graph as 1D counts, expanded to three rows (the packed-training bug)
    positions: str = "input3"
    merge_per_layer: bool = True              # Qwen2-VL merges the sections inside every layer
    kv_cache: bool = False
    qkv_bias: bool = True
    qk_norm: bool = False                     # Qwen3
    max_positions: int = 256                  # cache-table variants

    @property
    def position_input(self) -> bool:
        return self.positions != "range"

    @property
    def position_input_name(self) -> str:
        return "segment_ids" if self.positions == "packed" else "position_ids"


class Attention(nn.Module):
    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.cfg = cfg
        D = cfg.head_dim
        self.q_proj = nn.Linear(cfg.hidden, cfg.q_heads * D, bias=cfg.qkv_bias)
        self.k_proj = nn.Linear(cfg.hidden, cfg.kv_heads * D, bias=cfg.qkv_bias)
        self.v_proj = nn.Linear(cfg.hidden, cfg.kv_heads * D, bias=cfg.qkv_bias)
        self.o_proj = nn.Linear(cfg.q_heads * D, cfg.hidden, bias=False)
        if cfg.qk_norm:
            self.q_norm = RMSNorm(D)
            self.k_norm = RMSNorm(D)
        if cfg.rope == "decoy-activation":
            self.table_proj = nn.Linear(cfg.hidden, D // 2, bias=True)

    def _rotate(self, q, k, cos, sin, hidden_states):
        cfg = self.cfg
        if cfg.rope in ("mrope", "mrope-cache") and cfg.merge_per_layer:
            # apply_multimodal_rotary_pos_emb
            cos, sin = merge_mrope_sections(cos, sin, cfg.sections)
            cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        elif cfg.rope == "decoy-const":
            cos, sin = cos, sin                      # learned [D] vectors, not positions
        elif cfg.rope == "decoy-activation":
            a = self.table_proj(hidden_states)       # [B,S,D/2] from activations
            emb = torch.cat((a, a), dim=-1)
            cos, sin = emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)
        else:
            cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        rd = cfg.rotary_dim
        if rd is not None and rd < cfg.head_dim:
            # partial rotary (Phi / StableLM / GLM): rotate-half on the first rd channels only
            q_rot, q_pass = q[..., :rd], q[..., rd:]
            k_rot, k_pass = k[..., :rd], k[..., rd:]
            q_embed = (q_rot * cos) + (rotate_half(q_rot) * sin)
            k_embed = (k_rot * cos) + (rotate_half(k_rot) * sin)
            return torch.cat((q_embed, q_pass), dim=-1), torch.cat((k_embed, k_pass), dim=-1)
        q_embed = (q * cos) + (rotate_half(q) * sin)
        k_embed = (k * cos) + (rotate_half(k) * sin)
        return q_embed, k_embed

    def forward(self, hidden_states, cos, sin, bias, past=None):
        cfg = self.cfg
        B, S, _ = hidden_states.shape
        D = cfg.head_dim
        q = self.q_proj(hidden_states).view(B, S, cfg.q_heads, D)
        k = self.k_proj(hidden_states).view(B, S, cfg.kv_heads, D)
        v = self.v_proj(hidden_states).view(B, S, cfg.kv_heads, D).transpose(1, 2)
        if cfg.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        if cfg.rope in ("gptj", "mrope-gptj"):
            # GPT-J rotates in [B,S,H,D], before the head transpose, on the first rotary_dim channels.
            rd = cfg.rotary_dim
            sin_r = torch.repeat_interleave(sin[:, :, None, :], 2, 3)
            cos_r = torch.repeat_interleave(cos[:, :, None, :], 2, 3)
            k_rot, k_pass = k[:, :, :, :rd], k[:, :, :, rd:]
            q_rot, q_pass = q[:, :, :, :rd], q[:, :, :, rd:]
            k_rot = (k_rot * cos_r) + (rotate_every_two(k_rot) * sin_r)
            q_rot = (q_rot * cos_r) + (rotate_every_two(q_rot) * sin_r)
            k = torch.cat([k_rot, k_pass], dim=-1).transpose(1, 2)
            q = torch.cat([q_rot, q_pass], dim=-1).transpose(1, 2)
        elif cfg.rope == "decoy-sinusoidal":
            q, k = q.transpose(1, 2), k.transpose(1, 2)   # no rotation at all
        else:
            q, k = q.transpose(1, 2), k.transpose(1, 2)
            q, k = self._rotate(q, k, cos, sin, hidden_states)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        n_rep = cfg.q_heads // cfg.kv_heads
        if n_rep > 1:  # repeat_kv
            T = k.shape[2]
            k = k[:, :, None, :, :].expand(B, cfg.kv_heads, n_rep, T, D).reshape(B, cfg.kv_heads * n_rep, T, D)
            v = v[:, :, None, :, :].expand(B, cfg.kv_heads, n_rep, T, D).reshape(B, cfg.kv_heads * n_rep, T, D)
        attn = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(D)
        attn = attn + bias
        attn = nn.functional.softmax(attn, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(B, S, cfg.q_heads * D)
        return self.o_proj(out), present


class MLP(nn.Module):
    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden, cfg.intermediate, bias=False)
        self.up_proj = nn.Linear(cfg.hidden, cfg.intermediate, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate, cfg.hidden, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden)
        self.post_attention_layernorm = RMSNorm(cfg.hidden)

    def forward(self, x, cos, sin, bias, past=None):
        h, present = self.self_attn(self.input_layernorm(x), cos, sin, bias, past)
        x = x + h
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, present


class Decoder(nn.Module):
    """Qwen2-VL-style text decoder.  forward(*inputs) takes ``input_names()`` in order."""

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.cfg = cfg
        D = cfg.head_dim
        rd = cfg.rotary_dim or D
        if cfg.rope == "mrope":
            self.rotary_emb = Qwen2VLRotaryEmbedding(rd, cfg.theta)
        elif cfg.rope == "mrope-interleaved":
            self.rotary_emb = Qwen3VLRotaryEmbedding(D, cfg.theta, cfg.sections)
        elif cfg.rope == "1d":
            self.rotary_emb = TextRotaryEmbedding(rd, cfg.theta)
        elif cfg.rope in ("1d-cache", "mrope-cache"):
            self.rotary_emb = CachedRotaryEmbedding(D, cfg.theta, cfg.max_positions)
        elif cfg.rope in ("gptj", "mrope-gptj"):
            self.rotary_emb = GPTJSinCos(cfg.rotary_dim, cfg.theta, cfg.max_positions)
        elif cfg.rope == "decoy-const":
            self.rope_cos = nn.Parameter(torch.empty(D).uniform_(-1, 1))
            self.rope_sin = nn.Parameter(torch.empty(D).uniform_(-1, 1))
        elif cfg.rope == "decoy-sinusoidal":
            self.register_buffer("inv_freq", hf_inv_freq(cfg.hidden, 10000.0), persistent=False)
        elif cfg.rope != "decoy-activation":
            raise ValueError(cfg.rope)
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.layers)])
        self.norm = RMSNorm(cfg.hidden)
        self.lm_head = nn.Linear(cfg.hidden, cfg.vocab, bias=False)

    # -- I/O description -------------------------------------------------
    def input_names(self) -> List[str]:
        names = ["inputs_embeds", "attention_mask"]
        if self.cfg.position_input:
            names.append(self.cfg.position_input_name)
        if self.cfg.kv_cache:
            for i in range(self.cfg.layers):
                names += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        return names

    def output_names(self) -> List[str]:
        names = ["logits"]
        if self.cfg.kv_cache:
            for i in range(self.cfg.layers):
                names += [f"present.{i}.key", f"present.{i}.value"]
        return names

    def position_shape(self):
        return ["3", "batch", "sequence"] if self.cfg.positions == "input3" else ["batch", "sequence"]

    def input_shapes(self):
        cfg = self.cfg
        shapes = {"inputs_embeds": ["batch", "sequence", cfg.hidden],
                  "attention_mask": ["batch", "past_sequence+sequence" if cfg.kv_cache else "sequence"]}
        if cfg.position_input:
            shapes[cfg.position_input_name] = ([3, "batch", "sequence"] if cfg.positions == "input3"
                                               else ["batch", "sequence"])
        if cfg.kv_cache:
            for i in range(cfg.layers):
                for kv in ("key", "value"):
                    shapes[f"past_key_values.{i}.{kv}"] = ["batch", cfg.kv_heads, "past_sequence", cfg.head_dim]
        return shapes

    def dynamic_axes(self):
        cfg = self.cfg
        ax = {"inputs_embeds": {0: "batch", 1: "sequence"},
              "attention_mask": {0: "batch", 1: "past_sequence+sequence" if cfg.kv_cache else "sequence"},
              "logits": {0: "batch", 1: "sequence"}}
        if cfg.position_input:
            ax[cfg.position_input_name] = ({1: "batch", 2: "sequence"} if cfg.positions == "input3"
                                           else {0: "batch", 1: "sequence"})
        if cfg.kv_cache:
            for i in range(cfg.layers):
                for kv in ("key", "value"):
                    ax[f"past_key_values.{i}.{kv}"] = {0: "batch", 2: "past_sequence"}
                    ax[f"present.{i}.{kv}"] = {0: "batch", 2: "past_sequence+sequence"}
        return ax

    # -- forward -----------------------------------------------------------
    def _positions(self, inputs_embeds, position_ids, past_len):
        cfg = self.cfg
        B, S = inputs_embeds.shape[0], inputs_embeds.shape[1]
        if cfg.positions == "range":
            cache_position = torch.arange(past_len, past_len + S, device=inputs_embeds.device)
            if cfg.rope in ("mrope", "mrope-interleaved", "mrope-cache", "mrope-gptj"):
                # transformers 4.45/4.46 Qwen2-VL: the bug this project exists for
                return cache_position.view(1, 1, -1).expand(3, B, -1)
            return cache_position.unsqueeze(0)               # Llama: right for text models
        if cfg.positions == "expand":
            return position_ids[None, ...].expand(3, position_ids.shape[0], -1)
        if cfg.positions == "stack":
            return torch.stack([position_ids, position_ids, position_ids], dim=0)
        if cfg.positions == "packed":
            # position_ids holds segment_ids here: a token's position is the number of earlier
            # tokens of its own sample, so positions restart per sample but are 1D on all rows
            same = position_ids[:, :, None] == position_ids[:, None, :]
            causal = torch.ones(S, S, dtype=torch.bool, device=position_ids.device).tril()
            pos = (same & causal).to(torch.int64).sum(-1) - 1
            return pos[None].expand(3, B, S)
        return position_ids

    def rotary(self, x, pos):
        """The cos/sin shared by all layers, in the form the layers expect:
        mrope with the merge inside the layers: unmerged [3,B,S,D]; gptj: [B,S,R/2];
        other rotary kinds: merged [B,S,R].  (Tests replace this with reference tables.)"""
        cfg = self.cfg
        if cfg.rope == "mrope":
            cos, sin = self.rotary_emb(x, pos)
            if not cfg.merge_per_layer:
                cos, sin = merge_mrope_sections(cos, sin, cfg.sections)
            return cos, sin
        if cfg.rope == "mrope-cache":
            cos, sin = self.rotary_emb(x, pos)             # [3,B,S,D]: merged inside the layers
            if not cfg.merge_per_layer:
                cos, sin = merge_mrope_sections(cos, sin, cfg.sections)
            return cos, sin
        if cfg.rope == "mrope-gptj":
            # [3,B,S,R/2] halves of the sin|cos table; the sections pick rows per frequency
            cos, sin = self.rotary_emb(x, pos)
            cos = torch.cat([m[i % 3] for i, m in enumerate(cos.split(list(cfg.sections), dim=-1))], dim=-1)
            sin = torch.cat([m[i % 3] for i, m in enumerate(sin.split(list(cfg.sections), dim=-1))], dim=-1)
            return cos, sin
        if cfg.rope in ("mrope-interleaved", "1d", "1d-cache", "gptj"):
            return self.rotary_emb(x, pos)
        if cfg.rope == "decoy-const":
            return self.rope_cos, self.rope_sin
        return None, None

    def forward(self, *args):
        cfg = self.cfg
        it = iter(args)
        inputs_embeds = next(it)
        attention_mask = next(it)
        position_ids = next(it) if cfg.position_input else None
        past = [(next(it), next(it)) for _ in range(cfg.layers)] if cfg.kv_cache else None
        B, S = inputs_embeds.shape[0], inputs_embeds.shape[1]
        past_len = past[0][0].shape[2] if past is not None else 0
        pos = self._positions(inputs_embeds, position_ids, past_len)

        x = inputs_embeds
        cos, sin = self.rotary(x, pos)
        if cfg.rope == "decoy-sinusoidal":
            # absolute sinusoidal embedding added to the input: Sin/Cos of positions, no rotation
            ang = pos[:, :, None].float() * self.inv_freq
            x = x + torch.cat((ang.sin(), ang.cos()), dim=-1)

        # causal + padding mask as an additive bias [B,1,S,T]
        T = past_len + S
        q_pos = torch.arange(S, device=x.device) + past_len
        k_pos = torch.arange(T, device=x.device)
        allowed = (k_pos[None, :] <= q_pos[:, None])[None, None] & attention_mask[:, None, None, :].bool()
        bias = torch.zeros(allowed.shape, dtype=x.dtype).masked_fill(~allowed, F32_MIN)

        presents = []
        for i, layer in enumerate(self.layers):
            x, present = layer(x, cos, sin, bias, past[i] if past is not None else None)
            presents += list(present)
        logits = self.lm_head(self.norm(x))
        if cfg.kv_cache:
            return (logits, *presents)
        return logits


# --------------------------------------------------------------------------
# Vision tower (Qwen2-VL ViT blocks)
# --------------------------------------------------------------------------

@dataclass
class VisionConfig:
    hidden: int = 80
    heads: int = 1
    head_dim: int = 80
    blocks: int = 2
    mlp: int = 32
    theta: float = 1e4
    # "2d": (h,w) per patch as an input [N,2]; "grid": (h,w) computed in the graph from a
    # grid_thw [1,3] input (the stock rot_pos_emb); "1d-range": the flattened patch index arange(N)
    positions: str = "2d"
    # Qwen2.5-VL window attention order: patches and the rotary table reordered by a window_index
    # input (merge units, as get_window_index returns it), the output put back by its argsort.
    window: bool = False
    spatial_merge: int = 2


class VisionRotaryEmbedding(nn.Module):
    def __init__(self, dim, theta=10000.0):
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, seqlen):
        seq = torch.arange(seqlen, device=self.inv_freq.device, dtype=self.inv_freq.dtype)
        freqs = torch.outer(seq, self.inv_freq)
        return freqs


class VisionAttention(nn.Module):
    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.num_heads = cfg.heads
        self.head_dim = cfg.head_dim
        self.qkv = nn.Linear(cfg.hidden, cfg.heads * cfg.head_dim * 3, bias=True)
        self.proj = nn.Linear(cfg.heads * cfg.head_dim, cfg.hidden)

    def forward(self, hidden_states, cos, sin):
        seq_length = hidden_states.shape[0]
        q, k, v = self.qkv(hidden_states).reshape(seq_length, 3, self.num_heads, -1).permute(1, 0, 2, 3).unbind(0)
        # apply_rotary_pos_emb_vision with position_embeddings=(cos, sin) [N, D]
        cos_u, sin_u = cos.unsqueeze(-2).float(), sin.unsqueeze(-2).float()
        q = (q * cos_u) + (rotate_half(q) * sin_u)
        k = (k * cos_u) + (rotate_half(k) * sin_u)
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        attn = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(self.head_dim)
        attn = nn.functional.softmax(attn, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(attn, v).transpose(0, 1).reshape(seq_length, -1)
        return self.proj(out)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class VisionBlock(nn.Module):
    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.hidden, eps=1e-6)
        self.norm2 = nn.LayerNorm(cfg.hidden, eps=1e-6)
        self.attn = VisionAttention(cfg)
        self.mlp = nn.Sequential(nn.Linear(cfg.hidden, cfg.mlp), QuickGELU(), nn.Linear(cfg.mlp, cfg.hidden))

    def forward(self, x, cos, sin):
        x = x + self.attn(self.norm1(x), cos, sin)
        return x + self.mlp(self.norm2(x))


class VisionTower(nn.Module):
    """Qwen2-VL / Qwen2.5-VL ViT blocks on already-embedded patches (one image; full attention).

    forward(*inputs) takes ``input_names()`` in order."""

    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.positions in ("2d", "grid"):
            self.rotary_pos_emb = VisionRotaryEmbedding(cfg.head_dim // 2, cfg.theta)
        else:
            # the bug: a text-style 1D rotary over the whole head dim, indexed by patch number
            self.register_buffer("inv_freq", hf_inv_freq(cfg.head_dim, cfg.theta), persistent=False)
        self.blocks = nn.ModuleList([VisionBlock(cfg) for _ in range(cfg.blocks)])

    def input_names(self):
        names = ["hidden_states"]
        if self.cfg.positions == "2d":
            names.append("vision_position_ids")
        if self.cfg.positions == "grid":
            names.append("grid_thw")
        if self.cfg.window:
            names.append("window_index")
        return names

    def output_names(self):
        return ["last_hidden_state"]

    def input_shapes(self):
        s = {"hidden_states": ["patches", self.cfg.hidden]}
        if self.cfg.positions == "2d":
            s["vision_position_ids"] = ["patches", 2]
        if self.cfg.positions == "grid":
            s["grid_thw"] = [1, 3]
        if self.cfg.window:
            s["window_index"] = ["merge_units"]
        return s

    def dynamic_axes(self):
        ax = {"hidden_states": {0: "patches"}, "last_hidden_state": {0: "patches"}}
        if self.cfg.positions == "2d":
            ax["vision_position_ids"] = {0: "patches"}
        if self.cfg.window:
            ax["window_index"] = {0: "merge_units"}
        return ax

    def grid_positions(self, grid_thw):
        """rot_pos_emb's (h, w) of every patch, computed from the grid (one image, traced)."""
        m = self.cfg.spatial_merge
        t, h, w = grid_thw[0, 0], grid_thw[0, 1], grid_thw[0, 2]
        hpos = torch.arange(h).unsqueeze(1).expand(-1, w)
        hpos = hpos.reshape(h // m, m, w // m, m).permute(0, 2, 1, 3).flatten()
        wpos = torch.arange(w).unsqueeze(0).expand(h, -1)
        wpos = wpos.reshape(h // m, m, w // m, m).permute(0, 2, 1, 3).flatten()
        return torch.stack([hpos, wpos], dim=-1).repeat(t, 1), grid_thw[:, 1:].max()

    def _window_order(self, x, index):
        """Rows of ``x`` [N, ...] reordered by merge unit (spatial_merge**2 patches) as ``index`` says."""
        unit = self.cfg.spatial_merge ** 2
        n = x.shape[0]
        return x.reshape(n // unit, unit, -1)[index, :, :].reshape(n, -1)

    def rotary(self, hidden_states, pos_ids=None, window_index=None):
        """cos/sin [N, head_dim] shared by all blocks (pos_ids: [N,2] (h,w) or grid_thw [1,3])."""
        if self.cfg.positions in ("2d", "grid"):
            # rot_pos_emb: table over max(h, w), gathered by (h, w), flattened to [h | w]
            if self.cfg.positions == "grid":
                pos_ids, table_rows = self.grid_positions(pos_ids)    # rows: max(h, w) of the grid
            else:
                table_rows = pos_ids.max() + 1
            rotary_pos_emb_full = self.rotary_pos_emb(table_rows)
            rotary_pos_emb = rotary_pos_emb_full[pos_ids].flatten(1)
        else:
            seq = torch.arange(hidden_states.shape[0], dtype=torch.float32)
            rotary_pos_emb = torch.outer(seq, self.inv_freq)
        if window_index is not None:
            rotary_pos_emb = self._window_order(rotary_pos_emb, window_index)
        emb = torch.cat((rotary_pos_emb, rotary_pos_emb), dim=-1)
        return emb.cos(), emb.sin()

    def forward(self, hidden_states, *rest):
        it = iter(rest)
        pos_ids = next(it) if self.cfg.positions in ("2d", "grid") else None
        window_index = next(it) if self.cfg.window else None
        cos, sin = self.rotary(hidden_states, pos_ids, window_index)
        x = hidden_states
        if window_index is not None:
            x = self._window_order(x, window_index)
        for blk in self.blocks:
            x = blk(x, cos, sin)
        if window_index is not None:
            x = self._window_order(x, torch.argsort(window_index))
        return x
