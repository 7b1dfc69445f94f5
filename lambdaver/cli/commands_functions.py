"""Verbs for the function and its versions: init, config, status, publish, versions,
and their aws spellings."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import click

from lambdaver.cli.app import Verb, VerbGroup, epilog, get_app
from lambdaver.cli.completion import complete_qualifiers as qualifiers
from lambdaver.cli.completion import complete_versions

MEMORY = click.IntRange(min=None)  # AWS's range is checked by the service, in AWS's words


def _progress_reporter() -> Any:
    """A rich progress bar on stderr, shown only on a terminal and only once a publish
    has run for half a second.  It refreshes from the publishing loop itself (at most ten
    times a second), so no thread is started."""
    if not sys.stderr.isatty():
        return None, lambda: None
    start = time.monotonic()
    state: dict[str, Any] = {"bar": None, "task": None, "done": 0, "shown": 0.0}

    def progress(n: int, total: int) -> None:
        state["done"] += n
        now = time.monotonic()
        if state["bar"] is None:
            if now - start < 0.5:
                return
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            bar = Progress(
                TextColumn("publishing"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=True,
                auto_refresh=False,
            )
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task("publish", total=total)
        state["bar"].update(state["task"], completed=state["done"], total=total)
        if now - state["shown"] >= 0.1:
            state["bar"].refresh()
            state["shown"] = now

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].stop()

    return progress, close


def register(cli: click.Group) -> None:
    from lambdaver.service import functions as svc

    # --- init ------------------------------------------------------------------------

    @cli.command(
        cls=Verb,
        operation="CreateFunction",
        epilog=epilog("lambdaver init", "lambdaver init hello --runtime python3.12 --timeout 10"),
    )
    @click.argument("directory", required=False, type=click.Path(file_okay=False))
    @click.option("--name", help="Function name (default: the directory's name).")
    @click.option("--runtime", help="Runtime, e.g. python3.12 (default: the running Python's).")
    @click.option("--handler", help="module.function (default: app.handler).")
    @click.option("--memory-size", type=int, help="MB, 128-10240 (default 128).")
    @click.option("--timeout", type=int, help="Seconds, 1-900 (default 3).")
    @click.option("--description", help="The function's description.")
    def init(
        directory: str | None,
        name: str | None,
        runtime: str | None,
        handler: str | None,
        memory_size: int | None,
        timeout: int | None,
        description: str | None,
    ) -> None:
        """Create the repository and lambdaver.toml in DIRECTORY (default: .).

        An existing lambdaver.toml is adopted; a directory without Python code gets a
        starter app.py."""
        app = get_app()
        target = os.path.join(app.cwd, directory or "")  # an absolute DIRECTORY wins
        name = name or (_name_from_function_name(app.function_name) if app.function_name else None)
        repo, result = svc.init_function(
            target,
            app.settings,
            name=name,
            runtime=runtime,
            handler=handler,
            memory_size=memory_size,
            timeout=timeout,
            description=description,
        )
        app.adopt(repo)
        app.emit(result)

    # --- config ------------------------------------------------------------------------

    @cli.group(cls=VerbGroup)
    def config() -> None:
        """Show or change the function's configuration."""

    @config.command(
        "show",
        operation="GetFunctionConfiguration",
        epilog=epilog("lambdaver config show", "lambdaver config show --qualifier prod"),
    )
    @click.option(
        "--qualifier", help="$LATEST, a version number or an alias.", shell_complete=qualifiers
    )
    def config_show(qualifier: str | None) -> None:
        """Configuration of $LATEST, a version, or an alias's version."""
        app = get_app()
        app.emit(svc.get_configuration(app.repo(), app.qualifier(qualifier)))

    cli.add_command(_clone(config_show, "get-function-configuration"), "get-function-configuration")

    def _set_options(f: Any) -> Any:
        for deco in reversed(
            [
                click.option("--handler", help="module.function"),
                click.option("--runtime", help="e.g. python3.12"),
                click.option("--memory-size", type=int, help="MB, 128-10240."),
                click.option("--timeout", type=int, help="Seconds, 1-900."),
                click.option("--description", help="The function's description."),
                click.option("--revision-id", help="Only if $LATEST's RevisionId is this."),
            ]
        ):
            f = deco(f)
        return f

    @config.command(
        "set",
        operation="UpdateFunctionConfiguration",
        epilog=epilog(
            "lambdaver config set --memory-size 256 --env STAGE=dev --timeout 10",
            "lambdaver config set --unset-env STAGE",
        ),
    )
    @_set_options
    @click.option("--env", "env", multiple=True, metavar="K=V", help="Set a variable (repeatable).")
    @click.option("--unset-env", multiple=True, metavar="K", help="Remove a variable (repeatable).")
    def config_set(env: tuple[str, ...], unset_env: tuple[str, ...], **kw: Any) -> None:
        """Change $LATEST's configuration (rewrites lambdaver.toml)."""
        from lambdaver.model.config import parse_env_assignment

        app = get_app()
        repo = app.repo()
        app.qualifier(None)
        set_env = dict(parse_env_assignment(e) for e in env) if env else None
        app.emit(svc.update_configuration(repo, set_env=set_env, unset_env=list(unset_env), **kw))

    @cli.command(
        "update-function-configuration",
        cls=Verb,
        epilog=epilog(
            "lambdaver update-function-configuration --timeout 10 "
            "--environment 'Variables={STAGE=dev}'"
        ),
    )
    @_set_options
    @click.option("--environment", help="Variables={K=V,...} or JSON; replaces all variables.")
    def update_function_configuration(environment: str | None, **kw: Any) -> None:
        """Change $LATEST's configuration (aws spelling)."""
        from lambdaver.cli.values import parse_environment

        app = get_app()
        repo = app.repo()
        if app.qualifier(None) is not None:
            from lambdaver.errors import InvalidParameterValueException

            raise InvalidParameterValueException("Cannot provide qualifier")
        env = parse_environment(environment) if environment is not None else None
        app.emit(svc.update_configuration(repo, environment=env, **kw))

    # --- status, publish -----------------------------------------------------------------

    @cli.command(
        cls=Verb,
        operation="Status",
        epilog=epilog("lambdaver status", "lambdaver status --query Changed --output text"),
    )
    def status() -> None:
        """What in $LATEST (files and configuration) differs from the newest version."""
        app = get_app()
        repo = app.repo()
        app.qualifier(None)
        app.emit(svc.status(repo))

    def _publish_options(f: Any) -> Any:
        for deco in reversed(
            [
                click.option(
                    "--description", help="The version's description (default: $LATEST's)."
                ),
                click.option("--code-sha256", help="Only if $LATEST's CodeSha256 is this."),
                click.option("--revision-id", help="Only if $LATEST's RevisionId is this."),
            ]
        ):
            f = deco(f)
        return f

    @cli.command(
        cls=Verb,
        operation="PublishVersion",
        epilog=epilog(
            'lambdaver publish --description "first"',
            "lambdaver publish --query Version --output text",
        ),
    )
    @_publish_options
    def publish(description: str | None, code_sha256: str | None, revision_id: str | None) -> None:
        """Freeze $LATEST (code and configuration) as version N+1.

        Unchanged since the newest version: that version is returned, nothing is written."""
        app = get_app()
        repo = app.repo()
        if app.qualifier(None) is not None:
            from lambdaver.errors import InvalidParameterValueException

            raise InvalidParameterValueException("Cannot provide qualifier")
        progress, close = _progress_reporter()
        try:
            result = svc.publish(
                repo,
                description=description,
                code_sha256=code_sha256,
                revision_id=revision_id,
                progress=progress,
            )
        finally:
            close()
        app.emit(result)

    cli.add_command(_clone(publish, "publish-version"), "publish-version")

    # --- versions ----------------------------------------------------------------------

    @cli.group(cls=VerbGroup)
    def versions() -> None:
        """List, show and delete published versions."""

    from lambdaver.cli.commands_lifecycle import add_prune

    add_prune(versions)

    @versions.command(
        "list",
        operation="ListVersionsByFunction",
        epilog=epilog(
            "lambdaver versions list", "lambdaver versions list --query 'Versions[].Version'"
        ),
    )
    def versions_list() -> None:
        """All versions, $LATEST first, with the aliases that point at each."""
        app = get_app()
        repo = app.repo()
        app.qualifier(None)
        if app.query is None and app.output_format() == "json":
            # the same JSON, from cached renderings, written as the bytes they are kept as
            click.echo(svc.list_versions_json(repo) + b"\n", nl=False)
            return
        app.emit(svc.list_versions(repo))

    cli.add_command(_clone(versions_list, "list-versions-by-function"), "list-versions-by-function")

    @versions.command(
        "show",
        operation="GetFunction",
        epilog=epilog("lambdaver versions show 1", "lambdaver versions show prod --output json"),
    )
    @click.argument("qualifier", shell_complete=qualifiers)
    def versions_show(qualifier: str) -> None:
        """One version's configuration, aliases and file listing (Q: $LATEST, N or alias)."""
        app = get_app()
        app.emit(svc.show_version(app.repo(), app.qualifier(qualifier) or "$LATEST"))

    @cli.command("get-function", cls=Verb, epilog=epilog("lambdaver get-function --qualifier 2"))
    @click.option(
        "--qualifier", help="$LATEST, a version number or an alias.", shell_complete=qualifiers
    )
    def get_function(qualifier: str | None) -> None:
        """A version's configuration, aliases and files (aws spelling of versions show)."""
        app = get_app()
        app.emit(svc.show_version(app.repo(), app.qualifier(qualifier) or "$LATEST"))

    @versions.command(
        "delete",
        operation="DeleteFunction",
        epilog=epilog("lambdaver versions delete 1"),
    )
    @click.argument("number", shell_complete=complete_versions)
    def versions_delete(number: str) -> None:
        """Delete one version (refused while an alias uses it).  Prints nothing."""
        app = get_app()
        svc.delete_version(app.repo(), app.qualifier(number) or "$LATEST")

    @cli.command(
        "delete-function",
        cls=Verb,
        epilog=epilog("lambdaver delete-function --qualifier 3"),
    )
    @click.option(
        "--qualifier", help="The version number to delete.", shell_complete=complete_versions
    )
    def delete_function(qualifier: str | None) -> None:
        """Delete one version (aws spelling).  Deleting the whole function is not offered:
        remove the .lambdaver directory for that."""
        app = get_app()
        q = app.qualifier(qualifier)
        if q is None:
            raise click.UsageError(
                "lambdaver deletes versions only: give --qualifier N "
                "(to delete the whole repository, remove its .lambdaver directory)"
            )
        svc.delete_version(app.repo(), q)


def _name_from_function_name(value: str) -> str:
    """The bare name in a name or ARN given to ``init --function-name``."""
    parts = value.split(":")
    if value.startswith("arn:") and len(parts) >= 7:
        return parts[6]
    if len(parts) >= 3 and parts[1] == "function":
        return parts[2]
    return parts[0]


def _clone(cmd: click.Command, name: str) -> click.Command:
    """The same verb under its aws spelling (same options, callback and help)."""
    assert isinstance(cmd, Verb)  # noqa: S101
    return Verb(
        name=name,
        operation=cmd.operation,
        callback=cmd.callback,
        params=[p for p in cmd.params if p.name not in _GLOBAL_NAMES],
        help=cmd.help,
        epilog=(cmd.epilog or "").replace("lambdaver ", "lambdaver ", 1),
        short_help=cmd.short_help,
    )


_GLOBAL_NAMES = {"chdir", "output", "query", "debug", "function_name"}
