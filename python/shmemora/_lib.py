"""Loading libshmemora and declaring its C API to ctypes.

Why ctypes and not cffi: both call the shared library through libffi without
compiling anything, at install time or later (cffi's "ABI mode" is the same
technique).  ctypes is in the standard library, so the package has no
dependency at all: ``pip install ./python`` works offline into any virtual
environment, and ``make install`` needs nothing but python3.  cffi would
add python3-cffi (and pycparser) for the parsing of a ``cdef`` string only;
in ABI mode it too computes struct layouts from the declarations it is
given, so it would be no safer about the layouts than ctypes.  What keeps
the declarations below honest is a test (python/tests/test_abi.py) that
compiles a probe against include/shmemora.h and compares every struct's
size and every field's offset, and every constant, with what is declared
here.

Where the library is found, first match wins:

1. ``$SHMEMORA_LIBRARY``: the path of libshmemora.so (if set, it must load;
   nothing else is tried);
2. the library directory recorded by ``make install`` (``_libdir.py``, absent
   in the source tree);
3. the repository's build tree, ``build/libshmemora.so`` beside ``python/``
   (running from a checkout);
4. the system's loader: ``libshmemora.so.0`` through ``LD_LIBRARY_PATH`` and
   the ldconfig cache.

The library is loaded on first use, not at import, so ``import shmemora``
works (for help(), type checking) where the library is missing; the first
call then raises :class:`LibraryNotFound`, which says where it looked.
"""
from __future__ import annotations

import ctypes
import os
import threading
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_int,
                    c_int32, c_long, c_size_t, c_uint8, c_uint16, c_uint32, c_uint64,
                    c_void_p)
from typing import Any, List, Optional

# The library version this binding's declarations were written for.  Struct
# layouts may change in any 0.x minor version, so major.minor must match.
ABI_VERSION = (0, 1)

TAG_BYTES = 16
TOKEN_TEXT_LEN = 73
REGION_COUNT = 9
SIZE_CLASSES_MAX = 40
NS_NAME_BYTES = 256


class LibraryNotFound(ImportError):
    """libshmemora could not be loaded, or is not the version this binding
    was written for.  The message lists every place that was tried."""


# ------------------------------------------------------------------ structs
# Field names are the C names, so the ABI test can ask the C compiler for
# each one's offset.

class Token(Structure):
    _fields_ = [("key_hint", c_uint16), ("id", c_uint64), ("tag", c_uint8 * TAG_BYTES)]


class Grant(Structure):
    _fields_ = [("scope", c_int), ("offset", c_uint64), ("length", c_uint64),
                ("ns", c_char_p), ("key", c_void_p), ("key_len", c_size_t),
                ("rights", c_uint32), ("expires_unix_ns", c_uint64), ("quota", c_uint32)]


class TokenInfo(Structure):
    _fields_ = [("id", c_uint64), ("index", c_uint32), ("state", c_int), ("scope", c_int),
                ("offset", c_uint64), ("length", c_uint64), ("ns_hash", c_uint64),
                ("key_hash", c_uint64), ("rights", c_uint32), ("expires_unix_ns", c_uint64),
                ("owner_host", c_uint32), ("parent_id", c_uint64), ("generation", c_uint64),
                ("depth", c_uint32), ("quota", c_uint32), ("quota_used", c_uint64),
                ("ns_generation", c_uint32), ("ns_name", c_char * NS_NAME_BYTES)]


class NsInfo(Structure):
    _fields_ = [("name", c_char * NS_NAME_BYTES), ("hash", c_uint64), ("generation", c_uint32),
                ("keys", c_uint64), ("bytes", c_uint64), ("max_keys", c_uint64),
                ("max_bytes", c_uint64), ("limited", c_int)]


class KvItem(Structure):
    _fields_ = [("key", c_void_p), ("key_len", c_size_t), ("buf", c_void_p), ("cap", c_size_t),
                ("value_len", c_size_t), ("version", c_uint64), ("rc", c_int)]


