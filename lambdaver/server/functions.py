"""Which functions the server serves: every function under the served directory, or the
one function that directory is in (service/project.py's discovery, as the CLI's
``--function-name`` from a project's root)."""

# str paths on purpose, as service/project.py's
# ruff: noqa: PTH100, PTH112, PTH118, PTH120
from __future__ import annotations

import os
import threading

from lambdaver.errors import LambdaverError, ResourceConflictException


def find_functions(root: str) -> dict[str, str]:
    """``{function name: directory}`` of the functions served from ``root``: the function
    ``root`` is in, else every function under it (service/project.py).  A function whose
    ``lambdaver.toml`` cannot be read is not served (the others are); two functions with
    one name: ``ResourceConflictException`` naming both paths."""
    from lambdaver.service.project import functions
    from lambdaver.service.repository import find_root

    root = os.path.abspath(root)
    around = find_root(root)
    if around is not None:
        name = _name_of(around)
        return {} if name is None else {name: around}
    found: dict[str, str] = {}
    for f in functions(root)[0]:
        if f.name in found:
            raise ResourceConflictException(
                f"Two functions are named {f.name}: {found[f.name]} and {f.path}; rename one "
                "(name in its lambdaver.toml)"
            )
        found[f.name] = f.path
    return found


def _name_of(directory: str) -> str | None:
    """The function name in ``directory``'s lambdaver.toml (None: unreadable)."""
    from lambdaver.service.project import read_name

    try:
        return read_name(directory)
    except LambdaverError:
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
