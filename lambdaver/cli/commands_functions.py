"""Verbs for the function and its versions: init, config, status, publish, versions,
and their aws spellings."""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from lambdaver import __version__
from lambdaver.cli import options as opt
from lambdaver.cli.app import Verb, VerbGroup, aws_spelling, commands, get_app
from lambdaver.cli.options import complete_qualifiers, complete_versions, epilog
from lambdaver.service import functions as svc

if TYPE_CHECKING:
    from pathlib import Path


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


# --- init ------------------------------------------------------------------------------


@click.command(
    cls=Verb,
    operation="CreateFunction",
    epilog=epilog("lambdaver init", "lambdaver init hello --runtime python3.12 --timeout 10"),
)
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--name", help="Function name (default: the directory's name).")
@opt.configuration(init=True)
def init(directory: str | None, name: str | None, **configuration: Any) -> None:
    """Create the repository and lambdaver.toml in DIRECTORY (default: .).

    An existing lambdaver.toml is adopted; a directory without Python code gets a
    starter app.py.  The handler is found in the code (lambda_function.lambda_handler,
    or the one module defining handler); a .lambdaverignore is written unless one
    exists."""
    app = get_app()
    target = os.path.join(app.cwd, directory or "")  # an absolute DIRECTORY wins
    name = name or (_name_from_function_name(app.function_name) if app.function_name else None)
    repo, result = svc.init_function(target, app.settings, name=name, **configuration)
    app.adopt(repo)
    app.emit(result)
    _warn_handler(repo)


def note_skipped(skipped: list[str]) -> None:
    """One line on stderr naming the zip entries an import left out (ignored ones)."""
    if skipped:
        names = ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "")
        click.echo(
            f"lambdaver: left out {len(skipped)} zip entries that $LATEST ignores: {names}",
            err=True,
        )


def _warn_handler(repo: Any, result: Any = None) -> None:
    """Say so (one line, on stderr) when the handler cannot be found in the code of the
    version ``result`` (a FunctionConfiguration; None: $LATEST)."""
    from lambdaver.service.handlers import handler_warning

    if isinstance(result, dict):
        version = result.get("Version")
    else:  # a FunctionConfiguration record
        version = getattr(result, "version", None)
    warning = handler_warning(repo, version)
    if warning is not None:
        click.echo(warning, err=True)


def _name_from_function_name(value: str) -> str:
    """The bare name in a name or ARN given to ``init --function-name``."""
    parts = value.split(":")
    if value.startswith("arn:") and len(parts) >= 7:
        return parts[6]
    if len(parts) >= 3 and parts[1] == "function":
        return parts[2]
    return parts[0]


# --- config ----------------------------------------------------------------------------


@click.group(cls=VerbGroup)
def config() -> None:
    """Show or change the function's configuration."""


@config.command(
    "show",
    operation="GetFunctionConfiguration",
    epilog=epilog("lambdaver config show", "lambdaver config show --qualifier prod"),
)
@opt.qualifier()
def config_show(qualifier: str | None) -> None:
    """Configuration of $LATEST, a version, or an alias's version."""
    app = get_app()
    app.emit(svc.get_configuration(app.repo(), app.qualifier(qualifier)))


@config.command(
    "set",
    operation="UpdateFunctionConfiguration",
    epilog=epilog(
        "lambdaver config set --memory-size 256 --env STAGE=dev --timeout 10",
        "lambdaver config set --unset-env STAGE",
    ),
)
@opt.configuration()
@opt.revision_id()
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


@click.command(
    "update-function-configuration",
    cls=Verb,
    epilog=epilog(
        "lambdaver update-function-configuration --timeout 10 --environment 'Variables={STAGE=dev}'"
    ),
)
@opt.configuration()
@opt.revision_id()
@click.option("--environment", help="Variables={K=V,...} or JSON; replaces all variables.")
def update_function_configuration(environment: str | None, **kw: Any) -> None:
    """Change $LATEST's configuration (aws spelling)."""
    from lambdaver.cli.values import parse_environment

    app = get_app()
    repo = app.unqualified_repo()
    env = parse_environment(environment) if environment is not None else None
    app.emit(svc.update_configuration(repo, environment=env, **kw))


# --- status, publish -------------------------------------------------------------------


