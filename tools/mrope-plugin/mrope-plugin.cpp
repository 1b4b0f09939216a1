//===- mrope-plugin.cpp - mrope as a plugin of the stock mlir-opt ---------===//
//
// One shared module that is both a dialect plugin and a pass plugin, so that
// an unmodified `mlir-opt-22` runs mrope:
//
//   mlir-opt-22 --load-dialect-plugin=mrope-plugin.so \
//               --load-pass-plugin=mrope-plugin.so --rope-classify in.mlir
//
// The module links libMRope.so, which links the same libMLIR.so the tool
// already has loaded: there is one dialect and pass registry, so nothing is
// registered twice. (A plugin that linked static MLIR libraries would carry a
// second copy of every registry and TypeID.)
//
//===----------------------------------------------------------------------===//
#include "mrope/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/Plugins/DialectPlugin.h"
#include "mlir/Tools/Plugins/PassPlugin.h"

#ifndef MROPE_VERSION
#define MROPE_VERSION "unknown"
#endif

extern "C" LLVM_ATTRIBUTE_WEAK mlir::DialectPluginLibraryInfo
mlirGetDialectPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "mrope", MROPE_VERSION,
          [](mlir::DialectRegistry *registry) {
            mrope::registerAllDialects(*registry);
          }};
}

extern "C" LLVM_ATTRIBUTE_WEAK mlir::PassPluginLibraryInfo
mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "mrope", MROPE_VERSION,
          []() { mrope::registerAllPasses(); }};
}
