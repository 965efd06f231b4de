"""shmemora_build — the PEP 517 build backend of python/pyproject.toml.

Why a backend of our own: the package is pure Python (ctypes; nothing to
compile), and a backend that needs nothing lets ``pip install ./python``
work with no network: pip's isolated build environment has nothing to
fetch (with setuptools as the backend, pip would download it, or need
--no-build-isolation).  It builds a wheel (and an editable wheel, and an
sdist) from the files of python/shmemora with the standard library alone.
"""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "shmemora"
TAG = "py3-none-any"
SUMMARY = "Python binding of SHMemora, a protective key-value store for CXL shared memory"


def _version():
    with open(os.path.join(ROOT, NAME, "__init__.py"), encoding="utf-8") as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


def _metadata():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {_version()}\n"
            f"Summary: {SUMMARY}\nRequires-Python: >=3.8\n"
            "Description-Content-Type: text/markdown\n\n" + readme)


def _package_files():
    """(path in the archive, path on disk) of the package, sorted."""
    out = []
    for name in sorted(os.listdir(os.path.join(ROOT, NAME))):
        if name.endswith(".py") or name == "py.typed":
            if name == "_libdir.py":  # written by make install only
                continue
            out.append((f"{NAME}/{name}", os.path.join(ROOT, NAME, name)))
    return out


def _dist_info():
    return f"{NAME}-{_version()}.dist-info"


def _write_wheel(wheel_directory, files):
    """files: [(archive path, bytes)]; adds the dist-info and RECORD."""
    info = _dist_info()
    files = list(files) + [
        (f"{info}/METADATA", _metadata().encode()),
        (f"{info}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: shmemora_build\n"
                           f"Root-Is-Purelib: true\nTag: {TAG}\n").encode()),
        (f"{info}/top_level.txt", f"{NAME}\n".encode()),
    ]
    record = []
    for arcname, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record.append(f"{arcname},sha256={digest.decode()},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    wheel_name = f"{NAME}-{_version()}-{TAG}.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w",
                         zipfile.ZIP_DEFLATED) as z:
        for arcname, data in files:
            z.writestr(zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return wheel_name


def _read(path):
    with open(path, "rb") as f:
        return f.read()


# ------------------------------------------------------------------ PEP 517
def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info = os.path.join(metadata_directory, _dist_info())
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata())
    return _dist_info()


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, [(a, _read(p)) for a, p in _package_files()])


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """A wheel whose .pth puts this directory on sys.path (PEP 660)."""
    return _write_wheel(wheel_directory, [(f"_{NAME}_editable.pth", (ROOT + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    base = f"{NAME}-{_version()}"
    name = f"{base}.tar.gz"
    members = [("pyproject.toml", "pyproject.toml"), ("README.md", "README.md"),
               ("_build/shmemora_build.py", "_build/shmemora_build.py")]
    members += [(a, a) for a, _ in _package_files()]
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as t:
        for arcname, rel in members:
            t.add(os.path.join(ROOT, rel), arcname=f"{base}/{arcname}")
        pkg_info = _metadata().encode()
        ti = tarfile.TarInfo(f"{base}/PKG-INFO")
        ti.size = len(pkg_info)
        t.addfile(ti, io.BytesIO(pkg_info))
    return name
