"""Pools (create, attach, detach), namespaces and their keys, regions, checks."""
from __future__ import annotations

import ctypes
import datetime as _dt
import fnmatch
import grp
import os
import threading
import uuid as _uuid
import weakref
from ctypes import byref, c_int, c_size_t, c_uint64, c_void_p
from dataclasses import dataclass
from typing import (Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional,
                    Sequence, Tuple, Union)

from . import _lib
from ._enums import (Backend, Coherence, HostState, Protection, Region, Verify, coerce)
from ._errors import NotFound, TooSmall
from ._token import Token, TokenInfo, _from_unix_ns
from ._util import (BytesLike, PathLike, check, cstring, data, error_for, error_with,
                    fs_path, invalid, text)

UINT32_MAX = 0xFFFFFFFF
MAX_HOSTS = 4096

# ------------------------------------------------------------------- handles
# A forked child must not use or detach its parent's handles (the library
# says so): each handle remembers the fork generation it was made in.
_fork_generation = 0


def _after_fork_in_child() -> None:
    global _fork_generation
    _fork_generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


class _Handle:
    """A shmemora_pool pointer that calls borrow for their duration.  Closing
    takes it away from new calls and waits for those in flight, so a detach
    racing another thread's get cannot free the pool under it."""

    __slots__ = ("ptr", "path", "generation", "_busy", "_cond")

    def __init__(self, ptr: int, pool_path: str) -> None:
        self.ptr: Optional[int] = ptr
        self.path = pool_path
        self.generation = _fork_generation
        self._busy = 0
        self._cond = threading.Condition(threading.Lock())

    def acquire(self) -> int:
        # In a forked child the lock may have been copied held by a thread
        # that does not exist there: the fork check comes first, lock-free.
        if self.generation != _fork_generation:
            invalid(f"pool {self.path}: this handle was attached by the parent process; "
                    "a forked child must attach its own")
        with self._cond:
            if self.ptr is None:
                invalid(f"pool {self.path}: this handle was detached; attach again")
            self._busy += 1
            return self.ptr

    def release(self) -> None:
        with self._cond:
            self._busy -= 1
            if self._busy == 0:
                self._cond.notify_all()

    def close(self) -> Optional[int]:
        """Takes the pointer (None if already closed, or in a forked child,
        where the parent's calls in flight will never end)."""
        if self.generation != _fork_generation:
            self.ptr = None
            return None
        with self._cond:
            ptr, self.ptr = self.ptr, None
            while self._busy:
                self._cond.wait()
        return ptr


def _detach(handle: _Handle) -> int:
    ptr = handle.close()
    if ptr is None:
        return 0
    return int(_lib.lib().shmemora_detach(ptr))


# -------------------------------------------------------------------- config
def _group(value: Union[int, str]) -> int:
    if not isinstance(value, str):
        return int(value)
    try:
        return grp.getgrnam(value).gr_gid
    except KeyError:
        invalid(f"group {value!r} does not exist")


# option: (setter, converter)
_SETTERS: Dict[str, Tuple[str, Callable[[Any], Any]]] = {
    "size": ("shmemora_config_set_size", int),
    "hosts": ("shmemora_config_set_hosts", int),
    "coherence": ("shmemora_config_set_coherence", lambda v: int(coerce(Coherence, v))),
    "key_file": ("shmemora_config_set_key_file", lambda v: fs_path(v, "key_file")),
    "root_token_file": ("shmemora_config_set_root_token_file",
                        lambda v: fs_path(v, "root_token_file")),
    "capabilities": ("shmemora_config_set_capabilities", int),
    "index_slots": ("shmemora_config_set_index_slots", int),
    "namespaces": ("shmemora_config_set_namespaces", int),
    "raw_size": ("shmemora_config_set_raw_size", int),
    "max_key": ("shmemora_config_set_max_key", int),
    "max_value": ("shmemora_config_set_max_value", int),
    "numa_node": ("shmemora_config_set_numa_node", int),
    "lease_ms": ("shmemora_config_set_lease_ms", int),
    "host_id": ("shmemora_config_set_host_id", int),
    "observer": ("shmemora_config_set_observer", lambda v: 1 if v else 0),
    "hardened": ("shmemora_config_set_hardened", lambda v: 1 if v else 0),
    "group": ("shmemora_config_set_group", _group),
    "force": ("shmemora_config_set_force", lambda v: 1 if v else 0),
}


