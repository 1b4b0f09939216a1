//===- mrope-compile.cpp - rope kernels -> shared library + C header ------===//
//
// For integrators who do not use MLIR: get a shared library with one C
// function and a header that documents it (or PTX/cubin and a JSON ABI) for
// the rotation of a model's RoPE site, as rope-raise raises it to rope.apply,
// or for a rope.apply the flags describe.
//
//   mrope-compile model.onnx --site 0 -o librope.so
//   mrope-compile --target cpu --head-dim 128 --sections 16,24,24 \
//       --q-heads 28 --kv-heads 4 --dtype f32 -o libqwen2vl_rope.so
//   mrope-compile --target cuda --chip sm_90 --sections 16,24,24 \
//       --q-heads 28 --kv-heads 4 --dtype bf16 -o qwen2vl_rope.ptx
//
//===----------------------------------------------------------------------===//
#include "mrope/Compile/CpuCompiler.h"
#include "mrope/Compile/FusedGpuKernel.h"
#include "mrope/Compile/FusedKernel.h"
#include "mrope/Compile/GpuCompiler.h"
#include "mrope/Compile/RaisedSite.h"
#include "mrope/Compile/RopeKernel.h"
#include "mrope/Dialect/Rope/IR/RopeDialect.h"
#include "mrope/InitAll.h"
#include "mrope/Target/Onnx/Import.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"

#include "mlir/Support/FileUtilities.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mrope;
namespace cl = llvm::cl;

static cl::OptionCategory category("mrope-compile options");

static cl::opt<std::string> modelPath(
    cl::Positional,
    cl::desc("[MODEL.onnx | MODEL.onnxtext | MODEL.mlir]: compile the "
             "rope.apply rope-raise makes of a RoPE site of this model "
             "(semantics, frequency table, element type, head dim and "
             "counts) instead of one the flags describe"),
    cl::init(""), cl::cat(category));
static cl::opt<int64_t> siteIndex(
    "site",
    cl::desc("which RoPE site of MODEL, in analysis order (as mrope-fix "
             "numbers them; the raised ops' mrope.site)"),
    cl::init(0), cl::cat(category));
static cl::opt<std::string>
    target("target",
           cl::desc("cpu (shared library) or cuda (PTX/cubin + JSON)"),
           cl::init("cpu"), cl::cat(category));
static cl::opt<std::string> emit(
    "emit",
    cl::desc("cpu: so: shared library + header (default); mlir: the kernel "
             "before lowering; llvm-dialect: after lowering; llvm: "
             "optimized LLVM IR; header: only the C header.\n"
             "cuda: ptx: PTX + JSON (default); cubin: ptxas's cubin + JSON; "
             "mlir: before lowering; gpu: after convert-rope-to-gpu; nvvm: "
             "the NVVM/LLVM dialect before serialization; json: only the "
             "JSON"),
    cl::init(""), cl::cat(category));
static cl::opt<std::string> chip("chip",
                                 cl::desc("cuda: GPU (sm_80, sm_90, ...)"),
                                 cl::init("sm_90"), cl::cat(category));
static cl::opt<std::string>
    ptxFeatures("ptx-features",
                cl::desc("cuda: NVPTX features (default +ptx80, CUDA 12.0+)"),
                cl::init("+ptx80"), cl::cat(category));
static cl::opt<int64_t> tokensPerBlock(
    "tokens-per-block",
    cl::desc("cpu: tokens per cos/sin block (0: from the L2 size); cuda: "
             "tokens per thread block (0: ~128 threads)"),
    cl::init(0), cl::cat(category));
static cl::opt<int64_t> headsPerIteration(
    "heads-per-iteration",
    cl::desc("cuda: rows (one head of one token) each thread loads before "
             "it stores, per loop iteration (default 4)"),
    cl::init(4), cl::cat(category));
static cl::opt<std::string> output("o", cl::desc("output file"),
                                   cl::value_desc("path"), cl::init("-"),
                                   cl::cat(category));
