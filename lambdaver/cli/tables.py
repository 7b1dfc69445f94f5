"""Table output, laid out for the terminal's width (80 columns and up).

Imported only when a table is printed: it imports rich.  It receives the plain dict/list
results (the json shape) and shows them to a person: no JSON in cells, weights as
``3: 10%``, long paths shortened in the middle, nested results (``status``, ``diff``) as
sections of their own, ``LogResult`` decoded.  json and text output never come here.

Each column of a listing has a kind that says how it may give way when the terminal is
narrow: ``KEEP`` columns are never cut (version numbers, names, weights, timestamps),
``WRAP`` columns wrap at words, ``PATH`` columns are shortened in the middle (the file
name's tail stays), ``HASH`` columns are cut at the end (``b7b2174b5a…``) and
``OPTIONAL`` columns are shown whole or left out.  The widths are planned here, not left
to rich, whose last resort (shrinking every column evenly) would cut the ones that matter.
"""

from __future__ import annotations

from typing import IO, Any

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

KEEP = "keep"
WRAP = "wrap"
PATH = "path"
HASH = "hash"
OPTIONAL = "optional"

# The narrowest a column that gives way may become (or its content, when shorter).
_MIN_WIDTH = {WRAP: 10, PATH: 16, HASH: 10}

# The columns of the known listings: (field, header, kind).  Other fields of their rows
# are left out of the table (json and text carry every field).
LAYOUTS: dict[str, list[tuple[str, str, str]]] = {
    "Versions": [
        ("Version", "Version", KEEP),
        ("Aliases", "Aliases", WRAP),
        ("Description", "Description", WRAP),
        ("CodeSize", "CodeSize", KEEP),
        ("LastModified", "LastModified", KEEP),
    ],
    "Aliases": [
        ("Name", "Name", KEEP),
        ("FunctionVersion", "FunctionVersion", KEEP),
        ("RoutingConfig", "Weights", KEEP),
        ("Description", "Description", WRAP),
        ("RevisionId", "RevisionId", OPTIONAL),
    ],
    "History": [
        ("ChangedAt", "ChangedAt", KEEP),
        ("Change", "Change", KEEP),
        ("FunctionVersion", "Version", KEEP),
        ("RoutingConfig", "Weights", KEEP),
        ("Description", "Description", WRAP),
    ],
    "Files": [
        ("Path", "Path", PATH),
        ("Mode", "Mode", KEEP),
        ("Size", "Size", KEEP),
        ("Sha256", "Sha256", HASH),
    ],
    "Metrics": [
        ("Version", "Version", KEEP),
        ("Invocations", "Invocations", KEEP),
        ("Errors", "Errors", KEEP),
        ("Timeouts", "Timeouts", KEEP),
        ("DurationP50Ms", "p50 ms", KEEP),
        ("DurationP95Ms", "p95 ms", KEEP),
        ("DurationMaxMs", "max ms", KEEP),
    ],
}

# How a field of an unknown listing gives way.
_FIELD_KINDS = {"Path": PATH, "Sha256": HASH, "CodeSha256": HASH, "RevisionId": HASH}


# --- values as a person reads them -----------------------------------------------------


def percent(weight: Any) -> str:
    """``0.1`` -> ``10%``, ``0.055`` -> ``5.5%``."""
    try:
        return f"{round(float(weight) * 100, 4):g}%"
    except (TypeError, ValueError):
        return str(weight)


def weights(routing: Any) -> str:
    """A RoutingConfig as ``3: 10%`` (one entry per additional version)."""
    table = routing.get("AdditionalVersionWeights") if isinstance(routing, dict) else None
    if not isinstance(table, dict):
        return show(routing)

    def order(item: tuple[str, Any]) -> tuple[int, str]:
        return (int(item[0]) if str(item[0]).isdigit() else -1, str(item[0]))

    return ", ".join(f"{v}: {percent(w)}" for v, w in sorted(table.items(), key=order))


def show(value: Any, field: str = "") -> str:
    """One value as text for a cell: never JSON."""
    if value is None:
        return ""
    if isinstance(value, dict):
        if field == "RoutingConfig" or set(value) == {"AdditionalVersionWeights"}:
            return weights(value)
        if set(value) == {"Variables"} and isinstance(value["Variables"], dict):
            return "\n".join(f"{k}={v}" for k, v in value["Variables"].items())
        return "\n".join(_lines(value))
    if isinstance(value, list):
        if all(not isinstance(x, (dict, list)) for x in value):
            return ", ".join(show(x) for x in value)
        return "\n".join(show(x) for x in value)
    return str(value)


def _lines(mapping: dict[str, Any], indent: str = "") -> list[str]:
    out: list[str] = []
    for key, value in mapping.items():
        if isinstance(value, dict) and value and key != "RoutingConfig":
            out.append(f"{indent}{key}:")
            out.extend(_lines(value, indent + "  "))
        else:
            out.append(f"{indent}{key}: {show(value, key)}")
    return out


