"""``lambdaver serve``: the Lambda REST API on this machine (contract §10)."""

from __future__ import annotations

import os

import click

from lambdaver.cli.app import Verb, commands, get_app
from lambdaver.cli.options import epilog


@click.command(
    cls=Verb,
    operation="Serve",
    epilog=epilog(
        "lambdaver serve",
        "lambdaver serve --port 0   # a free port, printed on stderr",
        "aws --endpoint-url http://127.0.0.1:9001 lambda list-aliases --function-name hello",
    ),
)
@click.argument("directory", required=False, type=click.Path(file_okay=False, exists=True))
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; anything but loopback lets others run your code.",
)
@click.option(
    "--port",
    default=9001,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: a free one).",
)
@click.option("--idle-timeout", default=300.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds an idle execution environment is kept.")  # fmt: skip
def serve(directory: str | None, host: str, port: int, idle_timeout: float) -> None:
    """Serve the Lambda REST API for every function under DIRECTORY (default: .), or for
    the function DIRECTORY is in, until Ctrl-C or SIGTERM.

    boto3, the aws CLI (--endpoint-url), SAM and Terraform then work on the repositories
    on disk, beside the CLI.  Invocations run in warm execution environments.  Prints
    "Listening on http://HOST:PORT" on stderr once it accepts requests; docs/serve.md."""
    from lambdaver.server.run import BindError
    from lambdaver.server.run import serve as run

    app = get_app()
    root = os.path.join(app.cwd, directory or "")
    try:
        status = run(root, app.settings, host=host, port=port, idle_timeout=idle_timeout)
    except BindError as exc:
        raise click.ClickException(str(exc)) from exc
    raise SystemExit(status)


COMMANDS = commands(serve)
