//===- InitAll.h - register every mrope dialect and pass --------*- C++ -*-===//
//
// The one entry point a consumer needs: add our dialects to a registry and
// our passes (and pipelines) to the global pass registry.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_INITALL_H
#define MROPE_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace mrope {

/// Adds the mrope dialects (rope, ...) to `registry`.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Registers the mrope passes and pass pipelines with the global registry.
void registerAllPasses();

} // namespace mrope

#endif // MROPE_INITALL_H
