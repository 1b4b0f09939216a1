//===- GpuCompiler.cpp - rope kernels -> PTX / cubin for CUDA -------------===//
#include "mrope/Compile/GpuCompiler.h"

#include "mrope/Conversion/Pipelines.h"
#include "mrope/Conversion/RopeToGPU/RopeToGPU.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mrope;

OwningOpRef<ModuleOp> mrope::buildGpuKernelModule(MLIRContext &ctx,
                                                  const RopeKernel &kernel) {
  // Identity layouts (contiguous tensors): the head dim is static, so every
  // row starts on a multiple of the vector width and the kernel's vector
  // accesses may assume 16-byte alignment. The outlined kernel is named
  // <func>_kernel: the PTX entry is <name>_kernel.
  return buildRopeKernelModule(ctx, kernel, kernel.options.name,
                               /*strided=*/false);
}

static std::string rewriteOptions(const GpuTarget &target) {
  return llvm::formatv("tokens-per-block={0} freqs-per-thread={1} "
                       "heads-per-iteration={2}",
                       target.tokensPerBlock, target.freqsPerThread,
                       target.headsPerIteration)
      .str();
}

LogicalResult mrope::lowerToGpuDialect(ModuleOp module,
                                       const GpuTarget &target) {
  PassManager pm(module.getContext());
  if (failed(parsePassPipeline(
          "convert-rope-to-gpu{" + rewriteOptions(target) + "}", pm)))
    return failure();
  return pm.run(module);
}

/// A model's frequency table is a constant memref.global the host function
/// reads; the launch body gets its own memref.get_global, so that outlining
/// copies the global into the gpu.module instead of making the table a
/// kernel parameter (the ABI is q, k, positions).
static void sinkConstantTables(ModuleOp module) {
  module.walk([](gpu::LaunchOp launch) {
    llvm::SetVector<Value> captured;
    getUsedValuesDefinedAbove(launch.getBody(), captured);
    OpBuilder b = OpBuilder::atBlockBegin(&launch.getBody().front());
    for (Value value : captured) {
      auto get = value.getDefiningOp<memref::GetGlobalOp>();
      if (!get)
        continue;
      Operation *copy = b.clone(*get);
      replaceAllUsesInRegionWith(value, copy->getResult(0), launch.getBody());
    }
  });
}

LogicalResult mrope::lowerToGpuBinary(ModuleOp module, const RopeKernel &kernel,
                                      const GpuTarget &target, bool serialize,
                                      GpuKernelInfo &info, std::string &error) {
  // The launch shape, as convert-rope-to-gpu will choose it.
  rope::ApplyOp apply;
  module.walk([&](rope::ApplyOp op) { apply = op; });
  if (!apply) {
    error = "no rope.apply in the kernel module";
    return failure();
  }
  RopeToGPUOptions options;
  options.tokensPerBlock = target.tokensPerBlock;
  options.freqsPerThread = target.freqsPerThread;
  options.headsPerIteration = target.headsPerIteration;
  FailureOr<RopeLaunchShape> shape =
      chooseRopeLaunchShape(apply, options, error);
  if (failed(shape))
    return failure();
  // convert-rope-to-gpu first, so the tables can be sunk into the launch;
  // the pipeline's own rewrite then finds no rope op left.
  if (failed(lowerToGpuDialect(module, target))) {
    error = "convert-rope-to-gpu failed";
    return failure();
  }
  info.blockX = shape->blockX;
  info.blockY = shape->tokensPerBlock;
  info.freqsPerThread = shape->freqsPerThread;
  info.vectorAlignment = shape->vectorAlignment;
  return finishGpuLowering(module, target, serialize, info, error);
}