@click.command(
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


@click.command(
    cls=Verb,
    operation="PublishVersion",
    epilog=epilog(
        'lambdaver publish --description "first"',
        "lambdaver publish --query Version --output text",
    ),
)
@opt.description("The version's description (default: $LATEST's).")
@click.option("--code-sha256", help="Only if $LATEST's CodeSha256 is this.")
@opt.revision_id()
def publish(**given: Any) -> None:
    """Freeze $LATEST (code and configuration) as version N+1.

    Unchanged since the newest version: that version is returned, nothing is written.
    Warns on stderr when the handler cannot be found in the code."""
    app = get_app()
    repo = app.unqualified_repo()
    progress, close = _progress_reporter()
    try:
        from lambdaver.cli.listing import item_view

        result = svc.publish(repo, progress=progress, view=item_view, **given)
    finally:
        close()
    app.emit(result)
    _warn_handler(repo, result)


# --- versions --------------------------------------------------------------------------


@click.group(cls=VerbGroup, lazy={"lambdaver.cli.commands_lifecycle": ("prune",)})
def versions() -> None:
    """List, show and delete published versions."""


@versions.command(
    "list",
    operation="ListVersionsByFunction",
    list_key="Versions",
    epilog=epilog(
        "lambdaver versions list", "lambdaver versions list --query 'Versions[].Version'"
    ),
)
def versions_list() -> None:
    """All versions, $LATEST first, with the aliases that point at each."""
    app = get_app()
    repo = app.repo()
    app.qualifier(None)
    if app.query is None and not app.paged and app.output_format() == "json":
        # the same JSON, from cached renderings, written as the bytes they are kept as
        click.echo(versions_json(repo) + b"\n", nl=False)
        return
    app.emit(svc.list_versions(repo))


#: The format of the listing's derived data, with lambdaver's version: the renderings
#: (cli/listing.py) may change with it.
LISTING_FORMAT = (2, __version__)


def versions_json(repo: Any) -> bytes:
    """Exactly ``json.dumps(list_versions(repo).to_aws(), indent=4, ensure_ascii=False)``,
    encoded in UTF-8, fast: the published versions' part is kept encoded, ready to write,
    with the metadata's change key, and $LATEST's entry with everything it is made of; the
    renderings (cli/listing.py) are imported only when one of them must be made again."""
    state = repo.scan_latest()
    arn_base = repo.arns.function()  # names, regions and accounts are validated
    change_key = svc.change_key(repo)

    def published() -> Any:
        from lambdaver.cli import listing

        return listing.published(repo, arn_base)

    counter, aliases, text = repo.derived_value(
        svc.VERSIONS_LISTING,
        LISTING_FORMAT,
        None if change_key is None else (change_key, arn_base),
        (int, list, bytes),
        published,
    )
    fn = repo.function
    inputs = (arn_base, fn.name, fn.config.to_record(), state.tree, state.code_size,
              state.last_modified_ns, counter, aliases)  # fmt: skip

    def latest() -> Any:
        from lambdaver.cli import listing

        return (inputs,), (listing.latest(repo, state, counter, aliases),)

    (entry,) = repo.derived_value(svc.LATEST_LISTING, LISTING_FORMAT, (inputs,), (str,), latest)
    parts = [b'{\n    "Versions": [\n        ', entry.encode()]
    if text:
        parts += [b",\n        ", text]
    parts.append(b"\n    ]\n}")
    return b"".join(parts)


@versions.command(
    "show",
    operation="GetFunction",
    epilog=epilog("lambdaver versions show 1", "lambdaver versions show prod --output json"),
)
@click.argument("qualifier", shell_complete=complete_qualifiers)
def versions_show(qualifier: str) -> None:
    """One version's configuration, aliases and file listing (Q: $LATEST, N or alias)."""
    _show(qualifier)


def _show(qualifier: str | None) -> None:
    app = get_app()
    app.emit(svc.show_version(app.repo(), app.qualifier(qualifier) or "$LATEST"))


@click.command(
    "get-function",
    cls=Verb,
    epilog=epilog(
        "lambdaver get-function --qualifier 2",
        "lambdaver get-function --function-name hello --query Code.Location --output text",
        "lambdaver get-function --query Configuration.CodeSha256 --output text",
    ),
)
@opt.qualifier()
def get_function(qualifier: str | None) -> None:
    """The configuration of $LATEST, a version or an alias's version, and where its
    deployment package is: {"Configuration": ..., "Code": {"RepositoryType": "S3",
    "Location": "file://..."}}.

    The package is the zip `lambdaver export` writes, kept under .lambdaver/cache/zip/
    and reused while the code is the same."""
    from lambdaver.service import code

    app = get_app()
    app.emit(code.get_function(app.repo(), app.qualifier(qualifier)))


@click.command(
    "list-functions",
    cls=Verb,
    list_key="Functions",
    epilog=epilog(
        "lambdaver list-functions --query 'Functions[].FunctionName'",
        "lambdaver list-functions --function-version ALL",
    ),
)
@click.option(
    "--function-version", metavar="ALL", help="ALL: every published version too, not only $LATEST."
)
def list_functions(function_version: str | None) -> None:
    """The functions under this directory (the function around it, inside one), each
    as its $LATEST configuration; with --function-version ALL, its $LATEST and every
    published version.  Function directories are found up to four levels down, not
    in hidden directories, node_modules, venv or __pycache__."""
    from lambdaver.service import project

    if function_version is not None and function_version != "ALL":
        from lambdaver.errors import ValidationException

        raise ValidationException.constraint(
            function_version, "functionVersion", "Member must satisfy enum value set: [ALL]"
        )
    app = get_app()
    app.emit(project.list_functions(app.cwd, app.settings, all_versions=function_version == "ALL"))


ZIP_FILE_ERROR = (  # the aws CLI's words, on one line (as every error message is)
    "--zip-file must be a zip file with the fileb:// prefix. "
    "Example usage:  --zip-file fileb://path/to/file.zip"
)


def zip_file_path(zip_file: str) -> Path:
    """The file an aws ``--zip-file fileb://PATH`` names, refused as the aws CLI refuses
    another prefix or a missing file (create-function, update-function-code)."""
    from pathlib import Path

    from lambdaver.errors import InvalidParameterValueException

    if not zip_file.startswith("fileb://"):
        raise InvalidParameterValueException(ZIP_FILE_ERROR)
    path = Path(zip_file[len("fileb://") :]).expanduser()
    if not path.is_file():
        raise InvalidParameterValueException(
            f"Error parsing parameter '--zip-file': Unable to load paramfile {zip_file}: "
            "No such file or directory"
        )
    return path


ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"


@click.command(
    "create-function",
    cls=Verb,
    epilog=epilog(
        "lambdaver create-function --function-name hello --runtime python3.12 \\\n"
        "      --handler app.handler --zip-file fileb://hello.zip",
        "lambdaver create-function --function-name hello --runtime python3.12 \\\n"
        "      --handler app.handler --zip-file fileb://hello.zip --publish \\\n"
        "      --environment 'Variables={STAGE=dev}'",
    ),
)
@opt.configuration()
@click.option("--zip-file", required=True, metavar="fileb://PATH", help="The code, a zip.")
@click.option("--role", metavar="ARN", help="Accepted for aws compatibility (checked, not kept).")
@click.option("--environment", help="Variables={K=V,...} or JSON.")
@click.option("--publish/--no-publish", default=False, help="Also publish version 1.")
def create_function(
    zip_file: str, role: str | None, environment: str | None, publish: bool, **kw: Any
) -> None:
    """Make the function directory NAME/ here (--function-name NAME) from a zip: its
    code, lambdaver.toml and repository (aws's create-function; `lambdaver init` makes
    one from a directory).  Prints the new function's configuration.

    Refused when NAME/ exists and is not empty, when a function under this directory is
    already named NAME, or from inside a function directory; a refused create leaves
    nothing behind."""
    import re

    from lambdaver.cli.listing import item_view
    from lambdaver.cli.values import parse_environment
    from lambdaver.errors import ValidationException
    from lambdaver.model.names import parse_function_name
    from lambdaver.service import project

    app = get_app()
    if app.function_name is None:
        raise click.UsageError("Missing option '--function-name'.")
    settings = app.settings
    name = project.bare_name(app.function_name) or app.function_name
    parse_function_name(  # the form, region and account of an ARN
        app.function_name, region=settings.region, account=settings.account_id, expected=name
    )
    if role is not None and not re.fullmatch(ROLE_PATTERN, role):
        raise ValidationException.constraint(
            role, "role", f"Member must satisfy regular expression pattern: {ROLE_PATTERN}"
        )
    env = parse_environment(environment) if environment is not None else None
    repo, result = project.create_function(
        app.cwd,
        settings,
        name,
        zip_file_path(zip_file),
        environment=env,
        publish=publish,
        view=item_view,
        **kw,
    )
    app.adopt(repo)
    note_skipped(result.skipped)
    app.emit(result.configuration)


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


@click.command(
    "delete-function",
    cls=Verb,
    epilog=epilog(
        "lambdaver delete-function --qualifier 3",
        "lambdaver delete-function --function-name hello",
    ),
)
@opt.qualifier("The version number to delete.", complete_versions)
def delete_function(qualifier: str | None) -> None:
    """With --qualifier N: delete version N (as `versions delete N`).  Without: delete
    the function, that is its repository (every version, alias and log) and its
    lambdaver.toml; its code files and .lambdaverignore stay.  Prints nothing."""
    app = get_app()
    q = app.qualifier(qualifier)
    if q is None:
        svc.delete_function(app.repo())
        return
    svc.delete_version(app.repo(), q)


COMMANDS = commands(
    init,
    config,
    aws_spelling(config_show, "get-function-configuration"),
    update_function_configuration,
    status,
    publish,
    aws_spelling(publish, "publish-version"),
    versions,
    aws_spelling(versions_list, "list-versions-by-function"),
    get_function,
    list_functions,
    create_function,
    delete_function,
)
