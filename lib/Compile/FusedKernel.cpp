//===- FusedKernel.cpp - QK-norm + RoPE + KV-cache write, one loop --------===//
#include "mrope/Compile/FusedKernel.h"

#include "mrope/Conversion/Pipelines.h"
#include "mrope/Conversion/RopeToLoops/NativeBF16.h"
#include "mrope/Conversion/RopeToLoops/RopeToLoops.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Interfaces/TilingInterface.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/bit.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mrope;

LogicalResult FusedKernel::verify(std::string &error) const {
  if (failed(rope.verify(error)))
    return failure();
  if (rope.numTensors() != 2) {
    error = "--fuse norm,cache needs q and k (not --q-only)";
    return failure();
  }
  if (!rope.elementType.isF32() && !rope.elementType.isBF16()) {
    error = "--fuse norm,cache builds f32 and bf16 kernels only (--dtype f32 "
            "or bf16)";
    return failure();
  }
  if (rope.tokenMajor()) {
    error = "--fuse norm,cache takes [B, H, S, D] tensors only (--layout bhsd)";
    return failure();
  }
  if (!(eps > 0.0f)) {
    error = "--eps must be > 0";
    return failure();
  }
  return success();
}

/// `[?x]<heads>x?x<D>x<elem>`: batch and tokens dynamic, heads when unknown.
static std::string shape4(int64_t heads, int64_t d, StringRef elem) {
  return "?x" + (heads > 0 ? std::to_string(heads) : std::string("?")) + "x?x" +
         std::to_string(d) + "x" + elem.str();
}

