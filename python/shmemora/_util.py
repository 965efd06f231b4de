"""Turning return codes into exceptions and Python values into C arguments."""
from __future__ import annotations

import os
from typing import NoReturn, Union

from . import _lib
from ._errors import BY_CODE, Error, InvalidArgument

BytesLike = Union[bytes, bytearray, memoryview, str]
PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def error_for(rc: int) -> Error:
    """The exception for code `rc`, carrying the calling thread's message.
    Call it right after the failed call, on the same thread, before any other
    library call (the message is the thread's last)."""
    return error_with(rc, _lib.lib().shmemora_errmsg().decode("utf-8", "replace"))


def error_with(rc: int, message: str) -> Error:
    """The exception for code `rc` with a message of the binding's own (for a
    code the library reported without a message of its own, such as a
    multi_get item's)."""
    description = _lib.lib().shmemora_strerror(rc).decode("utf-8", "replace")
    cls = BY_CODE.get(rc)
    if cls is None:  # a code newer than this binding: still an Error, with its code
        return Error(message, description, code=rc)
    return cls(message, description)


def check(rc: int) -> None:
    """Raises the exception for `rc` unless it is 0."""
    if rc != 0:
        raise error_for(rc)


def invalid(message: str) -> NoReturn:
    """Raises InvalidArgument for a mistake caught before the library is called."""
    raise error_with(InvalidArgument.code, message)


def data(value: BytesLike, what: str = "value") -> bytes:
    """Bytes for a key or value: bytes-like objects as they are, str as UTF-8."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be bytes, bytearray, memoryview or str, "
                    f"not {type(value).__name__}")


def cstring(value: Union[str, bytes], what: str) -> bytes:
    """A NUL-terminated C string argument: str as UTF-8 (undecodable bytes kept
    through surrogateescape, as os.fsencode does), never with a NUL inside
    (C would see the string end there)."""
    if isinstance(value, str):
        raw = value.encode("utf-8", "surrogateescape")
    elif isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")
    if b"\0" in raw:
        invalid(f"{what} {value!r} contains a NUL byte")
    return raw


def fs_path(value: PathLike, what: str = "path") -> bytes:
    """A file system path argument (str, bytes or os.PathLike)."""
    return cstring(os.fsencode(os.fspath(value)), what)


def text(raw: bytes) -> str:
    """A C string from the library as str (the inverse of cstring)."""
    return raw.decode("utf-8", "surrogateescape")
