"""Finding a function's handler in its code, without running it: ``init``'s choice of
handler and ``publish``'s warning when the handler cannot be found.

Python by reading the source with :mod:`ast` (user code is never imported); Node.js by
file names only (``index.js`` / ``index.mjs`` / ``index.cjs`` -> ``index.handler``, and
:func:`detect_runtime` makes such a directory a ``nodejs`` function).  Other runtimes get
no detection and no warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ast
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from lambdaver.service.repository import Repository
    from lambdaver.storage.fileutil import StrPath

#: The AWS console's default for a new Python function.
CONSOLE_MODULE, CONSOLE_FUNCTION = "lambda_function", "lambda_handler"
#: Function names ``init`` looks for in a single top-level module, in order of preference.
HANDLER_NAMES = ("handler", "lambda_handler")


def is_python(runtime: str) -> bool:
    return runtime.startswith("python")


#: The files that make a directory without Python code a Node.js function.
NODE_ENTRY_FILES = ("index.js", "index.mjs", "index.cjs")
NODE_HANDLER = "index.handler"


def is_node(runtime: str) -> bool:
    return runtime.startswith("nodejs")


def detect_runtime(directory: Path) -> str | None:
    """``nodejs<major>.x`` of the installed ``node`` when ``directory`` holds an
    ``index.js``/``index.mjs``/``index.cjs`` and no ``.py`` file at its top; else None."""
    try:
        names = {p.name for p in directory.iterdir() if p.is_file()}
    except OSError:
        return None
    if any(n.endswith(".py") for n in names) or not names.intersection(NODE_ENTRY_FILES):
        return None
    return node_runtime()


def node_runtime() -> str:
    """The Node.js runtime for the installed ``node``: ``nodejs<major>.x`` when AWS has it,
    else the nearest one AWS has (the newest when there is no ``node``)."""
    import shutil
    import subprocess

    from lambdaver.model.config import RUNTIMES

    majors = sorted(int(r[6:-2]) for r in RUNTIMES if r.startswith("nodejs") and r.endswith(".x"))
    node = shutil.which("node")
    major = majors[-1]
    if node is not None:
        try:
            out = subprocess.run(
                [node, "--version"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
            found = int(out.strip().lstrip("v").partition(".")[0])
            major = min(majors, key=lambda m: (abs(m - found), -m))
        except (OSError, ValueError, subprocess.SubprocessError):
            pass
    return f"nodejs{major}.x"


def detect_handler(directory: Path, runtime: str) -> str | None:
    """The handler ``init`` should use for the code in ``directory``, or None for the
    default: ``lambda_function.lambda_handler`` when ``lambda_function.py`` defines
    ``lambda_handler``; else ``module.handler`` (or ``module.lambda_handler``) when exactly
    one top-level module defines such a function."""
    if is_node(runtime):
        return NODE_HANDLER
    if not is_python(runtime):
        return None
    console = directory / f"{CONSOLE_MODULE}.py"
    names = _defined_names(_read(console))
    if names is not None and CONSOLE_FUNCTION in names:
        return f"{CONSOLE_MODULE}.{CONSOLE_FUNCTION}"
    found: list[str] = []
    try:
        files = sorted(p.name for p in directory.iterdir() if p.is_file())
    except OSError:
        return None
    for file in files:
        module = file[:-3]
        if not file.endswith(".py") or not module.isidentifier():
            continue
        names = _defined_names(_read(directory / file))
        if names is None:
            continue
        for function in HANDLER_NAMES:
            if function in names:
                found.append(f"{module}.{function}")
                break
    return found[0] if len(found) == 1 else None


def handler_warning(repo: Repository, version: str | None = None) -> str | None:
    """One line for standard error when the handler of ``version`` (a published number;
    None: $LATEST) cannot be found in its code.  A published version is read from the
    object store, so a concurrent change of $LATEST plays no part; a state that cannot be
    read (a version deleted meanwhile, an interrupted import) gives no warning."""
    from lambdaver.errors import LambdaverError
    from lambdaver.storage.errors import StorageError

    try:
        if version is None or not version.isdigit():
            from pathlib import Path

            cfg = repo.function.config
            paths = [m[0] for m in repo.scan_latest().manifest]
            root = Path(repo.root)
            problem = handler_problem(
                paths, cfg.handler, cfg.runtime, lambda path: _read(root / path)
            )
        else:
            from lambdaver.model.records import VersionRecord
            from lambdaver.service.repository import VERSIONS
            from lambdaver.storage.tree import manifest_from_bytes

            raw = repo.meta.get(VERSIONS, version)
            if raw is None:
                return None
            rec = VersionRecord.from_json(raw)
            cfg = rec.config
            tree = repo.store.get_bytes(rec.tree, compressed=True)
            digests = {m[0]: m[3] for m in manifest_from_bytes(tree)}
            problem = handler_problem(
                list(digests), cfg.handler, cfg.runtime, lambda p: repo.store.get_bytes(digests[p])
            )
    except (LambdaverError, StorageError, OSError):
        return None
    if problem is None:
        return None
    return (
        f"lambdaver: warning: handler {cfg.handler}: {problem}; "
        "set it with: lambdaver config set --handler MODULE.FUNCTION"
    )


def handler_problem(
    paths: Iterable[str], handler: str, runtime: str, read: Callable[[str], bytes | None]
) -> str | None:
    """Why ``handler`` cannot be found in the code made of ``paths`` (``read`` gives a
    file's bytes), or None when it is found or cannot be judged (not Python, a malformed
    handler, a module that does not parse or that may define names dynamically)."""
    module, _, function = handler.rpartition(".")
    if not is_python(runtime) or not module or not function:
        return None
    base = module.replace(".", "/")
    present = set(paths)
    for candidate in (f"{base}.py", f"{base}/__init__.py"):
        if candidate in present:
            names = _defined_names(read(candidate))
            if names is None or function in names:
                return None
            return (
                f"{candidate} defines no {function}, so invoke will fail (Runtime.HandlerNotFound)"
            )
    return (
        f"there is no {base}.py in $LATEST's code, so invoke will fail (Runtime.ImportModuleError)"
    )


def _read(path: StrPath) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _defined_names(source: bytes | None) -> set[str] | None:
    """Names a module binds at its top level (in ``if``/``try``/``with`` blocks too), or
    None when that cannot be known: no source, a syntax error (perhaps a newer Python
    than this one), ``from m import *`` or a module ``__getattr__``."""
    if source is None:
        return None
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    names: set[str] = set()
    if not _bind(tree.body, names):
        return None
    return None if "__getattr__" in names else names


def _bind(body: list[ast.stmt], names: set[str]) -> bool:
    import ast

    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return False
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        else:
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    stmts = [h for s in inner for h in _statements(s)]
                    if not _bind(stmts, names):
                        return False
    return True


def _statements(node: ast.AST) -> list[ast.stmt]:
    """An ``except`` clause's body, or the statement itself."""
    import ast

    if isinstance(node, ast.ExceptHandler):
        return node.body
    return [node] if isinstance(node, ast.stmt) else []
