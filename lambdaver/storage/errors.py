"""What storage raises: its own errors, with the data that explains them.

Storage knows nothing of AWS's error codes nor of exit statuses; the service layer maps
these to ``lambdaver.errors`` in one place (``lambdaver.service.storage_errors``).  Each
error carries a ``message`` for people and the data a caller may need (the path, the
object, the reason), so a server can answer in its own words.

Imported only where one is raised or caught: read verbs that meet no error never load it.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error storage raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CorruptData(StorageError):
    """Stored data is missing, damaged or fails its hash check.  ``path`` is the file (a
    pack, an index, the metadata database) and ``digest`` the object, when known."""

    def __init__(self, message: str, *, path: str | None = None, digest: str | None = None):
        super().__init__(message)
        self.path = path
        self.digest = digest


class StorageIOError(StorageError):
    """The store could not be read or written (permissions, read-only or full disk)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class BadTreeEntry(StorageError):
    """A directory being scanned or stored holds something that cannot be stored.

    ``path`` is relative to the scanned directory (``.`` for the directory itself, or the
    ignore file's full path for ``UNREADABLE_IGNORE_FILE``); ``reason`` is one of the
    constants below; ``detail`` is the operating system's words or the link's target."""

    UNREADABLE = "unreadable"  # a file or directory that cannot be read
    UNREADABLE_IGNORE_FILE = "unreadable-ignore-file"
    SPECIAL_FILE = "special-file"  # a socket, FIFO or device
    LINK_OUTSIDE = "link-outside"  # a symlink that leads outside the tree
    VANISHED = "vanished"  # deleted while it was being read
    CHANGED = "changed"  # became a directory while it was being read

    def __init__(self, message: str, *, path: str, reason: str, detail: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason
        self.detail = detail
