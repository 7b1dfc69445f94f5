"""The ``lambdaver`` command group and the single error boundary."""

from __future__ import annotations

import errno
import sys
from typing import Any, NoReturn

import click

from lambdaver import __version__
from lambdaver.cli.app import App, VerbGroup
from lambdaver.cli.options import exit_statuses
from lambdaver.errors import (
    EXIT_BUG,
    EXIT_FUNCTION_ERROR,
    EXIT_INTERRUPTED,
    EXIT_REPOSITORY,
    EXIT_USAGE,
    LambdaverError,
    RepositoryIOError,
)

# Which module defines which verbs: a verb's module is imported only when that verb
# runs (or for --help), so start-up pays for one module, not all of them.  A test checks
# that this table and the modules' COMMANDS agree.
VERB_MODULES: dict[str, tuple[str, ...]] = {
    "lambdaver.cli.commands_functions": (
        "init", "config", "status", "publish", "versions", "publish-version",
        "list-versions-by-function", "get-function-configuration", "get-function",
        "update-function-configuration", "delete-function", "list-functions",
        "create-function",
    ),
    "lambdaver.cli.commands_invoke": ("invoke", "logs", "metrics"),
    "lambdaver.cli.commands_lifecycle": ("gc", "recover", "fsck", "completion"),
    "lambdaver.cli.commands_code": ("diff", "checkout", "export", "import", "update-function-code"),
    "lambdaver.cli.commands_aliases": (
        "alias", "rollback", "promote", "create-alias", "update-alias", "get-alias",
        "list-aliases", "delete-alias",
    ),
    "lambdaver.cli.commands_wait": ("wait",),
    "lambdaver.cli.commands_serve": ("serve",),
    "lambdaver.cli.commands_policy": ("add-permission", "get-policy", "remove-permission"),
    "lambdaver.cli.commands_urls": (
        "create-function-url-config", "get-function-url-config", "update-function-url-config",
        "delete-function-url-config", "list-function-url-configs",
    ),
    "lambdaver.cli.commands_deploy": ("deploy",),
    "lambdaver.cli.commands_schedule": ("schedule",),
    "lambdaver.cli.commands_bucket": ("bucket",),
    "lambdaver.cli.commands_events": ("events",),
    "lambdaver.cli.commands_sync": ("push", "pull"),
    "lambdaver.cli.commands_queue": ("queue",),
    "lambdaver.cli.commands_triggers": (
        "create-event-source-mapping", "get-event-source-mapping",
        "update-event-source-mapping", "delete-event-source-mapping",
        "list-event-source-mappings", "triggers",
    ),
}  # fmt: skip


@click.group(
    cls=VerbGroup,
    lazy=VERB_MODULES,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="\b\nStart here:\n  lambdaver init && lambdaver publish && lambdaver versions list\n\n"
    "\b\n" + exit_statuses({EXIT_FUNCTION_ERROR: "invoke: the function failed"}),
)
@click.version_option(__version__, "--version", prog_name="lambdaver")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """AWS Lambda's versioning model on your own disk: $LATEST, immutable numbered
    versions, aliases with weighted routing, invoke by qualifier, rollback."""
    if not isinstance(ctx.obj, App):
        ctx.obj = App()


def error_line(exc: LambdaverError, operation: str | None) -> str:
    op = operation or "Lambdaver"
    return f"An error occurred ({exc.code}) when calling the {op} operation: {exc.message}"


# A failing, full, read-only or forbidden disk: a problem of the repository (exit 253).
_REPOSITORY_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM,
                                errno.EDQUOT, errno.EIO})  # fmt: skip


def handle_error(exc: BaseException, app: App) -> int:
    """The one place that turns an exception into a message on stderr and an exit status
    (``app``: the run's state, for ``--debug`` and the operation's name)."""
    if not isinstance(exc, (LambdaverError, click.ClickException, click.exceptions.Exit)):
        from lambdaver.service.storage_errors import translate

        exc = translate(exc)  # storage's own errors, as the service reports them
    if isinstance(exc, LambdaverError):
        if app.debug:
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
        line = exc.message if getattr(exc, "plain", False) else error_line(exc, app.operation)
        click.echo(line, err=True)
        return exc.exit_status
    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code
    if isinstance(exc, click.ClickException):
        exc.show()
        return EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code
    if isinstance(exc, (KeyboardInterrupt, click.exceptions.Abort)):
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        return 0
    if isinstance(exc, OSError) and exc.errno in _REPOSITORY_ERRNOS:
        io = RepositoryIOError(f"{exc.strerror}: {exc.filename or ''}".rstrip(": "))
        click.echo(error_line(io, app.operation), err=True)
        return EXIT_REPOSITORY
    if app.debug:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    else:
        click.echo(
            f"lambdaver: internal error: {type(exc).__name__}: {exc} "
            "(run again with --debug for a traceback, and please report it)",
            err=True,
        )
    return EXIT_BUG


def _save_derived(repo: Any, debug: bool) -> None:
    """Derived data is a cache: failing to write it must not fail a command that has
    already done its work and printed its result (``--debug`` shows why it failed)."""
    try:
        repo.save_derived()
    except Exception:  # noqa: BLE001 - best effort by design
        if debug:
            import traceback

            traceback.print_exc(file=sys.stderr)


def main(argv: list[str] | None = None) -> NoReturn:
    # --debug counts from the start, even for an error raised before its option is parsed
    app = App(debug="--debug" in (argv if argv is not None else sys.argv[1:]))
    try:
        rv = cli.main(args=argv, prog_name="lambdaver", standalone_mode=False, obj=app)
        code = rv if isinstance(rv, int) else 0
        if code in (0, EXIT_FUNCTION_ERROR) and app.found is not None:
            _save_derived(app.found, app.debug)  # a failed command leaves the repository as it was
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            raise
        code = handle_error(exc, app)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.exit(code)
