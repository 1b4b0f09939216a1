"""Writes the PTX held by the first gpu.binary of an MLIR file (stdin): the
string after `assembly = `, with MLIR's \\XX escapes decoded."""
import re
import sys

text = sys.stdin.read()
m = re.search(r'assembly = "((?:[^"\\]|\\.)*)"', text)
if not m:
    sys.exit("no PTX (assembly = \"...\") in the input")
body = re.sub(r'\\([0-9A-Fa-f]{2})', lambda g: chr(int(g.group(1), 16)), m.group(1))
sys.stdout.write(body.replace('\\\\', '\\').replace('\\"', '"'))
