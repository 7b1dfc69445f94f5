"""Every result renders as json, text or table from here.  Data to stdout only.

rich and jmespath are imported only when a table or a query needs them, so json and
text output start fast.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any


def apply_query(result: Any, expression: str | None) -> Any:
    if not expression:
        return result
    import jmespath

    return jmespath.search(expression, result)


def render(
    result: Any,
    output: str,
    title: str,
    stream: IO[str] | None = None,
    width: int | None = None,
    color: str = "auto",
) -> None:
    """Print ``result`` as json, text or a table (``width``: the table's, default the
    terminal's; ``color``: a table's colour, ``on``, ``off`` or ``auto``, on a terminal)."""
    out = stream if stream is not None else sys.stdout
    if result is None or result == {}:
        return
    if output == "json":
        out.write(json.dumps(result, indent=4, ensure_ascii=False) + "\n")
    elif output == "text":
        format_text(result, out)
    else:
        render_table(result, title, out, width, color)
    out.flush()


# --- text: the aws CLI's algorithm (awscli/text.py) ---------------------------------


def _scalar(v: Any) -> str:
    if v is None:
        return "None"
    return str(v)


def format_text(
    item: Any, stream: IO[str], identifier: str | None = None, scalar_keys: list[str] | None = None
) -> None:
    if isinstance(item, dict):
        _format_dict(scalar_keys, item, identifier, stream)
    elif isinstance(item, list):
        _format_list(item, identifier, stream)
    else:
        stream.write(_scalar(item) + "\n")


def _format_list(item: list[Any], identifier: str | None, stream: IO[str]) -> None:
    if not item:
        return
    if any(isinstance(el, dict) for el in item):
        keys = sorted(
            {
                k
                for el in item
                if isinstance(el, dict)
                for k, v in el.items()
                if not isinstance(v, (dict, list))
            }
        )
        for el in item:
            format_text(el, stream, identifier, keys)
    elif any(isinstance(el, list) for el in item):
        scalars = [el for el in item if not isinstance(el, (dict, list))]
        if scalars:
            _format_scalar_list(scalars, identifier, stream)
        for el in item:
            if isinstance(el, (dict, list)):
                format_text(el, stream, identifier)
    else:
        _format_scalar_list(item, identifier, stream)


def _format_scalar_list(elements: list[Any], identifier: str | None, stream: IO[str]) -> None:
    if identifier is not None:
        for el in elements:
            stream.write(f"{identifier.upper()}\t{_scalar(el)}\n")
    else:
        stream.write("\t".join(_scalar(el) for el in elements) + "\n")


def _format_dict(
    scalar_keys: list[str] | None, item: dict[str, Any], identifier: str | None, stream: IO[str]
) -> None:
    scalars: list[str] = []
    non_scalars: list[tuple[str, Any]] = []
    if scalar_keys is None:
        for key, value in sorted(item.items()):
            if isinstance(value, (dict, list)):
                non_scalars.append((key, value))
            else:
                scalars.append(_scalar(value))
    else:
        scalars = [_scalar(item.get(k, "")) for k in scalar_keys]
        non_scalars = [(k, item[k]) for k in sorted(set(item) - set(scalar_keys))]
    if scalars:
        if identifier is not None:
            scalars.insert(0, identifier.upper())
        stream.write("\t".join(scalars) + "\n")
    for key, value in non_scalars:
        format_text(value, stream, key)


# --- table: rich, laid out in cli/tables.py (imported only here) ----------------------


def render_table(
    result: Any, title: str, stream: IO[str], width: int | None = None, color: str = "auto"
) -> None:
    from lambdaver.cli.tables import render_table as lay_out

    lay_out(result, title, stream, width, color=color)
