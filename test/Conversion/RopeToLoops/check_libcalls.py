"""Checks that compiled kernel libraries need nothing beyond libc, libm and
libpthread: every undefined dynamic symbol of each library must be defined
by one of those (found with the C compiler, read with llvm-nm -D).

Usage: check_libcalls.py NM LIB.so...
Prints one line per library: 'ok LIB: N undefined, all from libc/libm/
libpthread (...)' or 'FAIL LIB: needs SYMBOLS'.
"""
import os
import subprocess
import sys

ALLOWED = ("libc.so.6", "libm.so.6", "libpthread.so.0")
# Weak hooks every shared object references; the loader tolerates them
# being absent.
WEAK_HOOKS = {"__cxa_finalize", "__gmon_start__", "_ITM_registerTMCloneTable",
              "_ITM_deregisterTMCloneTable"}


def symbols(nm, path, defined):
    args = [nm, "-D", "--defined-only" if defined else "--undefined-only", path]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if parts:
            names.add(parts[-1].split("@")[0])
    return names


def main():
    nm, libs = sys.argv[1], sys.argv[2:]
    cc = os.environ.get("CC") or "cc"
    provided = set()
    for name in ALLOWED:
        path = subprocess.run([cc, f"-print-file-name={name}"], capture_output=True,
                              text=True).stdout.strip()
        if os.path.isabs(path) and os.path.exists(path):
            provided |= symbols(nm, os.path.realpath(path), True)
    if not provided:
        print("FAIL: found none of " + ", ".join(ALLOWED))
        return 1
    failed = 0
    for lib in libs:
        needed = symbols(nm, lib, False) - WEAK_HOOKS
        missing = sorted(needed - provided)
        tag = os.path.basename(lib)
        if missing:
            failed += 1
            print(f"FAIL {tag}: needs {' '.join(missing)}")
        else:
            print(f"ok {tag}: {len(needed)} undefined, all from libc/libm/libpthread "
                  f"({' '.join(sorted(needed))})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
