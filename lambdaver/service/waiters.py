"""The aws CLI's ``lambda wait`` conditions, decided at once.

botocore's Lambda waiters (``botocore/data/lambda/2015-03-31/waiters-2.json``) poll
GetFunction or GetFunctionConfiguration until the function's ``State`` is ``Active`` or
its ``LastUpdateStatus`` is ``Successful``; ``FunctionExists`` until GetFunction stops
answering ``ResourceNotFoundException``.  Locally nothing is asynchronous: a function
that exists is ``Active`` and its last update ``Successful`` as soon as the command that
made it has returned, and nothing but another command can make a missing function
appear.  So each condition is checked once, and the answer is final:

- it holds when the function (and the qualifier, if one is given) resolves;
- otherwise the waiter fails with botocore's reason: for ``FunctionExists``, whose
  acceptors retry on ``ResourceNotFoundException``, as when its attempts run out
  (``Max attempts exceeded. Previously accepted state: Matched expected service error
  code: ResourceNotFoundException``); for the others, which have no acceptor for an
  error, ``An error occurred (CODE): MESSAGE`` with the error GetFunction would give.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambdaver.errors import ServiceError, WaiterError

if TYPE_CHECKING:
    from lambdaver.service.repository import Repository

#: ``wait`` subcommand -> (botocore's waiter name, the operation it polls).
WAITERS: dict[str, tuple[str, str]] = {
    "function-exists": ("FunctionExists", "GetFunction"),
    "function-active": ("FunctionActive", "GetFunctionConfiguration"),
    "function-active-v2": ("FunctionActiveV2", "GetFunction"),
    "function-updated": ("FunctionUpdated", "GetFunctionConfiguration"),
    "function-updated-v2": ("FunctionUpdatedV2", "GetFunction"),
    "published-version-active": ("PublishedVersionActive", "GetFunctionConfiguration"),
}

#: Waiters with an acceptor that retries on an error code: running out of attempts is
#: their failure.
_RETRIED_ERRORS: dict[str, str] = {"FunctionExists": "ResourceNotFoundException"}


def check(repo: Repository, waiter: str, qualifier: str | None) -> None:
    """Return if ``waiter``'s condition holds for ``qualifier`` of ``repo``'s function
    (``$LATEST`` when None); else raise its :class:`WaiterError`."""
    from lambdaver.service.functions import resolve

    try:
        resolve(repo, qualifier)
    except ServiceError as exc:
        raise failure(waiter, exc) from exc


def failure(waiter: str, error: ServiceError) -> WaiterError:
    """How botocore's waiter ``waiter`` fails when its operation keeps raising ``error``."""
    if _RETRIED_ERRORS.get(waiter) == error.code:
        return WaiterError(
            waiter,
            "Max attempts exceeded. Previously accepted state: "
            f"Matched expected service error code: {error.code}",
        )
    return WaiterError(waiter, f"An error occurred ({error.code}): {error.message}")
