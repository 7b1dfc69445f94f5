"""A project with several functions: finding the function directories under a directory,
and the one that ``--function-name`` names.

A *function directory* holds ``.lambdaver/``.  From a directory that is not inside a
function, the functions of the project are the function directories under it, at most
:data:`MAX_DEPTH` levels down (``./fn`` is one level, ``./a/b/c/fn`` four), found without
entering hidden directories, :data:`SKIPPED` ones, symbolic links to directories, or a
function directory's own subdirectories.  A function's name is the ``name`` of its
``lambdaver.toml``, read with a regular expression (TOML's parser only when the file is
not in the simple form lambdaver writes).

Kept light (``os`` and ``re`` only): ``--function-name`` from a project's root runs this on
every command, and it must cost a few milliseconds at most (docs/performance.md).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from lambdaver.value import Value

if TYPE_CHECKING:
    from collections.abc import Callable

    from lambdaver.model.results import FunctionList, ImportResult
    from lambdaver.service.repository import Repository
    from lambdaver.service.settings import Settings

#: How many levels below the current directory a function directory may be.
MAX_DEPTH = 4
#: Directories never searched (besides hidden ones, whose names start with a dot).
SKIPPED = frozenset({"node_modules", "venv", ".venv", "__pycache__"})

DOT = ".lambdaver"  # service/repository.py's DOT (not imported: that module is heavy)
FUNCTION_FILE = "lambdaver.toml"

# ``name = "x"`` at the top of lambdaver.toml (before any [table]), as tomli-w writes it.
_HEAD = re.compile(r"(?ms)\A(.*?)^[ \t]*\[")
_NAME = re.compile(r"""(?m)^[ \t]*name[ \t]*=[ \t]*(?:"([A-Za-z0-9_-]+)"|'([A-Za-z0-9_-]+)')"""
                   r"[ \t]*(?:#.*)?$")  # fmt: skip


class ProjectFunction(Value):
    """A function of the project: its name and its directory (absolute)."""

    name: str
    path: str


class Unreadable(Value):
    """A function directory whose ``lambdaver.toml`` gave no name, and why."""

    path: str
    error: Exception


def function_dirs(start: str) -> list[str]:
    """The function directories under ``start`` (absolute, sorted), ``start`` itself
    excluded, at most :data:`MAX_DEPTH` levels down."""
    found: list[str] = []
    _walk(os.path.abspath(start), 1, found)
    found.sort()
    return found


def _walk(directory: str, depth: int, found: list[str]) -> None:
    try:
        entries = os.scandir(directory)
    except OSError:  # unreadable or gone: not part of the project
        return
    subdirs: list[str] = []
    with entries:
        for entry in entries:
            name = entry.name
            if name[0] == "." or name in SKIPPED:
                continue
            try:
                if not entry.is_dir(follow_symlinks=False):
                    continue
            except OSError:
                continue
            subdirs.append(entry.path)
    for path in subdirs:
        if os.path.isdir(os.path.join(path, DOT)):
            found.append(path)  # a function: its subdirectories are its code
        elif depth < MAX_DEPTH:
            _walk(path, depth + 1, found)


def read_name(directory: str) -> str:
    """The function's name in ``directory``'s lambdaver.toml: read with a regular
    expression when the file has the simple form lambdaver writes, else parsed (raising
    the parser's error, which names the file and the line)."""
    path = os.path.join(directory, FUNCTION_FILE)
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        text = None
    if text is not None:
        head = _HEAD.match(text)
        names = _NAME.findall(head.group(1) if head else text)
        if len(names) == 1:
            return str(names[0][0] or names[0][1])
    from lambdaver.service.function_file import read_function_file

    return str(read_function_file(path).name)


def functions(start: str) -> tuple[list[ProjectFunction], list[Unreadable]]:
    """The functions under ``start`` (sorted by name, then path), and the function
    directories whose name could not be read."""
    from lambdaver.errors import LambdaverError

    out: list[ProjectFunction] = []
    bad: list[Unreadable] = []
    for path in function_dirs(start):
        try:
            out.append(ProjectFunction(read_name(path), path))
        except LambdaverError as exc:
            bad.append(Unreadable(path, exc))
    out.sort(key=lambda f: (f.name, f.path))
    return out, bad


def bare_name(function_name: str) -> str | None:
    """The function's name in a name or an ARN (partial, full, qualified); None when it
    is not one of those forms."""
    from lambdaver.model.names import FUNCTION_NAME_PATTERN

    if len(function_name) > 256:
        return None
    m = re.fullmatch(FUNCTION_NAME_PATTERN, function_name)
    return m.group(10) if m else None


def find_function(start: str, function_name: str, settings: Callable[[], Settings]) -> str:
    """The directory of the function that ``function_name`` (a name or an ARN) names
    among the functions under ``start``.

    Errors: the ARN's own (a bad form, another region or account: the same as inside a
    function); none of that name, ``ResourceNotFoundException`` ``Function not found:
    ARN`` as AWS says it (or, when a directory of that name holds a function whose
    lambdaver.toml cannot be read, that file's error); two or more,
    ``ResourceConflictException`` naming every path.  ``settings`` gives the region and
    account of ARNs (asked only when there is an error to report).
    """
    name = bare_name(function_name)
    bad: list[Unreadable] = []
    if name is not None:
        found, bad = functions(start)
        matches = [f.path for f in found if f.name == name]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            from lambdaver.errors import ResourceConflictException

            paths = ", ".join(os.path.relpath(p, start) for p in matches)
            raise ResourceConflictException(
                f"{len(matches)} functions under {start} are named {name}: {paths}; "
                "rename one (the name in its lambdaver.toml) or run the command in its "
                "directory (-C DIR)"
            )
    from lambdaver.errors import ResourceNotFoundException
    from lambdaver.model.names import Arns, parse_function_name

    # the form, region and account of the ARN are checked as inside a function
    where = settings()
    parse_function_name(
        function_name, region=where.region, account=where.account_id, expected=name or ""
    )
    for unreadable in bad:  # probably this one (its directory has the name): say why
        if os.path.basename(unreadable.path) == name:
            raise unreadable.error
    arn = Arns(where.region, where.account_id, name or function_name).function()
    raise ResourceNotFoundException(f"Function not found: {arn}")


# --- operations on the project -----------------------------------------------------------


def list_functions(start: str, settings: Settings, *, all_versions: bool = False) -> FunctionList:
    """``list-functions``: the function around ``start`` when it is inside one, else every
    function under it (by name, then path), each as its $LATEST (unqualified ARN, as AWS
    lists them); with ``all_versions`` (``--function-version ALL``), each function's
    $LATEST (``:$LATEST`` ARN) and then its published versions, ascending, as AWS's
    ``FunctionVersion=ALL``.  A function whose lambdaver.toml cannot be read is an error
    (its file and line), not left out."""
    from lambdaver.model.names import LATEST
    from lambdaver.model.results import FunctionList
    from lambdaver.service import functions as svc
    from lambdaver.service.repository import VERSIONS, Repository, find_root

    root = find_root(start)
    if root is not None:
        roots = [root]
    else:
        found, bad = functions(start)
        if bad:
            raise bad[0].error
        roots = [f.path for f in found]
    out = []
    for path in roots:
        repo = Repository.discover(path, settings)
        state = repo.scan_latest()
        out.append(svc.latest_configuration(repo, state, LATEST if all_versions else None))
        if all_versions:
            for _number, raw in repo.meta.items(VERSIONS, numeric=True):
                out.append(svc.row_configuration(repo, raw))
    return FunctionList(out)


RUNTIME_AND_HANDLER = (
    "Runtime and Handler are mandatory parameters for functions created with deployment packages."
)


def create_function(
    start: str,
    settings: Settings,
    name: str,
    source: Any,
    *,
    runtime: str | None = None,
    handler: str | None = None,
    memory_size: int | None = None,
    timeout: int | None = None,
    description: str | None = None,
    environment: dict[str, str] | None = None,
    publish: bool = False,
    view: Any = None,
    set_aside: Callable[[str, str], None] | None = None,
) -> tuple[Repository, ImportResult]:
    """``create-function``: a new function directory ``start/NAME`` holding the zip
    ``source`` (a path or a binary file) as its code, its ``lambdaver.toml`` and its
    repository; with ``publish``, version 1 of it too.  Returns the repository and the
    result (FunctionConfiguration with the function's unqualified ARN, as AWS's
    CreateFunction returns it even with ``Publish``; zip entries left out).

    Refused (nothing written): ``start`` inside a function (its code would hold the new
    one); ``NAME`` taken by a function under ``start``, or ``start/NAME`` existing and not
    an empty directory (``ResourceConflictException`` ``Function already exist: NAME``, as
    AWS); everything ``init`` and ``import`` refuse.  The function is built in a temporary
    directory beside ``start/NAME`` and renamed into place, so a refused or interrupted
    create leaves no function directory behind.

    With ``set_aside`` (the server's CreateFunction), a ``start/NAME`` that a deleted
    function left (:func:`left_by_deleted_function`) is not a conflict, as the name is
    free again on AWS once DeleteFunction returns: once the new function is built, that
    directory is renamed to ``start/NAME.deleted-<UTC time>`` (kept, never removed) and
    ``set_aside(old, new)`` is called.
    """
    import shutil

    from lambdaver.errors import InvalidParameterValueException, ResourceConflictException
    from lambdaver.model.names import validate_function_name
    from lambdaver.service.code import import_zip
    from lambdaver.service.functions import init_function
    from lambdaver.service.repository import Repository, find_root
    from lambdaver.storage.fileutil import fsync_dir, tmp_name

    validate_function_name(name)
    start = os.path.abspath(start)
    around = find_root(start)
    if around is not None:
        raise InvalidParameterValueException(
            f"{start} is inside the function directory {around}: a function cannot hold "
            "another; run create-function in the project's directory"
        )
    if runtime is None or (handler is None and not runtime.startswith("provided")):
        raise InvalidParameterValueException(RUNTIME_AND_HANDLER)
    target = os.path.join(start, name)
    taken = os.path.lexists(target) and (
        not os.path.isdir(target) or os.path.islink(target) or bool(os.listdir(target))
    )
    aside = None
    if taken and set_aside is not None and left_by_deleted_function(target):
        taken, aside = False, _aside_name(target)
    if taken or any(f.name == name for f in functions(start)[0]):
        raise ResourceConflictException(f"Function already exist: {name}")
    building = tmp_name(target)
    os.mkdir(building)
    try:
        repo, _ = init_function(
            building,
            settings,
            name=name,
            runtime=runtime,
            handler=handler,
            memory_size=memory_size,
            timeout=timeout,
            description=description,
            environment=environment,
        )
        result = import_zip(repo, source, publish=publish, view=view)
        if aside is not None:
            os.rename(target, aside)
        try:
            os.rename(building, target)  # over an empty directory, or none
        except BaseException:
            if aside is not None:
                os.rename(aside, target)
            raise
        fsync_dir(start)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    if aside is not None and set_aside is not None:
        set_aside(target, aside)
    repo = Repository.discover(target, settings)
    configuration = result.configuration.replace(function_arn=repo.arns.function())
    return repo, result.replace(configuration=configuration)


def left_by_deleted_function(directory: str) -> bool:
    """Whether ``directory`` is what DeleteFunction leaves of a function: a real
    directory (not a link) holding ``.lambdaverignore`` (which ``init`` and
    ``create-function`` write) but neither ``.lambdaver/`` nor ``lambdaver.toml``."""
    from lambdaver.service.repository import DOT, IGNORE_FILE

    return (
        os.path.isdir(directory) and not os.path.islink(directory)
        and os.path.isfile(os.path.join(directory, IGNORE_FILE))
        and not os.path.lexists(os.path.join(directory, DOT))
        and not os.path.lexists(os.path.join(directory, FUNCTION_FILE))
    )  # fmt: skip


def _aside_name(target: str) -> str:
    """``TARGET.deleted-<UTC time>`` (``.N`` added while that exists); function names
    have no ``.``, so it is never a function's name."""
    import time

    base = f"{target}.deleted-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    name, n = base, 1
    while os.path.lexists(name):
        n += 1
        name = f"{base}.{n}"
    return name
