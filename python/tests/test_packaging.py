"""How the package is installed and finds the library: the example, pip
install without network, make install under a prefix, and the errors when
the library is missing or is not libshmemora."""
import os
import shutil
import subprocess
import sys

import pytest
import shmemora
from conftest import PYDIR, REPO, remove_pool_files

BUILD = os.environ.get("SHMEMORA_BUILD", os.path.join(REPO, "build"))

# Runs in a fresh interpreter: what it imports, from where, and a round trip.
PROBE = """
import os, sys, shmemora
print("module", os.path.dirname(shmemora.__file__))
print("library", shmemora.library_path())
path = sys.argv[1]
with shmemora.Pool.create(path, size=16 << 20, hosts=1) as pool:
    ns = pool.create_namespace("t", pool.root_token())
    ns.put(b"k\\x00", b"v\\xff")
    print("value", ns.get(b"k\\x00"))
shmemora.destroy(path)
"""


def clean_env(**extra):
    """The environment without anything that points at a library or package."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SHMEMORA_LIBRARY", "PYTHONPATH", "LD_LIBRARY_PATH",
                        "SHMEMORA_TEST_INSTALLED")}
    env.update(extra)
    return env


def run(args, env, cwd="/"):
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def probe(env, pool_path):
    proc = run([sys.executable, "-c", PROBE, pool_path], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(line.split(" ", 1) for line in proc.stdout.splitlines())


def test_the_example_runs(pool_path):
    example = os.path.join(PYDIR, "examples", "quickstart.py")
    proc = run([sys.executable, example, pool_path],
               dict(os.environ, PYTHONPATH=PYDIR), cwd=PYDIR)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "user:1 -> b'Ada Lovelace'" in out
    assert "the read-only token cannot write: Denied" in out
    assert "scan: [b'user:1', b'user:2', b'user:3']" in out
    assert ("scan user:[12]* with values: [(b'user:1', b'Ada Lovelace'), "
            "(b'user:2', b'Grace Hopper')]") in out
    assert "after revoke: Revoked" in out
    for suffix in ("", ".key", ".root-token"):
        assert not os.path.exists(pool_path + suffix)


@pytest.fixture
def pip_target(tmp_path):
    """python/ installed with pip into a directory, offline (--no-index)."""
    if subprocess.run([sys.executable, "-m", "pip", "--version"],
                      capture_output=True).returncode != 0:
        pytest.skip(f"no pip for {sys.executable} (apt-get install python3-pip)")
    target = tmp_path / "site"
    proc = run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps",
                "--no-cache-dir", "--disable-pip-version-check", "--target", str(target),
                PYDIR], clean_env(), cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return target


def test_pip_install_without_network(pip_target, pool_path):
    installed = sorted(os.listdir(pip_target / "shmemora"))
    assert "_lib.py" in installed and "py.typed" in installed
    assert "_libdir.py" not in installed
    seen = probe(clean_env(PYTHONPATH=str(pip_target),
                           SHMEMORA_LIBRARY=shmemora.library_path()), pool_path)
    assert seen["module"] == str(pip_target / "shmemora")
    assert seen["value"] == repr(b"v\xff")


def test_an_installed_copy_without_the_library_says_where_it_looked(pip_target):
    import ctypes.util
    if ctypes.util.find_library("shmemora"):
        pytest.skip("a libshmemora is installed for the system loader here")
    code = ("import shmemora\n"
            "try:\n    shmemora.library_version()\n"
            "except shmemora.LibraryNotFound as exc:\n    print(exc)\n")
    proc = run([sys.executable, "-c", code], clean_env(PYTHONPATH=str(pip_target)))
    assert proc.returncode == 0, proc.stderr
    assert "libshmemora not found; tried:" in proc.stdout
    assert "libshmemora.so.0" in proc.stdout and "SHMEMORA_LIBRARY" in proc.stdout


def test_the_system_loader_is_asked_last(pip_target, tmp_path):
    libdir = tmp_path / "lib"
    libdir.mkdir()
    shutil.copyfile(shmemora.library_path(), libdir / "libshmemora.so.0")
    code = "import shmemora; print(shmemora.library_path(), shmemora.library_version())"
    proc = run([sys.executable, "-c", code],
               clean_env(PYTHONPATH=str(pip_target), LD_LIBRARY_PATH=str(libdir)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(libdir / "libshmemora.so.0"),
                                   shmemora.library_version()]


def test_a_missing_or_foreign_library_is_named(tmp_path):
    missing = tmp_path / "libshmemora.so"
    code = ("import shmemora\n"
            "try:\n    shmemora.Token.parse('x')\n"
            "except shmemora.LibraryNotFound as exc:\n    print('LibraryNotFound', exc)\n")
    proc = run([sys.executable, "-c", code],
               clean_env(PYTHONPATH=PYDIR, SHMEMORA_LIBRARY=str(missing)))
    assert proc.stdout.startswith("LibraryNotFound"), proc.stdout + proc.stderr
    assert f"{missing}: no such file" in proc.stdout
    import ctypes.util
    libc = ctypes.util.find_library("c")
    proc = run([sys.executable, "-c", code], clean_env(PYTHONPATH=PYDIR, SHMEMORA_LIBRARY=libc))
    assert "lacks a function this binding calls" in proc.stdout, proc.stdout + proc.stderr


def test_make_install_puts_the_package_under_the_prefix(tmp_path, pool_path):
    if not shutil.which("make"):
        pytest.skip("no make")
    stage = tmp_path / "prefix"
    make = ["make", "-s", "--no-print-directory", "-C", REPO, f"BUILD={BUILD}",
            f"PREFIX={stage}", f"PYTHON={sys.executable}"]
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    proc = run(make + ["install"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    xy = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    pydir = stage / "lib" / xy / "site-packages"  # a prefix off sys.path: site-packages
    assert f"python package: {pydir}/shmemora (library from {stage}/lib)" in proc.stdout
    assert (pydir / "shmemora" / "_libdir.py").read_text().endswith(
        f"LIBDIR = {str(stage / 'lib')!r}\n")
    # no SHMEMORA_LIBRARY, no LD_LIBRARY_PATH: the recorded library directory
    seen = probe(clean_env(PYTHONPATH=str(pydir)), pool_path)
    assert seen["module"] == str(pydir / "shmemora")
    assert seen["library"] == str(stage / "lib" / "libshmemora.so.0")
    assert seen["value"] == repr(b"v\xff")
    remove_pool_files(pool_path)

    proc = run(make + ["uninstall"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (pydir / "shmemora").exists()
    assert not (stage / "lib" / "libshmemora.so.0").exists()


def test_make_install_honours_pythondir(tmp_path):
    if not shutil.which("make"):
        pytest.skip("no make")
    stage, pydir = tmp_path / "prefix", tmp_path / "elsewhere"
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    proc = run(["make", "-s", "--no-print-directory", "-C", REPO, f"BUILD={BUILD}",
                f"PREFIX={stage}", f"PYTHON={sys.executable}", f"PYTHONDIR={pydir}",
                "install-python"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(os.listdir(pydir / "shmemora")) == sorted(
        [n for n in os.listdir(os.path.join(PYDIR, "shmemora"))
         if n.endswith(".py") or n == "py.typed"] + ["_libdir.py"])
