"""`pip install ./python` into a venv that sees Debian's numpy/onnx/torch,
then the API from outside the source tree: tool discovery (PATH, then
MROPE_PREFIX, then the build tree; an error naming all three), analyze, the
mrope-report console script and check_positions."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO = PYTHON_DIR.parent
BUILD = Path(os.environ.get("MROPE_BUILD_DIR", REPO / "build"))
MODEL = REPO / "test" / "models" / "zoo" / "qwen2vl_expand_bug.onnx"

pytestmark = pytest.mark.skipif(not (BUILD / "bin" / "mrope-fix").exists(),
                                reason=f"needs a build ({BUILD}/bin/mrope-fix): scripts/build.sh")


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    root = tmp_path_factory.mktemp("pkg")
    # A copy, so that the in-tree build (build/, *.egg-info) does not land in the checkout.
    src = root / "src"
    shutil.copytree(PYTHON_DIR, src, ignore=shutil.ignore_patterns(
        "tests", "__pycache__", "*.egg-info", "build"))
    env_dir = root / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(env_dir)],
                   check=True)
    # Offline: no index, and Debian's setuptools/wheel instead of an isolated build env.
    pip = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "--no-index",
                          "--no-build-isolation", str(src)], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    prefix = root / "prefix"
    subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(prefix)], check=True,
                   capture_output=True)
    return root, env_dir, prefix


def run(venv, code=None, args=None, **env):
    root, env_dir, _ = venv
    base = {"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(root)}
    base.update({k: str(v) for k, v in env.items()})
    cmd = args if args else [str(env_dir / "bin" / "python"), "-c", code]
    # cwd outside the checkout; no PYTHONPATH: only the installed package is importable.
    return subprocess.run(cmd, cwd=root, env=base, capture_output=True, text=True)


def test_installed_package_is_imported(venv):
    out = run(venv, "import mrope; print(mrope.__file__)")
    assert out.returncode == 0, out.stderr
    assert str(venv[1]) in out.stdout and str(REPO) not in out.stdout


def test_no_tool_error_names_all_three_places(venv):
    out = run(venv, "import mrope; mrope.analyze('x.onnx')")
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("FileNotFoundError: mrope-fix not found")
    for place in ("PATH", "MROPE_PREFIX", "the build tree"):
        assert place in last, last


def test_finds_install_prefix_then_build_tree(venv):
    _, _, prefix = venv
    code = f"import mrope; print(mrope.find_tool()); print(mrope.analyze({str(MODEL)!r})['summary'])"
    out = run(venv, code, MROPE_PREFIX=prefix)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [str(prefix / "bin" / "mrope-fix"),
                                       "{'bugs': 1, 'rotations': 4, 'sites': 1}"]
    out = run(venv, code, MROPE_BUILD_DIR=BUILD)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == str(BUILD / "bin" / "mrope-fix")
    # PATH wins over both.
    out = run(venv, code, MROPE_PREFIX=prefix, MROPE_BUILD_DIR=BUILD,
              PATH=f"{BUILD / 'bin'}:{venv[1] / 'bin'}:/usr/bin:/bin")
    assert out.stdout.splitlines()[0] == str(BUILD / "bin" / "mrope-fix")


def test_mrope_report_console_script(venv):
    root, env_dir, prefix = venv
    html = root / "report.html"
    out = run(venv, args=[str(env_dir / "bin" / "mrope-report"), str(MODEL), "-o", str(html),
                          "--arch", "qwen2-vl"], MROPE_PREFIX=prefix)
    assert out.returncode == 3, out.stderr  # 3: a bug was found
    assert out.stdout.splitlines() == [str(html), "1 RoPE site(s), 1 with the bug"]
    text = html.read_text()
    assert text.startswith("<!DOCTYPE html>") and "BUG: 1 of 1 site(s)" in text


def test_check_positions_from_the_installed_package(venv):
    code = ("import numpy as np, mrope\n"
            "ids = np.array([[1, 2, 151652, 151655, 151655, 151655, 151655, 151653, 3]])\n"
            "print(mrope.check_positions(np.arange(9)[None], ids, None, [[1, 4, 4]], None).verdict)")
    out = run(venv, code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1d-degenerate"
