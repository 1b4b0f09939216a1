//===- FusedGpuKernel.cpp - QK-norm + RoPE + KV-cache write for CUDA ------===//
#include "mrope/Compile/FusedGpuKernel.h"

#include "mrope/Conversion/RopeToGPU/RopeToGPU.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/Verifier.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mrope;

LogicalResult FusedGpuKernel::verify(std::string &error) const {
  if (failed(rope.verify(error)))
    return failure();
  if (rope.numTensors() != 2) {
    error = "--fuse norm,cache needs q and k (not --kv-heads -1)";
    return failure();
  }
  if (rope.tokenMajor()) {
    error = "--fuse norm,cache takes [B, H, S, D] tensors only (--layout bhsd)";
    return failure();
  }
  if (rope.semantics.getRotaryDim() != rope.headDim) {
    error = "--fuse norm,cache --target cuda needs --rotary-dim equal to "
            "--head-dim (the norm covers every channel; pass-through "
            "channels are not handled)";
    return failure();
  }
  if (!(eps > 0.0)) {
    error = "--eps must be > 0";
    return failure();
  }
  return success();
}

/// The arguments the fused kernel adds to the plain one's (q, k, positions).
static void addFusionArguments(func::FuncOp func, const RopeKernel &rope) {
  int64_t dyn = ShapedType::kDynamic;
  Type elem = rope.elementType;
  auto weight = MemRefType::get({rope.headDim}, elem);
  auto cache = MemRefType::get(
      {dyn, rope.kvHeads > 0 ? rope.kvHeads : dyn, dyn, rope.headDim}, elem);
  Type index = IndexType::get(func.getContext());
  Location loc = func.getLoc();
  unsigned at = func.getNumArguments();
  for (Type type : {Type(weight), Type(weight), Type(cache), index})
    (void)func.insertArgument(at++, type, DictionaryAttr(), loc);
}

OwningOpRef<ModuleOp> mrope::buildFusedGpuModule(MLIRContext &ctx,
                                                 const FusedGpuKernel &kernel,
                                                 const GpuTarget &target,
                                                 GpuKernelInfo &info,
                                                 std::string &error) {
  ctx.loadDialect<arith::ArithDialect, gpu::GPUDialect, LLVM::LLVMDialect,
                  memref::MemRefDialect, scf::SCFDialect,
                  vector::VectorDialect>();
  // The plain kernel's host function (its frequency table included), with
  // the norm weights, the cache and the offset appended.
  OwningOpRef<ModuleOp> module = buildGpuKernelModule(ctx, kernel.rope);
  rope::ApplyOp apply;
  module->walk([&](rope::ApplyOp op) { apply = op; });
  auto func = apply->getParentOfType<func::FuncOp>();
  addFusionArguments(func, kernel.rope);
  ValueRange args = func.getArguments();

  RopeToGPUOptions options;
  options.tokensPerBlock = target.tokensPerBlock;
  options.freqsPerThread = target.freqsPerThread;
  options.headsPerIteration = target.headsPerIteration;
  FailureOr<RopeLaunchShape> shape =
      chooseRopeLaunchShape(apply, options, error);
  if (failed(shape))
    return nullptr;
  RopeGpuFusion fusion;
  fusion.normWeights = {args[3], args[4]};
  fusion.eps = kernel.eps;
  fusion.outputs = {Value(), args[5]};
  fusion.outputSeqOffset = args[6];
  IRRewriter rewriter(&ctx);
  if (failed(lowerRopeApplyToGPU(rewriter, apply, options, fusion, error)))
    return nullptr;
  if (failed(mlir::verify(*module))) {
    error = "the fused GPU kernel does not verify (a bug)";
    return nullptr;
  }
  info.blockX = shape->blockX;
  info.blockY = shape->tokensPerBlock;
  info.freqsPerThread = shape->freqsPerThread;
  info.vectorAlignment = shape->vectorAlignment;
  return module;
}

static std::string epsText(double eps) {
  std::string text;
  llvm::raw_string_ostream(text) << llvm::format("%.9g", eps);
  return text;
}

