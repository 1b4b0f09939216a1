//===- CpuCompiler.cpp - rope kernels -> shared library with a C ABI ------===//
#include "mrope/Compile/CpuCompiler.h"

#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <numeric>

using namespace mlir;
using namespace mrope;

rope::SemanticsAttr KernelSpec::semantics(MLIRContext *ctx) const {
  int64_t rotary = rotaryDim ? rotaryDim
                             : 2 * std::accumulate(sections.begin(),
                                                   sections.end(), int64_t{0});
  return rope::SemanticsAttr::get(ctx, sections, rotary, llvm::APFloat(theta),
                                  layout, order, freqs);
}

LogicalResult KernelSpec::verify(std::string &error) const {
  llvm::raw_string_ostream os(error);
  if (name.empty() || !(std::isalpha(name[0]) || name[0] == '_') ||
      !llvm::all_of(name, [](char c) { return std::isalnum(c) || c == '_'; })) {
    os << "--name '" << name << "' is not a C identifier";
    return failure();
  }
  if (dtype != "f32" && dtype != "f16" && dtype != "bf16") {
    os << "--dtype must be f32, f16 or bf16, got '" << dtype << "'";
    return failure();
  }
  if (headDim <= 0 || qHeads < 0 || kvHeads < -1) {
    os << "head dim and head counts must be positive";
    return failure();
  }
  int64_t rotary = rotaryDim ? rotaryDim
                             : 2 * std::accumulate(sections.begin(),
                                                   sections.end(), int64_t{0});
  if (rotary > headDim) {
    os << "rotary dim " << rotary << " (2 x sum of --sections) exceeds --head-dim "
       << headDim;
    return failure();
  }
  // The attribute verifier knows the rest (sums, interleaving, ...).
  MLIRContext ctx;
  ctx.loadDialect<rope::RopeDialect>();
  auto diag = [&]() {
    return emitError(UnknownLoc::get(&ctx));
  };
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    os << d.str();
    return success();
  });
  if (failed(rope::SemanticsAttr::verify(diag, sections, rotary,
                                         llvm::APFloat(theta), layout, order,
                                         freqs)))
    return failure();
  int64_t tableSize = freqs == rope::FreqIndex::global ? rotary / 2
                                                        : sections.front();
  if (!invFreq.empty() && static_cast<int64_t>(invFreq.size()) != tableSize) {
    os << "the frequency table has " << invFreq.size()
       << " entries; the semantics need " << tableSize;
    return failure();
  }
  return success();
}

Type mrope::elementType(Builder &b, StringRef dtype) {
  if (dtype == "f16")
    return b.getF16Type();
  if (dtype == "bf16")
    return b.getBF16Type();
  return b.getF32Type();
}

OwningOpRef<ModuleOp> mrope::buildRopeKernelModule(MLIRContext &ctx,
                                                   const KernelSpec &spec,
                                                   StringRef funcName,
                                                   bool strided) {
  ctx.loadDialect<func::FuncDialect, memref::MemRefDialect, rope::RopeDialect>();
  OpBuilder b(&ctx);
  Location loc = NameLoc::get(b.getStringAttr(spec.name));
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());

  int64_t dyn = ShapedType::kDynamic;
  auto heads = [&](int64_t n) { return n > 0 ? n : dyn; };
  auto bufferType = [&](ArrayRef<int64_t> shape, Type elem) {
    if (!strided)
      return MemRefType::get(shape, elem);
    SmallVector<int64_t> strides(shape.size(), dyn);
    strides.back() = 1;
    return MemRefType::get(shape, elem,
                           StridedLayoutAttr::get(&ctx, dyn, strides));
  };
  Type elem = elementType(b, spec.dtype);
  SmallVector<Type> args;
  args.push_back(bufferType({dyn, heads(spec.qHeads), dyn, spec.headDim}, elem));
  if (spec.numTensors() == 2)
    args.push_back(
        bufferType({dyn, heads(spec.kvHeads), dyn, spec.headDim}, elem));
  args.push_back(bufferType(
      {static_cast<int64_t>(spec.sections.size()), dyn, dyn}, b.getI64Type()));

  // A frequency table taken from a model keeps its exact bits.
  memref::GlobalOp table;
  if (!spec.invFreq.empty()) {
    auto type = MemRefType::get({static_cast<int64_t>(spec.invFreq.size())},
                                b.getF32Type());
    table = memref::GlobalOp::create(
        b, loc, (spec.name + "_inv_freq"), b.getStringAttr("private"), type,
        DenseElementsAttr::get(RankedTensorType::get(type.getShape(),
                                                     b.getF32Type()),
                               ArrayRef<float>(spec.invFreq)),
        /*constant=*/true, /*alignment=*/nullptr);
  }

  auto func =
      func::FuncOp::create(b, loc, funcName, b.getFunctionType(args, {}));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value invFreq;
  if (table)
    invFreq = memref::GetGlobalOp::create(b, loc, table.getType(),
                                          table.getSymName());
  ValueRange blockArgs = entry->getArguments();
  rope::ApplyOp::create(b, loc, TypeRange{}, blockArgs.drop_back(),
                        blockArgs.back(), invFreq, spec.semantics(&ctx));
  func::ReturnOp::create(b, loc);
  return module;
}

