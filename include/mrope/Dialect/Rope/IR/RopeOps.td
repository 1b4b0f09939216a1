//===- RopeOps.td - rope operations ------------------------*- tablegen -*-===//
#ifndef MROPE_DIALECT_ROPE_IR_ROPEOPS_TD
#define MROPE_DIALECT_ROPE_IR_ROPEOPS_TD

include "mrope/Dialect/Rope/IR/RopeDialect.td"
include "mrope/Dialect/Rope/IR/RopeAttrs.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/TilingInterface.td"
include "mlir/IR/OpBase.td"

class Rope_Op<string mnemonic, list<Trait> traits = []>
    : Op<Rope_Dialect, mnemonic, traits>;

def Rope_RotatedType : AnyTypeOf<[RankedTensorOf<[AnyFloat]>,
                                  MemRefRankOf<[AnyFloat], [4]>],
    "ranked tensor or memref of floats">;
// Integer positions, or f32 ones (Qwen3-Omni's time rows are fractional);
// other float types are refused by the verifiers with their own line.
def Rope_PositionsType : AnyTypeOf<[RankedTensorOf<[AnySignlessInteger, AnyFloat]>,
                                    MemRefOf<[AnySignlessInteger, AnyFloat]>],
    "ranked tensor or memref of integers or f32">;
def Rope_FreqTableType : AnyTypeOf<[1DTensorOf<[F32]>, MemRefRankOf<[F32], [1]>],
    "1-D f32 tensor or memref">;

//===----------------------------------------------------------------------===//
// rope.apply
//===----------------------------------------------------------------------===//

def Rope_ApplyOp : Rope_Op<"apply", [
    AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<InferTypeOpInterface>,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<TilingInterface, [
      "getLoopIteratorTypes", "getIterationDomain", "getTiledImplementation",
      "getResultTilePosition", "getIterationDomainTileFromResultTile",
      "generateResultTileValue", "isOpFusableWithConsumerSlice"]>]> {
  let summary = "rotate q/k-like tensors by (multi-axis) positions";
  let description = [{
    Rotates every tensor of `inputs` (each `[B, H, S, D]`; q and k of one
    attention together, with any number of heads each) by `positions`
    (`[A, B, S]`, one row per position axis; `[B, S]` is accepted when
    `A == 1`) under `semantics`. The angle of frequency `i` at token `(b, s)`
    is `f32(positions[axis(i), b, s]) * inv_freq[i]` computed in f32; cos and
    sin are taken in f32 and the rotation of each channel pair is done in the
    element type. `inv_freq` is the optional `freqs` table; without it the
    table is recomputed from `theta` in f32.

    Positions are signless integers (converted as signed) or `f32`, used as
    they are: Qwen3-Omni's `get_rope_index` gives fractional time positions
    (`mrope_index` under `qwen3_omni`), and position 2.5 rotates by
    `2.5 * inv_freq[i]`, not `2 * inv_freq[i]`. Other float types (f16,
    bf16, f64) are refused: they would round positions before the angle is
    formed. The ONNX lowering with `emit=ort` builds per-token caches for
    f32 positions even for one axis (its position-indexed caches need
    integer ids).

    On tensors the op returns the rotated tensors. On memrefs it has no
    results and rotates in place.

    The op is in destination-passing style with the rotated tensors as its
    inits: result `i` is `inputs[i]` rotated, written where `inputs[i]` was
    (each element is read before it is written, like a `linalg.generic`
    that reads its `outs`). `positions` and `inv_freq` are its DPS inputs.

    Its tiling domain is the tokens, `[B, S]`, both parallel: a tile is a
    block of tokens with all heads and all channels of every rotated tensor
    (q and k may have different head counts; a channel pair and the cos/sin
    of a token are never split). Tiles of a result that cut H or D are
    refused, so a consumer tiled along them does not fuse the op.

    ```mlir
    %q2, %k2 = rope.apply %q, %k by %pos
        : tensor<1x28x?x128xf32>, tensor<1x4x?x128xf32> by tensor<3x1x?xi64>
        with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.000000e+06>
    ```
  }];
  let arguments = (ins
    Variadic<Rope_RotatedType>:$inputs,
    Rope_PositionsType:$positions,
    Optional<Rope_FreqTableType>:$inv_freq,
    Rope_SemanticsAttr:$semantics);
  let results = (outs Variadic<RankedTensorOf<[AnyFloat]>>:$results);
  let assemblyFormat = [{
    $inputs `by` $positions (`freqs` $inv_freq^)? `:` type($inputs) `by`
    type($positions) (`freqs` type($inv_freq)^)? `with` qualified($semantics)
    attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// True when the op works on memrefs (in place, no results).
    bool hasBufferSemantics() {
      return ::mlir::isa<::mlir::MemRefType>(getInputs().front().getType());
    }
    /// DestinationStyleOpInterface: the rotated operands are the inits.
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return getInputsMutable();
    }
  }];
}

