//===- Passes.td - conversions out of the rope dialect -----*- tablegen -*-===//
#ifndef MROPE_CONVERSION_PASSES_TD
#define MROPE_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertRopeToLoops : Pass<"convert-rope-to-loops"> {
  let summary = "Lower in-place rope.apply on memrefs to blocked vector loops";
  let description = [{
    Lowers each memref-level (in-place) `rope.apply` into one loop nest over
    the batch and over blocks of `tokens-per-block` tokens:

    - cos/sin tables: for every token, the positions of every axis are
      loaded once, the angles of all `F = rotary_dim / 2` frequencies formed
      `vector-width` lanes at a time (the axis of each lane resolved at
      compile time) and stored, then one loop takes sin/cos of one
      `vector-width` chunk per iteration (range reduction in f64, accurate
      for any angle an f32 position can produce) into a row of two small
      stack tables (`memref.alloca`, `2 x tokens-per-block` rows: the block
      being rotated and the next one);
    - rotation: the block is rotated in place, each row in chunks of
      `vector-width` lanes (x1, x2, cos, sin: what is live fits the vector
      registers). Heads are streamed one after another, each over the
      block's tokens, for `[B, H, S, D]` storage; tokens one after another,
      each over all heads, when the memref strides say the heads of a token
      are adjacent (`[B, S, H, D]` storage seen as `[B, H, S, D]`, e.g.
      through `memref.transpose`). Either way one contiguous stream.
      Between those runs (after each head, resp. each token) the next
      block's table rows are filled, so the sin/cos work overlaps the
      memory traffic; only the first block's table is filled up front.

    Tensor-level `rope.apply` must be bufferized first
    (`one-shot-bufferize`, see `docs/lowering.md`). f16/bf16 tensors are
    rotated in f32 and rounded once; the conversions are emitted as integer
    code (no libcalls) unless `native-f16` says the target converts f16 in
    hardware.

    An RMSNorm written into a `rope.apply` input in the same block (linalg
    fill, sum of squares, rsqrt, scale: what tile-and-fuse leaves in each
    tile) is absorbed into the row loops, so each row is read once
    (`docs/lowering.md`).
  }];
  let options = [
    Option<"tokensPerBlock", "tokens-per-block", "int64_t", /*default=*/"32",
           "tokens whose cos/sin are tabulated together">,
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"8",
           "f32 lanes per vector operation (4: SSE, 8: AVX2, 16: AVX-512)">,
    Option<"nativeF16", "native-f16", "bool", /*default=*/"false",
           "the target converts f16 <-> f32 in hardware (x86 F16C)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def ConvertRopeIndexToLoops : Pass<"convert-rope-index-to-loops"> {
  let summary = "Lower rope.mrope_index (3D position ids) to scalar loops";
  let description = [{
    Rewrites each `rope.mrope_index` into one pass over the tokens of every
    row (`scf.for` over rows, then tokens; rows in order so the image and
    video grid rows are consumed across the batch), computing get_rope_index
    in closed form: a text token sits at `j - excess` (`j` its index among
    kept tokens, `excess` the sum of `len - span` over the vision blocks so
    far), a vision token at its block's offset plus the `(t, h, w)` of its
    index in the block (Qwen2.5-VL: `t` scaled in f32 and truncated), padded
    slots at 1; `rope_deltas = max + 1 - S` per row. Blocks are runs of image
    (video) tokens. Inputs are read through `bufferization.to_buffer`, the
    results are new buffers returned as tensors, so it runs before one-shot
    bufferization (`mrope-cpu-pipeline` does both).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def ConvertRopeToOnnx : Pass<"convert-rope-to-onnx"> {
  let summary = "Lower rope.apply, rope.cos_sin and rope.mrope_index inside ONNX graphs to ONNX nodes";
  let description = [{
    Rewrites each `rope.cos_sin` inside an `onnx.graph` into standard ONNX
    nodes that any runtime runs, so that a graph the fix pass changed can be
    exported:

    ```
    rows  = initializer i64 [R]   position axis of each channel
    inv   = initializer f32 [R]   inv_freq of each channel (the graph's bits)
    a     = Mul(Cast(Transpose(Gather(positions, rows, axis=0), [1, 2, 0]), FLOAT), inv)
    cos   = Cos(a), sin = Sin(a)
    ```

    One Gather does the whole M-RoPE section merge (contiguous or
    interleaved), instead of per-row tables and a Split/Gather/Concat.
    Angles are one f32 product per channel, as in the reference.

    `rope.mrope_index` (get_rope_index) becomes loop-free ONNX: with the
    kept index `j` of a token and, per vision block, `len` tokens spanning
    `span = max(tmax + 1, h, w)` positions, a text token sits at
    `j - sum(len - span)` over the blocks before it, a vision token at its
    block's offset plus its `(t, h, w)`; the sums are CumSums of values
    placed at each block's first token, blocks are runs of image (video)
    tokens taking grid rows in order across the batch. Needs opset 13+.

    `rope.apply` on tensors becomes what `emit` says:

    - `plain` (default): the per-token tables above, then
      `x * cos + rotate(x) * sin` with Slice/Neg/Concat (rotate-half) or a
      `[.., F, 2]` Reshape/Slice/Concat (GPT-J pairs); channels past the
      rotary dim are concatenated back. Any runtime, opset 13+.
    - `ort`: ONNX Runtime's `com.microsoft.RotaryEmbedding`. For 1D over
      `[max_pos + 1, F]` caches computed in the graph from the positions
      (`Range`, one f32 product, Cos, Sin), indexed by the positions; for
      M-RoPE (contiguous or interleaved), 2D and per-section frequencies
      over merged per-token caches `[B * S, F]` indexed by `b * S + s`
      (ONNX Runtime's `MRotaryEmbedding` CPU kernel merges the three rows
      again for every head and measured about 2x slower). Adds the
      `com.microsoft` opset import.
    - `onnx23`: `RotaryEmbedding` of opset 23 over merged per-token caches
      `[B, S, F]` (no position_ids). The model must import opset 23 or
      newer; otherwise the pass fails naming the op.

    Tables are built once per group of `rope.apply` ops with the same
    positions, semantics, frequency table and element type (every layer of
    a decoder), right after the positions. The fused forms read the
    `[B, S, H * D]` view of an input that is `Transpose(y, [0, 2, 1, 3])` of
    `y [B, S, H, D]` read by nothing else, and transpose the result: ONNX
    Runtime's kernels run about 2x faster in that layout than through
    `[B, H, S, D]` strides.

    Every form forms the angle `f32(p) * inv_freq` as the reference does.
    `rope.cos_sin` has no fused form and is lowered as above for every
    `emit`.
  }];
  let options = [
    Option<"prefix", "prefix", "std::string", /*default=*/"\"mrope\"",
           "Prefix of the names of new nodes and initializers">,
    Option<"emit", "emit", "::mrope::EmitMode",
           /*default=*/"::mrope::EmitMode::Plain",
           "What rope.apply becomes: plain, ort or onnx23",
           [{::llvm::cl::values(
             clEnumValN(::mrope::EmitMode::Plain, "plain", "standard ops"),
             clEnumValN(::mrope::EmitMode::Ort, "ort",
                        "com.microsoft.RotaryEmbedding"),
             clEnumValN(::mrope::EmitMode::Onnx23, "onnx23",
                        "RotaryEmbedding of opset 23"))}]>,
  ];
  let dependentDialects = ["::mrope::onnx::OnnxDialect"];
}

def ConvertRopeToGPU : Pass<"convert-rope-to-gpu"> {
  let summary = "Lower in-place rope.apply on memrefs to one gpu.launch";
  let description = [{
    Replaces each memref-level (in-place) `rope.apply` by one `gpu.launch`
    that rotates all of its tensors (q and k) for a block of tokens:

    - `blockDim = (F / V, T, 1)` (`V` = 16 bytes of the element type by
      default, 4 for f32, 8 for f16/bf16; `T` = `tokens-per-block`, by
      default 256 threads per block); `gridDim = (ceil(B S / T), 1, 1)`; no
      launch when `B S == 0`;
    - phase 1: thread `(x, y)` loads the position rows of the block's token
      `y`, forms the `V` angles `f32(p[axis(i)]) * inv_freq[i]` of
      frequencies `[x V, x V + V)` (tables of `inv_freq` and of the axis of
      each frequency are private constant `memref.global`s, which kernel
      outlining copies into the `gpu.module`), computes sin and cos once,
      with the f64 range reduction of the CPU lowering rounded by a magic
      addition (pure arith, so no libdevice is needed), and stores them in
      the block's cos/sin table in workgroup memory (`gptj`: as
      `[c c ..]`, `[-s s ..]` pairs); then `gpu.barrier`;
    - phase 2: the block's rows (one head of one token each) are taken in
      storage order: head-major for `[B, H, S, D]`, token-major when the
      memref strides say the heads of a token are adjacent (`[B, S, H, D]`
      seen as `[B, H, S, D]`). Row slot `y` takes rows `y, y + T, ...`,
      `heads-per-iteration` of them per loop iteration with all their loads
      issued before their stores; thread `x` rotates its `V`-lane chunk
      (`neox`: channels `i` and `i + F`; `gptj`: `2i`, `2i + 1` as one `2V`
      vector with an in-register pair swap) with cos/sin from the shared
      table. A warp touches consecutive 16-byte vectors of adjacent rows:
      coalesced in either layout. The vectors carry an `alignment` when the
      layout guarantees it (static strides, rows a multiple of `V` long);
      the base pointers must then be 16-byte aligned.

    Inside the kernel every buffer's sizes are read (`memref.dim`) before
    anything else, in operand order, so an outlined kernel takes the
    rotated buffers first and the positions after them. Lower the result
    with `mrope-gpu-pipeline` (see `docs/gpu.md`).
  }];
  let options = [
    Option<"tokensPerBlock", "tokens-per-block", "int64_t", /*default=*/"0",
           "Tokens per thread block (blockDim.y); 0: 256 threads per block">,
    Option<"freqsPerThread", "freqs-per-thread", "int64_t", /*default=*/"0",
           "Consecutive frequencies per thread; 0: 16 bytes of the element "
           "type, halved until it divides the number of frequencies">,
    Option<"headsPerIteration", "heads-per-iteration", "int64_t",
           /*default=*/"4",
           "Rows (one head of one token) each thread rotates per loop "
           "iteration (loads first, then stores)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

#endif // MROPE_CONVERSION_PASSES_TD
