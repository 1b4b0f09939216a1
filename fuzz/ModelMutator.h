//===- ModelMutator.h - structural edits of an ONNX ModelProto --*- C++ -*-===//
//
// The edits scripts/fuzz-fix.py makes, for libFuzzer's custom mutator: a
// byte-level mutator almost never gets past protobuf parsing and the
// importer's checks, structural edits of a real model reach the analysis
// and the fix.
//
//===----------------------------------------------------------------------===//
#ifndef MROPE_FUZZ_MODELMUTATOR_H
#define MROPE_FUZZ_MODELMUTATOR_H

#include <onnx/onnx_pb.h>

#include <random>
#include <string>

namespace mrope::fuzz {

/// Applies one random structural edit to `model`; returns its name.
std::string mutateModel(::onnx::ModelProto &model, std::mt19937_64 &rng);

} // namespace mrope::fuzz

#endif // MROPE_FUZZ_MODELMUTATOR_H
