"""An interrupted change of $LATEST's files is completed, never left half done.

``checkout`` and ``import`` (service/code.py) stage every new file under
``.lambdaver/tmp/``, then :func:`apply` writes an *intent* (``.lambdaver/pending-apply.json``,
fsync'ed) naming every deletion, every staged rename, the new ``lambdaver.toml`` and whether
to publish, carries it out and removes it.  A command killed in between leaves the intent;
:func:`complete` carries it out again (every step may be repeated).

Opening a repository never does this: a command that changes the repository installs
:func:`complete_locked` as the hook that runs when it takes the lock
(``Repository.on_lock``), and ``lambdaver recover`` does it on request.  Until then a read
verb that needs $LATEST is refused (``IncompleteOperation``) instead of showing a mixture.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdaver.errors import RepositoryCorrupt
from lambdaver.model.config import FunctionConfig
from lambdaver.service.function_file import write_function_file
from lambdaver.service.functions import publish as publish_version
from lambdaver.service.repository import PENDING, Repository
from lambdaver.storage import canonical_bytes
from lambdaver.storage.fileutil import atomic_write, fsync_dir, sync_filesystem, tmp_name

if TYPE_CHECKING:
    from lambdaver.model.records import FunctionConfiguration
    from lambdaver.service.functions import ViewRenderer


@dataclass
class Plan:
    """What to do to the working directory: ``stage`` maps a path to its mode and the
    staged file (or link) to rename into place; ``delete`` lists tracked paths to remove."""

    staging: Path
    stage: dict[str, tuple[str, str]] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)


@contextlib.contextmanager
def staged_in(repo: Repository, kind: str) -> Iterator[Path]:
    path = Path(repo.store.new_tmp_dir(kind))
    try:
        yield path
    finally:
        if not (Path(repo.dot) / PENDING).exists():  # else the next command finishes the step
            shutil.rmtree(path, ignore_errors=True)


def _place(src: str, dst: Path) -> None:
    """Rename a staged file into place; across filesystems, copy beside it and rename."""
    try:
        Path(src).replace(dst)
    except OSError as exc:
        if exc.errno != 18:  # EXDEV
            raise
        tmp = Path(tmp_name(dst))
        try:
            if Path(src).is_symlink():
                tmp.symlink_to(Path(src).readlink())
            else:
                shutil.copy2(src, tmp)
            tmp.replace(dst)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


def apply(
    repo: Repository,
    plan: Plan,
    *,
    function: tuple[str, FunctionConfig] | None = None,
    publish: bool = False,
    view: ViewRenderer | None = None,
) -> FunctionConfiguration | None:
    """Change the working directory as one step that a crash cannot leave half done.

    The staged files are synced, then an intent naming every deletion, every staged
    rename, the new ``lambdaver.toml`` and whether to publish is written (fsync'ed)
    before anything changes; then it is carried out and cleared.  A command killed on
    the way leaves the intent, and the next command completes it (:func:`complete`):
    $LATEST goes from the old state to the new one, never to a mixture.  Returns the
    publish's result when there was one (``view``: as for publish)."""
    sync_filesystem(plan.staging)
    intent = {
        "staging": str(plan.staging),
        "delete": plan.delete,
        "stage": {p: [m, s] for p, (m, s) in plan.stage.items()},
        "function": [function[0], function[1].to_record()] if function else None,
        "publish": publish,
    }
    # ASCII: the paths may hold the lone surrogates of undecodable file names
    atomic_write(Path(repo.dot) / PENDING, canonical_bytes(intent, ascii=True))
    return _carry_out(repo, intent, view)


def _carry_out(
    repo: Repository, intent: dict[str, Any], view: ViewRenderer | None
) -> FunctionConfiguration | None:
    """Carry out an intent; every step may be repeated (a deleted file stays deleted, a
    staged file already renamed is skipped), so a second run after a crash completes it."""
    repo.completing = True  # its publish reads $LATEST while the intent is still there
    try:
        return _carry_out_steps(repo, intent, view)
    finally:
        repo.completing = False


def _carry_out_steps(
    repo: Repository, intent: dict[str, Any], view: ViewRenderer | None
) -> FunctionConfiguration | None:
    root = Path(repo.root)
    for path in intent["delete"]:
        with contextlib.suppress(FileNotFoundError):
            (root / path).unlink()
        parent = (root / path).parent
        while parent != root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
    for path in sorted(intent["stage"]):
        _mode, staged = intent["stage"][path]
        if not os.path.lexists(staged):
            continue  # already in place
        dst = root / path
        if dst.is_dir() and not dst.is_symlink():
            for dirpath, _dirs, _files in os.walk(dst, topdown=False):
                Path(dirpath).rmdir()  # empty: _check_conflicts made sure of it
        dst.parent.mkdir(parents=True, exist_ok=True)
        _place(staged, dst)
    sync_filesystem(root)
    if intent["function"] is not None:
        name, record = intent["function"]
        write_function_file(repo.function_file_path, name, FunctionConfig.from_record(record))
    repo.reload_function()
    result = None
    if intent["publish"]:
        result = publish_version(repo, view=view)
    (Path(repo.dot) / PENDING).unlink()
    fsync_dir(repo.dot)
    shutil.rmtree(intent["staging"], ignore_errors=True)
    return result


def complete(repo: Repository, view: ViewRenderer | None = None) -> bool:
    """Complete a checkout or import that a crash interrupted (see :func:`apply`), under
    the repository lock; True if there was one (the lock's hook may complete it first).
    ``view``: as for publish, should the interrupted operation publish."""
    had = repo.has_pending()
    with repo.lock.held():
        done = complete_locked(repo, view)
    return done or (had and not repo.has_pending())


def complete_locked(repo: Repository, view: ViewRenderer | None = None) -> bool:
    """:func:`complete` for a caller that already holds the lock (the hook a command that
    changes the repository installs with :meth:`Repository.on_lock`)."""
    path = Path(repo.dot) / PENDING
    try:
        intent = json.loads(path.read_bytes())
    except FileNotFoundError:
        return False  # nothing pending, or another process completed it first
    except ValueError as exc:  # atomic_write makes this impossible; say so if it happens
        raise RepositoryCorrupt(f"{path} is damaged: {exc}") from exc
    _carry_out(repo, intent, view)
    return True