class _Config:
    """A shmemora_config for the options that are not None (with-statement)."""

    def __init__(self, **options: Any) -> None:
        self.options = {k: v for k, v in options.items() if v is not None}
        self.ptr = c_void_p()

    def __enter__(self) -> c_void_p:
        lib = _lib.lib()
        check(lib.shmemora_config_new(byref(self.ptr)))
        try:
            for name, value in self.options.items():
                setter, convert = _SETTERS[name]
                arg = convert(value)
                if isinstance(arg, int) and not isinstance(arg, bool) and arg < 0 and \
                        name not in ("numa_node", "host_id", "group"):
                    invalid(f"{name} must not be negative ({arg})")
                rc = getattr(lib, setter)(self.ptr, arg)
                if rc:
                    err = error_for(rc)
                    err.message = f"{name}={value!r}: {err.message}"
                    raise err
        except BaseException:
            lib.shmemora_config_delete(self.ptr)
            raise
        return self.ptr

    def __exit__(self, *exc: Any) -> None:
        _lib.lib().shmemora_config_delete(self.ptr)


# -------------------------------------------------------------- descriptions
@dataclass(frozen=True)
class PoolInfo:
    """What ``shmemora info`` shows about a pool (Pool.info, inspect)."""
    format_version: int
    uuid: _uuid.UUID
    key_id: bytes                  #: fingerprint of the pool key (not the key)
    size: int
    created: Optional[_dt.datetime]
    created_unix_ns: int
    alignment: int
    page_size: int
    backend: Backend
    coherence: Coherence
    max_hosts: int
    lease_ms: int
    max_key: int
    max_value: int
    capabilities: int
    index_slots: int
    namespaces: int
    partition_size: int
    size_classes: Tuple[int, ...]
    regions: Dict[Region, Tuple[int, int]]  #: region: (offset, size)
    hosts_attached: int
    sb_from_backup: bool
    key_verified: bool
    protection: Protection           #: the best mode this CPU offers
    flush_instruction: str

    @classmethod
    def _from_c(cls, c: _lib.Info) -> "PoolInfo":
        return cls(
            format_version=c.format_version, uuid=_uuid.UUID(bytes=bytes(c.uuid)),
            key_id=bytes(c.key_id), size=c.size, created=_from_unix_ns(c.created_unix_ns),
            created_unix_ns=c.created_unix_ns, alignment=c.alignment, page_size=c.page_size,
            backend=Backend(c.backend), coherence=Coherence(c.coherence),
            max_hosts=c.max_hosts, lease_ms=c.lease_ms, max_key=c.max_key,
            max_value=c.max_value, capabilities=c.capabilities, index_slots=c.index_slots,
            namespaces=c.namespaces, partition_size=c.partition_size,
            size_classes=tuple(c.size_classes[:c.size_class_count]),
            regions={r: (c.region_offset[r], c.region_size[r]) for r in Region},
            hosts_attached=c.hosts_attached, sb_from_backup=bool(c.sb_from_backup),
            key_verified=bool(c.key_verified), protection=Protection(c.protection),
            flush_instruction=(c.flush_instruction or b"").decode())


@dataclass(frozen=True)
class HostInfo:
    """One host slot (hosts())."""
    host_id: int
    state: HostState
    epoch: int
    pid: int
    heartbeat: Optional[_dt.datetime]  #: the holder's wall clock at its last beat
    heartbeat_unix_ns: int
    boot_id: bytes
    same_machine: bool
    heartbeats: int
    unchanged_ms: int


@dataclass(frozen=True)
class PoolStats:
    """What ``shmemora stats`` shows (Pool.stats)."""
    keys: int
    namespaces: int
    index_slots: int
    index_used: int
    index_load: float
    partitions: int
    size_class_count: int
    partition_size: int
    allocated: Tuple[Tuple[int, ...], ...]  #: [partition][size class]: blocks allocated
    partition_used: Tuple[int, ...]         #: bytes carved, per partition


