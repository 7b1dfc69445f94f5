"""``push`` and ``pull``: to and from AWS Lambda (contract §13, docs/sync.md).  Parsing
and rendering only; the work is ``lambdaver.service.sync``'s (which alone imports boto3)."""

from __future__ import annotations

import os
from typing import Any

import click

from lambdaver.cli.app import Verb, commands, get_app
from lambdaver.cli.options import epilog, exit_statuses
from lambdaver.errors import EXIT_REPOSITORY, EXIT_SERVICE

SYNC_STATUSES = exit_statuses(
    {
        EXIT_REPOSITORY: "no credentials or region, or a problem with the repository",
        EXIT_SERVICE: "refused (drift, a failed precondition, no boto3) or an AWS error",
    }
)


class SyncVerb(Verb):
    """A verb that talks to AWS: ``--profile`` names the AWS profile (boto3's); the
    user config file's ``[profiles.NAME]`` table of the same name, if there is one, also
    applies to local ARNs, and its absence is no error (docs/sync.md, "Credentials")."""

    def invoke(self, ctx: click.Context) -> Any:
        app = get_app(ctx)
        profile = app.profile
        if profile is not None:
            from lambdaver.service.settings import SettingsMemo

            if not any(p[0] == profile for p in SettingsMemo(None).load().profiles):
                app.profile = None  # an AWS profile only
        app.aws_profile = profile
        return super().invoke(ctx)


def _client() -> Any:
    from lambdaver.service import sync

    app = get_app()
    return sync.lambda_client(app.aws_profile, app.region, app.endpoint_url)


def _local_repo() -> Any:
    """The repository around the working directory: --function-name is the remote's."""
    app = get_app()
    remote, app.function_name = app.function_name, None
    try:
        return app.repo()
    finally:
        app.function_name = remote


def _progress() -> Any:
    if get_app().output_format() != "table":
        return None
    return lambda message: click.echo(message, err=True)


@click.command(
    cls=SyncVerb,
    operation="Push",
    epilog=epilog(
        "lambdaver push --dry-run",
        "lambdaver push --role arn:aws:iam::123456789012:role/lambda-exec",
        "lambdaver push --function-name my-fn-prod --aliases prod --profile prod",
        statuses=SYNC_STATUSES,
    ),
)
@click.option("--role", metavar="ARN", help="Execution role, to create the remote function.")
@click.option("--dry-run", is_flag=True, help="Print the plan; send nothing.")
@click.option(
    "--versions",
    type=click.Choice(["all", "new"]),
    default="all",
    show_default=True,
    help="all: every local version the remote lacks; new: only those newer than the "
    "newest one pushed.",
)
@click.option(
    "--aliases",
    metavar="all|NAME,...",
    default="all",
    show_default=True,
    help="Which local aliases to push.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite remote aliases and permission statements changed by someone else.",
)
def push(role: str | None, dry_run: bool, versions: str, aliases: str, force: bool) -> None:
    """Make the remote AWS Lambda function (--function-name, default: this function's
    name) hold this function's versions and aliases.

    Prints the plan first (what it creates, publishes, moves), then carries it out unless
    --dry-run: each local version the remote lacks is uploaded (the zip `export` makes)
    and published with CodeSha256 and RevisionId preconditions; aliases follow with their
    weights translated to the remote numbers, then the permissions, function URL configs
    and event source mappings of the function and of those aliases that the remote can
    hold (SQS mappings on local queues are skipped).  A remote alias changed by someone
    else since the last push, or a remote permission with a local one's id and other
    content, is refused unless --force.  Needs boto3: pip install 'lambdaver[aws]'."""
    from lambdaver.service import sync

    app = get_app()
    repo = _local_repo()
    remote_name = app.function_name or repo.name
    table = app.output_format() == "table"

    def show(plan: Any) -> None:
        if table:
            for line in plan.lines():
                click.echo(line)

    client = _client()
    plan = sync.push(
        repo, client, remote_name, role=role, dry_run=dry_run, versions=versions,
        aliases=aliases, force=force, show_plan=show, progress=_progress(),
    )  # fmt: skip
    if not table:
        app.emit(plan)
    elif dry_run:
        click.echo("(dry run: nothing was sent)", err=True)
    elif plan.changes:
        click.echo(f"done: {plan.function_arn}", err=True)


@click.command(
    cls=SyncVerb,
    operation="Pull",
    epilog=epilog(
        "lambdaver pull --function-name my-fn            # into ./my-fn",
        "lambdaver pull --function-name my-fn audit/     # into an empty directory",
        "cd my-fn && lambdaver pull --function-name my-fn  # what is new since",
        statuses=SYNC_STATUSES,
    ),
)
@click.argument("directory", required=False, type=click.Path(dir_okay=True, file_okay=False))
def pull(directory: str | None) -> None:
    """Bring the remote AWS Lambda function --function-name home: every version's code
    and configuration, published here in order (the local numbers may differ; the
    mapping is kept), $LATEST, and the aliases with their weights translated.

    Into DIRECTORY (which must be empty, missing, or a function of its own), else the
    function around the working directory, else a new directory named after the
    function.  A second pull fetches only what is new.  Needs boto3."""
    from lambdaver.service import sync
    from lambdaver.service.repository import find_root

    app = get_app()
    remote_name = app.function_name
    if not remote_name:
        raise click.UsageError("pull needs --function-name REMOTE (the remote function)")
    local_name = remote_name.split(":")[6] if remote_name.startswith("arn:") else remote_name
    if directory is None:
        directory = find_root(app.cwd) or os.path.join(app.cwd, local_name)
    directory = os.path.abspath(directory)
    client = _client()
    remote = sync.remote_for_pull(client, remote_name)
    first = remote.versions[min(remote.versions, key=int)] if remote.versions else remote.latest
    assert first is not None  # noqa: S101
    app.function_name = None
    settings = app.settings
    repo = sync.open_for_pull(directory, local_name, settings, first)
    from lambdaver.cli.state import complete_pending

    repo.on_lock(complete_pending)
    result = sync.pull(repo, client, remote, progress=_progress())
    if app.output_format() == "table":
        for line in result.lines():
            click.echo(line)
    else:
        app.emit(result)


COMMANDS = commands(push, pull)
