//===- mrope-translate.cpp - ONNX <-> onnx dialect ------------------------===//
//
//   mrope-translate --import-onnx MODEL.onnx -o MODEL.mlir
//   mrope-translate --export-onnx MODEL.mlir -o OUT.onnx
//   mrope-translate --onnx-to-onnx MODEL.onnx -o OUT.onnx
//
// Errors are one line each, `FILE: error: message`; nothing is left at the
// output path when a command fails.
//
//===----------------------------------------------------------------------===//
#include "mrope/Dialect/Onnx/IR/OnnxOps.h"
#include "mrope/InitAll.h"
#include "mrope/Target/Onnx/Export.h"
#include "mrope/Target/Onnx/Import.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("mrope-translate options");

enum class Mode { None, Import, Export, RoundTrip };
static cl::opt<Mode> mode(
    cl::desc("What to do:"), cl::init(Mode::None),
    cl::values(
        clEnumValN(Mode::Import, "import-onnx",
                   "ONNX model (.onnx protobuf, or .onnxtext) -> onnx "
                   "dialect MLIR"),
        clEnumValN(Mode::Export, "export-onnx",
                   "onnx dialect MLIR -> ONNX model (+ its own external data "
                   "file when tensors go external)"),
        clEnumValN(Mode::RoundTrip, "onnx-to-onnx",
                   "import then export in one process (no text in between)")),
    cl::cat(category));

static cl::opt<std::string> inputPath(cl::Positional, cl::desc("<input>"),
                                      cl::init("-"), cl::cat(category));
static cl::opt<std::string>
    outputPath("o", cl::desc("Output file ('-' = stdout, import only)"),
               cl::value_desc("path"), cl::init("-"), cl::cat(category));
static cl::opt<bool> onnxText(
    "onnxtext",
    cl::desc("Read the input as ONNX text (default for .onnxtext files)"),
    cl::cat(category));
static cl::opt<int64_t> denseLimit(
    "dense-limit",
    cl::desc("Import: tensors of at most this many elements become dense<...>, "
             "larger ones dense_resource blobs (default 64)"),
    cl::init(64), cl::cat(category));
static cl::opt<bool> noShapeInference(
    "no-shape-inference",
    cl::desc("Import: do not run libonnx shape inference to type node outputs"),
    cl::cat(category));
static cl::opt<bool> inlineFunctions(
    "inline-functions",
    cl::desc("Import: replace calls of model-local functions by their bodies "
             "(nodes named CALL/NODE), as mrope-fix does, so that passes see "
             "the nodes inside them"),
    cl::cat(category));
static cl::opt<bool> checkOnnx(
    "check-onnx",
    cl::desc("Import: run the libonnx 1.12 checker and print what it finds as "
             "warnings; export: refuse to write a model it rejects (it does "
             "not know opsets above 17: those are not checked)"),
    cl::cat(category));
static cl::opt<bool> libonnxInProcess(
    "libonnx-in-process",
    cl::desc("Import: run libonnx's checker and shape inference in this "
             "process rather than in contained child processes (the path "
             "taken where there is no fork; a libonnx crash then ends the "
             "tool)"),
    cl::Hidden, cl::cat(category));
static cl::opt<bool> emitBytecode("emit-bytecode",
                                  cl::desc("Import: write MLIR bytecode"),
                                  cl::cat(category));
static cl::opt<int64_t> externalThreshold(
    "external-threshold",
    cl::desc("Export: initializers of at least this many bytes go to the "
             "external data file, smaller ones inline. Default: keep each "
             "tensor where the input model had it"),
    cl::init(-1), cl::cat(category));
static cl::opt<bool>
    inlineAll("inline-all",
              cl::desc("Export: write every tensor inline (fails over 2 GB)"),
              cl::cat(category));
static cl::opt<std::string> dataFile(
    "data-file",
    cl::desc("Export: name of the external data file, written next to the "
             "output (default: <output file name>.data)"),
    cl::init(""), cl::cat(category));

/// `FILE: error: message`, with the node name when the location has one.
static void printDiagnostic(Diagnostic &diag) {
  std::string file, node;
  unsigned line = 0, col = 0;
  Location loc = diag.getLocation();
  for (int depth = 0; depth < 8; ++depth) {
    if (auto name = llvm::dyn_cast<NameLoc>(loc)) {
      if (node.empty())
        node = name.getName().str();
      loc = name.getChildLoc();
    } else if (auto fl = llvm::dyn_cast<FileLineColLoc>(loc)) {
      file = fl.getFilename().str();
      line = fl.getLine();
      col = fl.getColumn();
      break;
    } else if (auto fused = llvm::dyn_cast<FusedLoc>(loc)) {
      if (fused.getLocations().empty())
        break;
      loc = fused.getLocations().front();
    } else {
      break;
    }
  }
  std::string prefix = file.empty() ? "mrope-translate" : file;
  if (line)
    prefix += ":" + std::to_string(line) + ":" + std::to_string(col);
  const char *sev = diag.getSeverity() == DiagnosticSeverity::Error ? "error"
                    : diag.getSeverity() == DiagnosticSeverity::Warning
                        ? "warning"
                    : diag.getSeverity() == DiagnosticSeverity::Note ? "note"
                                                                     : "remark";
  std::string msg = diag.str();
  std::replace(msg.begin(), msg.end(), '\n', ' ');
  llvm::errs() << prefix << ": " << sev << ": ";
  if (!node.empty() && msg.find(node) == std::string::npos)
    llvm::errs() << "node '" << node << "': ";
  llvm::errs() << msg << "\n";
}

