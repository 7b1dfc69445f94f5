"""The one mapping from storage's errors to lambdaver's (AWS-style) errors.

Storage raises ``lambdaver.storage.errors``; callers that report errors to a user (the
CLI's error boundary, a server) pass what they caught through :func:`translate`, which
gives the ``lambdaver.errors`` error with the same message and therefore the same code and
exit status:

- ``BadTreeEntry`` (the function directory holds what cannot be stored) ->
  ``InvalidParameterValueException`` (exit 254);
- ``StorageIOError`` -> ``RepositoryIOError`` (exit 253);
- ``CorruptData`` and any other storage error -> ``RepositoryCorrupt`` (exit 253).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from lambdaver.errors import (
    InvalidParameterValueException,
    LambdaverError,
    RepositoryCorrupt,
    RepositoryIOError,
)


def translate(exc: BaseException) -> BaseException:
    """The ``LambdaverError`` a storage error stands for (its cause set to ``exc``), or
    ``exc`` itself when it is no storage error."""
    # A storage error exists only once its module is loaded: no import on other paths.
    storage = sys.modules.get("lambdaver.storage.errors")
    if storage is None or not isinstance(exc, storage.StorageError):
        return exc
    error: LambdaverError
    if isinstance(exc, storage.BadTreeEntry):
        error = InvalidParameterValueException(exc.message)
    elif isinstance(exc, storage.StorageIOError):
        error = RepositoryIOError(exc.message)
    else:
        error = RepositoryCorrupt(exc.message)
    error.__cause__ = exc
    return error


def is_expected(exc: BaseException) -> bool:
    """Whether ``exc`` is an error lambdaver reports as such (not a bug)."""
    return isinstance(translate(exc), LambdaverError)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Raise storage errors inside the block as their ``lambdaver.errors`` counterparts."""
    try:
        yield
    except Exception as exc:
        error = translate(exc)
        if error is exc:
            raise
        raise error from exc
