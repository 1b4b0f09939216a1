"""mrope: reference semantics, model zoo and ONNX Runtime harness for M-RoPE checks.

Submodules:
  mrope.reference  numpy ground truth (3D position ids, (M-)RoPE, vision 2D RoPE)
  mrope.ort        run ONNX models in ONNX Runtime (onnxruntime-node) on numpy inputs
  mrope.zoo        torch Qwen2-VL-style models and their ONNX exports (needs torch)
  mrope.api        analyze(path) / fix(path, out): the mrope-fix tool from Python
  mrope.cpu_kernel run kernels built by mrope-compile through ctypes
"""

from . import reference  # noqa: F401
from .api import MRopeError, analyze, fix  # noqa: F401

__all__ = ["reference", "analyze", "fix", "MRopeError"]