std::string mrope::emitFusedGpuJson(const FusedGpuKernel &kernel,
                                    const GpuTarget &target,
                                    const GpuKernelInfo &info) {
  namespace json = llvm::json;
  const RopeKernel &r = kernel.rope;
  std::string semantics;
  llvm::raw_string_ostream(semantics) << r.semantics;
  std::string d = std::to_string(r.headDim);
  json::Array params;
  params.push_back(memrefParamsJson("q", {"batch", "q_heads", "seq", d}));
  params.push_back(memrefParamsJson("k", {"batch", "kv_heads", "seq", d}));
  params.push_back(memrefParamsJson(
      "positions", {std::to_string(r.numAxes()), "batch", "seq"}));
  params.push_back(memrefParamsJson("q_weight", {d}));
  params.push_back(memrefParamsJson("k_weight", {d}));
  params.push_back(
      memrefParamsJson("k_cache", {"batch", "kv_heads", "cache_len", d}));
  params.push_back(json::Object{{"name", "cache_offset"},
                                {"rank", 0},
                                {"params", json::Array{"cache_offset"}}});
  auto heads = [](int64_t n) {
    return n > 0 ? json::Value(n) : json::Value("any");
  };
  json::Object root = launchJson(target, info);
  root["generator"] = "mrope-compile --fuse norm,cache --target cuda";
  root["fused"] = json::Array{"norm", "cache"};
  root["semantics"] = semantics;
  root["dtype"] = r.dtype();
  root["eps"] = kernel.eps;
  root["head_dim"] = r.headDim;
  root["position_axes"] = r.numAxes();
  root["q_heads"] = heads(r.qHeads);
  root["kv_heads"] = heads(r.kvHeads);
  root["num_tensors"] = 2;
  root["requirements"] =
      "q, k: contiguous [batch, heads, seq, head_dim] " + r.dtype() +
      "; q_weight, k_weight: [head_dim] " + r.dtype() +
      "; k_cache: contiguous [batch, kv_heads, cache_len, head_dim] " +
      r.dtype() +
      "; positions: contiguous [axes, batch, seq] int64; device "
      "pointers 16-byte aligned; q normalized and rotated in place, k "
      "read only, its result written to k_cache[:, :, cache_offset + "
      "s]; the block size is fixed (.maxntid)";
  root["params"] = std::move(params);
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0:2}", json::Value(std::move(root))) << "\n";
  return text;
}

static const char *const kFusedGpuHeader =
    R"(/* Generated by mrope-compile --fuse norm,cache --target cuda (@CHIP@):
 * QK-norm, rotary position embedding and the KV-cache write of k in ONE
 * CUDA kernel, the PTX entry "@ENTRY@".
 *
 *   @SEMANTICS@
 *
 * For every token of q [batch, q_heads, seq, @D@] (@QH@ heads) and of
 * k [batch, kv_heads, seq, @D@] (@KH@ heads), contiguous @DTYPE@:
 *   y = x / sqrt(mean(x * x over the @D@ channels) + @EPS@) * weight
 *   (RMSNorm of each head in f32; q_weight for q, k_weight for k, @D@
 *   @DTYPE@ values), then y is rotated as above at the token's positions
 *   (contiguous [@AXES@, batch, seq] int64), in f32@ROUNDING@. q receives
 *   its result in place; k is only read, and its result is written to
 *     k_cache[b, h, cache_offset + s, :]
 *   of k_cache [batch, kv_heads, cache_len, @D@] (rows with cache_offset + s
 *   >= cache_len are not written; other rows are untouched).
 * The same as RMSNorm, then RoPE, then copying k into the cache.
 *
 * Launch: blockDim (@UPPER@_BLOCK_X, @UPPER@_BLOCK_Y, 1) exactly (the
 * kernel's .maxntid), gridDim (ceil(batch * seq / @UPPER@_BLOCK_Y), 1, 1),
 * no dynamic shared memory; do not launch when batch * seq == 0. Device
 * pointers must be 16-byte aligned (cudaMalloc gives 256). The
 * @UPPER@_NUM_PARAMS parameters are 64-bit words, packed by @NAME@_pack:
 * pass args[i] = &words[i] as cuLaunchKernel's kernelParams.
 */
#ifndef @UPPER@_H
#define @UPPER@_H

#include <stdint.h>

#define @UPPER@_ENTRY "@ENTRY@"
#define @UPPER@_HEAD_DIM @D@
#define @UPPER@_POSITION_AXES @AXES@
#define @UPPER@_EPS @EPS@f
#define @UPPER@_BLOCK_X @BLOCK_X@
#define @UPPER@_BLOCK_Y @BLOCK_Y@
#define @UPPER@_NUM_PARAMS @NUM_PARAMS@

/* An expanded memref descriptor of a contiguous tensor: allocated and
 * aligned pointer, offset 0, the sizes, the strides. */
static inline int @NAME@_descriptor(uint64_t *words, const void *base,
                                    int rank, const int64_t *sizes) {
  int64_t stride = 1;
  int i;
  words[0] = words[1] = (uint64_t)(uintptr_t)base;
  words[2] = 0;
  for (i = rank - 1; i >= 0; --i) {
    words[3 + i] = (uint64_t)sizes[i];
    words[3 + rank + i] = (uint64_t)stride;
    stride *= sizes[i];
  }
  return 3 + 2 * rank;
}

/* Packs the parameters of one launch; returns the number of words
 * (@UPPER@_NUM_PARAMS). */
static inline int @NAME@_pack(uint64_t words[@UPPER@_NUM_PARAMS],
                              void *q, const void *k,
                              const int64_t *positions,
                              const void *q_weight, const void *k_weight,
                              void *k_cache, int64_t batch, int64_t seq,
                              int64_t q_heads, int64_t kv_heads,
                              int64_t cache_len, int64_t cache_offset) {
  const int64_t d = @D@;
  const int64_t qs[4] = {batch, q_heads, seq, d};
  const int64_t ks[4] = {batch, kv_heads, seq, d};
  const int64_t ps[3] = {@AXES@, batch, seq};
  const int64_t ws[1] = {d};
  const int64_t cs[4] = {batch, kv_heads, cache_len, d};
  int n = 0;
  n += @NAME@_descriptor(words + n, q, 4, qs);
  n += @NAME@_descriptor(words + n, k, 4, ks);
  n += @NAME@_descriptor(words + n, positions, 3, ps);
  n += @NAME@_descriptor(words + n, q_weight, 1, ws);
  n += @NAME@_descriptor(words + n, k_weight, 1, ws);
  n += @NAME@_descriptor(words + n, k_cache, 4, cs);
  words[n++] = (uint64_t)cache_offset;
  return n;
}

#endif
)";

