"""Which Python runs a function: this process (forked) or another interpreter (spawned).

A function whose ``runtime`` names the running interpreter's ``major.minor`` is run in
a fork of this process: no interpreter start-up at all.  Any other ``pythonX.Y`` is
looked up on ``PATH``; a pyenv shim found there is resolved to the real binary under
``$PYENV_ROOT/versions`` (the shim itself fails when that version is not selected, and
costs a bash and a pyenv start-up when it works).  When nothing is found the function
runs in this interpreter and the caller is warned.  Nothing is cached on disk; results
are cached for the life of the process only.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import TYPE_CHECKING

from lambdaver.value import Value

if TYPE_CHECKING:
    from pathlib import Path

CURRENT_RUNTIME = f"python{sys.version_info[0]}.{sys.version_info[1]}"


class Choice(Value):
    """``executable`` None: fork this process.  ``warning``: say it before running."""

    executable: str | None
    warning: str | None = None


def parse_runtime(runtime: str) -> tuple[int, int] | None:
    """``"python3.12"`` -> ``(3, 12)``; anything else -> None."""
    major, dot, minor = runtime.removeprefix("python").partition(".")
    if not runtime.startswith("python") or not (dot and major.isdigit() and minor.isdigit()):
        return None
    return int(major), int(minor)


@functools.cache
def choose(runtime: str) -> Choice:
    if runtime == CURRENT_RUNTIME:
        return Choice(None)
    if parse_runtime(runtime) is not None:
        found = find_on_path(runtime)
        if found is not None:
            return Choice(found)
        problem = f"{runtime} was not found on PATH"
    else:
        problem = f"runtime {runtime!r} is not a Python runtime lambdaver can run"
    return Choice(None, f"{problem}; running the handler with {CURRENT_RUNTIME} ({sys.executable})")


def fallback_warning(runtime: str, executable: str, reason: str) -> str:
    return (
        f"{runtime} at {executable} did not start ({reason}); "
        f"running the handler with {CURRENT_RUNTIME} ({sys.executable})"
    )


def find_on_path(command: str) -> str | None:
    """First working ``command`` on PATH; pyenv shims resolved, unusable ones skipped."""
    from pathlib import Path  # only when another interpreter is wanted

    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = Path(directory or ".") / command
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        shim_root = _pyenv_root_of_shim(candidate)
        if shim_root is None:
            return str(candidate.absolute())
        real = _pyenv_version_binary(shim_root, command)
        if real is not None:
            return real
    return None


def _pyenv_root_of_shim(path: Path) -> Path | None:
    """The pyenv root if ``path`` is a pyenv shim script, else None."""
    from pathlib import Path  # only when another interpreter is wanted

    try:
        with path.open("rb") as f:
            head = f.read(1024)
    except OSError:
        return None
    if not head.startswith(b"#!") or b"pyenv" not in head:
        return None
    prefix = b'export PYENV_ROOT="'
    for raw_line in head.splitlines():
        line = raw_line.strip()
        if line.startswith(prefix) and line.endswith(b'"'):
            return Path(os.fsdecode(line[len(prefix) : -1]))
    return Path(os.environ.get("PYENV_ROOT") or path.parent.parent)


def _pyenv_version_binary(root: Path, command: str) -> str | None:
    """``$root/versions/X.Y.Z/bin/pythonX.Y`` for the newest installed X.Y.Z."""
    wanted = command.removeprefix("python")
    try:
        names = [entry.name for entry in (root / "versions").iterdir()]
    except OSError:
        return None
    versions = []
    for name in names:
        parts = name.split(".")
        if ".".join(parts[:2]) == wanted and all(p.isdigit() for p in parts):
            versions.append((tuple(int(p) for p in parts), name))
    for _, name in sorted(versions, reverse=True):
        binary = root / "versions" / name / "bin" / command
        if binary.is_file() and os.access(binary, os.X_OK):
            return str(binary)
    return None