static cl::opt<std::string>
    name("name", cl::desc("C function name (default mrope_rope)"),
         cl::init("mrope_rope"), cl::cat(category));
static cl::list<int64_t>
    sections("sections",
             cl::desc("frequencies per position axis, e.g. 16,24,24 (M-RoPE), "
                      "64 (text), 20,20 (vision)"),
             cl::CommaSeparated, cl::cat(category));
static cl::opt<int64_t> headDim("head-dim", cl::desc("channels per head"),
                                cl::init(128), cl::cat(category));
static cl::opt<int64_t>
    rotaryDim("rotary-dim",
              cl::desc("rotated channels (default 2 x sum of sections)"),
              cl::init(0), cl::cat(category));
static cl::opt<double> theta("theta", cl::desc("frequency base"),
                             cl::init(1.0e6), cl::cat(category));
static cl::opt<std::string> layout(
    "layout",
    cl::desc("cpu: how q and k are stored: bhsd ([B, H, S, D], default) or "
             "bshd ([B, S, H*D]); neox/gptj are still accepted here as the "
             "--pairs value"),
    cl::init("bhsd"), cl::cat(category));
static cl::opt<std::string>
    pairs("pairs", cl::desc("neox (rotate-half) or gptj (pairs)"),
          cl::init("neox"), cl::cat(category));
static cl::opt<bool> interleaved("interleaved",
                                 cl::desc("Qwen3-VL interleaved sections"),
                                 cl::init(false), cl::cat(category));
static cl::opt<bool> perSection(
    "per-section-freqs",
    cl::desc("frequencies restart in every section (Qwen2-VL vision tower)"),
    cl::init(false), cl::cat(category));
static cl::opt<int64_t>
    qHeads("q-heads", cl::desc("q heads (0: any, checked at run time)"),
           cl::init(0), cl::cat(category));
static cl::opt<int64_t>
    kvHeads("kv-heads",
            cl::desc("k heads (0: any; -1: rotate q only, e.g. vision)"),
            cl::init(0), cl::cat(category));
static cl::opt<std::string> dtype("dtype", cl::desc("f32, f16 or bf16"),
                                  cl::init("f32"), cl::cat(category));
static cl::opt<std::string> cpu("cpu",
                                cl::desc("LLVM CPU name, or native (default)"),
                                cl::init("native"), cl::cat(category));

static cl::opt<std::string> fuse(
    "fuse",
    cl::desc("norm,cache: one kernel for RMSNorm of every q and k head "
             "over D (a weight per channel, --eps), the rotation, and the "
             "write of k into a KV cache [B, Hkv, Smax, D] at an offset "
             "(bhsd). cpu (f32): --emit so, mlir (tiled and fused, on "
             "tensors), llvm-dialect or header; cuda (rotary dim = head "
             "dim): --emit ptx, cubin (+ JSON and header), mlir (the fused "
             "gpu.launch), nvvm, json or header"),
    cl::init(""), cl::cat(category));
static cl::opt<double> eps("eps", cl::desc("--fuse norm: the RMSNorm epsilon"),
                           cl::init(1e-6), cl::cat(category));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "mrope-compile: error: " << message << "\n";
  return 1;
}

static int writeText(llvm::StringRef text) {
  std::string error;
  auto file = openOutputFile(output, &error);
  if (!file)
    return fail(error);
  file->os() << text;
  file->keep();
  return 0;
}