LogicalResult mrope::finishGpuLowering(ModuleOp module, const GpuTarget &target,
                                       bool serialize, GpuKernelInfo &info,
                                       std::string &error) {
  SmallVector<gpu::LaunchOp> hostLaunches;
  module.walk([&](gpu::LaunchOp op) { hostLaunches.push_back(op); });
  if (hostLaunches.size() != 1) {
    error =
        "expected one gpu.launch, found " + std::to_string(hostLaunches.size());
    return failure();
  }
  FunctionType hostType =
      hostLaunches.front()->getParentOfType<func::FuncOp>().getFunctionType();
  sinkConstantTables(module);
  PassManager pm(module.getContext());
  GpuPipelineOptions pipeline;
  pipeline.bufferize = false;
  pipeline.chip = target.chip;
  pipeline.features = target.features;
  pipeline.serialize = serialize;
  pipeline.tokensPerBlock = target.tokensPerBlock;
  pipeline.freqsPerThread = target.freqsPerThread;
  pipeline.headsPerIteration = target.headsPerIteration;
  buildGpuPipeline(pm, pipeline);
  if (failed(pm.run(module))) {
    error = "mrope-gpu-pipeline failed";
    return failure();
  }

  // The ABI the JSON documents: the kernel takes the host function's
  // arguments, in order, each memref expanded into its descriptor.
  SmallVector<gpu::LaunchFuncOp> launches;
  module.walk([&](gpu::LaunchFuncOp op) { launches.push_back(op); });
  if (launches.size() != 1) {
    error = "expected one gpu.launch_func, found " +
            std::to_string(launches.size());
    return failure();
  }
  gpu::LaunchFuncOp launch = launches.front();
  ValueRange kernelArgs = launch.getKernelOperands();
  bool sameOrder = kernelArgs.size() == hostType.getNumInputs();
  for (auto [i, value] : llvm::enumerate(kernelArgs)) {
    auto arg = dyn_cast<BlockArgument>(value);
    sameOrder &=
        arg && arg.getOwner()->isEntryBlock() && arg.getArgNumber() == i;
  }
  if (!sameOrder) {
    error = "internal error: the outlined kernel does not take the host "
            "function's arguments in order; the documented ABI would be wrong";
    return failure();
  }
  info.entry = launch.getKernelName().str();
  info.numParams = 0;
  for (Type type : hostType.getInputs()) {
    auto memref = dyn_cast<MemRefType>(type);
    info.numParams += memref ? 3 + 2 * memref.getRank() : 1;
  }
  return success();
}

FailureOr<std::string> mrope::extractPtx(ModuleOp module, std::string &error) {
  SmallVector<gpu::BinaryOp> binaries;
  module.walk([&](gpu::BinaryOp op) { binaries.push_back(op); });
  if (binaries.size() != 1) {
    error = "expected one gpu.binary, found " + std::to_string(binaries.size());
    return failure();
  }
  for (Attribute attr : binaries.front().getObjects()) {
    auto object = dyn_cast<gpu::ObjectAttr>(attr);
    if (object && object.getFormat() == gpu::CompilationTarget::Assembly)
      return object.getObject().getValue().str();
  }
  error = "the gpu.binary holds no PTX (format=isa) object";
  return failure();
}

llvm::json::Object mrope::memrefParamsJson(StringRef name,
                                           ArrayRef<std::string> sizes) {
  namespace json = llvm::json;
  json::Array fields{json::Value(name.str() + ".allocated (device pointer)"),
                     json::Value(name.str() + ".aligned (device pointer)"),
                     json::Value("offset = 0")};
  for (const std::string &s : sizes)
    fields.push_back("size " + s);
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::string stride;
    for (size_t j = i + 1; j < sizes.size(); ++j)
      stride += (stride.empty() ? "" : "*") + sizes[j];
    fields.push_back("stride " + (stride.empty() ? std::string("1") : stride));
  }
  return json::Object{{"name", name.str()},
                      {"rank", static_cast<int64_t>(sizes.size())},
                      {"params", std::move(fields)}};
}

