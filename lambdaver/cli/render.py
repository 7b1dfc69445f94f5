"""Every result renders as json, text or table from here.  Data to stdout only.

rich and jmespath are imported only when a table or a query needs them, so json and
text output start fast.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

# Preferred columns for list results in table output (others are left out of the table
# to keep it readable; json and text always carry every field).
TABLE_COLUMNS = {
    "Versions": ["Version", "Aliases", "Description", "CodeSize", "LastModified"],
    "Aliases": ["Name", "FunctionVersion", "RoutingConfig", "Description", "RevisionId"],
    "History": ["ChangedAt", "Change", "FunctionVersion", "RoutingConfig", "Description"],
    "Files": ["Path", "Mode", "Size", "Sha256"],
}


def apply_query(result: Any, expression: str | None) -> Any:
    if not expression:
        return result
    import jmespath

    return jmespath.search(expression, result)


def render(result: Any, output: str, title: str, stream: IO[str] | None = None) -> None:
    out = stream if stream is not None else sys.stdout
    if result is None or result == {}:
        return
    if output == "json":
        out.write(json.dumps(result, indent=4, ensure_ascii=False) + "\n")
    elif output == "text":
        format_text(result, out)
    else:
        render_table(result, title, out)
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


# --- table: rich --------------------------------------------------------------------


def _cell(v: Any) -> str:
    if isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v):
        return ", ".join(str(x) for x in v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    if v is None:
        return ""
    return str(v)


def render_table(result: Any, title: str, stream: IO[str]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, highlight=False, soft_wrap=False)

    def list_table(name: str, rows: list[Any]) -> Table:
        if rows and not all(isinstance(r, dict) for r in rows):
            t = Table(title=name, box=box.SQUARE, show_header=False)
            t.add_column("")
            for r in rows:
                t.add_row(_cell(r))
            return t
        present = [k for r in rows for k in r]
        preferred = TABLE_COLUMNS.get(name, [])
        cols = [c for c in preferred if c in present] if rows else list(preferred)
        if not cols:
            cols = list(dict.fromkeys(present)) or ["(none)"]
        t = Table(title=name, box=box.SQUARE)
        for c in cols:
            wrap = c in ("Description", "Aliases", "Path", "RoutingConfig")
            t.add_column(c, overflow="fold", no_wrap=not wrap)
        for r in rows:
            t.add_row(*(_cell(r.get(c)) for c in cols))
        return t

    if isinstance(result, list):
        console.print(list_table(title, result))
        return
    if not isinstance(result, dict):
        console.print(_cell(result))
        return

    def is_rows(k: str, v: Any) -> bool:  # a list of records, or an empty known listing
        return isinstance(v, list) and (isinstance(v[0], dict) if v else k in TABLE_COLUMNS)

    scalars = {k: v for k, v in result.items() if not is_rows(k, v)}
    lists = {k: v for k, v in result.items() if k not in scalars}
    if scalars:
        t = Table(title=title, box=box.SQUARE, show_header=False)
        t.add_column("Field", style="bold")
        t.add_column("Value", overflow="fold")
        for k, v in scalars.items():
            t.add_row(k, _cell(v))
        console.print(t)
    for k, v in lists.items():
        console.print(list_table(k, v))
