"""Capability tokens: their text form, derive, revoke, inspect."""
from __future__ import annotations

import ctypes
import datetime as _dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, List, Optional, Tuple, Union

from . import _lib
from ._enums import Rights, Scope, TokenState
from ._util import BytesLike, PathLike, check, cstring, data, fs_path, invalid, text

if TYPE_CHECKING:
    from ._pool import Pool

RightsLike = Union[Rights, int, str]
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def rights_value(rights: RightsLike) -> Rights:
    """Rights from a Rights flag, an int, or letters such as "rw" (parsed by
    the library: a non-empty subset of "rwidg")."""
    if isinstance(rights, str):
        out = ctypes.c_uint32()
        check(_lib.lib().shmemora_rights_parse(cstring(rights, "rights"), ctypes.byref(out)))
        return Rights(out.value)
    if isinstance(rights, bool) or not isinstance(rights, int):
        raise TypeError(f"rights must be Rights, int or str, not {type(rights).__name__}")
    if rights <= 0 or rights & ~int(Rights.ALL):
        invalid(f"rights {rights:#x} are not a non-empty subset of Rights.ALL")
    return Rights(rights)


def _unix_ns(when: _dt.datetime) -> int:
    if when.tzinfo is None:  # naive: local time, as datetime.timestamp() takes it
        when = when.astimezone()
    return (when - _EPOCH) // _dt.timedelta(microseconds=1) * 1000