class ScanItem(Structure):
    _fields_ = [("key", c_void_p), ("key_len", c_size_t), ("value", c_void_p),
                ("value_len", c_size_t), ("version", c_uint64)]


SCAN_VISIT = CFUNCTYPE(c_int, c_void_p, POINTER(ScanItem))


class Stats(Structure):
    _fields_ = [("keys", c_uint64), ("namespaces", c_uint64), ("index_slots", c_uint64),
                ("index_used", c_uint64), ("index_load", c_double), ("partitions", c_uint32),
                ("size_class_count", c_uint32), ("partition_size", c_uint64),
                ("allocated", POINTER(c_uint64)), ("partition_used", POINTER(c_uint64))]


class Info(Structure):
    _fields_ = [("format_version", c_uint32), ("uuid", c_uint8 * 16), ("key_id", c_uint8 * 16),
                ("size", c_uint64), ("created_unix_ns", c_uint64), ("alignment", c_uint32),
                ("page_size", c_uint32), ("backend", c_int), ("coherence", c_int),
                ("max_hosts", c_uint32), ("lease_ms", c_uint32), ("max_key", c_uint32),
                ("max_value", c_uint32), ("capabilities", c_uint64), ("index_slots", c_uint64),
                ("namespaces", c_uint32), ("partition_size", c_uint64),
                ("size_class_count", c_uint32), ("size_classes", c_uint32 * SIZE_CLASSES_MAX),
                ("region_offset", c_uint64 * REGION_COUNT),
                ("region_size", c_uint64 * REGION_COUNT), ("hosts_attached", c_uint32),
                ("sb_from_backup", c_int), ("key_verified", c_int), ("protection", c_int),
                ("flush_instruction", c_char_p)]


class Host(Structure):
    _fields_ = [("host_id", c_uint32), ("state", c_int), ("epoch", c_uint32), ("pid", c_int32),
                ("heartbeat_unix_ns", c_uint64), ("boot_id", c_uint8 * 16),
                ("same_machine", c_int), ("heartbeats", c_uint32), ("unchanged_ms", c_uint32)]


CHECK_FINDING = CFUNCTYPE(None, c_void_p, c_char_p)


class CheckReport(Structure):
    _fields_ = [("on_finding", CHECK_FINDING), ("arg", c_void_p), ("tokens", POINTER(Token)),
                ("token_count", c_size_t), ("problems", c_uint64), ("repaired", c_uint64),
                ("keys", c_uint64), ("namespaces", c_uint64), ("live_blocks", c_uint64),
                ("free_blocks", c_uint64), ("leaked_blocks", c_uint64),
                ("tokens_live", c_uint64), ("tokens_revoked", c_uint64)]


# The C structs by their C type names (the ABI test walks this).
STRUCTS = {
    "shmemora_token": Token, "shmemora_grant": Grant, "shmemora_token_info": TokenInfo,
    "shmemora_ns_info": NsInfo, "shmemora_kv_item": KvItem, "shmemora_scan_item": ScanItem,
    "shmemora_stats": Stats, "shmemora_info": Info, "shmemora_host": Host,
    "shmemora_check_report": CheckReport,
}

# ---------------------------------------------------------------- functions
_P = c_void_p          # shmemora_pool *, shmemora_config * (opaque)
_PP = POINTER(c_void_p)
_TOK = POINTER(Token)
_U64P = POINTER(c_uint64)
_SZP = POINTER(c_size_t)

