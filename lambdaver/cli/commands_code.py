"""Code in and out: diff, checkout, export, import and the aws spelling
update-function-code."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lambdaver.cli import options as opt
from lambdaver.cli.app import Verb, commands, get_app
from lambdaver.cli.options import epilog
from lambdaver.errors import EXIT_FUNCTION_ERROR, EXIT_OK

DIFF_STATUSES = opt.exit_statuses(
    {EXIT_OK: "success, equal or not", EXIT_FUNCTION_ERROR: "different (with --exit-code)"}
)


# --- diff ------------------------------------------------------------------------------


@click.command(
    cls=Verb,
    operation="DiffVersions",
    epilog=epilog(
        "lambdaver diff 3                 # version 3 -> $LATEST",
        "lambdaver diff 2 prod --patch    # version 2 -> what prod points to",
        "lambdaver diff prod --query Equal --output text",
        "lambdaver diff prod 3 --exit-code --query Equal  # exit 1 when they differ",
        statuses=DIFF_STATUSES,
    ),
)
@click.argument("a")
@click.argument("b", required=False)
@click.option(
    "--patch", is_flag=True, help="Also show unified diffs of the text files and configuration."
)
@click.option("--exit-code", is_flag=True, help="Exit 1 when the sides differ (as git's).")
def diff(a: str, b: str | None, patch: bool, exit_code: bool) -> None:
    """What differs from A to B (default B: $LATEST): files added, modified and
    deleted, and configuration fields changed.  A and B: $LATEST, N or an alias.

    An alias is compared as its primary version; when it also sends a share of its
    invocations to another version, Routing shows the weights, and the sides are Equal
    only if they route alike too.  With --patch and text or table output, the patch
    itself is printed (git's format, configuration as a pseudo-file at the end); with
    json it is the Patch field."""
    from lambdaver.service import code as svc

    app = get_app()
    result = svc.diff(app.repo(), app.qualifier(a) or a, b, patch=patch)
    if patch and app.query is None and app.output_format() != "json":
        click.echo(result.patch, nl=False)
    else:
        app.emit(result)
    if exit_code and not result.equal:
        raise click.exceptions.Exit(EXIT_FUNCTION_ERROR)


# --- checkout --------------------------------------------------------------------------


@click.command(
    cls=Verb,
    operation="Checkout",
    epilog=epilog(
        "lambdaver checkout 2             # $LATEST := version 2",
        "lambdaver checkout prod --force  # discard unpublished changes",
    ),
)
@click.argument("qualifier")
@click.option("--force", is_flag=True, help="Discard unpublished changes in $LATEST.")
def checkout(qualifier: str, force: bool) -> None:
    """Make $LATEST (code and lambdaver.toml's configuration) equal to what Q names
    ($LATEST, N or an alias); prints $LATEST's configuration.

    Refused when $LATEST holds changes that no version holds, unless --force.
    Ignored files are never touched; the function's name is kept."""
    from lambdaver.service import code as svc

    app = get_app()
    repo = app.repo()
    q = app.qualifier(qualifier) if app.function_name is not None else qualifier
    app.emit(svc.checkout(repo, q or qualifier, force=force))


# --- export ----------------------------------------------------------------------------


@click.command(
    cls=Verb,
    operation="ExportFunction",
    epilog=epilog(
        "lambdaver export 3 -o fn.zip",
        "lambdaver export prod -o - > fn.zip",
        "aws lambda update-function-code --function-name hello --zip-file fileb://fn.zip",
    ),
)
@click.argument("qualifier", required=False)
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    metavar="FILE",
    help="The zip to write (- for standard output).",
)
def export(qualifier: str | None, out: str) -> None:
    """Write Q's code (default $LATEST) as a deployment package that `aws lambda
    update-function-code --zip-file fileb://FILE` accepts.

    The same version always gives the same bytes.  Prints ZipFile, CodeSha256 (the
    zip's sha256 in base64, as AWS reports it), CodeSize and Version; with -o - the
    zip goes to standard output and that result to standard error."""
    from lambdaver.service import code as svc

    app = get_app()
    repo = app.repo()
    q = app.qualifier(qualifier)
    if out == "-":
        import tempfile

        with tempfile.TemporaryFile() as f:
            result = svc.write_zip(repo, q, f).replace(zip_file="-")
            f.seek(0)
            while chunk := f.read(1 << 20):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        app.emit(result, stream=sys.stderr)
        return
    dest = Path(out)
    added = svc.leave_out(repo, dest)  # a zip in the function's directory is not code
    app.emit(svc.export(repo, q, dest))
    if added is not None:
        click.echo(f"lambdaver: note: added {added} to .lambdaverignore, so that the zip "
                   "written there never becomes part of the function's code", err=True)  # fmt: skip


# --- import, update-function-code ------------------------------------------------------


FORCE_HELP = "Replace $LATEST's code even when no version holds it (its edits are lost)."


def _run_import(source: Path | bytes, publish: bool, revision_id: str | None, force: bool) -> None:
    import io

    from lambdaver.cli.listing import item_view
    from lambdaver.service import code as svc

    app = get_app()
    repo = app.unqualified_repo()
    src = io.BytesIO(source) if isinstance(source, bytes) else source
    result = svc.import_zip(
        repo, src, publish=publish, revision_id=revision_id, view=item_view, force=force
    )
    from lambdaver.cli.commands_functions import note_skipped

    note_skipped(result.skipped)
    app.emit(result.configuration)
    if publish:
        from lambdaver.cli.commands_functions import _warn_handler

        _warn_handler(repo, result.configuration)


@click.command(
    "import",
    cls=Verb,
    operation="ImportFunction",
    epilog=epilog(
        "lambdaver import fn.zip",
        "lambdaver import fn.zip --publish --query Version --output text",
        "cat fn.zip | lambdaver import -",
        "lambdaver import fn.zip --force    # discard unpublished edits",
    ),
)
@click.argument("zipfile", metavar="ZIPFILE")
@click.option("--publish", is_flag=True, help="Also publish the result as a version.")
@opt.revision_id()
@click.option("--force", is_flag=True, help=FORCE_HELP)
def import_(zipfile: str, publish: bool, revision_id: str | None, force: bool) -> None:
    """Replace $LATEST's code with a zip's (- reads standard input).

    Refused when $LATEST's code holds edits that no version holds, unless --force.
    Every entry is checked first; a zip that is not a zip, escapes the directory,
    holds symlinks leading outside, is over 250 MB unzipped or looks like a zip bomb
    is refused and nothing changes.  Ignored files and lambdaver.toml are kept."""
    source = sys.stdin.buffer.read() if zipfile == "-" else Path(zipfile)
    _run_import(source, publish, revision_id, force)


@click.command(
    "update-function-code",
    cls=Verb,
    operation="UpdateFunctionCode",
    epilog=epilog(
        "lambdaver update-function-code --zip-file fileb://fn.zip",
        "lambdaver update-function-code --zip-file fileb://fn.zip --publish",
    ),
)
@click.option("--zip-file", required=True, metavar="fileb://PATH", help="The zip.")
@click.option("--publish/--no-publish", default=False, help="Also publish a version.")
@opt.revision_id()
@click.option("--force", is_flag=True, help=FORCE_HELP)
def update_function_code(
    zip_file: str, publish: bool, revision_id: str | None, force: bool
) -> None:
    """Replace $LATEST's code with a zip's (aws spelling of import); with --publish,
    publish it as a version in the same step, as AWS does.  Refused when $LATEST's code
    holds edits that no version holds, unless --force."""
    from lambdaver.cli.commands_functions import zip_file_path

    _run_import(zip_file_path(zip_file), publish, revision_id, force)


COMMANDS = commands(diff, checkout, export, import_, update_function_code)
