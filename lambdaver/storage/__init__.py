"""Bytes, hashes, paths and locks.  Knows nothing of Lambda.

This package's own module holds the canonical-JSON codec, the one encoding of every JSON
record lambdaver stores or hashes: keys sorted at every level (the codec sorts its input,
so callers build dicts in any order), compact separators, UTF-8.  Version records and
alias states are stored this way and configuration records are hashed this way
(``config_hash``), so these bytes are part of the format (docs/FORMAT.md).  It lives here,
not in a module of its own, because every command loads this package anyway: a read verb
that hashes a configuration pays for no extra module.  Reading needs no codec (any JSON
parser reads canonical JSON).

``ascii=True`` escapes everything outside ASCII as ``\\uXXXX``: for files whose strings may
hold a lone surrogate (a log, an undecodable file name), which UTF-8 cannot encode.

The tree manifest is not made here: its keys are in a fixed, unsorted order
(``storage/tree.py``), and changing them would change every tree's id.
"""

from __future__ import annotations

from typing import Any

# json is imported when used: a millisecond of start-up that a listing served from
# derived data does without.


def canonical_json(obj: Any, *, ascii: bool = False) -> str:
    """``obj`` as canonical JSON text (what SQLite stores as a ref's value)."""
    import json

    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii)


def canonical_bytes(obj: Any, *, ascii: bool = False) -> bytes:
    """``obj`` as canonical JSON bytes (UTF-8): what gets hashed and written to files."""
    return canonical_json(obj, ascii=ascii).encode()
