"""sha256 without paying for OpenSSL at start-up.

``hashlib`` (about 2 ms to import, most of it loading OpenSSL: a fifteenth of a minimal
click program's start-up) is imported on the first bulk hash, not by every command.
Short inputs (a configuration, a RevisionId, a record) are hashed with Python's own
implementation of the same function (``_sha2``, called ``_sha256`` before 3.12), which
loads in about 0.2 ms and gives the same digest; OpenSSL's is faster on large data, so
streams and files always use hashlib.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashlib import _Hash

#: Above this size, hashlib's (OpenSSL's) speed pays for its import.
SMALL = 1 << 20

_builtin: Callable[[bytes], Any] | bool | None = False  # False: not looked up yet


def sha256(data: bytes | memoryview = b"") -> _Hash:
    """``hashlib.sha256(data)``: for files, streams and anything large."""
    import hashlib

    return hashlib.sha256(data)


def sha256_small(data: bytes) -> _Hash:
    """The sha256 of a short ``data``, without importing hashlib if it is not loaded yet."""
    global _builtin
    if len(data) <= SMALL and "hashlib" not in sys.modules:
        if _builtin is False:
            _builtin = _find_builtin()
        if callable(_builtin):
            h: _Hash = _builtin(data)
            return h
    return sha256(data)


def _find_builtin() -> Callable[[bytes], Any] | None:
    for name in ("_sha2", "_sha256"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        return getattr(module, "sha256", None)
    return None
