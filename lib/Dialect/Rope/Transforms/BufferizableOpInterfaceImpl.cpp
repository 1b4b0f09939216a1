//===- BufferizableOpInterfaceImpl.cpp - bufferize rope ops ---------------===//
#include "mrope/Dialect/Rope/Transforms/BufferizableOpInterfaceImpl.h"
#include "mrope/Dialect/Rope/IR/RopeOps.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/IR/DialectRegistry.h"

using namespace mlir;
using namespace mlir::bufferization;
using namespace mrope::rope;

namespace {

/// rope.apply rotates in place: result i is input i's buffer, written;
/// positions and the frequency table are only read.
struct ApplyOpInterface
    : BufferizableOpInterface::ExternalModel<ApplyOpInterface, ApplyOp> {
  static bool isRotated(Operation *op, OpOperand &operand) {
    return operand.getOperandNumber() < cast<ApplyOp>(op).getInputs().size();
  }

  bool bufferizesToMemoryRead(Operation *, OpOperand &,
                              const AnalysisState &) const {
    return true;
  }

  bool bufferizesToMemoryWrite(Operation *op, OpOperand &operand,
                               const AnalysisState &) const {
    return isRotated(op, operand);
  }

  AliasingValueList getAliasingValues(Operation *op, OpOperand &operand,
                                      const AnalysisState &) const {
    if (!isRotated(op, operand))
      return {};
    return {{op->getResult(operand.getOperandNumber()),
             BufferRelation::Equivalent}};
  }

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto apply = cast<ApplyOp>(op);
    auto bufferOf = [&](Value v) -> FailureOr<Value> {
      return getBuffer(rewriter, v, options, state);
    };
    SmallVector<Value> buffers;
    for (Value input : apply.getInputs()) {
      FailureOr<Value> buffer = bufferOf(input);
      if (failed(buffer))
        return failure();
      buffers.push_back(*buffer);
    }
    FailureOr<Value> positions = bufferOf(apply.getPositions());
    if (failed(positions))
      return failure();
    Value invFreq;
    if (apply.getInvFreq()) {
      FailureOr<Value> table = bufferOf(apply.getInvFreq());
      if (failed(table))
        return failure();
      invFreq = *table;
    }
    rewriter.setInsertionPoint(op);
    ApplyOp::create(rewriter, op->getLoc(), TypeRange{}, buffers, *positions,
                    invFreq, apply.getSemantics());
    replaceOpWithBufferizedValues(rewriter, op, buffers);
    return success();
  }
};

} // namespace

void mrope::rope::registerBufferizableOpInterfaceExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, RopeDialect *) {
    ApplyOp::attachInterface<ApplyOpInterface>(*ctx);
  });
}