# name: (restype, argtypes).  Every function the binding calls, and only those.
PROTOTYPES = {
    "shmemora_version": (c_char_p, []),
    "shmemora_strerror": (c_char_p, [c_int]),
    "shmemora_errmsg": (c_char_p, []),
    "shmemora_config_new": (c_int, [_PP]),
    "shmemora_config_delete": (None, [_P]),
    "shmemora_config_set_size": (c_int, [_P, c_uint64]),
    "shmemora_config_set_hosts": (c_int, [_P, c_uint32]),
    "shmemora_config_set_coherence": (c_int, [_P, c_int]),
    "shmemora_config_set_key_file": (c_int, [_P, c_char_p]),
    "shmemora_config_set_capabilities": (c_int, [_P, c_uint64]),
    "shmemora_config_set_index_slots": (c_int, [_P, c_uint64]),
    "shmemora_config_set_namespaces": (c_int, [_P, c_uint32]),
    "shmemora_config_set_raw_size": (c_int, [_P, c_uint64]),
    "shmemora_config_set_max_key": (c_int, [_P, c_uint32]),
    "shmemora_config_set_max_value": (c_int, [_P, c_uint32]),
    "shmemora_config_set_numa_node": (c_int, [_P, c_int]),
    "shmemora_config_set_lease_ms": (c_int, [_P, c_uint32]),
    "shmemora_config_set_host_id": (c_int, [_P, c_int]),
    "shmemora_config_set_observer": (c_int, [_P, c_int]),
    "shmemora_config_set_hardened": (c_int, [_P, c_int]),
    "shmemora_hardened": (c_int, []),
    "shmemora_config_set_root_token_file": (c_int, [_P, c_char_p]),
    "shmemora_config_set_group": (c_int, [_P, c_long]),
    "shmemora_config_set_force": (c_int, [_P, c_int]),
    "shmemora_root_token_path": (c_int, [c_char_p, _P, c_char_p, c_size_t]),
    "shmemora_create": (c_int, [c_char_p, _P, _PP]),
    "shmemora_attach": (c_int, [c_char_p, _P, _PP]),
    "shmemora_detach": (c_int, [_P]),
    "shmemora_heartbeat": (c_int, [_P]),
    "shmemora_destroy": (c_int, [c_char_p, _P]),
    "shmemora_pool_info": (c_int, [_P, POINTER(Info)]),
    "shmemora_inspect": (c_int, [c_char_p, c_char_p, POINTER(Info)]),
    "shmemora_hosts": (c_int, [c_char_p, POINTER(Host), c_size_t, _SZP]),
    "shmemora_host_id": (c_uint32, [_P]),
    "shmemora_protection_available": (c_int, []),
    "shmemora_protection_mode": (c_int, [_P]),
    "shmemora_rights_format": (None, [c_uint32, c_char_p]),
    "shmemora_rights_parse": (c_int, [c_char_p, POINTER(c_uint32)]),
    "shmemora_token_format": (c_int, [_TOK, c_char_p, c_size_t]),
    "shmemora_token_parse": (c_int, [c_char_p, _TOK]),
    "shmemora_token_load": (c_int, [c_char_p, _TOK]),
    "shmemora_token_save": (c_int, [_TOK, c_char_p]),
    "shmemora_token_derive": (c_int, [_P, _TOK, POINTER(Grant), _TOK]),
    "shmemora_token_revoke": (c_int, [_P, _TOK]),
    "shmemora_token_inspect": (c_int, [_P, _TOK, POINTER(TokenInfo)]),
    "shmemora_token_list": (c_int, [_P, POINTER(TokenInfo), c_size_t, _SZP]),
    "shmemora_token_gc": (c_int, [_P, _U64P]),
    "shmemora_set_verify": (c_int, [_P, c_int]),
    "shmemora_region_read": (c_int, [_P, _TOK, c_uint64, c_void_p, c_size_t]),
    "shmemora_region_write": (c_int, [_P, _TOK, c_uint64, c_void_p, c_size_t]),
    "shmemora_region_compare": (c_int, [_P, _TOK, c_uint64, c_void_p, c_size_t,
                                        POINTER(c_int)]),
    "shmemora_region_cas64": (c_int, [_P, _TOK, c_uint64, _U64P, c_uint64, POINTER(c_int)]),
    "shmemora_ns_create": (c_int, [_P, _TOK, c_char_p]),
    "shmemora_ns_delete": (c_int, [_P, _TOK, c_char_p, _U64P]),
    "shmemora_ns_list": (c_int, [_P, _TOK, POINTER(NsInfo), c_size_t, _SZP]),
    "shmemora_ns_stat": (c_int, [_P, _TOK, c_char_p, POINTER(NsInfo)]),
    "shmemora_ns_set_limits": (c_int, [_P, _TOK, c_char_p, c_uint64, c_uint64]),
    "shmemora_kv_insert": (c_int, [_P, _TOK, c_char_p, c_void_p, c_size_t, c_void_p, c_size_t]),
    "shmemora_kv_put": (c_int, [_P, _TOK, c_char_p, c_void_p, c_size_t, c_void_p, c_size_t]),
    "shmemora_kv_update": (c_int, [_P, _TOK, c_char_p, c_void_p, c_size_t, c_void_p, c_size_t]),
    "shmemora_kv_get": (c_int, [_P, _TOK, c_char_p, c_void_p, c_size_t, c_void_p, c_size_t,
                                _SZP, _U64P]),
    "shmemora_kv_delete": (c_int, [_P, _TOK, c_char_p, c_void_p, c_size_t]),
    "shmemora_kv_cas": (c_int, [_P, _TOK, c_char_p, c_void_p, c_size_t, c_uint64, c_void_p,
                                c_size_t, _U64P]),
    "shmemora_kv_multi_get": (c_int, [_P, _TOK, c_char_p, POINTER(KvItem), c_size_t]),
    "shmemora_kv_scan": (c_int, [_P, _TOK, c_char_p, _U64P, c_size_t, c_int, SCAN_VISIT,
                                 c_void_p]),
    "shmemora_stats_get": (c_int, [_P, POINTER(Stats)]),
    "shmemora_check": (c_int, [_P, c_int, POINTER(CheckReport)]),
}