//===----------------------------------------------------------------------===//
// rope.cos_sin and rope.rotate: the explicit-table form graphs spell
//===----------------------------------------------------------------------===//

def Rope_CosSinOp : Rope_Op<"cos_sin", [Pure, AllTypesMatch<["cos", "sin"]>]> {
  let summary = "per-token cos/sin tables of a rotation";
  let description = [{
    The tables a graph computes before rotating: `cos` and `sin` are
    `[B, S, R]` (R = rotary_dim), already merged across position axes (what
    Hugging Face's `apply_multimodal_rotary_pos_emb` builds from its
    `[3, B, S, R]` tables). Channel `c` holds frequency `c mod R/2` in the
    `neox` layout and `c / 2` in the `gptj` layout. Positions are integers or
    `f32` (used as they are), as for `rope.apply`.

    ```mlir
    %cos, %sin = rope.cos_sin %pos : tensor<3x1x?xi64> -> tensor<1x?x128xf32>
        with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.000000e+06>
    ```
  }];
  let arguments = (ins
    RankedTensorOf<[AnySignlessInteger, AnyFloat]>:$positions,
    Optional<1DTensorOf<[F32]>>:$inv_freq,
    Rope_SemanticsAttr:$semantics);
  let results = (outs RankedTensorOf<[AnyFloat]>:$cos,
                      RankedTensorOf<[AnyFloat]>:$sin);
  let assemblyFormat = [{
    $positions (`freqs` $inv_freq^)? `:` type($positions)
    (`freqs` type($inv_freq)^)? `->` type($cos) `with` qualified($semantics)
    attr-dict
  }];
  let hasVerifier = 1;
}