OwningOpRef<ModuleOp> mrope::buildKernelModule(MLIRContext &ctx,
                                               const KernelSpec &spec) {
  // Fully dynamic strides: the C wrapper hands each thread a token slice.
  OwningOpRef<ModuleOp> module =
      buildRopeKernelModule(ctx, spec, spec.name + "_kernel", /*strided=*/true);
  for (auto func : module->getOps<func::FuncOp>())
    func->setAttr("llvm.emit_c_interface", UnitAttr::get(&ctx));
  return module;
}

LogicalResult mrope::lowerToLLVMDialect(ModuleOp module) {
  PassManager pm(module.getContext());
  if (failed(parsePassPipeline("mrope-cpu-pipeline{bufferize=false}", pm)))
    return failure();
  return pm.run(module);
}

FailureOr<std::string> mrope::emitMachineCode(ModuleOp module, StringRef cpu,
                                              bool object) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  module.getContext()->appendDialectRegistry(registry);

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext);
  if (!llvmModule)
    return module.emitError("translation to LLVM IR failed"), failure();

  auto builder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!builder)
    return module.emitError("no host target: ")
               << llvm::toString(builder.takeError()),
           failure();
  if (cpu != "native") {
    builder->setCPU(cpu.str());
    builder->setFeatures("");
  }
  builder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  builder->setRelocationModel(llvm::Reloc::PIC_);
  auto machine = builder->createTargetMachine();
  if (!machine)
    return module.emitError("cannot create a target machine: ")
               << llvm::toString(machine.takeError()),
           failure();
  llvmModule->setDataLayout((*machine)->createDataLayout());
  llvmModule->setTargetTriple((*machine)->getTargetTriple());
  if (llvm::Error err =
          makeOptimizingTransformer(3, 0, machine->get())(llvmModule.get()))
    return module.emitError("LLVM optimization failed: ")
               << llvm::toString(std::move(err)),
           failure();

  std::string out;
  llvm::raw_string_ostream os(out);
  if (!object) {
    llvmModule->print(os, nullptr);
    return out;
  }
  llvm::SmallString<0> buffer;
  llvm::raw_svector_ostream objStream(buffer);
  llvm::legacy::PassManager codegen;
  if ((*machine)->addPassesToEmitFile(codegen, objStream, nullptr,
                                      llvm::CodeGenFileType::ObjectFile))
    return module.emitError("the target cannot emit object files"), failure();
  codegen.run(*llvmModule);
  return std::string(buffer.str());
}

//===----------------------------------------------------------------------===//
// C header and wrapper
//===----------------------------------------------------------------------===//

static std::string cElementType(const KernelSpec &spec) {
  return spec.dtype == "f32" ? "float" : "uint16_t";
}

static std::string describe(const KernelSpec &spec) {
  std::string text;
  llvm::raw_string_ostream os(text);
  MLIRContext ctx;
  ctx.loadDialect<rope::RopeDialect>();
  os << spec.semantics(&ctx);
  return text;
}

