// Parses a rope op with only the mrope entry points registered, verifies
// it and prints it back.
#include "mrope/InitAll.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

int main() {
  mlir::DialectRegistry registry;
  registry.insert<mlir::func::FuncDialect>();
  mrope::registerAllDialects(registry);
  mrope::registerAllPasses();
  mlir::MLIRContext context(registry);

  const char *source = R"mlir(
    func.func @f(%q: tensor<1x2x?x128xf32>, %p: tensor<3x1x?xi64>) -> tensor<1x2x?x128xf32> {
      %y = rope.apply %q by %p : tensor<1x2x?x128xf32> by tensor<3x1x?xi64>
          with #rope.semantics<sections = [16, 24, 24], rotary_dim = 128, theta = 1.0e6>
      return %y : tensor<1x2x?x128xf32>
    })mlir";
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(source, &context);
  if (!module)
    return 1;
  module->print(llvm::outs());
  return 0;
}
