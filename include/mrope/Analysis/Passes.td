//===- Passes.td - analysis test passes --------------------*- tablegen -*-===//
#ifndef MROPE_ANALYSIS_PASSES_TD
#define MROPE_ANALYSIS_PASSES_TD

include "mlir/Pass/PassBase.td"

def RopePrintMeaning : Pass<"rope-print-meaning", "::mlir::ModuleOp"> {
  let summary = "Print what every ONNX value means for RoPE (test pass)";
  let description = [{
    Runs the value-meaning dataflow analysis (`ValueMeaning.h`) on every
    `onnx.graph` and prints one line per graph input and per node result:
    `meaning <value>: <meaning>`, where the value is `input 'name'` or
    `<op_type> node <name> #<result>`. A meaning is `positions`, `iota`,
    `inv-freq`, `angle`, `cos`, `sin`, `rotated`, `const`, `shape` or
    `unknown (<reason>)`, with its source and one role per axis (`row{..}`,
    `batch`, `seq`, `token`, `chan{..}`, `cache-row`, `bcast`). Nothing is
    changed.
  }];
}

#endif // MROPE_ANALYSIS_PASSES_TD