@dataclass(frozen=True)
class NamespaceInfo:
    """A namespace (Pool.namespaces, Namespace.stat)."""
    name: str
    hash: int
    generation: int   #: its incarnation: one more each time it is created
    keys: int
    bytes: int        #: key and value bytes
    max_keys: int     #: 0: no limit
    max_bytes: int
    limited: bool

    @classmethod
    def _from_c(cls, c: _lib.NsInfo) -> "NamespaceInfo":
        return cls(name=text(c.name), hash=c.hash, generation=c.generation, keys=c.keys,
                   bytes=c.bytes, max_keys=c.max_keys, max_bytes=c.max_bytes,
                   limited=bool(c.limited))


@dataclass(frozen=True)
class CheckReport:
    """What Pool.check found; ``findings`` holds one line per finding."""
    problems: int
    repaired: int
    keys: int
    namespaces: int
    live_blocks: int
    free_blocks: int
    leaked_blocks: int
    tokens_live: int
    tokens_revoked: int
    findings: Tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.problems == 0


class Versioned(NamedTuple):
    """A value and the version the key had (Namespace.get_versioned)."""
    value: bytes
    version: int


class ScanItem(NamedTuple):
    """A key met by Namespace.scan.  ``value`` is None unless values were asked for."""
    key: bytes
    value: Optional[bytes]
    version: int
    value_len: int


# --------------------------------------------------------------------- pools
def _token_arg(token: Token) -> Any:
    if not isinstance(token, Token):
        raise TypeError(f"a Token is needed, not {type(token).__name__}")
    return byref(token._c)


