"""``wait function-exists|function-active|function-active-v2|function-updated|
function-updated-v2|published-version-active``: the aws CLI's ``lambda wait`` commands.
Parsing only; the conditions and botocore's failure messages live in
``lambdaver.service.waiters``."""

from __future__ import annotations

import click

from lambdaver.cli import options as opt
from lambdaver.cli.app import VerbGroup, commands, get_app
from lambdaver.errors import EXIT_BUG, EXIT_OK, RepositoryNotFound, ServiceError
from lambdaver.service.waiters import WAITERS

WAIT_STATUSES = opt.exit_statuses(
    {
        EXIT_OK: "the condition holds",
        EXIT_BUG: "it does not (Waiter NAME failed: ...), or an internal error",
    }
)


@click.group(cls=VerbGroup)
def wait() -> None:
    """Wait until a function, version or update is ready, as `aws lambda wait` does.

    Locally every function that exists is Active and its last update Successful as soon
    as the command that made it returns, so the condition is checked once: exit 0 at
    once, printing nothing, when it holds; otherwise the aws CLI's `Waiter NAME failed:
    ...` message and exit 255, without polling."""


def _run(subcommand: str, qualifier: str | None) -> None:
    from lambdaver.service import waiters

    waiter = WAITERS[subcommand][0]
    app = get_app()
    try:
        repo = app.repo()
        q = app.qualifier(qualifier)
    except RepositoryNotFound:
        if app.function_name is None:
            raise  # no function named, none here: say how to make one
        raise waiters.failure(waiter, _not_here(app.function_name)) from None
    except ServiceError as exc:  # --function-name names another function, or is malformed
        raise waiters.failure(waiter, exc) from exc
    waiters.check(repo, waiter, q)


def _not_here(function_name: str) -> ServiceError:
    """What GetFunction answers for ``function_name`` when no repository is found: the
    name's own error when it is malformed, else ResourceNotFoundException."""
    from lambdaver.errors import ResourceNotFoundException
    from lambdaver.model.names import parse_function_name

    settings = get_app().settings
    try:  # no function is named "": a well-formed name raises "Function not found: ARN"
        parse_function_name(
            function_name, region=settings.region, account=settings.account_id, expected=""
        )
    except ServiceError as exc:
        return exc
    return ResourceNotFoundException(f"Function not found: {function_name}")  # pragma: no cover


_HELP = {
    "function-exists": "Exit 0 when the function (and --qualifier) exists.",
    "function-active": "Exit 0 when the function's State is Active (GetFunctionConfiguration).",
    "function-active-v2": "Exit 0 when the function's State is Active (GetFunction).",
    "function-updated": (
        "Exit 0 when the function's LastUpdateStatus is Successful (GetFunctionConfiguration)."
    ),
    "function-updated-v2": (
        "Exit 0 when the function's LastUpdateStatus is Successful (GetFunction)."
    ),
    "published-version-active": (
        "Exit 0 when the version or alias --qualifier names is Active (without --qualifier, "
        "$LATEST, as in AWS)."
    ),
}


def _make(subcommand: str) -> click.Command:
    waiter, operation = WAITERS[subcommand]

    @wait.command(
        subcommand,
        operation=operation,
        help=_HELP[subcommand] + f"  Fails as botocore's {waiter} waiter fails.",
        epilog=opt.epilog(
            f"lambdaver wait {subcommand} --function-name my-function",
            f"lambdaver wait {subcommand} --function-name my-function --qualifier prod",
            statuses=WAIT_STATUSES,
        ),
    )
    @opt.qualifier("A version number, an alias or $LATEST (default: $LATEST).")
    def command(qualifier: str | None) -> None:
        _run(subcommand, qualifier)

    return command


for _subcommand in WAITERS:
    _make(_subcommand)

COMMANDS = commands(wait)
