"""Write a tree out of the object store as a read-only directory, once, and reuse it.

The copy is keyed by the tree's hash.  Every blob is verified while it is copied (a blob
that fails its hash is ``CorruptData``, naming it), and the stat of every file
written is recorded beside the copy; before each reuse the files are stat'ed again and a
copy that was touched is thrown away and made afresh, so altered code is never run.
Files are copies, not hard links: code that writes to its own files cannot reach the
object store.  ``gc`` removes the copies of trees no version uses with :func:`sweep`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from lambdaver.storage.fileutil import tmp_name, tmp_target
from lambdaver.storage.objects import ObjectStore
from lambdaver.storage.tree import MODE_EXEC, MODE_LINK, ManifestEntry

if TYPE_CHECKING:
    from lambdaver.storage.fileutil import Sweeper

_STAMP = ".stat.json"


def _stat_key(path: str) -> list[int]:
    st = os.lstat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode]


def _intact(root: str, stamp: str) -> bool:
    try:
        with open(stamp, "rb") as f:
            recorded = json.loads(f.read())
    except (OSError, ValueError):
        return False
    try:
        return all(_stat_key(os.path.join(root, p)) == k for p, k in recorded.items())
    except OSError:
        return False


def materialize(
    store: ObjectStore, manifest: Callable[[], list[ManifestEntry]], cache: str, key: str
) -> str:
    """The tree ``manifest()`` as a directory ``cache/key``, made if missing or touched
    (``manifest`` is called only then)."""
    final = os.path.join(cache, key)
    stamp = os.path.join(cache, key + _STAMP)
    if os.path.isdir(final) and _intact(final, stamp):
        return final
    import shutil  # only when a copy is made: it imports compression modules

    os.makedirs(cache, exist_ok=True)
    tmp = tmp_name(final)
    try:
        keys = _write_tree(store, manifest(), tmp)
        stale = None
        if os.path.lexists(final):
            stale = tmp_name(final)
            with contextlib.suppress(OSError):
                os.rename(final, stale)
        try:
            os.rename(tmp, final)
        except OSError:  # another process made it first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
            return final
        stamp_tmp = tmp_name(stamp)
        with open(stamp_tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(keys, separators=(",", ":")))
        os.replace(stamp_tmp, stamp)
        if stale is not None:
            shutil.rmtree(stale, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def sweep(cache: str, keep: set[str], sweeper: Sweeper) -> None:
    """Remove (when older than the sweeper's grace period) the stale temporaries in
    ``cache``, and the copies of trees not in ``keep`` with their stamps: a copy counts
    as a temporary, its stamp only in bytes."""
    try:
        names = sorted(os.listdir(cache))
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in names:
        path = os.path.join(cache, name)
        if tmp_target(name) is not None:
            sweeper.remove(path)
            continue
        key, rest = name[:64], name[64:]
        if len(key) == 64 and not key.strip("0123456789abcdef") and key not in keep:
            sweeper.remove(path, count=rest == "")


def _write_tree(
    store: ObjectStore, manifest: list[ManifestEntry], root: str
) -> dict[str, list[int]]:
    os.mkdir(root)
    made: set[str] = set()
    keys: dict[str, list[int]] = {}
    base = root
    for path, mode, _size, digest in manifest:
        parent = os.path.dirname(path)
        if parent and parent not in made:
            os.makedirs(os.path.join(base, parent), exist_ok=True)
            made.add(parent)
        target = os.path.join(base, path)
        if mode == MODE_LINK:
            os.symlink(store.get_bytes(digest).decode("utf-8", "surrogateescape"), target)
        else:
            store.copy_blob(digest, target, 0o555 if mode == MODE_EXEC else 0o444)
        keys[path] = _stat_key(target)
    return keys
