//===- ArchOption.td - the `arch` option every RoPE pass takes -*- tablegen -*-===//
//
// One list of architectures for the passes of Passes.td and FusedPasses.td
// (mrope::Arch, include/mrope/Analysis/RopeSites.h).
//
//===----------------------------------------------------------------------===//

#ifndef MROPE_TRANSFORMS_ARCHOPTION_TD
#define MROPE_TRANSFORMS_ARCHOPTION_TD

include "mlir/Pass/PassBase.td"

def RopeArchOption : Option<"arch", "arch", "::mrope::Arch",
    /*default=*/"::mrope::Arch::Auto",
    "auto, qwen2-vl, qwen2.5-vl, qwen3-vl, qwen3.5, qwen2.5-omni, qwen3-omni, "
    "glm4v or text", [{::llvm::cl::values(
      clEnumValN(::mrope::Arch::Auto, "auto",
                 "only degenerate M-RoPE is a bug"),
      clEnumValN(::mrope::Arch::Qwen2VL, "qwen2-vl",
                 "Qwen2-VL: plain 1D RoPE is a bug too"),
      clEnumValN(::mrope::Arch::Qwen25VL, "qwen2.5-vl",
                 "Qwen2.5-VL: plain 1D RoPE is a bug too"),
      clEnumValN(::mrope::Arch::Qwen3VL, "qwen3-vl",
                 "Qwen3-VL: plain 1D RoPE is a bug too"),
      clEnumValN(::mrope::Arch::Qwen35, "qwen3.5",
                 "Qwen3.5: plain 1D RoPE is a bug too"),
      clEnumValN(::mrope::Arch::Qwen25Omni, "qwen2.5-omni",
                 "Qwen2.5-Omni: plain 1D RoPE is a bug too"),
      clEnumValN(::mrope::Arch::Qwen3Omni, "qwen3-omni",
                 "Qwen3-Omni: plain 1D RoPE is a bug too; float positions"),
      clEnumValN(::mrope::Arch::Glm4v, "glm4v",
                 "GLM-4V: plain 1D RoPE is a bug too"),
      clEnumValN(::mrope::Arch::Text, "text", "1D RoPE is right"))}]>;

#endif // MROPE_TRANSFORMS_ARCHOPTION_TD