/// The RMSNorm of `x` (a [B, H, S, D] tensor) over D, in linalg: the sum
/// of squares of each row (reassociable, so LLVM vectorizes it; in order it
/// is one chain of dependent adds and the kernel compute-bound), one rsqrt per
/// row (its own op: inside the scale it would be evaluated per channel), then
/// an elementwise scale. All write new tensors; fusion and bufferization decide
/// where they live. bf16 rows are widened to f32 for the sum and the scale,
/// and the normalized row is rounded to bf16 (a bf16 tensor, as an unfused
/// chain stores it).
static std::string rmsNorm(StringRef x, StringRef w, StringRef out,
                           int64_t heads, int64_t d, StringRef elem) {
  std::string h = heads > 0 ? std::to_string(heads) : std::string("?");
  std::string t4 = "tensor<" + shape4(heads, d, elem) + ">";
  bool wide = elem != "f32";
  std::string widen =
      wide ? "      %af = arith.extf %a : " + elem.str() + " to f32\n" : "";
  std::string a = wide ? "%af" : "%a";
  std::string narrow =
      wide ? "      %yn = arith.truncf %y : f32 to " + elem.str() + "\n" : "";
  std::string t3 = "tensor<?x" + h + "x?xf32>";
  std::string dynHead = heads > 0 ? "" : ", %" + out.str() + "_h";
  std::string dimHead = heads > 0 ? ""
                                  : "    %" + out.str() + "_h = tensor.dim %" +
                                        x.str() + ", %c1 : " + t4 + "\n";
  return fillTemplate(
      R"(    %@OUT@_b = tensor.dim %@X@, %c0 : @T4@
@DIMHEAD@    %@OUT@_s = tensor.dim %@X@, %c2 : @T4@
    %@OUT@_e3 = tensor.empty(%@OUT@_b@DYNHEAD@, %@OUT@_s) : @T3@
    %@OUT@_z = linalg.fill ins(%zero : f32) outs(%@OUT@_e3 : @T3@) -> @T3@
    %@OUT@_ss = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
        ins(%@X@ : @T4@) outs(%@OUT@_z : @T3@) {
    ^bb0(%a: @ELEM@, %o: f32):
@WIDEN@      %sq = arith.mulf @A@, @A@ : f32
      %r = arith.addf %o, %sq fastmath<reassoc> : f32
      linalg.yield %r : f32
    } -> @T3@
    %@OUT@_er = tensor.empty(%@OUT@_b@DYNHEAD@, %@OUT@_s) : @T3@
    %@OUT@_rs = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
        ins(%@OUT@_ss : @T3@) outs(%@OUT@_er : @T3@) {
    ^bb0(%sum: f32, %o: f32):
      %m = arith.divf %sum, %dim : f32
      %v = arith.addf %m, %eps : f32
      %r = math.rsqrt %v : f32
      linalg.yield %r : f32
    } -> @T3@
    %@OUT@_e4 = tensor.empty(%@OUT@_b@DYNHEAD@, %@OUT@_s) : @T4@
    %@OUT@ = linalg.generic {indexing_maps = [#id, #row, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
        ins(%@X@, %@OUT@_rs, %@W@ : @T4@, @T3@, tensor<@D@xf32>) outs(%@OUT@_e4 : @T4@) {
    ^bb0(%a: @ELEM@, %r: f32, %g: f32, %o: @ELEM@):
@WIDEN@      %n = arith.mulf @A@, %r : f32
      %y = arith.mulf %n, %g : f32
@NARROW@      linalg.yield @Y@ : @ELEM@
    } -> @T4@
)",
      {{"OUT", out.str()},
       {"X", x.str()},
       {"W", w.str()},
       {"T4", t4},
       {"T3", t3},
       {"DYNHEAD", dynHead},
       {"DIMHEAD", dimHead},
       {"D", std::to_string(d)},
       {"ELEM", elem.str()},
       {"WIDEN", widen},
       {"NARROW", narrow},
       {"A", a},
       {"Y", wide ? "%yn" : "%y"}});
}

/// The untiled chain on tensors, between memref arguments: q is read and
/// written back in place; k is read; its normalized, rotated value goes to
/// `slot` (the caller's view of the cache rows of these tokens). `suffix`
/// names the function (`<name>_kernel<suffix>`); `streaming` marks it so that
/// the lowering stores the slot's rows non-temporally (kStreamingOutAttr).
static std::string chainFunc(const FusedKernel &kernel, StringRef suffix,
                             bool streaming) {
  const RopeKernel &r = kernel.rope;
  int64_t d = r.headDim;
  std::string elem = r.dtype();
  auto buffer = [&](int64_t heads) {
    return "memref<" + shape4(heads, d, elem) + ", strided<[?, ?, " +
           std::to_string(d) + ", 1], offset: ?>>";
  };
  std::string mq = buffer(r.qHeads), mk = buffer(r.kvHeads);
  std::string tq = "tensor<" + shape4(r.qHeads, d, elem) + ">";
  std::string tk = "tensor<" + shape4(r.kvHeads, d, elem) + ">";
  std::string axes = std::to_string(r.numAxes());
  std::string mp =
      "memref<" + axes + "x?x?xi64, strided<[?, ?, 1], offset: ?>>";
  std::string tp = "tensor<" + axes + "x?x?xi64>";
  std::string mw = "memref<" + std::to_string(d) + "xf32>";
  std::string tw = "tensor<" + std::to_string(d) + "xf32>";
  std::string semantics;
  llvm::raw_string_ostream(semantics) << r.semantics;
  std::string eps;
  llvm::raw_string_ostream(eps) << llvm::format("%.9e", kernel.eps);

  std::string body;
  llvm::raw_string_ostream os(body);
  os << "  func.func @" << r.options.name << "_kernel" << suffix
     << "(%qm: " << mq << ", %km: " << mk << ", %pm: " << mp << ", %wqm: " << mw
     << ", %wkm: " << mw << ", %cm: " << mk
     << ") attributes {llvm.emit_c_interface"
     << (streaming ? ", " + kStreamingOutAttr.str() : std::string()) << "} {\n"
     << "    %c0 = arith.constant 0 : index\n"
     << "    %c1 = arith.constant 1 : index\n"
     << "    %c2 = arith.constant 2 : index\n"
     << "    %zero = arith.constant 0.0 : f32\n"
     << "    %dim = arith.constant " << d << ".0 : f32\n"
     << "    %eps = arith.constant " << eps << " : f32\n"
     << "    %q = bufferization.to_tensor %qm restrict writable : " << mq
     << " to " << tq << "\n"
     << "    %k = bufferization.to_tensor %km restrict : " << mk << " to " << tk
     << "\n"
     << "    %p = bufferization.to_tensor %pm restrict : " << mp << " to " << tp
     << "\n"
     << "    %wq = bufferization.to_tensor %wqm restrict : " << mw << " to "
     << tw << "\n"
     << "    %wk = bufferization.to_tensor %wkm restrict : " << mw << " to "
     << tw << "\n"
     << rmsNorm("q", "wq", "qn", r.qHeads, d, elem)
     << rmsNorm("k", "wk", "kn", r.kvHeads, d, elem)
     << "    %q2, %k2 = rope.apply %qn, %kn by %p : " << tq << ", " << tk
     << " by " << tp << " with " << semantics << "\n"
     << "    bufferization.materialize_in_destination %q2 in restrict writable "
        "%qm : ("
     << tq << ", " << mq << ") -> ()\n"
     << "    bufferization.materialize_in_destination %k2 in restrict writable "
        "%cm : ("
     << tk << ", " << mk << ") -> ()\n"
     << "    return\n  }\n";
  return body;
}

/// Both functions of the kernel: `<name>_kernel` (plain stores: a decode
/// step's cache row stays in cache for the attention that reads it next)
/// and `<name>_kernel_nt` (the cache slot written with non-temporal stores:
/// a prefill's slot is larger than the caches, and a plain store first reads
/// each line it writes). The C wrapper picks one per call.
static std::string chainSource(const FusedKernel &kernel) {
  return "#id = affine_map<(b, h, s, d) -> (b, h, s, d)>\n"
         "#row = affine_map<(b, h, s, d) -> (b, h, s)>\n"
         "#ch = affine_map<(b, h, s, d) -> (d)>\n"
         "#id3 = affine_map<(b, h, s) -> (b, h, s)>\n"
         "module {\n" +
         chainFunc(kernel, "", false) + chainFunc(kernel, "_nt", true) + "}\n";
}

int64_t mrope::fusedTokensPerBlock(const FusedKernel &kernel,
                                   const CpuTarget &target) {
  int64_t tokens = target.tokensPerBlock(kernel.rope);
  if (kernel.rope.options.tokensPerBlock > 0)
    return tokens;
  // Two head blocks (the one rotated, the one summed ahead of it) in 16 KiB
  // each, so both stay in a 32 KiB L1: 32 tokens at D = 128 in f32.
  int64_t rowBytes =
      kernel.rope.headDim * kernel.rope.elementType.getIntOrFloatBitWidth() / 8;
  int64_t fit = static_cast<int64_t>(llvm::bit_floor(static_cast<uint64_t>(
      std::max<int64_t>(1, (16 << 10) / std::max<int64_t>(1, rowBytes)))));
  return std::clamp<int64_t>(std::min(tokens, fit), 8, 256);
}

OwningOpRef<ModuleOp> mrope::buildFusedKernelModule(MLIRContext &ctx,
                                                    const FusedKernel &kernel,
                                                    int64_t tokensPerTile,
                                                    std::string &error) {
  ctx.loadDialect<affine::AffineDialect, arith::ArithDialect,
                  bufferization::BufferizationDialect, func::FuncDialect,
                  linalg::LinalgDialect, math::MathDialect,
                  memref::MemRefDialect, rope::RopeDialect, scf::SCFDialect,
                  tensor::TensorDialect>();
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    diagnostics += d.str() + "\n";
    return success();
  });
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(chainSource(kernel), &ctx);
  if (!module) {
    error = "the fused chain does not parse (a bug): " + diagnostics;
    return nullptr;
  }

  // Tile rope.apply over (batch row, token block) and fuse its producers,
  // the norms (fill, sum of squares, scale) and their empty tensors, into
  // the loop: each tile normalizes its tokens and rotates them at once.
  SmallVector<rope::ApplyOp> applies;
  module->walk([&](rope::ApplyOp op) { applies.push_back(op); });
  if (applies.empty()) {
    error = "the fused chain has no rope.apply (a bug)";
    return nullptr;
  }
  IRRewriter rewriter(&ctx);
  scf::SCFTileAndFuseOptions options;
  options.tilingOptions.setTileSizes(
      {rewriter.getIndexAttr(1), rewriter.getIndexAttr(tokensPerTile)});
  for (rope::ApplyOp apply : applies) {
    FailureOr<scf::SCFTileAndFuseResult> tiled =
        scf::tileConsumerAndFuseProducersUsingSCF(
            rewriter, cast<TilingInterface>(apply.getOperation()), options);
    if (failed(tiled)) {
      error = "tile-and-fuse of rope.apply failed: " + diagnostics;
      return nullptr;
    }
    for (OpResult result : apply->getResults())
      if (Value replacement = tiled->replacements.lookup(result))
        rewriter.replaceAllUsesWith(result, replacement);
    // The untiled producers are dead now; canonicalization drops them.
    if (apply->use_empty())
      rewriter.eraseOp(apply);
  }
  if (failed(mlir::verify(*module))) {
    error = "the tiled kernel does not verify (a bug): " + diagnostics;
    return nullptr;
  }
  return module;
}