def _from_unix_ns(ns: int) -> Optional[_dt.datetime]:
    if ns == 0:
        return None
    return _EPOCH + _dt.timedelta(microseconds=ns // 1000)


@dataclass(frozen=True)
class TokenInfo:
    """A capability table entry, as Token.info and Pool.tokens describe it.
    Never the tag: the table does not hold it."""
    id: int
    index: int                        #: table slot
    state: TokenState
    scope: Scope
    offset: int                       #: Scope.REGION
    length: int                       #: Scope.REGION
    ns_hash: int                      #: Scope.NAMESPACE, Scope.KEY: the keyed hash of the name
    key_hash: int                     #: Scope.KEY
    rights: Rights
    expires: Optional[_dt.datetime]   #: None: never (UTC)
    expires_unix_ns: int              #: 0: never
    owner_host: int                   #: the host that minted it
    parent_id: int                    #: 0: none (a root token)
    generation: int
    depth: int                        #: derivations below its root
    quota: int                        #: tokens its descendants may hold
    quota_used: int
    ns_generation: int                #: the namespace incarnation it was made for
    namespace: Optional[str]          #: the namespace's name while that incarnation lives

    @classmethod
    def _from_c(cls, c: _lib.TokenInfo) -> "TokenInfo":
        return cls(
            id=c.id, index=c.index, state=TokenState(c.state), scope=Scope(c.scope),
            offset=c.offset, length=c.length, ns_hash=c.ns_hash, key_hash=c.key_hash,
            rights=Rights(c.rights), expires=_from_unix_ns(c.expires_unix_ns),
            expires_unix_ns=c.expires_unix_ns, owner_host=c.owner_host, parent_id=c.parent_id,
            generation=c.generation, depth=c.depth, quota=c.quota, quota_used=c.quota_used,
            ns_generation=c.ns_generation,
            namespace=text(c.ns_name) if c.ns_name else None)


class Token:
    """A capability token: a bearer credential for what its entry in the pool's
    capability table grants.

    A token is a value (id and tag): it is not tied to a pool handle, and it
    crosses processes as its text form, ``str(token)`` and
    ``Token.parse(text)``.  ``repr()`` shows the id only, never the tag, so
    logging a token's repr does not leak it.  Tokens pickle (for
    multiprocessing) as their id, tag and key hint.
    """

    __slots__ = ("_c",)

    def __init__(self, key_hint: int, id: int, tag: bytes) -> None:
        """A token from its parts (as Token.parse would make it from text)."""
        if len(tag) != _lib.TAG_BYTES:
            raise ValueError(f"a token's tag is {_lib.TAG_BYTES} bytes, not {len(tag)}")
        self._c = _lib.Token(key_hint, id, (ctypes.c_uint8 * _lib.TAG_BYTES)(*tag))

    @classmethod
    def _wrap(cls, c: _lib.Token) -> "Token":
        t = cls.__new__(cls)
        t._c = c
        return t

    @classmethod
    def parse(cls, token_text: Union[str, bytes]) -> "Token":
        """Parses the text form (``shmemora1_...``); white space around it is
        ignored.  TokenMalformed says what is wrong with a mistyped or cut one."""
        out = _lib.Token()
        check(_lib.lib().shmemora_token_parse(cstring(token_text, "token text"),
                                             ctypes.byref(out)))
        return cls._wrap(out)

    @classmethod
    def load(cls, file: PathLike) -> "Token":
        """Reads a token file (such as POOL.root-token)."""
        out = _lib.Token()
        check(_lib.lib().shmemora_token_load(fs_path(file), ctypes.byref(out)))
        return cls._wrap(out)

    def save(self, file: PathLike) -> None:
        """Writes the text form to a new file of mode 0600 (AlreadyExists if present)."""
        check(_lib.lib().shmemora_token_save(ctypes.byref(self._c), fs_path(file)))

    @property
    def id(self) -> int:
        return int(self._c.id)

    @property
    def key_hint(self) -> int:
        """The first two bytes of the pool's key id: names the pool it belongs to."""
        return int(self._c.key_hint)

    @property
    def tag(self) -> bytes:
        """The secret part: whoever has it holds the token."""
        return bytes(self._c.tag)

    @property
    def text(self) -> str:
        """The text form, ``shmemora1_KKKK_IIII..._TTTT..._CCCCCCCC``."""
        buf = ctypes.create_string_buffer(_lib.TOKEN_TEXT_LEN + 1)
        check(_lib.lib().shmemora_token_format(ctypes.byref(self._c), buf, len(buf)))
        return buf.value.decode("ascii")

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<shmemora.Token id={self.id:#018x} (tag hidden)>"

    def _key(self) -> Tuple[int, int, bytes]:
        return (self.key_hint, self.id, self.tag)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Token):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> Any:
        return (Token, self._key())

    # ------------------------------------------------------------ with a pool
    def derive(self, pool: "Pool", *, rights: RightsLike,
               namespace: Optional[Union[str, bytes]] = None,
               key: Optional[BytesLike] = None,
               region: Optional[Tuple[int, int]] = None,
               expires: Optional[_dt.datetime] = None, ttl: Optional[float] = None,
               quota: int = 0) -> "Token":
        """Derives a narrower token from this one (which needs Rights.GRANT).

        The scope follows from what is named: ``region=(offset, length)`` of
        the raw area; ``namespace`` alone, every key of that namespace (it
        must exist); ``namespace`` and ``key``, that one key; none of them,
        the parent's whole scope.  ``rights`` is a subset of the parent's
        ("r", "rw", Rights.READ | Rights.WRITE, ...).  Expiry: ``expires``
        (a datetime; naive means local time) or ``ttl`` (seconds from now);
        neither: the parent's.  ``quota``: how many tokens the child's
        descendants may hold (0: the library's default).

        Raises Widen for more than the parent holds, Denied when the parent
        lacks the grant right, NotFound for a namespace that does not exist,
        TableFull, QuotaExceeded, ReadOnly on an observer.
        """
        g = _lib.Grant()
        g.rights = int(rights_value(rights))
        keep: List[Any] = []  # what the grant points into, alive until the call returns
        if region is not None:
            if namespace is not None or key is not None:
                raise ValueError("a token covers a region or a namespace (and key), not both")
            g.scope = Scope.REGION
            g.offset, g.length = region
        elif namespace is not None:
            name = cstring(namespace, "namespace")
            keep.append(name)
            g.ns = name
            g.scope = Scope.NAMESPACE
            if key is not None:
                raw = data(key, "key")
                buf = ctypes.create_string_buffer(raw, len(raw) or 1)
                keep.append(buf)
                g.key = ctypes.addressof(buf)
                g.key_len = len(raw)
                g.scope = Scope.KEY
        elif key is not None:
            raise ValueError("a key token needs its namespace: derive(..., namespace=, key=)")
        else:
            g.scope = Scope.POOL
        if expires is not None and ttl is not None:
            raise ValueError("give expires or ttl, not both")
        if expires is not None:
            if not isinstance(expires, _dt.datetime):
                raise TypeError("expires must be a datetime (ttl takes seconds)")
            g.expires_unix_ns = _unix_ns(expires)
        elif ttl is not None:
            if ttl <= 0:
                raise ValueError(f"ttl must be positive, not {ttl}")
            g.expires_unix_ns = time.time_ns() + int(ttl * 1e9)
        if quota < 0:
            raise ValueError(f"quota must be >= 0, not {quota}")
        g.quota = quota
        out = _lib.Token()
        pool._call("shmemora_token_derive", ctypes.byref(self._c), ctypes.byref(g),
                   ctypes.byref(out))
        return Token._wrap(out)

    def revoke(self, pool: "Pool") -> None:
        """Revokes this token and every token derived from it, on every host,
        from their next access on.  A revoked or expired token may be revoked
        again (its descendants are swept)."""
        pool._call("shmemora_token_revoke", ctypes.byref(self._c))

    def info(self, pool: "Pool") -> TokenInfo:
        """Verifies this token (always with its MAC) and describes its entry."""
        out = _lib.TokenInfo()
        pool._call("shmemora_token_inspect", ctypes.byref(self._c), ctypes.byref(out))
        return TokenInfo._from_c(out)