llvm::json::Object mrope::launchJson(const GpuTarget &target,
                                     const GpuKernelInfo &info) {
  namespace json = llvm::json;
  return json::Object{
      {"entry", info.entry},
      {"chip", target.chip},
      {"ptx_features", target.features},
      {"block", json::Array{info.blockX, info.blockY, 1}},
      {"tokens_per_block", info.blockY},
      {"grid", "[ceil(batch * seq / tokens_per_block), 1, 1]; no launch when "
               "batch * seq == 0"},
      {"freqs_per_thread", info.freqsPerThread},
      {"shared_memory_bytes", 0},
      {"vector_alignment_bytes", info.vectorAlignment},
      {"num_params", info.numParams},
      {"param_type", "every parameter is 64-bit (.u64): pointers and int64"},
  };
}

std::string mrope::emitKernelJson(const RopeKernel &kernel,
                                  const GpuTarget &target,
                                  const GpuKernelInfo &info) {
  namespace json = llvm::json;
  std::string semantics;
  llvm::raw_string_ostream(semantics) << kernel.semantics;
  bool two = kernel.numTensors() == 2;
  int64_t axes = kernel.numAxes();
  std::string d = std::to_string(kernel.headDim);
  std::string a = std::to_string(axes);
  json::Array params;
  params.push_back(memrefParamsJson("q", {"batch", "q_heads", "seq", d}));
  if (two)
    params.push_back(memrefParamsJson("k", {"batch", "kv_heads", "seq", d}));
  params.push_back(memrefParamsJson("positions", {a, "batch", "seq"}));

  json::Object root = launchJson(target, info);
  root["generator"] = "mrope-compile --target cuda";
  root["semantics"] = semantics;
  root["dtype"] = kernel.dtype();
  root["head_dim"] = kernel.headDim;
  root["position_axes"] = axes;
  root["q_heads"] =
      kernel.qHeads > 0 ? json::Value(kernel.qHeads) : json::Value("any");
  root["kv_heads"] = !two                 ? json::Value(nullptr)
                     : kernel.kvHeads > 0 ? json::Value(kernel.kvHeads)
                                          : json::Value("any");
  root["num_tensors"] = kernel.numTensors();
  root["requirements"] =
      "q, k: contiguous [batch, heads, seq, head_dim] " + kernel.dtype() +
      "; positions: contiguous [axes, batch, seq] int64; device "
      "pointers 16-byte aligned; rotated in place; the block size is "
      "fixed (.maxntid)";
  root["params"] = std::move(params);
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0:2}", json::Value(std::move(root))) << "\n";
  return text;
}

FailureOr<std::string> mrope::ptxasForEmit(bool cubin, std::string &error) {
  if (!cubin)
    return std::string();
  std::string ptxas = findPtxas();
  if (ptxas.empty()) {
    error = "--emit cubin needs the CUDA toolkit's ptxas (not found in "
            "$MROPE_PTXAS, PATH, $CUDA_HOME/bin or /usr/local/cuda/bin); "
            "--emit ptx works without it";
    return failure();
  }
  return ptxas;
}

std::string mrope::findPtxas() {
  if (const char *env = std::getenv("MROPE_PTXAS"); env && *env)
    return llvm::sys::fs::can_execute(env) ? std::string(env) : std::string();
  if (auto path = llvm::sys::findProgramByName("ptxas"))
    return *path;
  SmallVector<StringRef> dirs;
  std::string cudaHome;
  if (const char *env = std::getenv("CUDA_HOME"); env && *env) {
    cudaHome = std::string(env) + "/bin";
    dirs.push_back(cudaHome);
  }
  dirs.push_back("/usr/local/cuda/bin");
  if (auto path = llvm::sys::findProgramByName("ptxas", dirs))
    return *path;
  return "";
}