std::string mrope::emitFusedGpuHeader(const FusedGpuKernel &kernel,
                                      const GpuTarget &target,
                                      const GpuKernelInfo &info) {
  const RopeKernel &r = kernel.rope;
  std::string semantics;
  llvm::raw_string_ostream(semantics) << r.semantics;
  auto heads = [](int64_t n) {
    return n > 0 ? std::to_string(n) : std::string("any number of");
  };
  return fillTemplate(
      kFusedGpuHeader,
      {{"CHIP", target.chip},
       {"ENTRY", info.entry},
       {"SEMANTICS", semantics},
       {"D", std::to_string(r.headDim)},
       {"QH", heads(r.qHeads)},
       {"KH", heads(r.kvHeads)},
       {"DTYPE", r.dtype()},
       {"ROUNDING", r.elementType.isF32() ? std::string()
                                          : ", rounded once to " + r.dtype()},
       {"EPS", epsText(kernel.eps)},
       {"AXES", std::to_string(r.numAxes())},
       {"NAME", r.options.name},
       {"UPPER", StringRef(r.options.name).upper()},
       {"BLOCK_X", std::to_string(info.blockX)},
       {"BLOCK_Y", std::to_string(info.blockY)},
       {"NUM_PARAMS", std::to_string(info.numParams)}});
}

LogicalResult mrope::compileFusedGpuKernel(MLIRContext &ctx,
                                           const FusedGpuKernel &kernel,
                                           const GpuTarget &target,
                                           StringRef outPath, bool cubin,
                                           std::string &error) {
  if (failed(kernel.verify(error)))
    return failure();
  FailureOr<std::string> ptxas = ptxasForEmit(cubin, error);
  if (failed(ptxas))
    return failure();
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    diagnostics += d.str() + "\n";
    return success();
  });
  GpuKernelInfo info;
  OwningOpRef<ModuleOp> module =
      buildFusedGpuModule(ctx, kernel, target, info, error);
  if (!module || failed(finishGpuLowering(*module, target, /*serialize=*/true,
                                          info, error))) {
    error += diagnostics.empty() ? "" : ":\n" + diagnostics;
    return failure();
  }
  return writeGpuKernel(*module, target, *ptxas, outPath,
                        emitFusedGpuJson(kernel, target, info),
                        emitFusedGpuHeader(kernel, target, info), error);
}
