# -*- Python -*-
import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "MROPE"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test", ".onnxtext"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py", "CMakeLists.txt"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.mrope_obj_root, "test")

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%mrope_src_root", config.mrope_src_root))
config.substitutions.append(("%mrope_obj_root", config.mrope_obj_root))
config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%cmake", config.cmake_command))
config.substitutions.append(("%cxx", config.cxx_compiler))
config.substitutions.append(("%mlir_cmake_dir", config.mlir_cmake_dir))
config.substitutions.append(("%llvm_tools_dir", config.llvm_tools_dir))
config.substitutions.append(
    ("%mlir_lib_dir", os.path.normpath(os.path.join(config.llvm_tools_dir, "..", "lib")))
)

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()
llvm_config.with_environment(
    "PYTHONPATH", os.path.join(config.mrope_src_root, "python"), append_path=True
)

tool_dirs = [config.mrope_tools_dir, config.llvm_tools_dir]
tools = [
    ToolSubst("mrope-opt", unresolved="fatal"),
    ToolSubst("mrope-translate", unresolved="fatal"),
    ToolSubst("mrope-fix", unresolved="fatal"),
    ToolSubst("mrope-compile", unresolved="fatal"),
]
llvm_config.add_tool_substitutions(tools, tool_dirs)
llvm_config.add_tool_substitutions(
    ["not", "count", "split-file", "mlir-runner"], [config.llvm_tools_dir]
)

# The torch model zoo (python/, test/models/zoo/*.onnx) when it is there.
import glob as _glob
if _glob.glob(os.path.join(config.mrope_src_root, "test", "models", "zoo", "*.onnx")):
    config.available_features.add("onnx-zoo")

# The CUDA toolkit's ptxas (no GPU needed): PTX acceptance tests.
import shutil as _shutil
_ptxas = _shutil.which("ptxas") or (
    "/usr/local/cuda/bin/ptxas" if os.access("/usr/local/cuda/bin/ptxas", os.X_OK) else None)
if _ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", _ptxas))
