"""Parsing of structured option values: JSON, ``file://PATH``, ``-`` and aws shorthand."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from lambdaver.errors import InvalidParameterValueException


def read_value(text: str, *, binary: bool = False) -> str | bytes:
    """The value itself, ``file://PATH`` (``fileb://`` for bytes), or ``-`` for stdin."""
    if text == "-":
        return sys.stdin.buffer.read() if binary else sys.stdin.read()
    for prefix in ("file://", "fileb://"):
        if text.startswith(prefix):
            path = Path(text[len(prefix) :]).expanduser()
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise InvalidParameterValueException(
                    f"Error parsing parameter: Unable to load paramfile {text}: {exc.strerror}"
                ) from exc
            if binary or prefix == "fileb://":
                return data
            return data.decode("utf-8")
    return text.encode() if binary else text


_SHORTHAND = re.compile(r"^\s*Variables\s*=\s*\{(.*)\}\s*$", re.S)


def parse_environment(text: str) -> dict[str, str]:
    """aws's ``--environment``: ``Variables={K=V,K2=V2}`` or ``{"Variables": {...}}``."""
    raw = read_value(text)
    assert isinstance(raw, str)  # noqa: S101
    stripped = raw.strip()
    if stripped.startswith("{"):
        try:
            data: Any = json.loads(stripped)
        except ValueError as exc:
            raise InvalidParameterValueException(
                f"Error parsing parameter '--environment': {exc}"
            ) from exc
        variables = data.get("Variables", {}) if isinstance(data, dict) else None
        if not isinstance(variables, dict) or not all(
            isinstance(v, str) for v in variables.values()
        ):
            raise InvalidParameterValueException(
                'Error parsing parameter \'--environment\': expected {"Variables": {"K": "V"}}'
            )
        return dict(variables)
    m = _SHORTHAND.match(stripped)
    if not m:
        raise InvalidParameterValueException(
            "Error parsing parameter '--environment': expected Variables={KEY=value,...}"
        )
    out: dict[str, str] = {}
    body = m.group(1).strip()
    if not body:
        return out
    for part in body.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise InvalidParameterValueException(
                f"Error parsing parameter '--environment': '{part}' is not KEY=value"
            )
        out[key.strip()] = value.strip()
    return out
