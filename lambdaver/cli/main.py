"""The ``lambdaver`` command group and the single error boundary."""

from __future__ import annotations

import errno
import sys
from typing import Any, NoReturn

import click

from lambdaver import __version__
from lambdaver.cli.app import CURRENT, App, global_options
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
# that this table and the modules agree.
VERB_MODULES: dict[str, tuple[str, ...]] = {
    "lambdaver.cli.commands_functions": (
        "init", "config", "status", "publish", "versions", "publish-version",
        "list-versions-by-function", "get-function-configuration", "get-function",
        "update-function-configuration", "delete-function",
    ),
    "lambdaver.cli.commands_invoke": ("invoke", "logs", "metrics"),
    "lambdaver.cli.commands_lifecycle": ("gc", "recover", "fsck", "completion"),
    "lambdaver.cli.commands_code": ("diff", "checkout", "export", "import", "update-function-code"),
    "lambdaver.cli.commands_aliases": (
        "alias", "rollback", "promote", "create-alias", "update-alias", "get-alias",
        "list-aliases", "delete-alias",
    ),
}  # fmt: skip


class RootGroup(click.Group):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: set[str] = set()
        self.params.extend(global_options(include_function_name=False))

    def load(self, module: str) -> None:
        if module not in self._loaded:
            import importlib

            self._loaded.add(module)
            importlib.import_module(module).register(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for module, verbs in VERB_MODULES.items():
            if cmd_name in verbs:
                self.load(module)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in VERB_MODULES:
            self.load(module)
        return super().list_commands(ctx)


@click.group(
    cls=RootGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="\b\nStart here:\n  lambdaver init && lambdaver publish && lambdaver versions list\n\n"
    "\b\nExit statuses: 0 success; 1 invoke: the function failed; 2 usage error;\n"
    "253 repository problem; 254 refused; 130 interrupted; 255 internal error.",
)
@click.version_option(__version__, "--version", prog_name="lambdaver")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """AWS Lambda's versioning model on your own disk: $LATEST, immutable numbered
    versions, aliases with weighted routing, invoke by qualifier, rollback."""
    if not isinstance(ctx.obj, App):
        ctx.obj = App()


def error_line(exc: LambdaverError) -> str:
    op = CURRENT["operation"] or "Lambdaver"
    return f"An error occurred ({exc.code}) when calling the {op} operation: {exc.message}"


# A failing, full, read-only or forbidden disk: a problem of the repository (exit 253).
_REPOSITORY_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM,
                                errno.EDQUOT, errno.EIO})  # fmt: skip


def handle_error(exc: BaseException) -> int:
    """The one place that turns an exception into a message on stderr and an exit status."""
    if not isinstance(exc, (LambdaverError, click.ClickException, click.exceptions.Exit)):
        from lambdaver.service.storage_errors import translate

        exc = translate(exc)  # storage's own errors, as the service reports them
    if isinstance(exc, LambdaverError):
        if CURRENT["debug"]:
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
        click.echo(error_line(exc), err=True)
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
        click.echo(error_line(io), err=True)
        return EXIT_REPOSITORY
    if CURRENT["debug"]:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    else:
        click.echo(
            f"lambdaver: internal error: {type(exc).__name__}: {exc} "
            "(run again with --debug for a traceback, and please report it)",
            err=True,
        )
    return EXIT_BUG


def _save_derived(repo: Any) -> None:
    """Derived data is a cache: failing to write it must not fail a command that has
    already done its work and printed its result (``--debug`` shows why it failed)."""
    try:
        repo.save_derived()
    except Exception:  # noqa: BLE001 - best effort by design
        if CURRENT["debug"]:
            import traceback

            traceback.print_exc(file=sys.stderr)


def main(argv: list[str] | None = None) -> NoReturn:
    CURRENT["operation"] = None
    CURRENT["debug"] = "--debug" in (argv if argv is not None else sys.argv[1:])
    CURRENT["repo"] = None
    try:
        rv = cli.main(args=argv, prog_name="lambdaver", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
        if code in (0, EXIT_FUNCTION_ERROR) and CURRENT["repo"] is not None:
            _save_derived(CURRENT["repo"])  # a failed command leaves the repository as it was
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            raise
        code = handle_error(exc)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.exit(code)
