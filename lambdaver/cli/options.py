"""What the commands declare, written once: the global options, the options several verbs
share, and the epilogue of every ``--help`` (examples, then the exit statuses, generated
from ``lambdaver.errors``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from lambdaver import errors

Decorator = Callable[[Any], Any]


def _completion(name: str) -> Any:
    """The ``shell_complete=`` callback ``name`` of ``cli/completion.py``, which is
    imported only when a shell asks for completions."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> Any:
        from lambdaver.cli import completion

        return getattr(completion, name)(ctx, param, incomplete)

    return complete


complete_versions = _completion("complete_versions")
complete_targets = _completion("complete_targets")
complete_aliases = _completion("complete_aliases")
complete_qualifiers = _completion("complete_qualifiers")


def compose(*decorators: Decorator) -> Decorator:
    """Several option decorators as one, in the order they would be stacked (and shown)."""

    def apply(f: Any) -> Any:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


# --- global options: accepted before or after the verb, stored into the App -------------


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Store a global option into the App on the root context, wherever it stands."""
    if value is None or value is False:
        return
    from lambdaver.cli.state import get_app

    setattr(get_app(ctx), str(param.name), value)


def _chdir(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``-C DIR``, like git's: every relative path is then DIR's."""
    if value is not None:
        try:
            os.chdir(value)
        except OSError as exc:
            raise click.BadParameter(f"'{value}' is not a directory ({exc.strerror})") from exc