# ------------------------------------------------------------------ loading
_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None
_LIBNAME = "libshmemora.so.0"


def candidates() -> List[str]:
    """The places tried, in order (see the module's docstring)."""
    env = os.environ.get("SHMEMORA_LIBRARY")
    if env:
        return [env]
    found = []
    try:
        from . import _libdir  # type: ignore[attr-defined]  # written by make install
        found.append(os.path.join(_libdir.LIBDIR, _LIBNAME))
    except ImportError:
        pass
    here = os.path.dirname(os.path.abspath(__file__))
    found.append(os.path.join(os.path.dirname(os.path.dirname(here)), "build",
                              "libshmemora.so"))
    found.append(_LIBNAME)  # bare name: the system loader's search
    return found


def _declare(lib: ctypes.CDLL) -> None:
    for name, (restype, argtypes) in PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


def _open() -> ctypes.CDLL:
    tried = []
    for path in candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path}: no such file")
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            tried.append(f"{path}: {exc}")
            continue
        try:
            _declare(lib)
        except AttributeError as exc:
            raise LibraryNotFound(f"{path} lacks a function this binding calls ({exc}): "
                                  "it is not a libshmemora this binding was written for")
        version = lib.shmemora_version().decode()
        major, minor = (int(p) for p in version.split(".")[:2])
        if (major, minor) != ABI_VERSION:
            raise LibraryNotFound(
                f"{path} is libshmemora {version}; this binding was written for "
                f"{ABI_VERSION[0]}.{ABI_VERSION[1]}.x (struct layouts may differ): install "
                "the binding and the library from the same source tree")
        return lib
    raise LibraryNotFound(
        "libshmemora not found; tried:\n  " + "\n  ".join(tried) +
        "\nBuild it (make) and run from the source tree, set SHMEMORA_LIBRARY to the path "
        "of libshmemora.so, install both with `make install PREFIX=...` (which records the "
        "library directory), or put the library where the loader finds it "
        "(LD_LIBRARY_PATH, or ldconfig)")


def lib() -> Any:
    """The loaded library, its functions declared.  Raises LibraryNotFound."""
    global _lib
    if _lib is None:
        with _lock:
            if _lib is None:
                _lib = _open()
    return _lib


def library_path() -> str:
    """The file the library was loaded from (loads it if need be).  For a
    library found by the system loader, the file it chose."""
    name = str(lib()._name)
    if os.sep in name:
        return name
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.rstrip("\n").partition("/")[2]
                if os.path.basename(path).startswith("libshmemora.so"):
                    return "/" + path
    except OSError:
        pass
    return name
