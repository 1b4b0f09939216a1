"""Counts stack spills and reloads in the innermost loops of llc's assembly.

Usage: check_spills.py KERNEL.s
llc marks loop headers ('# => This [Inner] Loop Header: Depth=N') and blocks
inside loops ('# in Loop: Header=BBx Depth=N'), and spill code with
'Spill' / 'Reload' comments. For every innermost loop it prints one line:

  rotation loop BB..: N instructions, S spills, R reloads, V vector registers
  cos/sin loop BB..: ...

(a cos/sin loop converts f32 angles to f64: cvtps2pd; a rotation loop does
not), then 'rotation loops: total S spills, R reloads' and the same line
for the cos/sin loops.
"""
import re
import sys


def main():
    lines = open(sys.argv[1]).read().splitlines()
    body = {}    # loop header (BBx_y) -> instruction lines of its own blocks
    depth = {}
    span = {}    # header -> [first line, last line] of its blocks
    inner = set()  # headers llc calls innermost ('This Inner Loop Header')
    current = None
    for i, line in enumerate(lines):
        m = re.match(r"^\.?L?(BB\w+):\s*(#.*)?$", line)
        if m:
            # llc writes the loop comments on the label's line and the lines
            # after it.
            label, comment = m.group(1), m.group(2) or ""
            for more in lines[i + 1:]:
                if not more.strip().startswith("#"):
                    break
                comment += " " + more.strip()
            h = re.search(r"=>\s*This (?:Inner )?Loop Header: Depth=(\d+)", comment)
            inl = re.search(r"in Loop: Header=(\S+) Depth=(\d+)", comment)
            current = label if h else (inl.group(1) if inl else None)
            if h:
                depth[label] = int(h.group(1))
                if "Inner Loop Header" in comment:
                    inner.add(label)
            if current is not None:
                body.setdefault(current, [])
                span.setdefault(current, [i, i])[1] = i
            continue
        if re.match(r"^\S", line):
            current = None  # a new function or directive
            continue
        s = line.strip()
        if current is not None and s and not s.startswith((".", "#")):
            body[current].append(s)
            span[current][1] = i
    innermost = [x for x in body if x in inner]
    total_s = total_r = 0
    trig_s = trig_r = 0
    for label in sorted(innermost, key=lambda x: span[x][0]):
        text = "\n".join(body[label])
        spills = text.count("Spill")
        reloads = text.count("Reload")
        regs = set(re.findall(r"%([xyz]mm\d+)", text))
        kind = "cos/sin" if "cvtps2pd" in text else "rotation"
        if kind == "rotation":
            total_s += spills
            total_r += reloads
        else:
            trig_s += spills
            trig_r += reloads
        print(f"{kind} loop {label} (depth {depth.get(label)}): {len(body[label])} instructions, "
              f"{spills} spills, {reloads} reloads, {len(regs)} vector registers")
    print(f"rotation loops: total {total_s} spills, {total_r} reloads")
    print(f"cos/sin loops: total {trig_s} spills, {trig_r} reloads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
