"""Canonical JSON: the one encoding of every JSON record lambdaver stores or hashes.

Keys sorted at every level (the codec sorts its input, so callers build dicts in any
order), compact separators, UTF-8.  Version records and alias states are stored this way
and configuration records are hashed this way (``config_hash``), so these bytes are part
of the format (docs/FORMAT.md): the same record always gives the same bytes.

``ascii=True`` escapes everything outside ASCII as ``\\uXXXX``: for files whose strings may
hold a lone surrogate (a log, an undecodable file name), which UTF-8 cannot encode.

The tree manifest is not made here: its keys are in a fixed, unsorted order
(``storage/tree.py``), and changing them would change every tree's id.
"""

from __future__ import annotations

from typing import Any

# json is imported when used: a millisecond of start-up that a listing served from
# derived data does without.


def text(obj: Any, *, ascii: bool = False) -> str:
    """``obj`` as canonical JSON text (what SQLite stores as a ref's value)."""
    import json

    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii)


def dumps(obj: Any, *, ascii: bool = False) -> bytes:
    """``obj`` as canonical JSON bytes (UTF-8): what gets hashed and written to files."""
    return text(obj, ascii=ascii).encode()


def loads(data: str | bytes) -> Any:
    import json

    return json.loads(data)
