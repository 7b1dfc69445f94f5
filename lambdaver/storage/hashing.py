"""sha256 without paying for OpenSSL at start-up: ``hashlib`` (about 2 ms to import, most
of it loading OpenSSL) is imported on the first hash, not by every command."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashlib import _Hash


def sha256(data: bytes = b"") -> _Hash:
    """``hashlib.sha256(data)``."""
    import hashlib

    return hashlib.sha256(data)
