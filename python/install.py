#!/usr/bin/env python3
"""install.py --prefix P --libdir L [--destdir D] [--pythondir DIR] [--uninstall]

What `make install` and `make uninstall` do for the Python package: copy
python/shmemora into DIR/shmemora (under DESTDIR) and write _libdir.py there,
which records L, so the package loads L/libshmemora.so.0 without
LD_LIBRARY_PATH or ldconfig.

DIR, unless given: the first of P/lib/pythonX.Y/dist-packages,
P/lib/python3/dist-packages and P/lib/pythonX.Y/site-packages that is on
this interpreter's sys.path (Debian's python3 searches
/usr/local/lib/pythonX.Y/dist-packages, for PREFIX=/usr/local), else
P/lib/pythonX.Y/site-packages, and it says to put that on PYTHONPATH.
"""
import argparse
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(HERE, "shmemora")


def python_dir(prefix):
    xy = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = [os.path.join(prefix, "lib", xy, "dist-packages"),
                  os.path.join(prefix, "lib", "python3", "dist-packages"),
                  os.path.join(prefix, "lib", xy, "site-packages")]
    on_path = {os.path.normpath(p) for p in sys.path if p}
    for c in candidates:
        if os.path.normpath(c) in on_path:
            return c, True
    return candidates[-1], False


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--libdir", required=True)
    ap.add_argument("--destdir", default="")
    ap.add_argument("--pythondir", default="")
    ap.add_argument("--uninstall", action="store_true")
    args = ap.parse_args(argv)
    if args.pythondir:
        pydir, searched = args.pythondir, True
    else:
        pydir, searched = python_dir(args.prefix)
    target = args.destdir + os.path.join(pydir, "shmemora")
    if args.uninstall:
        shutil.rmtree(target, ignore_errors=True)
        return 0
    os.makedirs(target, exist_ok=True)
    for name in sorted(os.listdir(PACKAGE)):
        if (name.endswith(".py") or name == "py.typed") and name != "_libdir.py":
            shutil.copyfile(os.path.join(PACKAGE, name), os.path.join(target, name))
            os.chmod(os.path.join(target, name), 0o644)
    with open(os.path.join(target, "_libdir.py"), "w", encoding="utf-8") as f:
        f.write('"""Written by make install: where libshmemora.so.0 was installed."""\n'
                f"LIBDIR = {os.path.abspath(args.libdir)!r}\n")
    os.chmod(os.path.join(target, "_libdir.py"), 0o644)
    print(f"python package: {pydir}/shmemora (library from {args.libdir})")
    if not searched:
        print(f"python package: {sys.executable} does not search {pydir}: "
              f"PYTHONPATH={pydir} python3 ... (or PYTHONDIR= on make install)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