def shorten_path(path: str, width: int) -> str:
    """``src/orders/…/international/rules.py``: the middle of a path gives way, its file
    name (or the name's tail, on a very narrow column) stays."""
    if cell_len(path) <= width:
        return path
    parts = path.split("/")
    name = parts[-1]
    if cell_len(name) + 2 > width:
        return "…" + name[-max(width - 1, 1) :]
    dirs = parts[:-1]
    head: list[str] = []
    tail = [name]
    lo, hi = 0, len(dirs) - 1
    nearest = True  # the directory nearest the file first, then the first one, in turn
    misses = 0
    while lo <= hi and misses < 2:
        trial = (head, [dirs[hi], *tail]) if nearest else ([*head, dirs[lo]], tail)
        if cell_len("/".join([*trial[0], "…", *trial[1]])) <= width:
            head, tail = trial
            hi, lo = (hi - 1, lo) if nearest else (hi, lo + 1)
            misses = 0
        else:
            misses += 1
        nearest = not nearest
    return "/".join([*head, "…", *tail])


def _width(text: str) -> int:
    return max((cell_len(line) for line in text.split("\n")), default=0)


# --- planning the widths ---------------------------------------------------------------


def plan_widths(
    kinds: list[str], naturals: list[int], width: int, minimums: list[int] | None = None
) -> list[int | None]:
    """The content width of each column of a boxed table ``width`` cells wide (None: the
    column is left out).  KEEP and OPTIONAL columns get their natural width; the others
    share what is left, wrapped and shortened columns before hashes, none narrower than
    its minimum (default: ``_MIN_WIDTH``), nor wider than its natural width."""
    n = len(kinds)
    shown = [True] * n
    least = [
        n_ if k in (KEEP, OPTIONAL) else min(n_, _MIN_WIDTH[k] if minimums is None else m)
        for k, n_, m in zip(kinds, naturals, minimums or naturals, strict=True)
    ]

    def room() -> int:  # a border left of each column and one more, a space either side
        return width - 3 * sum(shown) - 1

    def needed() -> int:
        return sum(m for m, s in zip(least, shown, strict=True) if s)

    for droppable in (OPTIONAL, HASH):
        for i in reversed(range(n)):
            if needed() <= room():
                break
            if kinds[i] == droppable:
                shown[i] = False
    widths: list[int | None] = [m if s else None for m, s in zip(least, shown, strict=True)]
    extra = room() - needed()
    for group in ((WRAP, PATH), (HASH,)):
        members = [i for i in range(n) if shown[i] and kinds[i] in group]
        while extra > 0:
            wanting = [i for i in members if (widths[i] or 0) < naturals[i]]
            if not wanting:
                break
            share = max(1, extra // len(wanting))
            for i in wanting:
                give = min(share, naturals[i] - (widths[i] or 0), extra)
                widths[i] = (widths[i] or 0) + give
                extra -= give
                if extra == 0:
                    break
    return widths


def _table(title: str | None, header: bool = True) -> Table:
    return Table(title=title or None, box=box.SQUARE, show_header=header)


def _grid(
    title: str | None, columns: list[tuple[str, str]], rows: list[list[str]], width: int
) -> Table | None:
    """A table of ``columns`` (header, kind) whose widths are planned for ``width``."""
    kinds = [k for _, k in columns]
    naturals = [
        max([_width(h), *(_width(r[i]) for r in rows)], default=1) or 1
        for i, (h, _) in enumerate(columns)
    ]
    # a wrapped column keeps its header and words whole where it can (words up to 12)
    minimums = [
        max(_width(h), min(12, max((len(w) for r in rows for w in r[i].split()), default=0)))
        if k == WRAP
        else _MIN_WIDTH.get(k, 0)
        for i, (h, k) in enumerate(columns)
    ]
    widths = plan_widths(kinds, naturals, width, minimums)
    shown = [w for w in widths if w is not None]
    if sum(shown) + 3 * len(shown) + 1 > width:
        return None  # too narrow for the columns that must stay whole: one record per row
    t = _table(title)
    keep = [i for i, w in enumerate(widths) if w is not None]
    for i in keep:
        header, kind = columns[i]
        w = widths[i]
        wraps = kind == WRAP
        t.add_column(
            Text(header),
            width=w,
            no_wrap=not wraps,
            overflow="fold" if wraps else "ellipsis",
        )
    for r in rows:
        cells = []
        for i in keep:
            cell = r[i]
            w = widths[i]
            if columns[i][1] == PATH and w is not None:
                cell = "\n".join(shorten_path(line, w) for line in cell.split("\n"))
            cells.append(Text(cell))
        t.add_row(*cells)
    return t


# --- the results -----------------------------------------------------------------------


def listing(name: str, rows: list[Any], width: int) -> Table | list[Table]:
    """A list result: records as rows, or a one-column list of scalars."""
    if rows and not all(isinstance(r, dict) for r in rows):
        t = _table(name, header=False)
        t.add_column("", overflow="fold")
        for r in rows:
            t.add_row(Text(show(r)))
        return t
    present = list(dict.fromkeys(k for r in rows for k in r))
    layout = LAYOUTS.get(name)
    if layout is not None:
        columns = [c for c in layout if c[0] in present] if rows else list(layout)
    else:
        columns = [(k, k, _FIELD_KINDS.get(k, WRAP)) for k in present]
    if not columns:
        columns = [("(none)", "(none)", WRAP)]
    cells = [[show(r.get(f), f) for f, _, _ in columns] for r in rows]
    return _layout(name, [(h, k) for _, h, k in columns], cells, width)


def _layout(
    title: str, columns: list[tuple[str, str]], rows: list[list[str]], width: int
) -> Table | list[Table]:
    """A grid when the columns fit, else (a very narrow terminal) one Field | Value
    table per row, so that nothing that must stay whole is cut."""
    grid = _grid(title, columns, rows, width)
    if grid is not None:
        return grid
    if not rows:
        t = _table(title, header=False)
        t.add_column("")
        t.add_row("(none)")
        return t
    return [
        record(
            title if i == 0 else "", [(h, c) for (h, _), c in zip(columns, r, strict=True)], width
        )
        for i, r in enumerate(rows)
    ]


def record(title: str, items: list[tuple[str, str]], width: int) -> Table:
    """Field | Value, the value wrapped in what the field's names leave."""
    key_width = max(cell_len(k) for k, _ in items)
    room = max(width - key_width - 7, 10)
    value_width = min(max(_width(v) for _, v in items) or 1, room)
    t = _table(title, header=False)
    t.add_column("Field", style="bold", no_wrap=True, width=key_width)
    t.add_column("Value", overflow="fold", width=value_width)
    for k, v in items:
        t.add_row(Text(k), Text(v))
    return t


def _is_grouped(value: Any) -> bool:
    """``{"Added": [paths], "Modified": [...], ...}``: lists of names, by group."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(
            isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v)
            for v in value.values()
        )
    )


def _is_comparison(value: Any) -> bool:
    """``{field: [before, after]}``."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(v, list) and len(v) == 2 for v in value.values())
    )