def _query(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        import jmespath
        from jmespath.exceptions import JMESPathError

        try:
            jmespath.compile(value)
        except JMESPathError as exc:
            raise click.BadParameter(f"Bad value for --query {value}: {exc}", ctx, param) from exc
    _store(ctx, param, value)


# --- the aws CLI's own global options (docs/cli.md, "Coming from the aws CLI") ----------
#
# A malformed value is refused as the aws CLI's argument parser refuses it: its message,
# on one line, and exit 252 (errors.ParamValidationError).


def _refuse(param: click.Parameter, problem: str) -> errors.ParamValidationError:
    name = (param.opts or [str(param.name)])[0]
    return errors.ParamValidationError(f"lambdaver: error: argument {name}: {problem}")


def _aws_choice(*choices: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    """A value among ``choices``, refused in the aws CLI's words (on one line)."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None and value not in choices:
            raise _refuse(param, "Invalid choice, valid choices are: " + " | ".join(choices))
        _store(ctx, param, value)

    return check


def aws_int(param: click.Parameter, value: str) -> int:
    """An integer option of the aws CLI (argparse's ``type=int``)."""
    try:
        return int(value)
    except ValueError:
        raise _refuse(param, f"invalid int value: '{value}'") from None


def _aws_int(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        _store(ctx, param, aws_int(param, value))


def _region(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--region``: checked as the config file's ``region`` is."""
    if value is not None:
        import re

        from lambdaver.service.settings import REGION_PATTERN

        if not re.fullmatch(REGION_PATTERN, value):
            raise errors.ParamValidationError(
                f"Provided region_name '{value}' doesn't match a supported format."
            )
    _store(ctx, param, value)


def _endpoint(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--endpoint-url``: no request leaves this machine, but a URL without a scheme is
    refused as the aws CLI refuses it."""
    if value is not None and not value.startswith(("http://", "https://")):
        raise errors.ParamValidationError(
            f'Bad value for --endpoint-url "{value}": scheme is missing.  '
            "Must be of the form http://<hostname>/ or https://<hostname>/"
        )
    _store(ctx, param, value)


_GLOBAL_OPTIONS: tuple[tuple[list[str], dict[str, Any]], ...] = (
    (["-C", "chdir"], {"metavar": "DIR", "callback": _chdir,
                       "help": "Run as if lambdaver was started in DIR."}),
    (["--output"], {"type": click.Choice(["json", "table", "text"]),
                    "help": "Output format (default: table on a terminal, else json)."}),
    (["--query"], {"metavar": "EXPR", "callback": _query,
                   "help": "JMESPath expression applied to the result, as in the aws CLI."}),
    (["--debug"], {"is_flag": True, "help": "Show a traceback for errors."}),
    (["--region"], {"metavar": "REGION", "callback": _region,
                    "help": "The region in ARNs for this call (default: the profile's, "
                    "else the config file's)."}),
    (["--profile"], {"metavar": "NAME",
                     "help": "Use the [profiles.NAME] table of the user config file."}),
    (["--color"], {"metavar": "on|off|auto", "callback": _aws_choice("on", "off", "auto"),
                   "help": "Colour in tables (default: auto; NO_COLOR turns auto off)."}),
    (["--cli-binary-format"], {"metavar": "raw-in-base64-out|base64",
                               "callback": _aws_choice("raw-in-base64-out", "base64"),
                               "help": "base64: --payload is base64, as aws CLI v2's "
                               "default (default here: raw JSON)."}),
    (["--endpoint-url"], {"metavar": "URL", "callback": _endpoint, "hidden": True}),
    (["--ca-bundle"], {"metavar": "PATH", "hidden": True}),
    (["--cli-read-timeout"], {"metavar": "N", "callback": _aws_int, "hidden": True}),
    (["--cli-connect-timeout"], {"metavar": "N", "callback": _aws_int, "hidden": True}),
    (["--no-cli-pager"], {"is_flag": True, "hidden": True}),
    (["--no-verify-ssl"], {"is_flag": True, "hidden": True}),
    (["--no-paginate"], {"is_flag": True, "hidden": True}),
    (["--no-sign-request"], {"is_flag": True, "hidden": True}),
    (["--cli-auto-prompt"], {"is_flag": True, "hidden": True}),
    (["--no-cli-auto-prompt"], {"is_flag": True, "hidden": True}),
    (["--function-name"], {"metavar": "NAME|ARN", "help": "The function: a name, partial or "
                           "full ARN (default: this repository's)."}),
)  # fmt: skip

_MADE: list[click.Parameter] = []


def global_options(include_function_name: bool) -> list[click.Parameter]:
    """The global options, made once and shared by every command that takes them (they
    hold no state: values go to the App through their callbacks), so that defining a
    module's verbs does not build five options per verb.  Groups take all but
    ``--function-name``, which belongs to the verbs."""
    if not _MADE:
        for decls, attrs in _GLOBAL_OPTIONS:
            _MADE.append(click.Option(decls, expose_value=False, **{"callback": _store, **attrs}))
    return _MADE if include_function_name else _MADE[:-1]


# --- options of the aws verbs and of the list verbs, made once too --------------------


def _starting_token(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        from lambdaver.cli.paging import decode_token

        _store(ctx, param, decode_token(value))


def _positive(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        n = aws_int(param, value)
        if n < 1:
            raise _refuse(param, f"must be a positive integer, not {n}")
        _store(ctx, param, n)


_AWS_INPUT_OPTIONS: tuple[tuple[list[str], dict[str, Any]], ...] = (
    (["--cli-input-json"], {"metavar": "JSON|file://PATH",
                            "help": "The parameters as JSON, keyed by the API's names "
                            "(FunctionName, ...); options given on the command line win."}),
    (["--generate-cli-skeleton"], {"metavar": "input|output", "is_flag": False,
                                   "flag_value": "input",
                                   "help": "Print the JSON skeleton of the input (default) or "
                                   "of the output, and do nothing else."}),
)  # fmt: skip

_PAGING_OPTIONS: tuple[tuple[list[str], dict[str, Any]], ...] = (
    (["--max-items"], {"metavar": "N", "callback": _positive,
                       "help": "At most N items; a NextToken then says where to go on."}),
    (["--starting-token"], {"metavar": "TOKEN", "callback": _starting_token,
                            "help": "Go on from a NextToken printed before."}),
    (["--page-size"], {"metavar": "N", "callback": _positive,
                       "help": "Accepted for the aws CLI's sake: the result is the same."}),
)  # fmt: skip

_AWS_MADE: list[click.Parameter] = []
_PAGING_MADE: list[click.Parameter] = []


def _made(made: list[click.Parameter], declared: Any) -> list[click.Parameter]:
    if not made:
        for decls, attrs in declared:
            made.append(click.Option(decls, expose_value=False, **{"callback": _store, **attrs}))
    return made


def aws_input_options() -> list[click.Parameter]:
    """``--cli-input-json`` and ``--generate-cli-skeleton``, which every verb spelled as
    an aws operation takes (cli/awsinput.py reads them from the arguments)."""
    return _made(_AWS_MADE, _AWS_INPUT_OPTIONS)


def paging_options() -> list[click.Parameter]:
    """``--max-items``, ``--starting-token``, ``--page-size``: the list verbs'."""
    return _made(_PAGING_MADE, _PAGING_OPTIONS)


# --- options several verbs share ----------------------------------------------------------

QUALIFIER_HELP = "$LATEST, a version number or an alias."
LATEST_REVISION = "Only if $LATEST's RevisionId is this."
ALIAS_REVISION = "Only if the alias's RevisionId is this (optimistic concurrency)."
ROUTING_HELP = (
    'JSON {"AdditionalVersionWeights": {"2": 0.1}}, the aws shorthand '
    "AdditionalVersionWeights={2=0.1}, file://PATH or - (stdin); {} clears the weights."
)
WEIGHT_HELP = "VERSION=WEIGHT: send WEIGHT (0-1) of the traffic to VERSION (e.g. 2=0.1)."


# An option given with nothing after it (or followed by another option) gets this value, so
# that the check below can say what was probably meant rather than click's bare
# "requires an argument".
_NO_VALUE = "\0no value"


def _not_emptied(field: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A callback for an option naming a version: an unquoted ``--version $LATEST`` reaches
    us as ``--version`` alone (the shell replaced ``$LATEST`` with nothing), a
    double-quoted one as an empty value; both are refused with the fix (quote it)."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value not in (_NO_VALUE, ""):
            return value
        name = (param.opts or [str(param.name)])[0]
        wrote = f"{name} $LATEST" if value == _NO_VALUE else f'{name} "$LATEST"'
        hint = (
            f"if you wrote {wrote}, the shell replaced $LATEST with nothing: "
            f"quote it in single quotes, {name} '$LATEST'"
        )
        if value == _NO_VALUE:  # a usage error, as click's own "requires an argument"
            raise click.UsageError(f"Option '{name}' requires an argument ({hint}).", ctx)
        raise errors.ValidationException.constraint(
            "", field, f"Member must have length greater than or equal to 1 ({hint})"
        )

    return check


def _version_option(decl: str, field: str, **attrs: Any) -> Decorator:
    return click.option(
        decl, is_flag=False, flag_value=_NO_VALUE, callback=_not_emptied(field), **attrs
    )


def qualifier(help: str = QUALIFIER_HELP, complete: Any = complete_qualifiers) -> Decorator:
    """``--qualifier``: what version a verb reads, completed from the repository."""
    return _version_option("--qualifier", "qualifier", help=help, shell_complete=complete)


def revision_id(help: str = LATEST_REVISION) -> Decorator:
    """``--revision-id``: optimistic concurrency, as AWS has it."""
    return click.option("--revision-id", help=help)


def description(help: str) -> Decorator:
    return click.option("--description", help=help)


def dry_run(help: str) -> Decorator:
    return click.option("--dry-run", is_flag=True, help=help)


def alias_name() -> Decorator:
    """The aws spellings' ``--name`` of an alias."""
    return click.option("--name", required=True, help="The alias's name.")


def alias_version(help: str, *, required: bool = False) -> Decorator:
    """The alias verbs' ``--version``: $LATEST or a version number, completed."""
    return _version_option(
        "--version",
        "functionVersion",
        required=required,
        help=help,
        shell_complete=complete_targets,
    )


def function_version(help: str, *, required: bool = False) -> Decorator:
    """The aws spellings' ``--function-version``."""
    return _version_option("--function-version", "functionVersion", required=required, help=help)


def _weight(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    from lambdaver.cli.values import parse_weight

    try:
        return [parse_weight(v) for v in value]
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc


def routing(*, weight: bool = True) -> Decorator:
    """``--routing-config`` (the aws CLI's), and ``--weight V=W`` (its friendlier form)."""
    config = click.option("--routing-config", metavar="R", help=ROUTING_HELP)
    if not weight:
        return config
    return compose(
        config,
        click.option("--weight", multiple=True, metavar="V=W", callback=_weight, help=WEIGHT_HELP),
    )


def configuration(*, init: bool = False) -> Decorator:
    """The configuration of $LATEST that a verb sets: init says what each defaults to; the
    update verbs keep what is not given."""

    def option(decl: str, help: str, default: str, **attrs: Any) -> Decorator:
        return click.option(decl, help=f"{help} (default: {default})." if init else f"{help}.",
                            **attrs)  # fmt: skip

    return compose(
        option("--handler", "module.function", "app.handler"),
        option("--runtime", "e.g. python3.12", "the running Python's"),
        option("--memory-size", "MB, 128-10240", "128", type=int),
        option("--timeout", "Seconds, 1-900", "3", type=int),
        description("The function's description."),
    )


# --- the epilogue of every --help ----------------------------------------------------------

# What each exit status means, by errors.py's constants and by the family of errors
# (errors.py's base classes) that exits with it.  A verb may say more about some of them.
_MEANINGS: dict[int, str] = {
    errors.EXIT_OK: "success",
    errors.EXIT_USAGE: "usage error",
    errors.EXIT_AWS_USAGE: "bad value of an aws option",
    errors.RepositoryError.exit_status: "repository problem",
    errors.ServiceError.exit_status: "refused (the aws service's errors)",
    errors.EXIT_INTERRUPTED: "interrupted",
    errors.EXIT_BUG: "internal error",
}
_ORDER = (errors.EXIT_OK, errors.EXIT_FUNCTION_ERROR, errors.EXIT_USAGE, errors.EXIT_AWS_USAGE,
          errors.EXIT_REPOSITORY,
          errors.EXIT_SERVICE, errors.EXIT_INTERRUPTED, errors.EXIT_BUG)  # fmt: skip
_WIDTH = 76  # fits an 80-column terminal with click's indentation


def exit_statuses(meanings: dict[int, str] | None = None) -> str:
    """``Exit statuses: 0 success; ...; 255 internal error.``, wrapped between entries;
    ``meanings`` adds or rewords some (diff: 0 equal, 1 different)."""
    said = {**_MEANINGS, **(meanings or {})}
    entries = [f"{status} {said[status]}" for status in _ORDER if status in said]
    lines = ["Exit statuses:"]
    for i, entry in enumerate(entries):
        said_once = entry + ("." if i == len(entries) - 1 else ";")
        if len(lines[-1]) + 1 + len(said_once) > _WIDTH:
            lines.append(said_once)
        else:
            lines[-1] += " " + said_once
    return "\n".join(lines)


_DEFAULT_STATUSES = exit_statuses()


def epilog(*examples: str, statuses: str = _DEFAULT_STATUSES) -> str:
    """Examples, then the exit statuses, each a paragraph click does not rewrap."""
    return "\n".join(["\b", "Examples:", *(f"  {e}" for e in examples), "", "\b", statuses])
