"""Event source mappings (``create-``, ``get-``, ``update-``, ``delete-`` and
``list-event-source-mappings``, as the aws CLI spells them) and ``triggers poll`` /
``triggers list``.  Parsing and rendering only; the rules live in
``lambdaver.service.esm`` and ``lambdaver.service.triggers``.

Scope: inside a function, its own mappings; from a project's root, those of every
function under it (a mapping lives in the repository of the function it invokes)."""

from __future__ import annotations

import json
from typing import Any

import click

from lambdaver.cli.app import Verb, VerbGroup, commands, get_app
from lambdaver.cli.options import aws_int, epilog

ESM_EXAMPLE = (
    "lambdaver create-event-source-mapping --function-name orders:prod "
    "--event-source-arn arn:aws:sqs:us-east-1:000000000000:orders --batch-size 5"
)


def _int(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    return None if value is None else aws_int(param, value)


def _response_types(values: tuple[str, ...]) -> list[str] | None:
    """``--function-response-types``: names, or a JSON list (from --cli-input-json)."""
    if not values:
        return None
    out: list[str] = []
    for v in values:
        if v.strip().startswith("["):
            try:
                parsed = json.loads(v)
            except ValueError:
                parsed = [v]
            out += [str(x) for x in parsed] if isinstance(parsed, list) else [str(parsed)]
        else:
            out += v.split()
    return out


def scope(app: Any) -> tuple[list[Any], str | None]:
    """The repositories this command looks in, and the project's root (None inside a
    function)."""
    from lambdaver.service.repository import Repository, find_root

    if find_root(app.cwd) is not None:
        return [app.repo()], None
    from lambdaver.service.project import function_dirs

    dirs = function_dirs(app.cwd)
    if not dirs:
        app.repo()  # RepositoryNotFound, with how to make one
    repos = []
    for d in dirs:
        repo = Repository(d, app.settings)
        repo.check_format()
        repos.append(repo)
    return repos, app.cwd


def _function(app: Any) -> tuple[Any, str | None]:
    """The function --function-name names (or the one around) and its qualifier;
    CreateEventSourceMapping's ``Function does not exist`` when there is none."""
    from lambdaver.errors import ResourceNotFoundException
    from lambdaver.service.esm import function_does_not_exist

    try:
        repo = app.repo()
        return repo, app.qualifier(None)
    except ResourceNotFoundException as exc:
        raise function_does_not_exist() from exc


_batch = click.option("--batch-size", callback=_int, metavar="N",
                      help="Records per invocation (SQS: 1-10000, default 10; more than 10 "
                      "needs a batching window).")  # fmt: skip
_window = click.option("--maximum-batching-window-in-seconds", "window", callback=_int,
                       metavar="S", help="Seconds to gather a batch (0-300).")  # fmt: skip
_enabled = click.option("--enabled/--no-enabled", default=None,
                        help="Deliver (default) or keep the mapping idle.")  # fmt: skip
_types = click.option("--function-response-types", multiple=True, metavar="ReportBatchItemFailures",
                      help="ReportBatchItemFailures: the function names the failed messages "
                      "(batchItemFailures); the others are deleted.")  # fmt: skip


@click.command(
    "create-event-source-mapping",
    cls=Verb,
    epilog=epilog(
        ESM_EXAMPLE,
        "lambdaver create-event-source-mapping --function-name orders:prod --event-source-arn "
        "arn:aws:sqs:us-east-1:000000000000:orders --function-response-types "
        "ReportBatchItemFailures",
    ),
)
@click.option("--event-source-arn", metavar="ARN",
              help="The queue's ARN (arn:aws:sqs:REGION:ACCOUNT:NAME); Kinesis, DynamoDB "
              "Streams, Kafka, MQ and DocumentDB ARNs are kept but never fired.")  # fmt: skip
@_batch
@_window
@_enabled
@_types
@click.option("--starting-position", metavar="TRIM_HORIZON|LATEST|AT_TIMESTAMP",
              help="Streams only (required there; refused for SQS).")  # fmt: skip
def create_event_source_mapping(
    event_source_arn: str | None,
    batch_size: int | None,
    window: int | None,
    enabled: bool | None,
    function_response_types: tuple[str, ...],
    starting_position: str | None,
) -> None:
    """Invoke a function's qualifier (give an alias: F:ALIAS) with batches of a queue's
    messages.  Delivered by `lambdaver serve` continuously and by `lambdaver triggers
    poll` once; a promotion or rollback of the alias changes what runs, not the mapping."""
    from lambdaver.service import esm

    app = get_app()
    repo, qualifier = _function(app)
    _repos, project_root = scope(app) if app.function_name is not None else ([], None)
    app.emit(
        esm.create_mapping(
            repo,
            function_name=app.function_name or repo.name,
            qualifier=qualifier,
            event_source_arn=event_source_arn,
            batch_size=batch_size,
            window=window,
            enabled=enabled,
            response_types=_response_types(function_response_types),
            starting_position=starting_position,
            project_root=project_root,
        )
    )


_uuid = click.option("--uuid", "uuid", required=True, metavar="UUID",
                     help="The mapping's UUID.")  # fmt: skip


@click.command(
    "get-event-source-mapping",
    cls=Verb,
    epilog=epilog("lambdaver get-event-source-mapping --uuid 14e0db71-5d35-4eb5-b481-8945cf9d10c2"),
)
@_uuid
def get_event_source_mapping(uuid: str) -> None:
    """Show an event source mapping."""
    from lambdaver.service import esm

    app = get_app()
    app.emit(esm.get_mapping(scope(app)[0], uuid))


@click.command(
    "update-event-source-mapping",
    cls=Verb,
    epilog=epilog(
        "lambdaver update-event-source-mapping --uuid UUID --batch-size 1",
        "lambdaver update-event-source-mapping --uuid UUID --no-enabled",
    ),
)
@_uuid
@_batch
@_window
@_enabled
@_types
def update_event_source_mapping(
    uuid: str,
    batch_size: int | None,
    window: int | None,
    enabled: bool | None,
    function_response_types: tuple[str, ...],
) -> None:
    """Change a mapping: what is not given is kept.  --function-name may move it to
    another qualifier of the same function."""
    from lambdaver.service import esm

    app = get_app()
    repos, _root = scope(app) if app.function_name is None else ([app.repo()], None)
    qualifier = None
    if app.function_name is not None:
        _repo, qualifier = _function(app)
    app.emit(
        esm.update_mapping(
            repos,
            uuid,
            function_name=app.function_name,
            qualifier=qualifier,
            batch_size=batch_size,
            window=window,
            enabled=enabled,
            response_types=_response_types(function_response_types),
        )
    )


@click.command(
    "delete-event-source-mapping",
    cls=Verb,
    epilog=epilog("lambdaver delete-event-source-mapping --uuid UUID"),
)
@_uuid
def delete_event_source_mapping(uuid: str) -> None:
    """Delete a mapping (prints it with State Deleting, as AWS does)."""
    from lambdaver.service import esm

    app = get_app()
    app.emit(esm.delete_mapping(scope(app)[0], uuid))


@click.command(
    "list-event-source-mappings",
    cls=Verb,
    epilog=epilog(
        "lambdaver list-event-source-mappings",
        "lambdaver list-event-source-mappings --function-name orders:prod",
    ),
)
@click.option("--event-source-arn", metavar="ARN", help="Only the mappings of this source.")
def list_event_source_mappings(event_source_arn: str | None) -> None:
    """Event source mappings, oldest first (--function-name F: all of F's; F:ALIAS: those
    on that alias)."""
    from lambdaver.service import esm
    from lambdaver.service.repository import find_root

    app = get_app()
    repos = scope(app)[0] if find_root(app.cwd) is None else [app.repo()]
    app.emit(esm.list_mappings(repos, function_name=app.function_name,
                               event_source_arn=event_source_arn))  # fmt: skip


# --- triggers ----------------------------------------------------------------------------


@click.group(cls=VerbGroup)
def triggers() -> None:
    """Triggers bound to a function's aliases: list them, deliver what is pending.

    `lambdaver serve` delivers continuously; `triggers poll` delivers once, for scripts,
    CI and tests."""


@triggers.command(
    "poll",
    operation="PollTriggers",
    epilog=epilog("lambdaver triggers poll", "lambdaver -C project triggers poll --output json"),
)
def triggers_poll() -> None:
    """Deliver everything pending once, then exit: each enabled mapping's visible queue
    messages, batch by batch (a message invisible for its visibility timeout is not
    pending; one that fails now waits for the next poll).  Prints a summary: deliveries,
    messages, failures.  A function error is not a failure of this command (exit 0); see
    `lambdaver logs`, where each delivery names its trigger."""
    from lambdaver.service import triggers as svc

    app = get_app()
    repos, _root = scope(app)

    def warn(message: str) -> None:
        click.echo(f"lambdaver: warning: {message}", err=True)

    summary = svc.poll(repos, warn=warn)
    for problem in summary.problems:
        warn(problem)
    app.emit(summary)


@triggers.command(
    "list",
    operation="ListTriggers",
    epilog=epilog("lambdaver triggers list"),
)
def triggers_list() -> None:
    """Every trigger of the function (of every function, from a project's root): what
    fires it, and the alias (Qualifier) it invokes."""
    from lambdaver.service import triggers as svc

    app = get_app()
    app.emit(svc.list_triggers(scope(app)[0]))


COMMANDS = commands(
    create_event_source_mapping,
    get_event_source_mapping,
    update_event_source_mapping,
    delete_event_source_mapping,
    list_event_source_mappings,
    triggers,
)