class Pool:
    """An attached pool: a host (or an observer) of a SHMemora pool.

    Made by :meth:`create` or :meth:`attach`; a context manager that
    detaches on leaving.  It may be used by several threads at once;
    :meth:`detach` waits for calls in flight and later calls raise
    InvalidArgument.  A forked child may not use its parent's handle (it
    raises InvalidArgument there); it attaches its own.  A handle that is
    garbage-collected, or alive at interpreter exit, is detached then.
    """

    _path: str
    _root_token_path: str
    _handle: _Handle
    _finalizer: "weakref.finalize"
    _host_id: Optional[int]
    _max_value: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("use Pool.create(path, ...) or Pool.attach(path, ...)")

    @classmethod
    def _open(cls, fname: str, pool_path: PathLike, options: Dict[str, Any]) -> "Pool":
        raw = fs_path(pool_path)
        lib = _lib.lib()
        ptr = c_void_p()
        root = ctypes.create_string_buffer(4096)
        with _Config(**options) as cfg:
            check(getattr(lib, fname)(raw, cfg, byref(ptr)))
            rc = lib.shmemora_root_token_path(raw, cfg, root, len(root))
            if rc:
                err = error_for(rc)
                lib.shmemora_detach(ptr)
                raise err
        self = cls.__new__(cls)
        self._path = os.fsdecode(raw)
        self._root_token_path = os.fsdecode(root.value)
        assert ptr.value is not None  # the call succeeded
        self._handle = _Handle(ptr.value, self._path)
        self._finalizer = weakref.finalize(self, _detach, self._handle)
        host = lib.shmemora_host_id(ptr)
        self._host_id = None if host == UINT32_MAX else int(host)
        self._max_value = self.info().max_value
        return self

    @classmethod
    def create(cls, path: PathLike, *, size: Optional[int] = None,
               hosts: Optional[int] = None,
               coherence: Optional[Union[Coherence, str]] = None,
               key_file: Optional[PathLike] = None,
               root_token_file: Optional[PathLike] = None,
               capabilities: Optional[int] = None, index_slots: Optional[int] = None,
               namespaces: Optional[int] = None, raw_size: Optional[int] = None,
               max_key: Optional[int] = None, max_value: Optional[int] = None,
               numa_node: Optional[int] = None, lease_ms: Optional[int] = None,
               host_id: Optional[int] = None, group: Optional[Union[int, str]] = None,
               force: bool = False, hardened: bool = False) -> "Pool":
        """Creates a pool at `path` (a new file, e.g. under /dev/shm; a devdax
        device; or FILE@OFFSET) and attaches to it as a host.

        Writes a fresh key to `key_file` (default: PATH.key, or
        $SHMEMORA_KEY_FILE) and the root token to `root_token_file` (default
        PATH.root-token), both mode 0600.  Every option left None takes the
        library's default (shmemora_config_set_* in shmemora.h): `size` in
        bytes (1 GiB), `hosts` (8 slots), `coherence` ("coherent" or
        "flush"), `capabilities`, `index_slots`, `namespaces`, `raw_size`,
        `max_key`, `max_value`, `numa_node`, `lease_ms`, `host_id`, `group`
        (a gid or group name to share the pool with), `force` (overwrite a
        device that holds a pool), `hardened` (turn hardened mode on once
        created: permanent for the process; see shmemora.hardened()).

        Raises AlreadyExists, GeometryError (the layout does not fit: the
        message says what would), BadPath, KeyFileError, IOFailure, ...
        """
        return cls._open("shmemora_create", path, dict(
            size=size, hosts=hosts, coherence=coherence, key_file=key_file,
            root_token_file=root_token_file, capabilities=capabilities,
            index_slots=index_slots, namespaces=namespaces, raw_size=raw_size,
            max_key=max_key, max_value=max_value, numa_node=numa_node, lease_ms=lease_ms,
            host_id=host_id, group=group, force=force or None,
            hardened=hardened or None))

    @classmethod
    def attach(cls, path: PathLike, *, key_file: Optional[PathLike] = None,
               root_token_file: Optional[PathLike] = None, host_id: Optional[int] = None,
               observer: bool = False, hardened: bool = False) -> "Pool":
        """Attaches to an existing pool: verifies its superblock under the key
        in `key_file` (default PATH.key, or $SHMEMORA_KEY_FILE) and claims a
        host slot (`host_id`, or the first free or dead one).

        With ``observer=True`` it claims no slot and works while every slot
        is held: reads work, writes raise ReadOnly.  `root_token_file` only
        tells root_token() where to look.  With ``hardened=True`` the process
        enters hardened mode once attached (permanent; no later attach can
        map a pool: attach every pool first).

        Raises NotFound, NotAPool, KeyFileError, KeyMismatch, Tampered,
        Corrupt, Truncated, NoSlot, PermissionDenied, ...
        """
        return cls._open("shmemora_attach", path, dict(
            key_file=key_file, root_token_file=root_token_file, host_id=host_id,
            observer=observer or None, hardened=hardened or None))

    # ----------------------------------------------------------- lifecycle
    def detach(self) -> None:
        """Releases the host slot and unmaps the pool; does nothing the second
        time.  Raises Fenced if the slot had been reclaimed by another host
        (the handle is released all the same)."""
        rc = self._finalizer()
        if rc:
            raise error_for(rc)

    close = detach

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.detach()

    @property
    def closed(self) -> bool:
        return self._handle.ptr is None

    def __repr__(self) -> str:
        who = "observer" if self.observer else f"host {self._host_id}"
        state = "detached" if self.closed else who
        return f"<shmemora.Pool {self._path!r} ({state})>"

    def _call(self, fname: str, *args: Any) -> None:
        """Calls fname(pool, *args) with the handle borrowed; raises on error."""
        rc = self._call_rc(fname, *args)
        if rc:
            raise error_for(rc)

    def _call_rc(self, fname: str, *args: Any) -> int:
        handle = self._handle
        ptr = handle.acquire()
        try:
            return int(getattr(_lib.lib(), fname)(ptr, *args))
        finally:
            handle.release()

    # ------------------------------------------------------------- what it is
    @property
    def path(self) -> str:
        return self._path

    @property
    def host_id(self) -> Optional[int]:
        """This handle's host slot; None for an observer."""
        return self._host_id

    @property
    def observer(self) -> bool:
        return self._host_id is None

    @property
    def root_token_path(self) -> str:
        """Where this pool's root token file is (or was written)."""
        return self._root_token_path

    def root_token(self) -> Token:
        """Loads the root token from its file (readable by its owner only)."""
        return Token.load(self._root_token_path)

    @property
    def protection(self) -> Protection:
        """The protection mode this handle runs in (mpk where the CPU has PKU)."""
        ptr = self._handle.acquire()
        try:
            return Protection(_lib.lib().shmemora_protection_mode(ptr))
        finally:
            self._handle.release()

    def info(self) -> PoolInfo:
        out = _lib.Info()
        self._call("shmemora_pool_info", byref(out))
        return PoolInfo._from_c(out)

    def stats(self) -> PoolStats:
        """Counts keys, space and index load (walks the index; needs no token)."""
        info = self.info()
        parts, classes = info.max_hosts, len(info.size_classes)
        allocated = (c_uint64 * max(parts * classes, 1))()
        used = (c_uint64 * max(parts, 1))()
        out = _lib.Stats()
        out.allocated = ctypes.cast(allocated, ctypes.POINTER(c_uint64))
        out.partition_used = ctypes.cast(used, ctypes.POINTER(c_uint64))
        self._call("shmemora_stats_get", byref(out))
        n = out.size_class_count
        return PoolStats(
            keys=out.keys, namespaces=out.namespaces, index_slots=out.index_slots,
            index_used=out.index_used, index_load=out.index_load, partitions=out.partitions,
            size_class_count=n, partition_size=out.partition_size,
            allocated=tuple(tuple(allocated[p * n:(p + 1) * n]) for p in range(out.partitions)),
            partition_used=tuple(used[:out.partitions]))

    def heartbeat(self) -> None:
        """Beats now (the heartbeat thread already does every lease/8).
        Raises Fenced if the slot was reclaimed, ReadOnly on an observer."""
        self._call("shmemora_heartbeat")

    def set_verify(self, policy: Union[Verify, str]) -> None:
        """This handle's MAC policy: "cached" (default), "always" or "off"."""
        self._call("shmemora_set_verify", int(coerce(Verify, policy)))

    # ---------------------------------------------------------------- tokens
    def tokens(self) -> List[TokenInfo]:
        """The capability table's used entries (never their tags)."""
        cap = 64
        while True:
            arr = (_lib.TokenInfo * cap)()
            count = c_size_t()
            self._call("shmemora_token_list", arr, cap, byref(count))
            if count.value <= cap:
                return [TokenInfo._from_c(arr[i]) for i in range(count.value)]
            cap = count.value + 16

    def token_gc(self) -> int:
        """Frees revoked and expired entries (and half-minted ones of dead
        hosts); returns how many."""
        freed = c_uint64()
        self._call("shmemora_token_gc", byref(freed))
        return freed.value

    # ------------------------------------------------------------ namespaces
    def namespace(self, name: Union[str, bytes], token: Token) -> "Namespace":
        """The namespace `name`, used with `token` (nothing is checked until
        the first operation)."""
        return Namespace(self, name, token)

    def create_namespace(self, name: Union[str, bytes], token: Token) -> "Namespace":
        """Creates namespace `name` (1..255 bytes, no '/' or NUL) with a pool
        token holding Rights.INSERT; returns it, bound to that token.  Raises
        AlreadyExists, Busy (being deleted), NoSpace (the table is full)."""
        raw = cstring(name, "namespace")
        self._call("shmemora_ns_create", _token_arg(token), raw)
        return Namespace(self, name, token)

    def delete_namespace(self, name: Union[str, bytes], token: Token) -> int:
        """Deletes namespace `name` and every key in it (a pool token with
        Rights.DELETE); tokens scoped to it are refused from then on.  Returns
        how many keys were removed."""
        removed = c_uint64()
        self._call("shmemora_ns_delete", _token_arg(token), cstring(name, "namespace"),
                   byref(removed))
        return removed.value

    def namespaces(self, token: Token) -> List[NamespaceInfo]:
        """The namespaces `token` reaches (all for a pool token); needs Rights.READ."""
        cap = 16
        while True:
            arr = (_lib.NsInfo * cap)()
            count = c_size_t()
            self._call("shmemora_ns_list", _token_arg(token), arr, cap, byref(count))
            if count.value <= cap:
                return [NamespaceInfo._from_c(arr[i]) for i in range(count.value)]
            cap = count.value + 16

    # -------------------------------------------------------------- regions
    def region_read(self, token: Token, offset: int, length: int) -> bytes:
        """`length` bytes of the raw area at `offset` (Rights.READ)."""
        buf = ctypes.create_string_buffer(max(length, 1))
        self._call("shmemora_region_read", _token_arg(token), offset, buf, length)
        return buf.raw[:length]

    def region_write(self, token: Token, offset: int, value: BytesLike) -> None:
        """Writes `value` to the raw area at `offset` (Rights.WRITE)."""
        raw = data(value)
        self._call("shmemora_region_write", _token_arg(token), offset, raw, len(raw))

    def region_compare(self, token: Token, offset: int, value: BytesLike) -> bool:
        """Whether the raw area at `offset` holds `value` (Rights.READ)."""
        raw = data(value)
        equal = c_int()
        self._call("shmemora_region_compare", _token_arg(token), offset, raw, len(raw),
                   byref(equal))
        return bool(equal.value)

    def region_cas64(self, token: Token, offset: int, expected: int,
                     desired: int) -> Tuple[bool, int]:
        """Atomic compare-and-swap of the 8-byte word at `offset` (8-aligned;
        Rights.READ and WRITE).  Returns (swapped, the word before)."""
        exp = c_uint64(expected)
        swapped = c_int()
        self._call("shmemora_region_cas64", _token_arg(token), offset, byref(exp), desired,
                   byref(swapped))
        return bool(swapped.value), exp.value

    # ----------------------------------------------------------------- check
    def check(self, repair: bool = False, tokens: Sequence[Token] = ()) -> CheckReport:
        """Verifies every structure of the pool (and the given tokens' entries
        with their MAC); with ``repair=True`` mends what it safely can.
        Counts are exact only while the hosts are quiet."""
        findings: List[str] = []

        def on_finding(_arg: Any, line: bytes) -> None:
            findings.append(line.decode("utf-8", "replace"))

        report = _lib.CheckReport()
        callback = _lib.CHECK_FINDING(on_finding)
        report.on_finding = callback
        toks = (_lib.Token * max(len(tokens), 1))(*[t._c for t in tokens])
        report.tokens = ctypes.cast(toks, ctypes.POINTER(_lib.Token))
        report.token_count = len(tokens)
        self._call("shmemora_check", 1 if repair else 0, byref(report))
        return CheckReport(
            problems=report.problems, repaired=report.repaired, keys=report.keys,
            namespaces=report.namespaces, live_blocks=report.live_blocks,
            free_blocks=report.free_blocks, leaked_blocks=report.leaked_blocks,
            tokens_live=report.tokens_live, tokens_revoked=report.tokens_revoked,
            findings=tuple(findings))


