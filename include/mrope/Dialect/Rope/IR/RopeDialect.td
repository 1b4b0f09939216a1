//===- RopeDialect.td - the rope dialect -------------------*- tablegen -*-===//
#ifndef MROPE_DIALECT_ROPE_IR_ROPEDIALECT_TD
#define MROPE_DIALECT_ROPE_IR_ROPEDIALECT_TD

include "mlir/IR/OpBase.td"

def Rope_Dialect : Dialect {
  let name = "rope";
  let cppNamespace = "::mrope::rope";
  let summary = "Rotary position embeddings: 1D RoPE, vision 2D RoPE and "
                "multimodal 3D RoPE (M-RoPE)";
  let description = [{
    The `rope` dialect states, in one op, what a rotary position embedding
    computes: which tensors are rotated, by which positions, and what each
    position axis means. The meaning lives in the `#rope.semantics` attribute:
    how many position axes there are (1 for text RoPE, 2 for the Qwen2-VL
    vision tower, 3 for M-RoPE), how many frequencies each axis owns, how the
    frequency channels are assigned to axes and how the channels are paired.

    A rotation of `x` (`[B, H, S, D]`) by positions `p` (`[A, B, S]`) under
    semantics with rotary dim `R` and `F = R / 2` frequencies computes, for
    every frequency `i < F`, the angle `a = f32(p[axis(i), b, s]) * inv_freq[i]`
    in f32 and rotates the channel pair `(i, i + F)` (layout `neox`) or
    `(2i, 2i + 1)` (layout `gptj`) by it. Channels `R..D` pass through.

    The dialect also carries the 3D position-id computation of Qwen2-VL
    (`rope.mrope_index`, transformers' `get_rope_index`), so a corrected
    graph can be self-contained, and an explicit-table form (`rope.cos_sin`
    and `rope.rotate`) that mirrors how exported graphs spell RoPE.
  }];
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerAttributes();
  }];
}

#endif // MROPE_DIALECT_ROPE_IR_ROPEDIALECT_TD