LogicalResult mrope::lowerFusedToLLVMDialect(ModuleOp module,
                                             const FusedKernel &kernel,
                                             const CpuTarget &target) {
  PassManager bufferize(module.getContext());
  bufferize.addPass(createCanonicalizerPass());
  bufferize.addPass(createCSEPass());
  // The loop's destinations (empty tensors) become views of q and of the
  // cache slot, so the norm writes each tile where its result belongs.
  bufferize.addPass(bufferization::createEmptyTensorEliminationPass());
  bufferize.addPass(bufferization::createOneShotBufferizePass());
  // insert_slice of a tile into its own place bufferizes to a self-copy of
  // one subview; CSE makes the two subviews one, canonicalize drops it.
  bufferize.addPass(createCSEPass());
  bufferize.addPass(createCanonicalizerPass());
  if (failed(bufferize.run(module)))
    return failure();
  // bf16 rows rounded by the hardware where it can (VCVTNEPS2BF16): the
  // integer rounding code was a third of a bf16 decode call.
  if (target.nativeBF16)
    module.walk([](func::FuncOp f) {
      f->setAttr(kNativeBF16Attr, UnitAttr::get(f.getContext()));
    });
  PassManager pm(module.getContext());
  CpuPipelineOptions options;
  options.bufferize = false;
  options.tokensPerBlock = fusedTokensPerBlock(kernel, target);
  options.vectorWidth = target.vectorWidth;
  options.nativeF16 = target.nativeF16;
  buildCpuPipeline(pm, options);
  return pm.run(module);
}

