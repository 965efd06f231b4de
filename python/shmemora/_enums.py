"""The C enums as Python enums (values as in include/shmemora.h; the ABI test
compares each with the header)."""
from __future__ import annotations

import enum
from typing import Type, TypeVar, Union

E = TypeVar("E", bound=enum.Enum)


class Rights(enum.IntFlag):
    """What a token allows; on the command line the letters r, w, i, d, g."""
    READ = 1     #: r: get, scan, region read and compare
    WRITE = 2    #: w: put/update existing keys, cas, region write
    INSERT = 4   #: i: insert new keys, create namespaces
    DELETE = 8   #: d: delete keys and namespaces
    GRANT = 16   #: g: derive narrower tokens
    ALL = 31

    @property
    def text(self) -> str:
        """The letters, in the library's order ("rwidg")."""
        return "".join(letter for letter, bit in zip("rwidg", (1, 2, 4, 8, 16))
                       if self & bit)


class Scope(enum.IntEnum):
    """What a token covers."""
    POOL = 0       #: everything (the root token)
    REGION = 1     #: bytes [offset, offset+length) of the raw area
    NAMESPACE = 2  #: every key of one namespace
    KEY = 3        #: one key of one namespace


class TokenState(enum.IntEnum):
    LIVE = 0
    REVOKED = 1
    EXPIRED = 2
    MINTING = 3   #: being minted, or left half-minted by a dead host
    ORPHANED = 4  #: its entry says live, but an ancestor was revoked


class Coherence(enum.IntEnum):
    """How hosts see each other's writes (set at create time)."""
    COHERENT = 0  #: one machine, or CXL 3.x hardware coherence (the default)
    FLUSH = 1     #: CXL 2.0 sharing: write back after writing, invalidate before reading


class Backend(enum.IntEnum):
    FILE = 0       #: regular file or tmpfs
    HUGETLBFS = 1  #: file on hugetlbfs
    DEVDAX = 2     #: /dev/daxX.Y character device


class Protection(enum.IntEnum):
    SOFTWARE = 0  #: checks in software; no hardware enforcement
    MPK = 1       #: memory protection keys guard the mapping


class HostState(enum.IntEnum):
    FREE = 0
    CLAIMING = 1
    ATTACHED = 2
    DEAD = 3


class Verify(enum.IntEnum):
    """A pool handle's MAC verification policy (Pool.set_verify)."""
    CACHED = 0  #: the default: MAC once per thread and token, then unchanged-entry checks
    ALWAYS = 1  #: MAC on every access
    OFF = 2     #: no MAC (a guessed id is accepted): for benchmarks only


class Region(enum.IntEnum):
    """The regions of a pool, in order (docs/pool-format.md)."""
    SUPERBLOCK = 0
    REGISTRY = 1
    CAPSYNC = 2
    NAMESPACES = 3
    INDEX = 4
    HEAP = 5
    CAPTABLE = 6
    PARTITIONS = 7
    RAW = 8


def coerce(cls: Type[E], value: Union[E, str, int]) -> E:
    """An enum member from itself, its value, or its name in any case
    ("flush", "FLUSH").  ValueError otherwise."""
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        try:
            return cls[value.upper()]
        except KeyError:
            names = ", ".join(m.name.lower() for m in cls)
            raise ValueError(f"{value!r} is not a {cls.__name__} (one of {names})") from None
    return cls(value)