# ---------------------------------------------------------------- namespaces
class Namespace:
    """Namespace `name` of a pool, used with one token.

    Keys are 1..max_key bytes, values 0..max_value bytes (Pool.info());
    both are taken as bytes-like objects or str (UTF-8), and values come
    back as bytes.  Every operation goes through the library's protected
    path with the token: get and scan need Rights.READ, insert INSERT,
    update and cas WRITE, put WRITE and INSERT, delete DELETE.
    """

    __slots__ = ("pool", "name", "token", "_raw")

    def __init__(self, pool: Pool, name: Union[str, bytes], token: Token) -> None:
        if not isinstance(token, Token):
            raise TypeError(f"a Token is needed, not {type(token).__name__}")
        self._raw = cstring(name, "namespace")
        self.pool = pool
        self.name = text(self._raw)
        self.token = token

    def __repr__(self) -> str:
        return f"<shmemora.Namespace {self.name!r} of {self.pool.path!r}, {self.token!r}>"

    def with_token(self, token: Token) -> "Namespace":
        """The same namespace, used with another token."""
        return Namespace(self.pool, self._raw, token)

    def _call(self, fname: str, *args: Any) -> None:
        self.pool._call(fname, byref(self.token._c), self._raw, *args)

    # ----------------------------------------------------------------- reads
    def _get(self, key: BytesLike) -> Versioned:
        raw = data(key, "key")
        size = c_size_t()
        version = c_uint64()
        # A value can grow between two tries: the last try's buffer is the
        # pool's largest value, which is never too small.
        for cap in (4096, None, self.pool._max_value):
            cap = size.value if cap is None else cap
            buf = ctypes.create_string_buffer(max(cap, 1))
            rc = self.pool._call_rc("shmemora_kv_get", byref(self.token._c), self._raw, raw,
                                    len(raw), buf, cap, byref(size), byref(version))
            if rc == 0:
                return Versioned(ctypes.string_at(buf, size.value), version.value)
            if rc != TooSmall.code:
                raise error_for(rc)
        raise error_for(rc)  # unreachable while max_value bounds every value

    def get(self, key: BytesLike) -> bytes:
        """The value of `key`.  Raises NotFound when the key (or the
        namespace) does not exist."""
        return self._get(key).value

    def get_versioned(self, key: BytesLike) -> Versioned:
        """The value of `key` and its version (for cas)."""
        return self._get(key)

    def multi_get(self, keys: Iterable[BytesLike]) -> List[Optional[bytes]]:
        """The values of several keys with one token check: None where a key
        is absent.  Each key is read atomically; the set is not a snapshot."""
        raws = [data(k, "key") for k in keys]
        if not raws:
            return []
        items = (_lib.KvItem * len(raws))()
        bufs = []
        for item, raw in zip(items, raws):
            buf = ctypes.create_string_buffer(4096)
            bufs.append(buf)
            item.key = ctypes.cast(ctypes.c_char_p(raw), c_void_p)
            item.key_len = len(raw)
            item.buf = ctypes.addressof(buf)
            item.cap = len(buf)
        self._call("shmemora_kv_multi_get", items, len(raws))
        out: List[Optional[bytes]] = []
        for item, raw, buf in zip(items, raws, bufs):
            if item.rc == 0:
                out.append(ctypes.string_at(buf, item.value_len))
            elif item.rc == NotFound.code:
                out.append(None)
            elif item.rc == TooSmall.code:  # larger than the first buffer
                try:
                    out.append(self.get(raw))
                except NotFound:  # deleted since
                    out.append(None)
            else:
                raise error_with(item.rc, f"multi_get: key {raw!r}")
        return out

    def scan(self, match: Optional[BytesLike] = None, *, values: bool = False,
             count: int = 256) -> Iterator[ScanItem]:
        """Iterates over the namespace's keys that the token reaches (all of
        them for a pool or namespace token, its one key for a key token),
        `count` keys per library call, following the library's cursor.

        `match` keeps keys that match a glob (fnmatch.fnmatchcase on the key's
        bytes; str patterns are UTF-8 encoded).  With ``values=True`` each
        item carries its value, read whole.

        Under concurrent writers (shmemora_kv_scan): a key present from the
        first batch to the last is met exactly once; a key met existed at
        some moment of the scan, with that moment's value and version; keys
        inserted or deleted meanwhile may or may not be met.
        """
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        pattern = None if match is None else data(match, "match")
        cursor = c_uint64(0)
        while True:
            batch: List[ScanItem] = []
            failed: List[BaseException] = []

            def visit(_arg: Any, item_p: Any) -> int:
                try:
                    it = item_p.contents
                    key = ctypes.string_at(it.key, it.key_len)
                    value = ctypes.string_at(it.value, it.value_len) if it.value else None
                    batch.append(ScanItem(key, value, int(it.version), int(it.value_len)))
                    return 0
                except BaseException as exc:  # never let one escape into C
                    failed.append(exc)
                    return 1

            callback = _lib.SCAN_VISIT(visit)
            rc = self.pool._call_rc("shmemora_kv_scan", byref(self.token._c), self._raw,
                                    byref(cursor), count, 1 if values else 0, callback, None)
            if failed:
                raise failed[0]
            check(rc)
            for item in batch:
                if pattern is None or fnmatch.fnmatchcase(item.key, pattern):
                    yield item
            if cursor.value == 0:
                return

    def __iter__(self) -> Iterator[bytes]:
        """The keys, as scan() meets them."""
        return (item.key for item in self.scan())

    # ---------------------------------------------------------------- writes
    def put(self, key: BytesLike, value: BytesLike) -> None:
        """Inserts or replaces (Rights.WRITE and INSERT)."""
        k, v = data(key, "key"), data(value)
        self._call("shmemora_kv_put", k, len(k), v, len(v))

    def insert(self, key: BytesLike, value: BytesLike) -> None:
        """Inserts a key that must be absent (AlreadyExists otherwise)."""
        k, v = data(key, "key"), data(value)
        self._call("shmemora_kv_insert", k, len(k), v, len(v))

    def update(self, key: BytesLike, value: BytesLike) -> None:
        """Replaces a key that must be present (NotFound otherwise)."""
        k, v = data(key, "key"), data(value)
        self._call("shmemora_kv_update", k, len(k), v, len(v))

    def delete(self, key: BytesLike) -> None:
        """Deletes `key` (NotFound if absent)."""
        k = data(key, "key")
        self._call("shmemora_kv_delete", k, len(k))

    def cas(self, key: BytesLike, expected_version: int, value: BytesLike) -> int:
        """Replaces the value only if the key's version is still
        `expected_version` (from get_versioned); returns the new version.
        Raises Conflict if it moved on, NotFound if the key is absent."""
        k, v = data(key, "key"), data(value)
        new_version = c_uint64()
        self._call("shmemora_kv_cas", k, len(k), expected_version, v, len(v),
                   byref(new_version))
        return new_version.value

    # ---------------------------------------------------------------- admin
    def stat(self) -> NamespaceInfo:
        """Describes the namespace (Rights.READ)."""
        out = _lib.NsInfo()
        self._call("shmemora_ns_stat", byref(out))
        return NamespaceInfo._from_c(out)

    def set_limits(self, max_keys: int = 0, max_bytes: int = 0) -> None:
        """Limits the keys and key-and-value bytes the namespace may hold (0:
        no limit); writes past them raise QuotaExceeded.  Needs a pool token
        with Rights.GRANT."""
        self._call("shmemora_ns_set_limits", max_keys, max_bytes)