//===----------------------------------------------------------------------===//
// C header and wrapper
//===----------------------------------------------------------------------===//

/// q, k and the cache in the kernel's storage type (float, or bf16 bit
/// patterns as uint16_t); the weights are always float.
static std::string fusedParams(const FusedKernel &kernel) {
  return fillTemplate(
      "@T@ *q, const @T@ *k, const float *q_weight,\n"
      "    const float *k_weight, @T@ *k_cache, int64_t cache_len,\n"
      "    int64_t cache_offset, int64_t q_heads, int64_t kv_heads,\n"
      "    const int64_t *positions, int64_t batch, int64_t seq",
      {{"T", kernel.rope.elementType.isF32() ? "float" : "uint16_t"}});
}

std::string mrope::emitFusedCHeader(const FusedKernel &kernel,
                                    const CpuTarget *target) {
  const RopeKernel &r = kernel.rope;
  std::string semantics, eps;
  llvm::raw_string_ostream(semantics) << r.semantics;
  llvm::raw_string_ostream(eps) << llvm::format("%.9g", kernel.eps);
  auto heads = [](int64_t n) {
    return n > 0 ? std::to_string(n) : std::string("any number of");
  };
  return fillTemplate(
      R"(/* Generated by mrope-compile --fuse norm,cache: QK-norm, rotary position
 * embedding and the KV-cache write of k, in one pass over q and k.
 *
 *   @SEMANTICS@
 *
 * For every token of q [batch, q_heads, seq, @D@] (@QH@ heads) and of
 * k [batch, kv_heads, seq, @D@] (@KH@ heads), contiguous @STORAGE@:
 *   y = x / sqrt(mean(x * x over the @D@ channels) + @EPS@) * weight
 *   (RMSNorm of each head; q_weight for q, k_weight for k, @D@ floats),@ROUND@
 * then y is rotated as above at the token's positions
 * (contiguous [@AXES@, batch, seq] int64). q receives its result in place;
 * k is only read, and its result is written to
 *   k_cache[b, h, cache_offset + s, :]
 * of k_cache [batch, kv_heads, cache_len, @D@] (other rows are untouched).
 * The same as RMSNorm, then RoPE, then copying k into the cache.
 *
 * @NAME@: the tokens are split over at most num_threads threads (<= 0:
 * one) of a pool the library keeps between calls, and over no more threads
 * than give each one at least @UPPER@_MIN_BYTES_PER_THREAD bytes of q and k
 * (@NAME@_threads says how many a call uses). A call whose k_cache
 * (batch * kv_heads * cache_len rows) is at least
 * @UPPER@_STREAMING_MIN_BYTES bytes and 64-byte aligned writes the slot with
 * non-temporal stores (not kept in the CPU caches: the attention streams a
 * cache that large from memory anyway, and a plain store would first read
 * each line it writes); a smaller cache keeps its new rows in cache.
 * Returns 0, or -1 on bad sizes (cache_offset + seq > cache_len, ...).
 */
#ifndef @UPPER@_H
#define @UPPER@_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define @UPPER@_HEAD_DIM @D@
#define @UPPER@_POSITION_AXES @AXES@
#define @UPPER@_EPS @EPS@f
#define @UPPER@_MIN_BYTES_PER_THREAD @MIN_BYTES@
#define @UPPER@_STREAMING_MIN_BYTES @STREAM_BYTES@

int @NAME@(@PARAMS@, int num_threads);
/* How many threads a call with these sizes uses (-1: bad sizes). */
int @NAME@_threads(int64_t q_heads, int64_t kv_heads, int64_t batch,
    int64_t seq, int num_threads);

#ifdef __cplusplus
}
#endif

#endif
)",
      {{"SEMANTICS", semantics},
       {"STORAGE", r.elementType.isF32() ? "float" : "bf16 (uint16_t bits)"},
       {"ROUND",
        r.elementType.isF32()
            ? ""
            : std::string("\n *   in f32 from the widened bf16 x, y rounded "
                          "to bf16 (as a bf16\n *   RMSNorm stores it); the "
                          "rotation in f32, rounded once,") +
                  (target && target->nativeBF16
                       ? "\n *   both to nearest even by the CPU's "
                         "VCVTNEPS2BF16 (values below\n *   2^-126 in "
                         "magnitude become zero),"
                       : "")},
       {"D", std::to_string(r.headDim)},
       {"QH", heads(r.qHeads)},
       {"KH", heads(r.kvHeads)},
       {"EPS", eps},
       {"AXES", std::to_string(r.numAxes())},
       {"NAME", r.options.name},
       {"UPPER", StringRef(r.options.name).upper()},
       {"MIN_BYTES", std::to_string(kFusedMinBytesPerThread)},
       {"STREAM_BYTES", std::to_string(kStreamingMinBytes)},
       {"PARAMS", fusedParams(kernel)}});
}

