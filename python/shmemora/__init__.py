"""SHMemora for Python: a protective key-value store in CXL shared memory.

A binding over libshmemora (the C library), through ctypes::

    import shmemora

    with shmemora.Pool.create("/dev/shm/demo", size=64 << 20) as pool:
        root = pool.root_token()
        users = pool.create_namespace("users", root)
        users.put(b"ada", b"Lovelace")
        reader = root.derive(pool, namespace="users", rights="r")
        print(pool.namespace("users", reader).get("ada"))   # b'Lovelace'
    shmemora.destroy("/dev/shm/demo")

Every failure raises a subclass of :class:`Error`, one per SHMEMORA_E_* code
(:class:`NotFound`, :class:`Denied`, :class:`Revoked`, ...), carrying the
code and the library's message.  python/README.md says how the library is
found and how to install the package.
"""
from __future__ import annotations

from ._enums import (Backend, Coherence, HostState, Protection, Region, Rights, Scope,
                     TokenState, Verify)
from . import _errors
from ._errors import *  # noqa: F401,F403  (Error and one class per code)
from ._errors import BY_CODE as ERRORS_BY_CODE
from ._lib import LibraryNotFound, library_path
from ._lib import lib as _load
from ._pool import (CheckReport, HostInfo, Namespace, NamespaceInfo, Pool, PoolInfo,
                    PoolStats, ScanItem, Versioned, destroy, hosts, inspect)
from ._token import Token, TokenInfo

__version__ = "0.1.0"


def library_version() -> str:
    """The loaded libshmemora's version, "MAJOR.MINOR.PATCH"."""
    return str(_load().shmemora_version().decode())


def protection_available() -> Protection:
    """The best protection mode this CPU and kernel offer."""
    return Protection(_load().shmemora_protection_available())


def hardened() -> bool:
    """Whether this process runs in hardened mode (shmemora_hardened)."""
    return bool(_load().shmemora_hardened())


__all__ = [
    "Pool", "Namespace", "Token", "TokenInfo", "PoolInfo", "PoolStats", "HostInfo",
    "NamespaceInfo", "CheckReport", "ScanItem", "Versioned",
    "Rights", "Scope", "TokenState", "Coherence", "Backend", "Protection", "HostState",
    "Verify", "Region",
    "destroy", "inspect", "hosts", "library_version", "library_path",
    "protection_available", "hardened", "LibraryNotFound", "ERRORS_BY_CODE",
]
__all__ += _errors.__all__  # Error and one class per code