def Rope_RotateOp : Rope_Op<"rotate", [Pure, AllTypesMatch<["input", "result"]>,
                                       AllTypesMatch<["cos", "sin"]>]> {
  let summary = "rotate a tensor by explicit per-token cos/sin tables";
  let description = [{
    `y = x * cos + rotate(x) * sin` on the first `R` channels of `x`
    (`[B, H, S, D]`), where `cos`/`sin` are `[B, S, R]` tables broadcast over
    heads and `rotate` is `rotate_half` (`neox`) or the pairwise
    `(-x[2i+1], x[2i])` (`gptj`). Channels `R..D` pass through.

    ```mlir
    %y = rope.rotate neox %x by %cos, %sin
        : tensor<1x28x?x128xf32>, tensor<1x?x128xf32>
    ```
  }];
  let arguments = (ins Rope_PairLayoutAttr:$layout,
                       RankedTensorOf<[AnyFloat]>:$input,
                       RankedTensorOf<[AnyFloat]>:$cos,
                       RankedTensorOf<[AnyFloat]>:$sin);
  let results = (outs RankedTensorOf<[AnyFloat]>:$result);
  let assemblyFormat = [{
    custom<LayoutKeyword>($layout) $input `by` $cos `,` $sin attr-dict `:` type($input) `,` type($cos)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// rope.mrope_index
//===----------------------------------------------------------------------===//

def Rope_MRopeIndexOp : Rope_Op<"mrope_index", [Pure, AttrSizedOperandSegments]> {
  let summary = "3D position ids of a multimodal batch (get_rope_index)";
  let description = [{
    Computes the `[3, B, S]` (or `[4, B, S]`, see below) M-RoPE position ids of a batch of token ids and
    its `rope_deltas`, with the semantics of transformers'
    `Qwen2VLModel.get_rope_index` (v4.47+): text gets the same position on
    all three rows; an image or video block of grid `(t, h, w)` gets a t-major
    `(t, h / m, w / m)` grid offset by the text before it (`m` =
    `spatial_merge`); text after a block resumes at the maximum so far plus
    one; padded tokens (mask 0) get the arch's pad value (1; 0 under
    `qwen3_5` and `qwen3_omni`), and 1 under every arch when neither grid is
    passed and nothing is packed (upstream's text-only branch). Blocks consume the rows of `image_grid_thw` /
    `video_grid_thw` in order across the batch. `rope_deltas` (`[B, 1]`) is
    a row's largest position + 1 - S (`qwen3_5`: - its unpadded length);
    without grids (text only) the largest value of the whole row, its
    padded 1s included, as upstream takes it.

    Packed rows: with `segments` (`segment_ids`, `[B, S]` integers, 0 =
    padding, 1..k = the samples packed into a row), each segment is laid out
    as if it were alone in its own unpadded row (positions restart at 0, a
    segment change ends a vision block), and `rope_deltas` is `[B, K]`:
    column `k - 1` is segment `k`'s largest position + 1 - its token count,
    0 where a row has no segment `k` (`K`: the largest segment id of the
    batch, at least 1). A token with mask 0 belongs to no segment. The
    lowerings assume each segment is one contiguous run of its row and that
    grids are consumed in token order (what packing collators write).

    `arch` picks whose rules apply, one row of the per-arch table
    (`mrope/Dialect/Rope/IR/MRopeIndexRules.h`; absent: Qwen2-VL's, with
    Qwen2.5-VL's temporal scaling when `tokens_per_second` is set):
    - `qwen2_vl`: the temporal row of a block is its frame index;
      `tokens_per_second` and `second_per_grid_ts` are not allowed.
    - `qwen2_5_vl`: the temporal row of a video block is
      `int64(f32(f32(t) * second_per_grid_t) * tokens_per_second)` with
      `second_per_grid_ts` (1.0 when absent; images use 0) and
      `tokens_per_second` (2.0 when absent, the released configs).
    - `qwen3_vl`: each row `[t, h, w]` of `video_grid_thw` stands for `t`
      blocks `[1, h, w]`, one per frame (the processor writes each frame
      after a timestamp and its own vision_start); no temporal scaling.
    - `qwen3_5`: Qwen3-VL's rules; padded slots hold 0 and rope_deltas
      subtract the unpadded length. Its token ids (248056 image, 248057
      video) must be set on the op.
    - `glm4v`: image (or video) tokens between `video_start` and
      `video_end` (default 151341 / 151342) are video frames, one
      `[1, h, w]` block per frame as under `qwen3_vl`; other image tokens
      are images. Its token ids (151343 image, 151344 video) must be set on
      the op.

    - `qwen2_5_omni`: Qwen2.5-VL's time rule with `tokens_per_second`
      standing for `position_id_per_seconds` (25 when absent) and images
      scaled too (frame `i` of an image at `i * 25`). Audio tokens
      (`audio_token`, between `audio_start` and `audio_end`; defaults
      151646 / 151647 / 151648) are 1D like text, so a span's bos and eos
      tokens and its audio continue the text. Audio in video
      (`use_audio_in_video`): the processor opens the span with
      `<vision_start><audio_start>` and closes it with
      `<audio_end><vision_end>` (`vision_end` default 151653); each pair
      shares one position, the video's frames and its audio tokens both
      start one past the bos, the audio 1D, interleaved in the order the
      processor wrote them (time chunks), and the eos sits one past the
      largest position of the stream the span ends with (upstream: one past
      its last chunk). The op reads audio in video from that token pattern
      (no flag) and an audio span's length from its tokens (no
      `audio_seqlens`: the processor wrote as many tokens as the audio
      encoder gives).
    - `qwen3_omni`: Qwen3-Omni (transformers' `audio_merged` layout);
      both results are `f32` (`i64` under every other arch): a video's
      time row `f32(f32(i * second_per_grid_t) * tokens_per_second)` is
      not truncated (`tokens_per_second` stands for
      `position_id_per_seconds`, 13 when absent; an image's frame `i` at
      `i * 13`). Audio tokens default to 151675 / 151669 / 151670 (audio /
      audio_start / audio_end). Every span is laid out from the token ids:
      text, then a bos block at the `<vision_start>` or `<audio_start>`
      token (two tokens at two consecutive positions when
      `<vision_start><audio_start>` opens audio in video), the span's
      content from one start (frames at start + (t, h, w), audio 1D at
      start + its index; audio in video: the frames and audio tokens in
      the order the processor merged them by time row), and an eos block
      as long as the bos block, one past the largest position of the
      content's last piece (the final run of one stream under audio in
      video). Each block starts one past the previous block's largest
      position, added in f32 in the order `mrope.position_ids` adds
      (`f32(max + 1 + n)`, then `+ j` per token), so the results equal
      the reference bit for bit; `rope_deltas` is the largest position
      + 1 - the kept tokens, rounded to f32 once. Padded slots hold 0 (1
      without grids, as above).
      Both lowerings keep that order: the loops add as they go; the ONNX
      nodes carry the span-to-span chain in one f32 `CumSum` (ONNX Runtime
      adds it in order in float). `rope.apply` reads these f32 positions
      as they are (`mrope-fix --arch qwen3-omni`).

    Token types: with `types` (`mm_token_type_ids`, `[B, S]` integers: 0
    text, 1 image, 2 video) a token's kind is its type and the token ids no
    longer type vision tokens (the image / video ids and GLM-4V's video
    spans are not read; upstream's refactored get_rope_index). Not under
    `qwen2_5_omni` or `qwen3_omni`, whose spans are read from the token
    ids.

    With a `[4, B, S]` positions result, row 0 is the text row of
    transformers' packed form: each token's index among the kept tokens of
    its sample (its segment; without segments, its row), 1 on padded slots
    (mask 0 or segment 0); rows 1..3 are t, h, w (under `qwen3_omni` all
    four rows f32).

    Blocks are the runs of image (video) tokens; the lowerings assume each
    run holds as many tokens as its grid row says (what the processors
    write) and give padded or dummy values, not errors, otherwise.

    ```mlir
    %pos, %delta = rope.mrope_index %ids mask %mask images %thw
        : (tensor<2x?xi64>, tensor<2x?xi64>, tensor<?x3xi64>)
        -> (tensor<3x2x?xi64>, tensor<2x1xi64>)
    %pos3, %delta3 = rope.mrope_index %ids videos %vthw
        {arch = #rope.index_arch<qwen3_vl>}
        : (tensor<2x?xi64>, tensor<?x3xi64>)
        -> (tensor<3x2x?xi64>, tensor<2x1xi64>)
    %posp, %deltap = rope.mrope_index %ids segments %seg images %thw
        : (tensor<2x?xi64>, tensor<2x?xi64>, tensor<?x3xi64>)
        -> (tensor<3x2x?xi64>, tensor<2x?xi64>)
    ```
  }];
  let arguments = (ins
    RankedTensorOf<[AnySignlessInteger]>:$input_ids,
    Optional<RankedTensorOf<[AnySignlessInteger]>>:$attention_mask,
    Optional<RankedTensorOf<[AnySignlessInteger]>>:$segment_ids,
    Optional<RankedTensorOf<[AnySignlessInteger]>>:$token_types,
    Optional<RankedTensorOf<[AnySignlessInteger]>>:$image_grid_thw,
    Optional<RankedTensorOf<[AnySignlessInteger]>>:$video_grid_thw,
    Optional<1DTensorOf<[F32]>>:$second_per_grid_ts,
    DefaultValuedAttr<I64Attr, "::mrope::kImageTokenId">:$image_token,
    DefaultValuedAttr<I64Attr, "::mrope::kVideoTokenId">:$video_token,
    DefaultValuedAttr<I64Attr, "::mrope::kVisionStartTokenId">:$vision_start,
    DefaultValuedAttr<I64Attr, "2">:$spatial_merge,
    OptionalAttr<F32Attr>:$tokens_per_second,
    OptionalAttr<Rope_IndexArchAttr>:$arch,
    OptionalAttr<I64Attr>:$video_start,
    OptionalAttr<I64Attr>:$video_end,
    OptionalAttr<I64Attr>:$vision_end,
    OptionalAttr<I64Attr>:$audio_token,
    OptionalAttr<I64Attr>:$audio_start,
    OptionalAttr<I64Attr>:$audio_end);
  // i64, f32 under qwen3_omni (the verifier checks which).
  let results = (outs RankedTensorOf<[I64, F32]>:$positions,
                      RankedTensorOf<[I64, F32]>:$rope_deltas);
  let assemblyFormat = [{
    $input_ids (`mask` $attention_mask^)? (`segments` $segment_ids^)?
    (`types` $token_types^)? (`images` $image_grid_thw^)? (`videos` $video_grid_thw^)?
    (`seconds` $second_per_grid_ts^)? attr-dict
    `:` functional-type(operands, results)
  }];
  // One sample per row (no segment_ids), with and without `arch`.
  let builders = [
    OpBuilder<(ins "::mlir::Type":$positions, "::mlir::Type":$rope_deltas,
                   "::mlir::Value":$input_ids, "::mlir::Value":$attention_mask,
                   "::mlir::Value":$image_grid_thw, "::mlir::Value":$video_grid_thw,
                   "::mlir::Value":$second_per_grid_ts,
                   "::mlir::IntegerAttr":$image_token, "::mlir::IntegerAttr":$video_token,
                   "::mlir::IntegerAttr":$vision_start, "::mlir::IntegerAttr":$spatial_merge,
                   "::mlir::FloatAttr":$tokens_per_second,
                   CArg<"IndexArchAttr", "{}">:$arch), [{
      build($_builder, $_state, positions, rope_deltas, input_ids, attention_mask,
            /*segment_ids=*/::mlir::Value(), /*token_types=*/::mlir::Value(),
            image_grid_thw, video_grid_thw,
            second_per_grid_ts, image_token, video_token, vision_start,
            spatial_merge, tokens_per_second, arch, /*video_start=*/nullptr,
            /*video_end=*/nullptr, /*vision_end=*/nullptr,
            /*audio_token=*/nullptr, /*audio_start=*/nullptr,
            /*audio_end=*/nullptr);
    }]>
  ];
  let extraClassDeclaration = [{
    /// This op's row of the per-arch table (MRopeIndexRules.h).
    const MRopeIndexArchRules &getArchRules();
    /// tokens_per_second as the lowerings use it: the attribute, else the
    /// arch's default; none means no temporal scaling.
    std::optional<float> getEffectiveTokensPerSecond();
    /// Whether a video row [t, h, w] is t one-frame blocks.
    bool splitsVideoFrames();
    /// Whether positions is [4, B, S]: the text row, then t, h, w.
    bool hasTextRow();
    /// Upstream's text-only branch: no grid passed and nothing packed.
    /// Padded slots hold 1 under every arch, and rope_deltas take the
    /// largest value of the whole row, padded slots included.
    bool isTextOnly() {
      return !getImageGridThw() && !getVideoGridThw() && !getSegmentIds();
    }
  }];
  let hasVerifier = 1;
}

#endif // MROPE_DIALECT_ROPE_IR_ROPEOPS_TD