/// Memref descriptors of one token slice of every batch row; the tokens
/// split over the plain wrapper's persistent pool (emitCThreadPool), as
/// many threads as the bytes of q and k pay for.
static const char *const kFusedWrapper =
    R"(/* Generated by mrope-compile --fuse norm,cache: C ABI around the kernel. */
#include <stdint.h>

typedef @T@ elem_t;
typedef struct { elem_t *allocated, *aligned; int64_t offset, sizes[4], strides[4]; } md4;
typedef struct { int64_t *allocated, *aligned; int64_t offset, sizes[3], strides[3]; } md3;
typedef struct { float *allocated, *aligned; int64_t offset, sizes[1], strides[1]; } md1;

void _mlir_ciface_@NAME@_kernel(md4 *q, md4 *k, md3 *positions, md1 *q_weight,
                                md1 *k_weight, md4 *slot);
void _mlir_ciface_@NAME@_kernel_nt(md4 *q, md4 *k, md3 *positions, md1 *q_weight,
                                   md1 *k_weight, md4 *slot);

typedef struct {
  elem_t *q; const elem_t *k; const float *wq, *wk; elem_t *cache; const int64_t *pos;
  int64_t cache_len, cache_offset, hq, hk, batch, seq, s0, n;
  int streaming; /* the cache slot with non-temporal stores (_kernel_nt) */
} slice;