# ------------------------------------------------------------ module level
def destroy(path: PathLike, *, key_file: Optional[PathLike] = None,
            root_token_file: Optional[PathLike] = None, force: bool = False) -> None:
    """Removes a pool, its key file and root token file.  Needs the pool's
    key; raises Busy while live hosts are attached, unless `force`."""
    with _Config(key_file=key_file, root_token_file=root_token_file,
                 force=force or None) as cfg:
        check(_lib.lib().shmemora_destroy(fs_path(path), cfg))


def inspect(path: PathLike, key_file: Optional[PathLike] = None) -> PoolInfo:
    """Reads a pool's superblock without attaching and without writing; the
    key (if found) verifies its MAC (then ``key_verified`` is True)."""
    out = _lib.Info()
    check(_lib.lib().shmemora_inspect(fs_path(path),
                                      None if key_file is None else fs_path(key_file, "key_file"),
                                      byref(out)))
    return PoolInfo._from_c(out)


def hosts(path: PathLike) -> List[HostInfo]:
    """The host slots of the pool at `path` (no key needed; one look)."""
    raw, cap = fs_path(path), 64
    while True:
        arr = (_lib.Host * cap)()
        count = c_size_t()
        check(_lib.lib().shmemora_hosts(raw, arr, cap, byref(count)))
        if count.value <= cap:
            break
        cap = min(count.value, MAX_HOSTS)
    return [HostInfo(host_id=h.host_id, state=HostState(h.state), epoch=h.epoch, pid=h.pid,
                     heartbeat=_from_unix_ns(h.heartbeat_unix_ns),
                     heartbeat_unix_ns=h.heartbeat_unix_ns, boot_id=bytes(h.boot_id),
                     same_machine=bool(h.same_machine), heartbeats=h.heartbeats,
                     unchanged_ms=h.unchanged_ms)
            for h in arr[:count.value]]