/// --target cuda: PTX (or cubin) + JSON, or an intermediate stage.
static int compileCuda(MLIRContext &ctx, const RopeKernel &kernel) {
  GpuTarget gpu;
  gpu.chip = chip;
  gpu.features = ptxFeatures;
  gpu.tokensPerBlock = tokensPerBlock;
  gpu.headsPerIteration = headsPerIteration;
  std::string error;
  std::string what = emit.empty() ? std::string("ptx") : emit.getValue();
  if (what == "ptx" || what == "cubin") {
    if (output == "-")
      return fail("-o KERNEL." + what + " is required with --target cuda");
    if (failed(
            compileGpuKernel(ctx, kernel, gpu, output, what == "cubin", error)))
      return fail(error);
    llvm::SmallString<128> json(output.getValue());
    llvm::sys::path::replace_extension(json, "json");
    llvm::outs() << "mrope-compile: wrote " << output << " and " << json
                 << "\n";
    return 0;
  }
  OwningOpRef<ModuleOp> module = buildGpuKernelModule(ctx, kernel);
  std::string text;
  llvm::raw_string_ostream os(text);
  if (what == "mlir") {
    module->print(os);
  } else if (what == "gpu") {
    if (failed(lowerToGpuDialect(*module, gpu)))
      return fail("convert-rope-to-gpu failed");
    module->print(os);
  } else if (what == "nvvm" || what == "json") {
    GpuKernelInfo info;
    if (failed(lowerToGpuBinary(*module, kernel, gpu, /*serialize=*/false, info,
                                error)))
      return fail(error);
    if (what == "nvvm")
      module->print(os);
    else
      os << emitKernelJson(kernel, gpu, info);
  } else {
    return fail("--emit for --target cuda must be ptx, cubin, mlir, gpu, "
                "nvvm or json");
  }
  return writeText(text);
}

/// The flags that describe the rotation itself; with a model, its site's
/// rope.apply says all of that.
static cl::Option *const rotationFlags[] = {std::addressof(sections),
                                            &headDim,
                                            &rotaryDim,
                                            &theta,
                                            &pairs,
                                            &interleaved,
                                            &perSection,
                                            &qHeads,
                                            &kvHeads,
                                            &dtype};

/// The template rope.apply the rotation flags describe.
static OwningOpRef<ModuleOp> templateFromFlags(MLIRContext &ctx,
                                               llvm::StringRef pairLayout,
                                               std::string &error) {
  if (dtype != "f32" && dtype != "f16" && dtype != "bf16") {
    error = "--dtype must be f32, f16 or bf16, got '" + dtype + "'";
    return nullptr;
  }
  if (headDim <= 0 || qHeads < 0 || kvHeads < -1) {
    error = "head dim and head counts must be positive";
    return nullptr;
  }
  llvm::SmallVector<int64_t> secs = {16, 24, 24};
  if (!sections.empty())
    secs.assign(sections.begin(), sections.end());
  int64_t sum = 0;
  for (int64_t s : secs)
    sum += s;
  ctx.loadDialect<rope::RopeDialect>();
  Builder b(&ctx);
  TemplateRotation rotation;
  {
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      if (error.empty())
        error = d.str();
      return success();
    });
    rotation.semantics = rope::SemanticsAttr::getChecked(
        [&] { return emitError(UnknownLoc::get(&ctx)); }, &ctx,
        ArrayRef<int64_t>(secs), rotaryDim ? rotaryDim.getValue() : 2 * sum,
        llvm::APFloat(theta),
        pairLayout == "gptj" ? rope::PairLayout::gptj : rope::PairLayout::neox,
        interleaved ? rope::SectionOrder::interleaved
                    : rope::SectionOrder::contiguous,
        perSection ? rope::FreqIndex::per_section : rope::FreqIndex::global);
  }
  if (!rotation.semantics)
    return nullptr;
  rotation.elementType = dtype == "f16"    ? Type(b.getF16Type())
                         : dtype == "bf16" ? Type(b.getBF16Type())
                                           : Type(b.getF32Type());
  rotation.headDim = headDim;
  rotation.qHeads = qHeads;
  rotation.kvHeads = kvHeads;
  return buildTemplateApply(ctx, rotation, error);
}

/// Imports `modelPath` (.onnx, .onnxtext, or .mlir from mrope-opt) into
/// `module`; the diagnostics in `error`.
static LogicalResult loadModel(MLIRContext &ctx, OwningOpRef<ModuleOp> &module,
                               std::string &error) {
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    error += (error.empty() ? "" : "; ") + d.str();
    return success();
  });
  if (llvm::StringRef(modelPath).ends_with(".mlir")) {
    ctx.loadAllAvailableDialects();
    module = parseSourceFile<ModuleOp>(modelPath, &ctx);
  } else {
    auto imported = onnx::importOnnxModel(modelPath, &ctx);
    if (succeeded(imported))
      module = std::move(*imported);
  }
  return success(static_cast<bool>(module));
}

