import os
import sys
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO = PYTHON_DIR.parent
ZOO = REPO / "test" / "models" / "zoo"
if str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))


@pytest.fixture(scope="session")
def zoo():
    return ZOO


@pytest.fixture(scope="session")
def ort_ready():
    """ONNX Runtime must be installed: these tests exist to run the real runtime.

    Set MROPE_SKIP_ORT=1 to skip them explicitly (they fail otherwise)."""
    from mrope import ort
    if not ort.available():
        if os.environ.get("MROPE_SKIP_ORT") == "1":
            pytest.skip("MROPE_SKIP_ORT=1 and onnxruntime-node is not installed")
        pytest.fail("onnxruntime-node is not installed: run scripts/setup.sh "
                    "(npm install --ignore-scripts at the repository root)")
    return ort
