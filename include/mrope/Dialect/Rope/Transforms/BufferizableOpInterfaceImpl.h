//===- BufferizableOpInterfaceImpl.h - bufferize rope ops -------*- C++ -*-===//
#ifndef MROPE_DIALECT_ROPE_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H
#define MROPE_DIALECT_ROPE_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace mrope::rope {
/// One-Shot Bufferize support: tensor rope.apply becomes the in-place memref
/// form, each result aliasing (and equivalent to) its input.
void registerBufferizableOpInterfaceExternalModels(
    mlir::DialectRegistry &registry);
} // namespace mrope::rope

#endif // MROPE_DIALECT_ROPE_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H
