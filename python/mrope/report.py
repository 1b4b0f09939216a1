"""``mrope-report``: the HTML report of an ONNX model, from the command line.

    mrope-report MODEL.onnx [-o REPORT.html] [--arch auto|qwen2-vl|...]
                 [--example-image T,H,W ...] [--example-video T,H,W ...]

Runs ``mrope-fix MODEL --html REPORT`` (found like :func:`mrope.api.find_tool`
finds it), prints the report's path and the verdict. Exit status: 0 no bug,
3 a bug was found, 1 error.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from .api import MRopeError, report


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mrope-report",
        description="Write a self-contained HTML report of the RoPE sites of an ONNX model: "
                    "the verdict, every site, the positions picture and what the fix rewrites.")
    parser.add_argument("model", help="the ONNX model")
    parser.add_argument("-o", "--output", help="the HTML file (default: MODEL.report.html)")
    parser.add_argument("--arch", default="auto",
                        help="auto (default), qwen2-vl, qwen2.5-vl, qwen3-vl or text")
    parser.add_argument("--example-image", action="append", default=[], metavar="T,H,W",
                        help="an image grid (patches) of the example prompt; repeatable")
    parser.add_argument("--example-video", action="append", default=[], metavar="T,H,W",
                        help="a video grid (patches) of the example prompt; repeatable")
    args = parser.parse_args(argv)
    out = args.output or os.path.splitext(args.model)[0] + ".report.html"
    grids = lambda specs: [[int(v) for v in s.split(",")] for s in specs]
    try:
        result = report(args.model, out, arch=args.arch, example_images=grids(args.example_image),
                        example_videos=grids(args.example_video))
    except (MRopeError, FileNotFoundError, ValueError) as e:
        print(f"mrope-report: error: {e}", file=sys.stderr)
        return 1
    bugs = result["summary"]["bugs"]
    print(os.path.abspath(out))
    print(f"{result['summary']['sites']} RoPE site(s), {bugs} with the bug")
    return 3 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