static mrope::onnx::ImportOptions importOptions() {
  mrope::onnx::ImportOptions o;
  o.denseElementLimit = denseLimit;
  o.inferShapes = !noShapeInference;
  o.runChecker = checkOnnx;
  o.isolateLibonnx = !libonnxInProcess;
  o.text = onnxText;
  o.inlineFunctions = inlineFunctions;
  return o;
}

static mrope::onnx::ExportOptions exportOptions() {
  mrope::onnx::ExportOptions o;
  if (inlineAll)
    o.placement = mrope::onnx::ExportOptions::Placement::Inline;
  else if (externalThreshold >= 0) {
    o.placement = mrope::onnx::ExportOptions::Placement::Threshold;
    o.externalThreshold = externalThreshold;
  }
  o.dataFileName = dataFile;
  o.check = checkOnnx;
  return o;
}

static FailureOr<OwningOpRef<ModuleOp>> importInput(MLIRContext &ctx) {
  if (inputPath == "-") {
    auto buf = llvm::MemoryBuffer::getSTDIN();
    if (!buf) {
      llvm::errs() << "<stdin>: error: cannot read\n";
      return failure();
    }
    SmallString<256> cwd;
    llvm::sys::fs::current_path(cwd);
    return mrope::onnx::importOnnxModelFromBuffer(
        (*buf)->getBuffer(), cwd, "<stdin>", &ctx, importOptions());
  }
  return mrope::onnx::importOnnxModel(inputPath, &ctx, importOptions());
}

static LogicalResult writeMlir(ModuleOp module) {
  auto emit = [&](llvm::raw_ostream &os) -> LogicalResult {
    if (emitBytecode)
      return writeBytecodeToFile(module, os);
    module->print(os, OpPrintingFlags().assumeVerified());
    os << "\n";
    return success();
  };
  if (outputPath == "-")
    return emit(llvm::outs());
  auto temp = llvm::sys::fs::TempFile::create(outputPath + "-%%%%%%%%.tmp");
  if (!temp) {
    llvm::errs() << outputPath << ": error: cannot create: "
                 << llvm::toString(temp.takeError()) << "\n";
    return failure();
  }
  {
    llvm::raw_fd_ostream os(temp->FD, /*shouldClose=*/false);
    if (failed(emit(os)) || (os.flush(), os.has_error())) {
      os.clear_error();
      consumeError(temp->discard());
      llvm::errs() << outputPath << ": error: cannot write\n";
      return failure();
    }
  }
  if (llvm::Error e = temp->keep(outputPath)) {
    llvm::errs() << outputPath << ": error: " << llvm::toString(std::move(e))
                 << "\n";
    return failure();
  }
  return success();
}

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  cl::HideUnrelatedOptions({&category, &cl::getGeneralCategory()});
  cl::ParseCommandLineOptions(
      argc, argv,
      "mrope-translate: lossless ONNX <-> MLIR (onnx dialect)\n\n"
      "  mrope-translate --import-onnx MODEL.onnx -o MODEL.mlir\n"
      "  mrope-translate --export-onnx MODEL.mlir -o OUT.onnx\n"
      "  mrope-translate --onnx-to-onnx MODEL.onnx -o OUT.onnx\n\n"
      "Import keeps every node (any domain), attribute, initializer, value\n"
      "name, value_info, opset and model field; weights become dense_resource\n"
      "blobs, external data stays in its files (validated, never read).\n"
      "Export writes OUT.onnx and, when tensors go external, its own\n"
      "OUT.onnx.data next to it. Outputs are written to a temporary file and\n"
      "renamed only on success. See docs/onnx-dialect.md.\n");
  if (mode == Mode::None) {
    llvm::errs() << "mrope-translate: error: pass one of --import-onnx, "
                    "--export-onnx, --onnx-to-onnx (see --help)\n";
    return 2;
  }

  DialectRegistry registry;
  mrope::registerAllDialects(registry);
  MLIRContext ctx(registry);
  ctx.loadDialect<mrope::onnx::OnnxDialect>();
  ctx.printOpOnDiagnostic(false);
  ScopedDiagnosticHandler handler(&ctx, [](Diagnostic &d) {
    printDiagnostic(d);
    return success();
  });

  if (mode == Mode::Import) {
    auto module = importInput(ctx);
    if (failed(module))
      return 1;
    return failed(writeMlir(**module)) ? 1 : 0;
  }
  if ((mode == Mode::Export || mode == Mode::RoundTrip) && outputPath == "-") {
    llvm::errs() << "mrope-translate: error: export needs -o OUT.onnx (its "
                    "data file goes next to it)\n";
    return 2;
  }
  OwningOpRef<ModuleOp> module;
  if (mode == Mode::RoundTrip) {
    auto imported = importInput(ctx);
    if (failed(imported))
      return 1;
    module = std::move(*imported);
  } else {
    llvm::SourceMgr sourceMgr;
    std::string err;
    auto file = openInputFile(inputPath, &err);
    if (!file) {
      llvm::errs() << inputPath << ": error: " << err << "\n";
      return 1;
    }
    sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
    // Parser errors carry line:col; print them with the source line.
    SourceMgrDiagnosticHandler parseHandler(sourceMgr, &ctx);
    module = parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(&ctx));
    if (!module)
      return 1;
  }
  return failed(
             mrope::onnx::exportOnnxModel(*module, outputPath, exportOptions()))
             ? 1
             : 0;
}