/* Tokens [s0, s0 + n) of every batch row of a [B, H, rows, D] tensor. */
static md4 view4(elem_t *base, int64_t b, int64_t h, int64_t rows, int64_t s0, int64_t n) {
  const int64_t d = @D@;
  md4 m = {base, base, s0 * d, {b, h, n, d}, {h * rows * d, rows * d, d, 1}};
  return m;
}

static void run_slice(const slice *w) {
  if (w->n <= 0 || w->batch <= 0) return;
  md4 q = view4(w->q, w->batch, w->hq, w->seq, w->s0, w->n);
  md4 k = view4((elem_t *)w->k, w->batch, w->hk, w->seq, w->s0, w->n);
  md4 c = view4(w->cache, w->batch, w->hk, w->cache_len, w->cache_offset + w->s0, w->n);
  md3 p = {(int64_t *)w->pos, (int64_t *)w->pos, w->s0, {@AXES@, w->batch, w->n},
           {w->batch * w->seq, w->seq, 1}};
  md1 wq = {(float *)w->wq, (float *)w->wq, 0, {@D@}, {1}};
  md1 wk = {(float *)w->wk, (float *)w->wk, 0, {@D@}, {1}};
  if (!w->streaming) {
    _mlir_ciface_@NAME@_kernel(&q, &k, &p, &wq, &wk, &c);
    return;
  }
  _mlir_ciface_@NAME@_kernel_nt(&q, &k, &p, &wq, &wk, &c);
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_sfence(); /* non-temporal stores are visible before we return */
#endif
}

/* The slot is written with non-temporal stores when the whole cache is at
   least @STREAM_BYTES@ bytes (the attention that reads it next streams it
   from memory, so the new rows gain nothing from staying in cache, and a
   plain store reads each line before writing it; a decode step's rows,
   cache_len * D apart, also all fall into the same cache sets) and its rows
   are 64-byte aligned (the stores are aligned to their size). */
static int streaming_for(const elem_t *cache, int64_t kv_heads, int64_t batch,
                         int64_t cache_len) {
  double bytes = (double)kv_heads * (double)batch * (double)cache_len * @D@ *
                 sizeof(elem_t);
  return bytes >= @STREAM_BYTES@.0 && ((uintptr_t)cache & 63) == 0 &&
         (@D@ * sizeof(elem_t)) % 64 == 0;
}

