"""mrope: reference semantics, model zoo and ONNX Runtime harness for M-RoPE checks.

Submodules:
  mrope.reference  numpy ground truth (3D position ids, (M-)RoPE, vision 2D RoPE)
  mrope.ort        run ONNX models in ONNX Runtime (onnxruntime-node) on numpy inputs
  mrope.zoo        torch Qwen2-VL-style models and their ONNX exports (needs torch)
"""

from . import reference  # noqa: F401

__all__ = ["reference"]
