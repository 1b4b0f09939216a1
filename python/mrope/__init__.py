"""mrope: reference semantics, model zoo and ONNX Runtime harness for M-RoPE checks.

Submodules:
  mrope.reference  numpy ground truth (3D position ids, (M-)RoPE, vision 2D RoPE)
  mrope.ort        run ONNX models in ONNX Runtime (onnxruntime-node) on numpy inputs
  mrope.zoo        torch Qwen2-VL-style models and their ONNX exports (needs torch)
  mrope.api        analyze(path) / fix(path, out) / report(path, html): the mrope-fix tool
  mrope.check      check_positions(...): are a training batch's positions right?
  mrope.positions  position_ids(...): correct M-RoPE positions of padded or packed batches
  mrope.archs      the per-architecture table behind position_ids
  mrope.collate    MRopeCollator: check or fix every batch of a torch training loop
  mrope.report     the mrope-report command (HTML report)
  mrope.cpu_kernel run kernels built by mrope-compile through ctypes
"""

from . import reference  # noqa: F401
from .api import MRopeError, analyze, find_tool, fix, report  # noqa: F401
from .archs import ARCHS  # noqa: F401
from .check import PositionCheck, check_positions  # noqa: F401
from .collate import MRopeCollator, MRopePositionError  # noqa: F401
from .positions import position_ids  # noqa: F401

__all__ = ["reference", "analyze", "fix", "report", "find_tool", "check_positions",
           "PositionCheck", "MRopeError", "position_ids", "MRopeCollator", "MRopePositionError",
           "ARCHS"]
