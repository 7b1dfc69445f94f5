"""Parsing of structured option values: JSON, ``file://PATH``, ``-`` and aws shorthand."""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

from lambdaver.errors import InvalidParameterValueException


def read_value(text: str, *, binary: bool = False, blob: str | None = None) -> str | bytes:
    """The value itself, ``file://PATH`` (``fileb://`` for bytes), or ``-`` for stdin.
    ``blob``: the value is a blob parameter (``--payload``) and this the
    ``--cli-binary-format`` (see :func:`read_payload`)."""
    if blob is not None:
        return read_payload(text, blob)
    if text == "-":
        return sys.stdin.buffer.read() if binary else sys.stdin.read()
    for prefix in ("file://", "fileb://"):
        if text.startswith(prefix):
            path = os.path.expanduser(text[len(prefix) :])
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as exc:
                raise InvalidParameterValueException(
                    f"Error parsing parameter: Unable to load paramfile {text}: {exc.strerror}"
                ) from exc
            if binary or prefix == "fileb://":
                return data
            return data.decode("utf-8")
    return text.encode() if binary else text


def decode_blob(text: str, binary_format: str | None) -> bytes:
    """A blob parameter (``Payload``, ``ZipFile``) given as text: base64 with
    ``--cli-binary-format base64`` (aws CLI v2's default), else the text itself (lambdaver's
    default, and ``raw-in-base64-out``)."""
    if binary_format != "base64":
        return text.encode()
    import base64
    import binascii

    try:
        return base64.b64decode(text)  # as the aws CLI decodes: not strictly
    except (binascii.Error, ValueError):
        from lambdaver.errors import ParamValidationError

        raise ParamValidationError(f'Invalid base64: "{text}"') from None


def read_payload(text: str, binary_format: str | None) -> bytes:
    """``--payload``: the value itself, ``file://PATH`` or ``-`` (stdin), base64-decoded
    with ``--cli-binary-format base64``; ``fileb://PATH`` is raw bytes, never decoded (as
    in aws CLI v2, where only a blob given as text is base64)."""
    if binary_format != "base64" or text.startswith("fileb://"):
        raw = read_value(text, binary=True)
        assert isinstance(raw, bytes)  # noqa: S101
        return raw
    value = read_value(text)
    assert isinstance(value, str)  # noqa: S101
    return decode_blob(value, binary_format)


def _json_or_shorthand(
    text: str, option: str, member: str, pair: str, expected: str
) -> Any | list[tuple[str, str]]:
    """A structured option value (itself, ``file://PATH`` or ``-``): JSON, returned
    decoded, or the aws shorthand ``member={k=v,...}``, returned as ``(k, v)`` pairs."""
    raw = read_value(text)
    assert isinstance(raw, str)  # noqa: S101
    stripped = raw.strip()
    prefix = f"Error parsing parameter '{option}': "
    if stripped.startswith("{"):
        try:
            return json.loads(stripped)
        except ValueError as exc:
            raise InvalidParameterValueException(prefix + str(exc)) from exc
    m = re.match(rf"^\s*{member}\s*=\s*\{{(.*)\}}\s*$", stripped, re.S)
    if not m:
        raise InvalidParameterValueException(prefix + expected)
    pairs: list[tuple[str, str]] = []
    body = m.group(1).strip()
    for part in body.split(",") if body else []:
        key, sep, value = part.partition("=")
        key = key.strip().strip("\"'")
        if not sep or not key:
            raise InvalidParameterValueException(prefix + f"'{part.strip()}' is not {pair}")
        pairs.append((key, value.strip()))
    return pairs


def parse_environment(text: str) -> dict[str, str]:
    """aws's ``--environment``: ``Variables={K=V,K2=V2}`` or ``{"Variables": {...}}``."""
    data = _json_or_shorthand(
        text, "--environment", "Variables", "KEY=value", "expected Variables={KEY=value,...}"
    )
    if isinstance(data, list):
        return dict(data)
    variables = data.get("Variables", {}) if isinstance(data, dict) else None
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise InvalidParameterValueException(
            'Error parsing parameter \'--environment\': expected {"Variables": {"K": "V"}}'
        )
    return dict(variables)


_ROUTING_ERROR = "Error parsing parameter '--routing-config': "


def _weight_number(value: Any, key: str) -> float:
    """A weight as the aws CLI accepts it: a JSON number, or shorthand text of one."""
    if isinstance(value, bool) or value is None:
        raise InvalidParameterValueException(
            _ROUTING_ERROR + f"invalid weight {json.dumps(value)} for version {key}: "
            "expected a number"
        )
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip().strip("\"'"))
    except ValueError:
        raise InvalidParameterValueException(
            _ROUTING_ERROR + f"invalid weight {value!r} for version {key}: expected a number"
        ) from None


def parse_routing_config(text: str) -> dict[str, float]:
    """``--routing-config``: ``{"AdditionalVersionWeights": {"2": 0.1}}`` (or ``{}``), the
    aws shorthand ``AdditionalVersionWeights={"2"=0.1}`` (keys quoted or not), each as the
    value itself, ``file://PATH`` or ``-`` for stdin.  Returns the weights map; an empty
    map means "no routing".  Only the shape is checked here: AWS's rules (one entry, range,
    version numbers, ...) are the service's."""
    data = _json_or_shorthand(
        text,
        "--routing-config",
        "AdditionalVersionWeights",
        "VERSION=WEIGHT",
        "expected AdditionalVersionWeights={VERSION=WEIGHT} or JSON",
    )
    if isinstance(data, list):
        return {key: _weight_number(value, key) for key, value in data}
    if not isinstance(data, dict):
        raise InvalidParameterValueException(
            _ROUTING_ERROR + 'expected {"AdditionalVersionWeights": {"VERSION": WEIGHT}}'
        )
    unknown = sorted(set(data) - {"AdditionalVersionWeights"})
    if unknown:
        raise InvalidParameterValueException(
            _ROUTING_ERROR + f'Unknown parameter in RoutingConfig: "{unknown[0]}", '
            "must be one of: AdditionalVersionWeights"
        )
    weights = data.get("AdditionalVersionWeights") or {}
    if not isinstance(weights, dict):
        raise InvalidParameterValueException(
            _ROUTING_ERROR + "AdditionalVersionWeights must be a map of version to weight"
        )
    return {str(k): _weight_number(v, str(k)) for k, v in weights.items()}


def parse_weight(text: str) -> tuple[str, float]:
    """``--weight V=W`` (the friendlier form of ``--routing-config``): ``2=0.1``."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"'{text}' is not VERSION=WEIGHT (for example 2=0.1)")
    try:
        return key, float(value)
    except ValueError:
        raise ValueError(f"'{value}' in '{text}' is not a number (for example 2=0.1)") from None