/// The kernel of site --site of the model: its first raised rope.apply; the
/// others (one per layer) must say the same.
/// --fuse with a model: the RMSNorm epsilon of the site's neighbours.
static std::optional<double> siteNormEps;

static FailureOr<RopeKernel> kernelOfSite(MLIRContext &ctx,
                                          const KernelOptions &options,
                                          std::string &error) {
  ctx.loadDialect<rope::RopeDialect>();
  OwningOpRef<ModuleOp> module;
  if (failed(loadModel(ctx, module, error)))
    return failure();
  FailureOr<SmallVector<rope::ApplyOp>> ops =
      raiseSite(*module, siteIndex, error);
  if (failed(ops))
    return failure();
  FailureOr<RopeKernel> kernel =
      RopeKernel::fromApply(ops->front(), options, error);
  if (failed(kernel))
    return failure();
  if (!fuse.empty()) {
    FailureOr<double> neighbourEps = fusedNormEps(*ops, error);
    if (failed(neighbourEps)) {
      error = "site " + std::to_string(siteIndex) + ": " + error;
      return failure();
    }
    siteNormEps = *neighbourEps;
  }
  for (rope::ApplyOp other : llvm::drop_begin(*ops)) {
    FailureOr<RopeKernel> same = RopeKernel::fromApply(other, options, error);
    if (failed(same))
      return failure();
    if (same->semantics != kernel->semantics ||
        same->invFreq != kernel->invFreq ||
        same->elementType != kernel->elementType ||
        same->headDim != kernel->headDim || same->qHeads != kernel->qHeads ||
        same->kvHeads != kernel->kvHeads) {
      error = "site " + std::to_string(siteIndex) +
              " is raised to rope.apply ops that rotate different tensors; "
              "one kernel cannot serve them all";
      return failure();
    }
  }
  auto heads = [](int64_t n) {
    return n > 0 ? std::to_string(n) : std::string("any");
  };
  llvm::errs() << "mrope-compile: site " << siteIndex << " of "
               << llvm::sys::path::filename(modelPath) << ": " << ops->size()
               << " rope.apply, " << kernel->semantics << ", "
               << kernel->elementType << ", head dim " << kernel->headDim
               << ", q heads " << heads(kernel->qHeads) << ", kv heads "
               << (kernel->kvHeads < 0 ? std::string("none")
                                       : heads(kernel->kvHeads))
               << (kernel->invFreq.empty() ? ", inv_freq from theta"
                                           : ", the model's inv_freq table")
               << "\n";
  return kernel;
}

/// --fuse norm,cache --target cuda: the fused kernel of docs/gpu.md.
static int compileFusedCuda(MLIRContext &ctx, const RopeKernel &rope) {
  FusedGpuKernel kernel{rope, eps};
  std::string error;
  if (failed(kernel.verify(error)))
    return fail(error);
  GpuTarget gpu;
  gpu.chip = chip;
  gpu.features = ptxFeatures;
  gpu.tokensPerBlock = tokensPerBlock;
  gpu.headsPerIteration = headsPerIteration;
  std::string what = emit.empty() ? std::string("ptx") : emit.getValue();
  if (what == "ptx" || what == "cubin") {
    if (output == "-")
      return fail("-o KERNEL." + what + " is required with --target cuda");
    if (failed(compileFusedGpuKernel(ctx, kernel, gpu, output, what == "cubin",
                                     error)))
      return fail(error);
    llvm::SmallString<128> json(output.getValue()), header(output.getValue());
    llvm::sys::path::replace_extension(json, "json");
    llvm::sys::path::replace_extension(header, "h");
    llvm::outs() << "mrope-compile: wrote " << output << ", " << json << " and "
                 << header << "\n";
    return 0;
  }
  if (what != "mlir" && what != "nvvm" && what != "json" && what != "header")
    return fail("--emit with --fuse norm,cache --target cuda must be ptx, "
                "cubin, mlir, nvvm, json or header");
  GpuKernelInfo info;
  OwningOpRef<ModuleOp> module =
      buildFusedGpuModule(ctx, kernel, gpu, info, error);
  if (!module)
    return fail(error);
  std::string text;
  llvm::raw_string_ostream os(text);
  if (what == "mlir") {
    module->print(os);
    return writeText(text);
  }
  if (failed(finishGpuLowering(*module, gpu, /*serialize=*/false, info, error)))
    return fail(error);
  if (what == "nvvm")
    module->print(os);
  else if (what == "json")
    os << emitFusedGpuJson(kernel, gpu, info);
  else
    os << emitFusedGpuHeader(kernel, gpu, info);
  return writeText(text);
}

