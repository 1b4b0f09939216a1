"""Renders an mrope-fix HTML report in headless Chromium and checks it.

    check_html_report.py REPORT.html --expect bug|ok [--tokens-per-second N]
                         [--vision] [--screenshot OUT.png] [--no-browser]

--no-browser parses the file itself instead of Chromium's DOM and takes no
screenshot (the position checks only).

- self-contained: no script, no external reference (only the SVG namespace);
- the DOM Chromium built (--dump-dom) has one rect per token in each of the
  t, h, w rows, before and after; the "after" values equal
  mrope.reference.rope_index on the tokens and grids the report states (this
  checks the C++ get_rope_index against the Python ground truth); "before" of
  a bug model is 1D (t = h = w = token index); one plane point per vision token;
- vision towers: one square per patch, (h, w) after = reference.vision_positions;
- the verdict, one table row per site, and the rewrite lists removed/added
  nodes and marks changed ones in the graphs (graph inputs only when changed);
- the screenshot is a real picture (decoded with Pillow): more than 2% of its pixels
  are not background and it has more than 8 colours.
Prints one "ok: ..." line per check; exits 1 on the first failure.
"""
import argparse
import html.parser
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from mrope import reference

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def chromium(args, profile):
    cmd = [shutil.which("chromium"), *FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        sys.exit(f"FAIL: chromium exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc.stdout


class Dom(html.parser.HTMLParser):
    """Elements as (tag, attrs, text-inside-if-leaf) in document order."""

    def __init__(self):
        super().__init__()
        self.elements, self.stack = [], []

    def handle_starttag(self, tag, attrs):
        self.elements.append([tag, dict(attrs), ""])
        self.stack.append(self.elements[-1])

    def handle_startendtag(self, tag, attrs):
        self.elements.append([tag, dict(attrs), ""])

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        for el in self.stack:
            el[2] += data

    def find(self, tag=None, cls=None, **attrs):
        out = []
        for t, a, text in self.elements:
            if tag and t != tag:
                continue
            if cls and cls not in a.get("class", "").split():
                continue
            if all(a.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                out.append((a, text))
        return out


def png_pixels(path):
    from PIL import Image  # Debian python3-pil
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def fail(msg):
    sys.exit(f"FAIL: {msg}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--expect", choices=["bug", "ok"], required=True)
    ap.add_argument("--tokens-per-second", type=float, default=0)
    ap.add_argument("--vision", action="store_true", help="a vision tower model")
    ap.add_argument("--screenshot")
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()

    source = open(args.report, encoding="utf-8").read()
    lowered = source.lower()
    if "<script" in lowered or "<link" in lowered or " src=" in lowered or "url(" in lowered:
        fail("the report loads or runs something")
    if lowered.replace('xmlns="http://www.w3.org/2000/svg"', "").count("http") != 0:
        fail("the report names an external address")
    print("ok: self-contained (no script, link, src, url() or external address)")

    dom, pixels = Dom(), None
    if args.no_browser:
        dom.feed(source)
    else:
        with tempfile.TemporaryDirectory(prefix="mrope-chromium-") as tmp:
            url = "file://" + os.path.abspath(args.report)
            dom.feed(chromium(["--dump-dom", url], os.path.join(tmp, "profile-dom")))
            shot = args.screenshot or os.path.join(tmp, "report.png")
            chromium(["--window-size=1100,1400", f"--screenshot={os.path.abspath(shot)}", url],
                     os.path.join(tmp, "profile-shot"))
            pixels = png_pixels(shot)

    verdict = dom.find("p", cls="verdict")
    if len(verdict) != 1 or not verdict[0][1].startswith("BUG" if args.expect == "bug" else "OK"):
        fail(f"verdict {verdict}")
    sites = dom.find("tr", cls="site")
    if not sites:
        fail("no site rows")
    print(f"ok: verdict {verdict[0][1].split(':')[0]}, {len(sites)} site row(s)")

    if args.vision:
        svgs = dom.find("svg", cls="patches")
        if [a["data-phase"] for a, _ in svgs] != ["before", "after"]:
            fail(f"patch grids {[a.get('data-phase') for a, _ in svgs]}")
        grid = np.array([[1, 4, 6]])
        want = reference.vision_positions(grid)
        # The squares follow the svgs in document order: split by count.
        points = dom.find("rect", cls="pt")
        if len(points) != 2 * len(want):
            fail(f"{len(points)} patch squares, want {2 * len(want)}")
        after = np.array([[int(a["data-h"]), int(a["data-w"])] for a, _ in points[len(want):]])
        before = np.array([[int(a["data-h"]), int(a["data-w"])] for a, _ in points[:len(want)]])
        # Drawn back to front by t; one frame here, so in patch order.
        if not np.array_equal(after, want):
            fail(f"after (h, w) {after.tolist()} != reference {want.tolist()}")
        index = np.arange(len(want))
        if args.expect == "bug" and not np.array_equal(before, np.stack([index, index], 1)):
            fail(f"before (h, w) is not the flattened index: {before.tolist()}")
        print(f"ok: vision tower, {len(want)} patches per grid; after = reference.vision_positions,"
              " before = flattened index")
    else:
        strips = dom.find("svg", cls="positions")
        if [a["data-phase"] for a, _ in strips] != ["before", "after"]:
            fail(f"position strips {[a.get('data-phase') for a, _ in strips]}")
        info = strips[1][0]
        tokens = np.array([[int(t) for t in info["data-tokens"].split(",")]])
        grids = lambda s: np.array([[int(v) for v in g.split(",")] for g in s.split(";")]) if s else None
        images, videos = grids(info["data-images"]), grids(info["data-videos"])
        tps = float(info["data-tokens-per-second"])
        if tps != args.tokens_per_second:
            fail(f"tokens per second {tps}, want {args.tokens_per_second}")
        want, _ = reference.rope_index(tokens, images, videos,
                                       tokens_per_second=tps if tps > 0 else None)
        n = tokens.shape[1]
        rects = dom.find("rect", cls="pos")
        if len(rects) != 2 * 3 * n:
            fail(f"{len(rects)} token rects, want 2 phases x 3 rows x {n} tokens")
        for phase_index, phase in enumerate(("before", "after")):
            got = np.zeros((3, n), np.int64)
            for r, row in enumerate("thw"):
                cells = [a for a, _ in rects[phase_index * 3 * n:(phase_index + 1) * 3 * n]
                         if a["data-row"] == row]
                if [int(a["data-token"]) for a in cells] != list(range(n)):
                    fail(f"{phase} row {row}: not one rect per token in order")
                got[r] = [int(a["data-value"]) for a in cells]
            if phase == "after" and not np.array_equal(got, want[:, 0]):
                fail(f"after positions {got.tolist()} != reference.rope_index {want[:, 0].tolist()}")
            if phase == "before" and args.expect == "bug" and not np.array_equal(
                    got, np.broadcast_to(np.arange(n), (3, n))):
                fail(f"before positions of a bug model are not 1D: {got.tolist()}")
        vision_tokens = int(np.isin(tokens, [reference.IMAGE_TOKEN_ID, reference.VIDEO_TOKEN_ID]).sum())
        points = dom.find("rect", cls="pt")
        if len(points) != 2 * vision_tokens:
            fail(f"{len(points)} plane points, want 2 x {vision_tokens} vision tokens")
        print(f"ok: {n} tokens x 3 rows, before and after; after = reference.rope_index "
              f"(tokens_per_second {tps:g}); {vision_tokens} vision tokens in the planes")

    removed = dom.find("div", cls="removed")
    rewrite = dom.find("svg", cls="rewrite")
    if args.expect == "bug":
        if not removed and not dom.find("div", cls="added"):
            fail("the rewrite lists no node")
        if [a["data-phase"] for a, _ in rewrite] != ["before", "after"]:
            fail("no before/after rewrite graph")
        changed = dom.find("rect", cls="node-removed") + dom.find("rect", cls="node-added")
        if not changed:
            fail("the rewrite graph marks no node")
        # Only inputs the fix adds or retypes are marked, never the untouched ones.
        input_changes = " ".join(text for _, text in dom.find("li", cls="input-change"))
        for a, _ in dom.find("rect", cls="node-added"):
            name = a["data-node"]
            if name.startswith("input '") and name not in input_changes:
                fail(f"{name} is marked as changed but the fix does not change it")
        print(f"ok: rewrite: {len(removed)} node(s) removed, "
              f"{len(dom.find('div', cls='added'))} added, {len(changed)} marked in the graphs")
    elif rewrite or removed:
        fail("a model without the bug shows a rewrite")

    if pixels is None:
        return
    background = pixels[0, 0]
    ink = (np.abs(pixels.astype(int) - background).sum(axis=-1) > 30).mean()
    colours = len(np.unique(pixels.reshape(-1, 3)[::7], axis=0))
    if ink < 0.02 or colours <= 8:
        fail(f"screenshot looks blank: {ink:.1%} non-background pixels, {colours} colours")
    print(f"ok: screenshot {pixels.shape[1]}x{pixels.shape[0]}, {ink:.0%} non-background, "
          f"{colours} colours")


if __name__ == "__main__":
    main()
