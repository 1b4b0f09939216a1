//===- mrope-opt.cpp - opt driver: upstream MLIR plus mrope ---------------===//
#include "mrope/Analysis/ValueMeaningPass.h"
#include "mrope/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mrope::registerAllPasses();
  mrope::registerAnalysisPasses();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mrope::registerAllDialects(registry);

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv,
      "mrope-opt: MLIR optimizer with the mrope dialects (rope, onnx) and "
      "passes (raise, classify, fix, lower) on top of all upstream ones\n",
      registry));
}