static int check(int64_t q_heads, int64_t kv_heads, int64_t batch, int64_t seq) {
  if (batch < 0 || seq < 0 || q_heads < 0 || kv_heads < 0) return -1;
  if (@Q_HEADS@ > 0 && q_heads != @Q_HEADS@) return -1;
  if (@KV_HEADS@ > 0 && kv_heads != @KV_HEADS@) return -1;
  return 0;
}

static double qk_bytes(int64_t q_heads, int64_t kv_heads, int64_t batch, int64_t seq) {
  return (double)(q_heads + kv_heads) * (double)batch * (double)seq * @D@ *
         sizeof(elem_t);
}

@POOL@
int @NAME@_threads(int64_t q_heads, int64_t kv_heads, int64_t batch,
                   int64_t seq, int num_threads) {
  if (check(q_heads, kv_heads, batch, seq)) return -1;
  return threads_for(qk_bytes(q_heads, kv_heads, batch, seq), seq, num_threads);
}

int @NAME@(@PARAMS@, int num_threads) {
  if (check(q_heads, kv_heads, batch, seq) || cache_offset < 0 || cache_len < 0 ||
      seq > cache_len - cache_offset) return -1;
  num_threads = threads_for(qk_bytes(q_heads, kv_heads, batch, seq), seq, num_threads);
  /* Whole blocks of @BLOCK@ tokens per thread where there are enough. */
  int64_t chunk = (seq + num_threads - 1) / num_threads;
  if (chunk > @BLOCK@) chunk = (chunk + @BLOCK@ - 1) / @BLOCK@ * @BLOCK@;
  int streaming = streaming_for(k_cache, kv_heads, batch, cache_len);
  slice work[POOL_MAX + 1];
  int n = 0;
  for (int64_t s0 = 0; s0 < seq; s0 += chunk) {
    slice w = {q, k, q_weight, k_weight, k_cache, positions, cache_len, cache_offset,
               q_heads, kv_heads, batch, seq, s0, seq - s0 < chunk ? seq - s0 : chunk,
               streaming};
    work[n++] = w;
  }
  if (n == 1) run_slice(&work[0]);
  else if (n > 1) pool_run(work, n);
  return 0;
}
)";

std::string mrope::emitFusedCWrapper(const FusedKernel &kernel,
                                     const CpuTarget &target) {
  const RopeKernel &r = kernel.rope;
  return fillTemplate(
      kFusedWrapper,
      {{"NAME", r.options.name},
       {"T", r.elementType.isF32() ? "float" : "uint16_t"},
       {"D", std::to_string(r.headDim)},
       {"AXES", std::to_string(r.numAxes())},
       {"Q_HEADS", std::to_string(r.qHeads)},
       {"KV_HEADS", std::to_string(r.kvHeads)},
       {"BLOCK", std::to_string(fusedTokensPerBlock(kernel, target))},
       {"MIN_BYTES", std::to_string(kFusedMinBytesPerThread)},
       {"STREAM_BYTES", std::to_string(kStreamingMinBytes)},
       {"PARAMS", fusedParams(kernel)},
       {"POOL", emitCThreadPool(kFusedMinBytesPerThread)}});
}

LogicalResult mrope::compileFusedSharedLibrary(MLIRContext &ctx,
                                               const FusedKernel &kernel,
                                               StringRef outPath, StringRef cpu,
                                               std::string &error) {
  if (failed(kernel.verify(error)))
    return failure();
  FailureOr<CpuTarget> target = describeCpu(cpu, error);
  if (failed(target))
    return failure();
  OwningOpRef<ModuleOp> module = buildFusedKernelModule(
      ctx, kernel, fusedTokensPerBlock(kernel, *target), error);
  if (!module)
    return failure();
  return lowerAndLinkSharedLibrary(
      *module,
      [&] { return lowerFusedToLLVMDialect(*module, kernel, *target); },
      "lowering the fused kernel failed: ", cpu,
      emitFusedCWrapper(kernel, *target), emitFusedCHeader(kernel, &*target),
      outPath, error);
}