std::string mrope::emitCHeader(const KernelSpec &spec) {
  std::string guard = llvm::StringRef(spec.name).upper() + "_H";
  std::string t = cElementType(spec);
  std::string storage =
      spec.dtype == "f32" ? "float" : spec.dtype + " bit patterns (uint16_t)";
  auto heads = [](int64_t n, const char *name) {
    return n > 0 ? std::to_string(n) : std::string(name);
  };
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "/* Generated by mrope-compile: in-place rotary position embedding.\n"
     << " *\n"
     << " *   " << describe(spec) << "\n"
     << " *\n"
     << " * q" << (spec.numTensors() == 2 ? " and k are" : " is")
     << " contiguous [batch, heads, seq, " << spec.headDim << "] " << storage
     << ",\n"
     << " * q with " << heads(spec.qHeads, "any number of") << " heads";
  if (spec.numTensors() == 2)
    os << ", k with " << heads(spec.kvHeads, "any number of") << " heads";
  os << ";\n * positions is contiguous [" << spec.sections.size()
     << ", batch, seq] int64 (one row per position axis).\n"
     << " * Channels are rotated in place; the tokens are split over\n"
     << " * num_threads threads (<= 0: one). Returns 0, or -1 on bad sizes.\n"
     << " */\n"
     << "#ifndef " << guard << "\n#define " << guard << "\n\n"
     << "#include <stdint.h>\n\n"
     << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
     << "#define " << llvm::StringRef(spec.name).upper() << "_HEAD_DIM "
     << spec.headDim << "\n"
     << "#define " << llvm::StringRef(spec.name).upper() << "_POSITION_AXES "
     << spec.sections.size() << "\n\n"
     << "int " << spec.name << "(" << t << " *q, ";
  if (spec.numTensors() == 2)
    os << t << " *k, ";
  os << "int64_t q_heads, ";
  if (spec.numTensors() == 2)
    os << "int64_t kv_heads, ";
  os << "const int64_t *positions,\n    int64_t batch, int64_t seq, "
        "int num_threads);\n\n"
     << "#ifdef __cplusplus\n}\n#endif\n\n#endif\n";
  return text;
}

std::string mrope::emitCWrapper(const KernelSpec &spec) {
  std::string t = cElementType(spec);
  int64_t axes = spec.sections.size();
  bool two = spec.numTensors() == 2;
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "/* Generated by mrope-compile: C ABI and threads around the MLIR "
        "kernel. */\n"
     << "#include <pthread.h>\n#include <stdint.h>\n\n"
     << "typedef struct { " << t << " *allocated, *aligned; int64_t offset, "
     << "sizes[4], strides[4]; } md4;\n"
     << "typedef struct { int64_t *allocated, *aligned; int64_t offset, "
     << "sizes[3], strides[3]; } md3;\n\n"
     << "void _mlir_ciface_" << spec.name << "_kernel(md4 *q, "
     << (two ? "md4 *k, " : "") << "md3 *positions);\n\n"
     << "typedef struct { " << t << " *q, *k; const int64_t *pos; int64_t "
        "hq, hk, batch, seq, s0, n; } slice;\n\n"
     << "static md4 view4(" << t
     << " *base, int64_t b, int64_t h, int64_t s, int64_t s0, int64_t n) {\n"
     << "  const int64_t d = " << spec.headDim << ";\n"
     << "  md4 m = {base, base, s0 * d, {b, h, n, d}, {h * s * d, s * d, d, "
        "1}};\n  return m;\n}\n\n"
     << "static void *run(void *arg) {\n  slice *w = (slice *)arg;\n"
     << "  md4 q = view4(w->q, w->batch, w->hq, w->seq, w->s0, w->n);\n";
  if (two)
    os << "  md4 k = view4(w->k, w->batch, w->hk, w->seq, w->s0, w->n);\n";
  os << "  md3 p = {(int64_t *)w->pos, (int64_t *)w->pos, w->s0, {" << axes
     << ", w->batch, w->n}, {w->batch * w->seq, w->seq, 1}};\n"
     << "  _mlir_ciface_" << spec.name << "_kernel(&q, " << (two ? "&k, " : "")
     << "&p);\n  return 0;\n}\n\n"
     << "int " << spec.name << "(" << t << " *q, " << (two ? t + " *k, " : "")
     << "int64_t q_heads, " << (two ? "int64_t kv_heads, " : "")
     << "const int64_t *positions,\n    int64_t batch, int64_t seq, int "
        "num_threads) {\n";
  if (!two)
    os << "  " << t << " *k = 0;\n  int64_t kv_heads = 0;\n";
  if (spec.qHeads > 0)
    os << "  if (q_heads != " << spec.qHeads << ") return -1;\n";
  if (two && spec.kvHeads > 0)
    os << "  if (kv_heads != " << spec.kvHeads << ") return -1;\n";
  os << "  if (batch < 0 || seq < 0 || q_heads < 0 || kv_heads < 0) return "
        "-1;\n"
     << "  if (num_threads < 1) num_threads = 1;\n"
     << "  if (num_threads > 256) num_threads = 256;\n"
     << "  if (num_threads > seq) num_threads = seq > 0 ? (int)seq : 1;\n"
     << "  pthread_t threads[256];\n  slice work[256];\n  int started[256] = "
        "{0};\n"
     << "  int64_t chunk = (seq + num_threads - 1) / num_threads;\n"
     << "  for (int i = 0; i < num_threads; ++i) {\n"
     << "    int64_t s0 = i * chunk, n = seq - s0 < chunk ? seq - s0 : chunk;\n"
     << "    if (n < 0) n = 0;\n"
     << "    slice w = {q, k, positions, q_heads, kv_heads, batch, seq, s0, "
        "n};\n"
     << "    work[i] = w;\n"
     << "  }\n"
     << "  for (int i = 1; i < num_threads; ++i)\n"
     << "    if (!(started[i] = pthread_create(&threads[i], 0, run, &work[i]) "
        "== 0)) run(&work[i]);\n"
     << "  run(&work[0]);\n"
     << "  for (int i = 1; i < num_threads; ++i)\n"
     << "    if (started[i]) pthread_join(threads[i], 0);\n"
     << "  return 0;\n}\n";
  return text;
}

