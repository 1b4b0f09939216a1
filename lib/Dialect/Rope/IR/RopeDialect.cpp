//===- RopeDialect.cpp - the rope dialect ---------------------------------===//
#include "mrope/Dialect/Rope/IR/RopeDialect.h"
#include "mrope/Dialect/Rope/IR/RopeAttrs.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mrope::rope;

#include "mrope/Dialect/Rope/IR/RopeDialect.cpp.inc"

void RopeDialect::initialize() {
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "mrope/Dialect/Rope/IR/RopeOps.cpp.inc"
      >();
}