def _sides(result: dict[str, Any]) -> tuple[str, str]:
    """The headers of a comparison: diff's From and To; status's newest version and
    $LATEST."""
    if "From" in result and "To" in result:
        return show(result["From"]), show(result["To"])
    if "Changed" in result:
        version = result.get("Version")
        return (f"Version {version}" if version else "(unpublished)"), "$LATEST"
    return "Before", "After"


def _decoded_log(value: Any) -> str | None:
    import base64
    import binascii

    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None


def render_table(
    result: Any, title: str, stream: IO[str], width: int | None = None, *, color: str = "auto"
) -> None:
    """``color``: ``off`` writes no escape code at all, ``on`` colours even on a pipe,
    ``auto`` colours on a terminal (rich's own rules)."""
    colors: dict[str, Any] = {}
    if color == "off":
        colors = {"color_system": None}
    elif color == "on":
        colors = {"force_terminal": True}
    console = Console(file=stream, highlight=False, soft_wrap=False, width=width, **colors)
    w = console.width
    if isinstance(result, list):
        shown = listing(title, result, w)
        for part in shown if isinstance(shown, list) else [shown]:
            console.print(part)
        return
    if not isinstance(result, dict):
        console.print(Text(show(result)), overflow="fold")
        return

    log = _decoded_log(result.get("LogResult"))
    fields: list[tuple[str, str]] = []
    sections: list[Table | list[Table]] = []
    for key, value in result.items():
        if key == "LogResult" and log is not None:
            continue
        if isinstance(value, list) and (
            (value and all(isinstance(r, dict) for r in value))
            or (not value and (len(result) == 1 or key == "Files"))
        ):
            sections.append(listing(key, value, w))
        elif _is_grouped(value):
            rows = [[group, path] for group, paths in value.items() for path in paths]
            if rows:
                sections.append(_layout(key, [("Change", KEEP), ("Path", PATH)], rows, w))
        elif _is_comparison(value):
            before, after = _sides(result)
            rows = [
                [f, show(a, f) or "(none)", show(b, f) or "(none)"] for f, (a, b) in value.items()
            ]
            cols = [("Field", KEEP), (before, WRAP), (after, WRAP)]
            sections.append(_layout(key, cols, rows, w))
        elif isinstance(value, dict) and not value:
            continue  # nothing to show (status: no configuration change)
        else:
            fields.append((key, show(value, key)))
    if fields:
        console.print(record(title, fields, w))
    for section in sections:
        for part in section if isinstance(section, list) else [section]:
            console.print(part)
    if log is not None:
        console.print(Text(log.rstrip("\n")), overflow="fold")
