//===- InitAll.cpp - register every mrope dialect and pass ----------------===//
#include "mrope/InitAll.h"

#include "mrope/Conversion/Passes.h"
#include "mrope/Dialect/Onnx/IR/OnnxDialect.h"
#include "mrope/Dialect/Rope/IR/RopeDialect.h"
#include "mrope/Dialect/Rope/Transforms/BufferizableOpInterfaceImpl.h"
#include "mrope/Dialect/Rope/Transforms/Passes.h"
#include "mrope/Transforms/FusedPasses.h"
#include "mrope/Transforms/Passes.h"
#include "mrope/Transforms/Pipelines.h"

#include "mlir/IR/DialectRegistry.h"

void mrope::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<mrope::rope::RopeDialect>();
  registry.insert<mrope::onnx::OnnxDialect>();
  mrope::rope::registerBufferizableOpInterfaceExternalModels(registry);
}

void mrope::registerAllPasses() {
  mrope::rope::registerRopePasses();
  mrope::registerConversionPasses();
  mrope::registerConversionPipelines();
  mrope::registerTransformsPasses();
  mrope::registerFusedTransformsPasses();
  mrope::registerFixPipeline();
}