//===----------------------------------------------------------------------===//
// Shared library
//===----------------------------------------------------------------------===//

static LogicalResult writeFile(StringRef path, StringRef contents,
                               std::string &error) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = "cannot write " + path.str() + ": " + ec.message();
    return failure();
  }
  os << contents;
  return success();
}

LogicalResult mrope::compileSharedLibrary(MLIRContext &ctx,
                                          const KernelSpec &spec,
                                          StringRef outPath, StringRef cpu,
                                          std::string &error) {
  if (failed(spec.verify(error)))
    return failure();
  OwningOpRef<ModuleOp> module = buildKernelModule(ctx, spec);
  std::string diagnostics;
  {
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      diagnostics += d.str() + "\n";
      return success();
    });
    if (failed(lowerToLLVMDialect(*module))) {
      error = "lowering the kernel failed: " + diagnostics;
      return failure();
    }
    FailureOr<std::string> object = emitMachineCode(*module, cpu, true);
    if (failed(object)) {
      error = "code generation failed: " + diagnostics;
      return failure();
    }

    llvm::SmallString<128> dir;
    if (std::error_code ec =
            llvm::sys::fs::createUniqueDirectory("mrope-compile", dir)) {
      error = "cannot create a temporary folder: " + ec.message();
      return failure();
    }
    llvm::scope_exit cleanup([&] {
      llvm::sys::fs::remove_directories(dir);
    });
    std::string objPath = (dir + "/kernel.o").str();
    std::string wrapperPath = (dir + "/wrapper.c").str();
    std::string soTmp = (dir + "/out.so").str();
    if (failed(writeFile(objPath, *object, error)) ||
        failed(writeFile(wrapperPath, emitCWrapper(spec), error)))
      return failure();

    const char *ccEnv = std::getenv("CC");
    std::string ccName = ccEnv && *ccEnv ? ccEnv : "cc";
    auto cc = llvm::sys::findProgramByName(ccName);
    if (!cc) {
      error = "no C compiler '" + ccName +
              "' found to link the shared library (set CC)";
      return failure();
    }
    SmallVector<StringRef> argv = {*cc,        "-O2",      "-fPIC",
                                   "-shared",  "-pthread", wrapperPath,
                                   objPath,    "-o",       soTmp};
    std::string ccError;
    std::string logPath = (dir + "/cc.log").str();
    std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath),
                                            StringRef(logPath)};
    int rc = llvm::sys::ExecuteAndWait(*cc, argv, std::nullopt, redirects, 0,
                                       0, &ccError);
    if (rc != 0) {
      auto log = llvm::MemoryBuffer::getFile(logPath);
      error = "linking with " + *cc + " failed" +
              (ccError.empty() ? "" : ": " + ccError) +
              (log ? "\n" + (*log)->getBuffer().str() : "");
      return failure();
    }

    // Header next to the library; both appear only when both are complete.
    llvm::SmallString<128> headerPath(outPath);
    llvm::sys::path::replace_extension(headerPath, "h");
    std::string headerTmp = (dir + "/out.h").str();
    if (failed(writeFile(headerTmp, emitCHeader(spec), error)))
      return failure();
    for (auto [from, to] : {std::pair<std::string, std::string>{
                                soTmp, outPath.str()},
                            {headerTmp, headerPath.str().str()}}) {
      if (std::error_code ec = llvm::sys::fs::rename(from, to)) {
        // Across file systems rename fails: copy, then it is complete.
        if ((ec = llvm::sys::fs::copy_file(from, to + ".tmp")) ||
            (ec = llvm::sys::fs::rename(to + ".tmp", to))) {
          error = "cannot write " + to + ": " + ec.message();
          return failure();
        }
      }
    }
  }
  return success();
}
