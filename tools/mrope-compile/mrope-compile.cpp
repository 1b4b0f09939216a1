//===- mrope-compile.cpp - rope kernels -> shared library + C header ------===//
//
// For integrators who do not use MLIR: describe the rotation with flags and
// get a shared library with one C function and a header that documents it.
//
//   mrope-compile --target cpu --head-dim 128 --sections 16,24,24 \
//       --q-heads 28 --kv-heads 4 --dtype f32 -o libqwen2vl_rope.so
//   mrope-compile --target cuda --chip sm_90 --sections 16,24,24 \
//       --q-heads 28 --kv-heads 4 --dtype bf16 -o qwen2vl_rope.ptx
//
//===----------------------------------------------------------------------===//
#include "mrope/Analysis/RopeReport.h"
#include "mrope/Analysis/RopeSites.h"
#include "mrope/Compile/CpuCompiler.h"
#include "mrope/Compile/GpuCompiler.h"
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

#include "llvm/Support/CommandLine.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mrope;
namespace cl = llvm::cl;

static cl::OptionCategory category("mrope-compile options");

static cl::opt<std::string> modelPath(
    cl::Positional,
    cl::desc("[MODEL.onnx | MODEL.onnxtext | MODEL.mlir]: take the kernel's "
             "semantics from a RoPE site of this model instead of the flags"),
    cl::init(""), cl::cat(category));