/// --fuse norm,cache: the fused kernel of docs/compile.md.
static int compileFused(MLIRContext &ctx, const RopeKernel &rope) {
  SmallVector<StringRef> parts;
  StringRef(fuse).split(parts, ',');
  llvm::sort(parts);
  if (parts.size() != 2 || parts[0] != "cache" || parts[1] != "norm")
    return fail("--fuse takes norm,cache (both), got '" + fuse + "'");
  if (target == "cuda")
    return compileFusedCuda(ctx, rope);
  FusedKernel kernel{rope, eps};
  std::string error;
  if (failed(kernel.verify(error)))
    return fail(error);
  if (emit.empty())
    emit = "so";
  if (emit == "so") {
    if (output == "-")
      return fail("-o LIB.so is required with --emit so");
    if (failed(compileFusedSharedLibrary(ctx, kernel, output, cpu, error)))
      return fail(error);
    llvm::SmallString<128> header(output.getValue());
    llvm::sys::path::replace_extension(header, "h");
    llvm::outs() << "mrope-compile: wrote " << output << " and " << header
                 << "\n";
    return 0;
  }
  if (emit == "header") {
    FailureOr<CpuTarget> headerTarget = describeCpu(cpu, error);
    if (failed(headerTarget))
      return fail(error);
    return writeText(emitFusedCHeader(kernel, &*headerTarget));
  }
  if (emit != "mlir" && emit != "llvm-dialect")
    return fail("--emit with --fuse must be so, mlir, llvm-dialect or header");
  FailureOr<CpuTarget> cpuTarget = describeCpu(cpu, error);
  if (failed(cpuTarget))
    return fail(error);
  OwningOpRef<ModuleOp> module = buildFusedKernelModule(
      ctx, kernel, fusedTokensPerBlock(kernel, *cpuTarget), error);
  if (!module)
    return fail(error);
  if (emit == "llvm-dialect" &&
      failed(lowerFusedToLLVMDialect(*module, kernel, *cpuTarget)))
    return fail("lowering the fused kernel failed");
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  return writeText(text);
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::registerAllPasses();
  mrope::registerAllPasses();
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "mrope-compile: compile a fused RoPE / M-RoPE kernel into a shared "
      "library with a C ABI.\n\n"
      "The kernel rotates q (and k) in place by positions [axes, batch, seq]\n"
      "under the semantics of one rope.apply: the one rope-raise makes of\n"
      "site --site of MODEL, or else the one the flags describe. The header\n"
      "written next to the library (same name, .h) documents the one\n"
      "function it exports. Examples:\n"
      "  mrope-compile model.onnx --site 0 -o librope.so\n"
      "  mrope-compile --sections 16,24,24 --head-dim 128 --q-heads 28 "
      "--kv-heads 4 -o libqwen2vl_rope.so\n"
      "With --target cuda it writes PTX (or --emit cubin) for --chip and a\n"
      "JSON file next to it describing the entry point (docs/gpu.md):\n"
      "  mrope-compile --target cuda --chip sm_90 --sections 16,24,24 "
      "-o qwen2vl_rope.ptx\n");

  if (target != "cpu" && target != "cuda")
    return fail("--target must be cpu or cuda, got '" + target + "'");
  KernelOptions options;
  options.name = name;
  // --layout neox|gptj predates --pairs; it still names the pairs.
  std::string pairLayout = pairs;
  if (layout == "neox" || layout == "gptj") {
    if (pairs.getNumOccurrences() && pairs != layout)
      return fail("--layout " + layout + " contradicts --pairs " + pairs);
    pairLayout = layout;
  } else {
    options.tensorLayout = layout;
  }
  if (pairLayout != "neox" && pairLayout != "gptj")
    return fail("--pairs must be neox or gptj, got '" + pairLayout + "'");
  if (target == "cpu")
    options.tokensPerBlock = tokensPerBlock;

  DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mrope::registerAllDialects(registry);
  MLIRContext ctx(registry);

  std::string error;
  FailureOr<RopeKernel> kernel = failure();
  if (!modelPath.empty()) {
    for (cl::Option *flag : rotationFlags)
      if (flag->getNumOccurrences())
        return fail("--" + flag->ArgStr +
                    " describes the rotation; with a model, site --site's "
                    "rope.apply does");
    if (layout == "neox" || layout == "gptj")
      return fail("--layout " + layout +
                  " describes the rotation; with a model, site --site's "
                  "rope.apply does");
    kernel = kernelOfSite(ctx, options, error);
    if (failed(kernel))
      return fail(modelPath + ": " + error);
  } else {
    if (siteIndex.getNumOccurrences())
      return fail("--site needs a MODEL");
    OwningOpRef<ModuleOp> module = templateFromFlags(ctx, pairLayout, error);
    if (!module)
      return fail(error);
    kernel = RopeKernel::fromApply(getTemplateApply(*module), options, error);
    if (failed(kernel))
      return fail(error);
  }
  if (failed(kernel->verify(error)))
    return fail(error);

  if (siteNormEps) {
    // The model says its epsilon; a different --eps would compute
    // something else than the graph.
    if (eps.getNumOccurrences() && eps != *siteNormEps)
      return fail("--eps " + std::to_string(eps) + " but site " +
                  std::to_string(siteIndex) + "'s RMSNorm uses " +
                  std::to_string(*siteNormEps));
    eps = *siteNormEps;
  }
  if (!fuse.empty())
    return compileFused(ctx, *kernel);
  if (eps.getNumOccurrences())
    return fail("--eps needs --fuse norm,cache");

  if (target == "cuda") {
    if (kernel->tokenMajor())
      return fail("--layout bshd is CPU-only for now; the CUDA kernel takes "
                  "[B, H, S, D]");
    return compileCuda(ctx, *kernel);
  }
  if (emit.empty())
    emit = "so";
  if (emit == "so") {
    if (output == "-")
      return fail("-o LIB.so is required with --emit so");
    if (failed(compileSharedLibrary(ctx, *kernel, output, cpu, error)))
      return fail(error);
    llvm::SmallString<128> header(output.getValue());
    llvm::sys::path::replace_extension(header, "h");
    llvm::outs() << "mrope-compile: wrote " << output << " and " << header
                 << "\n";
    return 0;
  }

  std::string text;
  if (emit == "header") {
    text = emitCHeader(*kernel);
  } else {
    FailureOr<CpuTarget> cpuTarget = describeCpu(cpu, error);
    if (failed(cpuTarget))
      return fail(error);
    OwningOpRef<ModuleOp> module = buildKernelModule(ctx, *kernel);
    if (emit != "mlir" &&
        failed(lowerToLLVMDialect(*module, *kernel, *cpuTarget)))
      return fail("lowering the kernel failed");
    if (emit == "mlir" || emit == "llvm-dialect") {
      llvm::raw_string_ostream os(text);
      module->print(os);
    } else if (emit == "llvm") {
      FailureOr<std::string> ir = emitMachineCode(*module, cpu, false);
      if (failed(ir))
        return fail("LLVM code generation failed");
      text = *ir;
    } else {
      return fail("--emit must be so, mlir, llvm-dialect, llvm or header");
    }
  }
  return writeText(text);
}
