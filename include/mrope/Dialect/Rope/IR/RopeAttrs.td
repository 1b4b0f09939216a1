//===- RopeAttrs.td - rope attributes and enums ------------*- tablegen -*-===//
#ifndef MROPE_DIALECT_ROPE_IR_ROPEATTRS_TD
#define MROPE_DIALECT_ROPE_IR_ROPEATTRS_TD

include "mrope/Dialect/Rope/IR/RopeDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Rope_PairLayout : I32EnumAttr<"PairLayout",
    "which channels of the head dim are rotated together", [
      I32EnumAttrCase<"neox", 0>,
      I32EnumAttrCase<"gptj", 1>
    ]> {
  let cppNamespace = "::mrope::rope";
  let genSpecializedAttr = 0;
  let description = [{
    `neox` ("rotate half", Qwen2-VL, Llama): channel `i` pairs with `i + R/2`.
    `gptj` (interleaved pairs): channel `2i` pairs with `2i + 1`.
  }];
}

def Rope_PairLayoutAttr : EnumAttr<Rope_Dialect, Rope_PairLayout, "layout">;

def Rope_SectionOrder : I32EnumAttr<"SectionOrder",
    "how frequencies are assigned to position axes", [
      I32EnumAttrCase<"contiguous", 0>,
      I32EnumAttrCase<"interleaved", 1>
    ]> {
  let cppNamespace = "::mrope::rope";
  let genSpecializedAttr = 0;
  let description = [{
    `contiguous` (Qwen2-VL, Qwen2.5-VL): axis 0 owns the first `sections[0]`
    frequencies, axis 1 the next `sections[1]`, and so on.
    `interleaved` (Qwen3-VL): frequency `i` belongs to axis `a > 0` when
    `i % A == a` and `i < A * sections[a]`, otherwise to axis 0.
  }];
}

def Rope_FreqIndex : I32EnumAttr<"FreqIndex",
    "whether the frequency index runs across sections or restarts", [
      I32EnumAttrCase<"global", 0>,
      I32EnumAttrCase<"per_section", 1>
    ]> {
  let cppNamespace = "::mrope::rope";
  let genSpecializedAttr = 0;
  let description = [{
    `global` (M-RoPE): frequency `i` is `theta^(-2i/R)` whatever axis owns it.
    `per_section` (Qwen2-VL vision tower): each axis restarts its frequencies,
    local index `j` of an axis with `n` frequencies being `theta^(-j/n)`.
  }];
}

def Rope_IndexArch : I32EnumAttr<"IndexArch",
    "whose get_rope_index rules rope.mrope_index follows", [
      I32EnumAttrCase<"qwen2_vl", 0>,
      I32EnumAttrCase<"qwen2_5_vl", 1>,
      I32EnumAttrCase<"qwen3_vl", 2>,
      I32EnumAttrCase<"qwen3_5", 3>,
      I32EnumAttrCase<"glm4v", 4>,
      I32EnumAttrCase<"qwen2_5_omni", 5>,
      I32EnumAttrCase<"qwen3_omni", 6>
    ]> {
  let cppNamespace = "::mrope::rope";
  let genSpecializedAttr = 0;
  let description = [{
    `qwen2_vl`: a block's temporal row is its frame index.
    `qwen2_5_vl`: the temporal row is scaled by seconds per grid and
    tokens per second (2 unless the op says otherwise).
    `qwen3_vl`: a video of `t` frames is `t` blocks of one frame each (the
    processor writes a timestamp and a vision_start before every frame).
    `qwen3_5`: Qwen3-VL's rules, padded slots 0, rope_deltas against the
    unpadded length.
    `glm4v`: image tokens between video_start and video_end are video
    frames, one block per frame.
    `qwen2_5_omni`: Qwen2.5-VL's time rule in position_id_per_seconds (25)
    units, images included; audio is 1D; audio inside a video is
    interleaved with its frames.
    `qwen3_omni`: named so that the verifier can refuse it (float
    positions; rope.mrope_index does not lay it out yet).
  }];
}

def Rope_IndexArchAttr : EnumAttr<Rope_Dialect, Rope_IndexArch, "index_arch"> {
  let assemblyFormat = "`<` $value `>`";   // #rope.index_arch<qwen3_vl>
}

def Rope_SemanticsAttr : AttrDef<Rope_Dialect, "Semantics"> {
  let mnemonic = "semantics";
  let summary = "what the position axes of a rotation mean";
  let description = [{
    Parameters:
    - `sections`: frequencies owned by each position axis; their count is the
      number of position axes `A` and their sum is `rotary_dim / 2`.
      `[64]` is text RoPE at head dim 128, `[20, 20]` the Qwen2-VL vision
      tower, `[16, 24, 24]` M-RoPE (t, h, w).
    - `rotary_dim`: rotated channels `R` (even; channels `R..D` pass through).
    - `theta`: the frequency base (`inv_freq = theta^(-2i/R)`); an explicit
      frequency table on the op takes precedence, since graphs carry their own
      bits.
    - `layout` (default `neox`), `order` (default `contiguous`) and `freqs`
      (default `global`), see the enums.

    ```mlir
    #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.000000e+06>
    #rope.semantics<sections = [24, 20, 20], rotary_dim = 128, theta = 5.000000e+06, order = interleaved>
    #rope.semantics<sections = [20, 20], rotary_dim = 80, theta = 1.000000e+04, freqs = per_section>
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "frequencies per position axis">:$sections,
    "int64_t":$rotaryDim,
    APFloatParameter<"frequency base">:$theta,
    "PairLayout":$layout,
    "SectionOrder":$order,
    "FreqIndex":$freqs
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let builders = [
    AttrBuilder<(ins "::llvm::ArrayRef<int64_t>":$sections, "int64_t":$rotaryDim,
                     "double":$theta), [{
      return $_get($_ctxt, sections, rotaryDim, ::llvm::APFloat(theta), PairLayout::neox,
                   SectionOrder::contiguous, FreqIndex::global);
    }]>
  ];
  let extraClassDeclaration = [{
    /// Number of position axes (rows of the positions tensor).
    int64_t getNumAxes() const { return getSections().size(); }
    /// Number of frequencies, rotary_dim / 2.
    int64_t getNumFreqs() const { return getRotaryDim() / 2; }
    /// The position axis that drives frequency `i`.
    int64_t axisOfFreq(int64_t i) const;
    /// The exponent index into the frequency table for frequency `i`:
    /// `i` itself for global frequencies, the axis-local index otherwise.
    int64_t tableIndexOfFreq(int64_t i) const;
    /// Length of the frequency table `axisOfFreq`/`tableIndexOfFreq` index.
    int64_t getTableSize() const;
    /// `inv_freq` recomputed from theta, in f32 as the reference does.
    ::llvm::SmallVector<float> computeInvFreq() const;
  }];
}

#endif // MROPE_DIALECT_ROPE_IR_ROPEATTRS_TD