static cl::opt<int64_t> siteIndex(
    "site", cl::desc("which RoPE site of MODEL (as mrope-fix numbers them)"),
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
static cl::opt<std::string> output("o", cl::desc("output file"),
                                   cl::value_desc("path"), cl::init("-"),
                                   cl::cat(category));
static cl::opt<std::string> name("name",
                                 cl::desc("C function name (default mrope_rope)"),
                                 cl::init("mrope_rope"), cl::cat(category));
static cl::list<int64_t>
    sections("sections",
             cl::desc("frequencies per position axis, e.g. 16,24,24 (M-RoPE), "
                      "64 (text), 20,20 (vision)"),
             cl::CommaSeparated, cl::cat(category));
static cl::opt<int64_t> headDim("head-dim", cl::desc("channels per head"),
                                cl::init(128), cl::cat(category));
static cl::opt<int64_t> rotaryDim(
    "rotary-dim", cl::desc("rotated channels (default 2 x sum of sections)"),
    cl::init(0), cl::cat(category));
static cl::opt<double> theta("theta", cl::desc("frequency base"),
                             cl::init(1.0e6), cl::cat(category));
static cl::opt<std::string> layout(
    "layout",
    cl::desc("cpu: how q and k are stored: bhsd ([B, H, S, D], default) or "
             "bshd ([B, S, H*D]); neox/gptj are still accepted here as the "
             "--pairs value"),
    cl::init("bhsd"), cl::cat(category));
static cl::opt<std::string> pairs("pairs",
                                  cl::desc("neox (rotate-half) or gptj (pairs)"),
                                  cl::init("neox"), cl::cat(category));
static cl::opt<bool> interleaved(
    "interleaved", cl::desc("Qwen3-VL interleaved sections"), cl::init(false),
    cl::cat(category));
static cl::opt<bool> perSection(
    "per-section-freqs",
    cl::desc("frequencies restart in every section (Qwen2-VL vision tower)"),
    cl::init(false), cl::cat(category));
static cl::opt<int64_t> qHeads("q-heads",
                               cl::desc("q heads (0: any, checked at run time)"),
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
static int compileCuda(MLIRContext &ctx, const KernelSpec &spec) {
  GpuTarget gpu;
  gpu.chip = chip;
  gpu.features = ptxFeatures;
  gpu.tokensPerBlock = tokensPerBlock;
  std::string error;
  std::string what = emit.empty() ? std::string("ptx") : emit.getValue();
  if (what == "ptx" || what == "cubin") {
    if (output == "-")
      return fail("-o KERNEL." + what + " is required with --target cuda");
    if (failed(compileGpuKernel(ctx, spec, gpu, output, what == "cubin",
                                error)))
      return fail(error);
    llvm::SmallString<128> json(output.getValue());
    llvm::sys::path::replace_extension(json, "json");
    llvm::outs() << "mrope-compile: wrote " << output << " and " << json
                 << "\n";
    return 0;
  }
  OwningOpRef<ModuleOp> module = buildGpuKernelModule(ctx, spec);
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
    if (failed(lowerToGpuBinary(*module, spec, gpu, /*serialize=*/false, info,
                                error)))
      return fail(error);
    if (what == "nvvm")
      module->print(os);
    else
      os << emitKernelJson(spec, gpu, info);
  } else {
    return fail("--emit for --target cuda must be ptx, cubin, mlir, gpu, "
                "nvvm or json");
  }
  return writeText(text);
}

/// The semantics of RoPE site --site of --model, with the model's own
/// frequency table; the head dim from the rotated tensors when known.
static LogicalResult specFromModel(MLIRContext &ctx, KernelSpec &spec,
                                   std::string &error) {
  ctx.loadDialect<rope::RopeDialect>();
  OwningOpRef<ModuleOp> module;
  {
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      error += d.str();
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
  }
  if (!module)
    return failure();
  onnx::GraphOp graph = onnx::getMainGraph(*module);
  if (!graph) {
    error = "no onnx.graph @main";
    return failure();
  }
  std::vector<RopeSite> sites = findRopeSites(graph, Arch::Auto);
  if (siteIndex < 0 || siteIndex >= static_cast<int64_t>(sites.size())) {
    error = "--site " + std::to_string(siteIndex) + " but the model has " +
            std::to_string(sites.size()) + " RoPE site(s)";
    return failure();
  }
  RopeSite &site = sites[siteIndex];
  if (site.vision || site.kind == PositionKind::TwoD) {
    error = "site " + std::to_string(siteIndex) +
            " rotates the vision tower's [tokens, heads, dim] layout; the "
            "kernel takes [batch, heads, seq, dim]";
    return failure();
  }
  spec.sections.assign(site.getSections().begin(), site.getSections().end());
  spec.rotaryDim = site.getRotaryDim();
  spec.theta = site.getTheta();
  spec.layout = site.getLayout();
  spec.order = site.semantics.getOrder();
  spec.freqs = site.semantics.getFreqs();
  spec.invFreq.assign(site.invFreq.begin(), site.invFreq.end());
  if (!headDim.getNumOccurrences()) {
    spec.headDim = site.getRotaryDim();
    for (Rotation &rotation : site.rotations)
      for (Value operand : rotation.cosMul.getInputs())
        if (auto type = dyn_cast<RankedTensorType>(operand.getType());
            type && type.getRank() == 4 && !type.isDynamicDim(3) &&
            type.getDimSize(1) != 1)
          spec.headDim = type.getDimSize(3);
  }
  llvm::errs() << "mrope-compile: site " << siteIndex << " of "
               << llvm::sys::path::filename(modelPath) << ": "
               << positionKindName(site.kind)
               << ", " << spec.semantics(&ctx) << ", head dim " << spec.headDim
               << ", the model's inv_freq table\n";
  return success();
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
      "under the semantics the flags describe; the header written next to\n"
      "the library (same name, .h) documents the one function it exports.\n"
      "Example (Qwen2-VL-7B attention):\n"
      "  mrope-compile --sections 16,24,24 --head-dim 128 --q-heads 28 "
      "--kv-heads 4 -o libqwen2vl_rope.so\n"
      "With --target cuda it writes PTX (or --emit cubin) for --chip and a\n"
      "JSON file next to it describing the entry point (docs/gpu.md):\n"
      "  mrope-compile --target cuda --chip sm_90 --sections 16,24,24 "
      "-o qwen2vl_rope.ptx\n");

  if (target != "cpu" && target != "cuda")
    return fail("--target must be cpu or cuda, got '" + target + "'");
  KernelSpec spec;
  spec.name = name;
  if (!sections.empty())
    spec.sections.assign(sections.begin(), sections.end());
  spec.headDim = headDim;
  spec.rotaryDim = rotaryDim;
  spec.theta = theta;
  // --layout neox|gptj predates --pairs; it still names the pairs.
  std::string pairLayout = pairs;
  if (layout == "neox" || layout == "gptj") {
    if (pairs.getNumOccurrences() && pairs != layout)
      return fail("--layout " + layout + " contradicts --pairs " + pairs);
    pairLayout = layout;
  } else {
    spec.tensorLayout = layout;
  }
  if (pairLayout != "neox" && pairLayout != "gptj")
    return fail("--pairs must be neox or gptj, got '" + pairLayout + "'");
  spec.layout =
      pairLayout == "gptj" ? rope::PairLayout::gptj : rope::PairLayout::neox;
  if (target == "cpu")
    spec.tokensPerBlock = tokensPerBlock;
  spec.order = interleaved ? rope::SectionOrder::interleaved
                           : rope::SectionOrder::contiguous;
  spec.freqs = perSection ? rope::FreqIndex::per_section : rope::FreqIndex::global;
  spec.qHeads = qHeads;
  spec.kvHeads = kvHeads;
  spec.dtype = dtype;

  DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mrope::registerAllDialects(registry);
  MLIRContext ctx(registry);

  std::string error;
  if (!modelPath.empty() && target == "cuda")
    return fail("--target cuda takes kernel flags only; compiling a model's "
                "site (with its own frequency table) is CPU-only for now");
  if (!modelPath.empty() && failed(specFromModel(ctx, spec, error)))
    return fail(modelPath + ": " + error);
  if (failed(spec.verify(error)))
    return fail(error);

  if (target == "cuda") {
    if (spec.tokenMajor())
      return fail("--layout bshd is CPU-only for now; the CUDA kernel takes "
                  "[B, H, S, D]");
    return compileCuda(ctx, spec);
  }
  if (emit.empty())
    emit = "so";
  if (emit == "so") {
    if (output == "-")
      return fail("-o LIB.so is required with --emit so");
    if (failed(compileSharedLibrary(ctx, spec, output, cpu, error)))
      return fail(error);
    llvm::SmallString<128> header(output.getValue());
    llvm::sys::path::replace_extension(header, "h");
    llvm::outs() << "mrope-compile: wrote " << output << " and " << header
                 << "\n";
    return 0;
  }

  std::string text;
  if (emit == "header") {
    text = emitCHeader(spec);
  } else {
    FailureOr<CpuTarget> cpuTarget = describeCpu(cpu, error);
    if (failed(cpuTarget))
      return fail(error);
    OwningOpRef<ModuleOp> module = buildKernelModule(ctx, spec);
    if (emit != "mlir" && failed(lowerToLLVMDialect(*module, spec, *cpuTarget)))
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