LogicalResult mrope::writeAtomically(StringRef path, StringRef contents,
                                     std::string &error) {
  llvm::SmallString<256> tmp;
  int fd;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueFile(path + "-%%%%%%.tmp", fd, tmp)) {
    error = "cannot write next to " + path.str() + ": " + ec.message();
    return failure();
  }
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << contents;
    os.flush();
    if (os.has_error()) {
      error = "cannot write " + tmp.str().str() + ": " + os.error().message();
      os.clear_error();
      llvm::sys::fs::remove(tmp);
      return failure();
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmp, path)) {
    llvm::sys::fs::remove(tmp);
    error = "cannot write " + path.str() + ": " + ec.message();
    return failure();
  }
  return success();
}

LogicalResult mrope::writeGpuKernel(ModuleOp module, const GpuTarget &target,
                                    StringRef ptxas, StringRef outPath,
                                    StringRef json,
                                    std::optional<StringRef> header,
                                    std::string &error) {
  FailureOr<std::string> binary = extractPtx(module, error);
  if (failed(binary))
    return failure();
  if (!ptxas.empty() &&
      failed(binary = runPtxas(ptxas, *binary, target, error)))
    return failure();
  llvm::SmallString<128> jsonPath(outPath), headerPath(outPath);
  llvm::sys::path::replace_extension(jsonPath, "json");
  llvm::sys::path::replace_extension(headerPath, "h");
  return success(
      succeeded(writeAtomically(outPath, *binary, error)) &&
      succeeded(writeAtomically(jsonPath, json, error)) &&
      (!header || succeeded(writeAtomically(headerPath, *header, error))));
}

LogicalResult mrope::compileGpuKernel(MLIRContext &ctx,
                                      const RopeKernel &kernel,
                                      const GpuTarget &target,
                                      StringRef outPath, bool cubin,
                                      std::string &error) {
  if (failed(kernel.verify(error)))
    return failure();
  FailureOr<std::string> ptxas = ptxasForEmit(cubin, error);
  if (failed(ptxas))
    return failure();
  OwningOpRef<ModuleOp> module = buildGpuKernelModule(ctx, kernel);
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    diagnostics += d.str() + "\n";
    return success();
  });
  GpuKernelInfo info;
  if (failed(lowerToGpuBinary(*module, kernel, target, /*serialize=*/true, info,
                              error))) {
    error += diagnostics.empty() ? "" : ":\n" + diagnostics;
    return failure();
  }
  if (failed(writeGpuKernel(*module, target, *ptxas, outPath,
                            emitKernelJson(kernel, target, info), std::nullopt,
                            error)))
    return failure();
  return success();
}

FailureOr<std::string> mrope::runPtxas(StringRef ptxas, StringRef ptx,
                                       const GpuTarget &target,
                                       std::string &error) {
  llvm::SmallString<128> dir;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("mrope-compile", dir)) {
    error = "cannot create a temporary folder: " + ec.message();
    return failure();
  }
  llvm::scope_exit cleanup([&] { llvm::sys::fs::remove_directories(dir); });
  std::string ptxPath = (dir + "/kernel.ptx").str();
  std::string cubinPath = (dir + "/kernel.cubin").str();
  std::string logPath = (dir + "/ptxas.log").str();
  if (failed(writeAtomically(ptxPath, ptx, error)))
    return failure();
  std::string arch = "-arch=" + target.chip;
  SmallVector<StringRef> argv = {ptxas, arch, "-O3", ptxPath, "-o", cubinPath};
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath),
                                          StringRef(logPath)};
  std::string execError;
  int rc = llvm::sys::ExecuteAndWait(ptxas, argv, std::nullopt, redirects, 0, 0,
                                     &execError);
  if (rc != 0) {
    auto log = llvm::MemoryBuffer::getFile(logPath);
    error = ptxas.str() + " failed" +
            (execError.empty() ? "" : ": " + execError) +
            (log ? "\n" + (*log)->getBuffer().str() : "");
    return failure();
  }
  auto data = llvm::MemoryBuffer::getFile(cubinPath, /*IsText=*/false);
  if (!data) {
    error = "ptxas wrote no cubin";
    return failure();
  }
  return (*data)->getBuffer().str();
}
