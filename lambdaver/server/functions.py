"""Which functions the server serves: every function directory under the served
directory, or the one function that directory is in.

TO BE REPLACED at merge by ``lambdaver.service.project`` (the CLI's discovery of a
project's functions, contract §9, built on another branch): :func:`find_functions` is the
one function the server calls, so the swap is one import.
"""

# str paths on purpose: its walk is os.scandir-based, as storage/tree.py's
# ruff: noqa: PTH100, PTH112, PTH118, PTH120
from __future__ import annotations

import os
import threading

from lambdaver.errors import ResourceConflictException

#: How deep below the served directory function directories are looked for (contract §9).
SEARCH_DEPTH = 4
#: Directories never searched (besides hidden ones).
SKIPPED = frozenset({"node_modules", "venv", ".venv", "__pycache__"})


def find_functions(root: str) -> dict[str, str]:
    """``{function name: directory}`` of the functions served from ``root``.

    ``root`` inside a function directory (a parent holds ``.lambdaver/``): that function
    alone.  Otherwise every directory holding ``.lambdaver/`` at most
    :data:`SEARCH_DEPTH` levels below ``root`` (not inside another function's directory;
    hidden directories, ``node_modules``, ``venv``, ``.venv`` and ``__pycache__`` skipped).
    Two functions with one name: ``ResourceConflictException`` naming both paths.

    To be replaced by ``lambdaver.service.project`` at merge (see the module docstring).
    """
    from lambdaver.service.repository import DOT, find_root

    root = os.path.abspath(root)
    around = find_root(root)
    dirs = [around] if around is not None else list(_walk(root, DOT))
    found: dict[str, str] = {}
    for d in dirs:
        name = _name_of(d)
        if name is None:
            continue
        if name in found:
            raise ResourceConflictException(
                f"Two functions are named {name}: {found[name]} and {d}; rename one "
                "(name in its lambdaver.toml)"
            )
        found[name] = d
    return found


def _walk(root: str, dot: str) -> list[str]:
    out: list[str] = []

    def visit(d: str, depth: int) -> None:
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            return
        if any(e.name == dot and e.is_dir(follow_symlinks=False) for e in entries):
            out.append(d)
            return  # a function's own subdirectories are its code
        if depth >= SEARCH_DEPTH:
            return
        for e in entries:
            if e.name.startswith(".") or e.name in SKIPPED:
                continue
            if e.is_dir(follow_symlinks=False):
                visit(e.path, depth + 1)

    visit(root, 0)
    return out


def _name_of(directory: str) -> str | None:
    """The function name in ``directory``'s lambdaver.toml (None: unreadable)."""
    from lambdaver.service.function_file import FUNCTION_FILE, read_function_file

    try:
        return read_function_file(os.path.join(directory, FUNCTION_FILE)).name
    except Exception:  # noqa: BLE001 - a broken function is not served, the others are
        return None


class Functions:
    """The served functions by name, looked up afresh when a name is missing or moved,
    so that a function the CLI creates or deletes is seen by the next request."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self._lock = threading.Lock()
        self._known: dict[str, str] = {}

    def all(self) -> dict[str, str]:
        with self._lock:
            self._known = find_functions(self.root)
            return dict(self._known)

    def directory(self, name: str) -> str | None:
        """The directory of function ``name``, or None."""
        with self._lock:
            d = self._known.get(name)
            if (
                d is not None
                and _name_of(d) == name
                and os.path.isdir(os.path.join(d, ".lambdaver"))
            ):
                return d
            self._known = find_functions(self.root)
            return self._known.get(name)

    def parent_for_new(self) -> str:
        """Where CreateFunction makes a new function directory: the served directory, or
        beside the function when the server serves one function."""
        from lambdaver.service.repository import find_root

        around = find_root(self.root)
        return os.path.dirname(around) if around is not None else self.root
