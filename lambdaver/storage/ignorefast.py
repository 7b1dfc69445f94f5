"""The common ignore files without :mod:`pathspec` (whose import costs some 20 ms, more
than a read verb's whole start-up): when every line is a plain pattern (names and ``*``,
``/`` between them, an optional leading or trailing ``/``; no ``!``, ``**``, ``?``,
``[``, ``\\`` or trailing blanks), one regular expression does what pathspec's
GitIgnoreSpec would, built the way pathspec builds it.  Anything else: None, and the
caller uses pathspec.
"""

from __future__ import annotations

import re

_PLAIN = re.compile(r"/?[A-Za-z0-9._*+@%,=~-]+(?:/[A-Za-z0-9._*+@%,=~-]+)*/?")


class SimpleSpec:
    """``match_file(path)`` as pathspec's: a directory's path ends with ``/``."""

    def __init__(self, regex: re.Pattern[str]) -> None:
        self._match = regex.match

    def match_file(self, path: str) -> bool:
        return self._match(path) is not None


def simple_spec(lines: list[str]) -> SimpleSpec | bool | None:
    """A matcher for ``lines``, False when they are not all plain (use pathspec), None
    when they hold no pattern at all."""
    parts: list[str] = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        if "**" in line or not _PLAIN.fullmatch(line):
            return False
        dir_only = line.endswith("/")
        body = line.rstrip("/")
        anchored = "/" in body  # a leading or middle slash anchors at the root
        body = body.lstrip("/")
        if not body:
            return False
        regex = "/".join(
            "[^/]*".join(re.escape(piece) for piece in segment.split("*"))
            for segment in body.split("/")
        )
        prefix = "" if anchored else "(?:.+/)?"
        parts.append(f"{prefix}{regex}" + ("/" if dir_only else "(?:/|$)"))
    if not parts:
        return None
    return SimpleSpec(re.compile("^(?:" + "|".join(parts) + ")"))
