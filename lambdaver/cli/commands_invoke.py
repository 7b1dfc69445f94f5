"""invoke, logs, metrics."""

from __future__ import annotations

import sys
from typing import Any

import click

from lambdaver.cli import options as opt
from lambdaver.cli.app import Verb, commands, get_app
from lambdaver.cli.options import epilog
from lambdaver.errors import EXIT_FUNCTION_ERROR, EXIT_OK, EXIT_SERVICE
from lambdaver.service import invoke as svc

INVOKE_STATUSES = opt.exit_statuses(
    {
        EXIT_OK: "the function succeeded",
        EXIT_FUNCTION_ERROR: "it returned a function error",
        EXIT_SERVICE: "not invoked (refused)",
    }
)


def _choice(decl: str, choices: list[str], help: str) -> opt.Decorator:
    """An option among ``choices``, the first being the default."""
    return click.option(
        decl, type=click.Choice(choices), default=choices[0], show_default=True, help=help
    )


@click.command(
    cls=Verb,
    operation="Invoke",
    epilog=epilog(
        'lambdaver invoke --qualifier prod --payload \'{"name": "Ada"}\' /tmp/out.json',
        "lambdaver invoke --payload file://event.json --log-type Tail",
        "echo '{}' | lambdaver invoke --qualifier 3 --payload - -",
        "lambdaver invoke --qualifier prod --repeat 100  # how prod's traffic splits",
        "lambdaver invoke --invocation-type Event --payload '{}' /tmp/out.json  # background",
        'lambdaver invoke --client-context $(echo -n \'{"custom": {"a": 1}}\' | base64) -',
        statuses=INVOKE_STATUSES,
    ),
)
@click.argument("outfile", required=False, metavar="[OUTFILE]")
@opt.qualifier("$LATEST, a version number or an alias (default: $LATEST).")
@click.option("--payload", help="JSON event: the JSON itself, file://PATH, or - for stdin.")
@_choice("--log-type", ["None", "Tail"], "Tail: include the last 4 KB of the log as LogResult.")
@_choice(
    "--invocation-type",
    ["RequestResponse", "Event", "DryRun"],
    "Event: queue it, run it in the background, answer at once (StatusCode 202; "
    "see `lambdaver logs`).  DryRun: resolve and check without running (StatusCode 204).",
)
@click.option(
    "--routing-key",
    metavar="KEY",
    help="Make a weighted alias's choice sticky: the same key, the same side.",
)
@click.option(
    "--client-context",
    metavar="BASE64",
    help="Base64 of a JSON object (at most 3583 bytes) the function gets as its context's "
    "client context (synchronous invocations only, as in AWS).",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    metavar="N",
    help="Invoke N times and print how many ran each version and how many failed.",
)
def invoke(
    outfile: str | None,
    qualifier: str | None,
    payload: str | None,
    client_context: str | None,
    repeat: int | None,
    **how: Any,
) -> None:
    """Run the handler of exactly the code and configuration Q names.

    The function's response goes to OUTFILE; without OUTFILE (or with -) it goes to
    standard output and StatusCode, ExecutedVersion, FunctionError and LogResult go to
    standard error, so `lambdaver invoke | jq` works.  An OUTFILE that would become part
    of $LATEST's code (inside the function's directory and not ignored) is refused.

    With --repeat N the responses are not printed: the result counts the invocations,
    the versions that ran them and the function errors (exit 1 if any).

    With --invocation-type Event the event is checked (qualifier, payload), queued and
    run by a background process that outlives the command; StatusCode 202 is printed at
    once (OUTFILE is written empty) and the result goes to `lambdaver logs`.  A failed
    event is retried twice, after LAMBDAVER_EVENT_RETRY_DELAY seconds (default 2), then
    twice that.

    --client-context is checked for every invocation type and, as AWS does, handed to
    the function of a synchronous (RequestResponse) invocation only."""
    from lambdaver.cli.values import read_value

    app = get_app()
    repo = app.repo()
    q = app.qualifier(qualifier)
    how["client_context"] = svc.parse_client_context(client_context)  # refused before all
    if repeat is not None:
        _check_repeat(outfile, how)
    to_stdout = outfile in (None, "-")
    if not to_stdout:  # refuse a file that cannot be written before anything runs
        _check_outfile(repo, str(outfile))
    body = read_value(payload, binary=True, blob=app.cli_binary_format) if payload else b""
    assert isinstance(body, bytes)  # noqa: S101
    if payload is not None:
        _check_payload(payload, body)
    if repeat is not None:
        summary = svc.invoke_repeated(repo, repeat, qualifier=q, payload=body, **how)
        app.emit(summary)
        if summary["FunctionErrors"]:
            raise click.exceptions.Exit(EXIT_FUNCTION_ERROR)
        return
    out = svc.invoke(repo, qualifier=q, payload=body, **how)
    if to_stdout:
        sys.stdout.buffer.write(out.payload + (b"\n" if out.payload else b""))
        sys.stdout.flush()
    else:
        assert outfile is not None  # noqa: S101
        with open(outfile, "wb") as f:
            f.write(out.payload)
    app.emit(out, stream=sys.stderr if to_stdout else None)
    if out.function_error is not None:
        raise click.exceptions.Exit(1)


def _check_repeat(outfile: str | None, how: dict[str, Any]) -> None:
    if outfile not in (None, "-"):
        raise click.UsageError("--repeat prints a summary, not the responses: leave out OUTFILE")
    if how.get("invocation_type") == "DryRun":
        raise click.UsageError("--repeat runs the function: it cannot be a DryRun")
    if how.get("invocation_type") == "Event":
        raise click.UsageError(
            "--repeat counts the versions that ran: it cannot be an Event invocation "
            "(loop in the shell to queue several events)"
        )


def _check_payload(given: str, body: bytes) -> None:
    """``--payload event.json`` when event.json exists: say to write file://event.json
    (the aws CLI needs the prefix too) rather than a bare JSON parse error."""
    import os

    if given == "-" or given.startswith(("file://", "fileb://")) or not os.path.isfile(given):
        return
    from lambdaver.errors import InvalidRequestContentException

    try:
        svc.check_payload(body)
    except InvalidRequestContentException as exc:
        raise InvalidRequestContentException(
            f"{exc.message}; {given} is a file: to read the file, write --payload file://{given}"
        ) from exc


def _check_outfile(repo: Any, outfile: str) -> None:
    import os

    from lambdaver.errors import InvalidParameterValueException

    if os.path.isdir(outfile):
        raise InvalidParameterValueException(f"Cannot write OUTFILE {outfile}: it is a directory")
    parent = os.path.dirname(outfile) or "."
    if not os.path.isdir(parent):
        raise InvalidParameterValueException(
            f"Cannot write OUTFILE {outfile}: no such directory {parent}"
        )
    inside = os.path.abspath(outfile).startswith(os.path.join(os.path.abspath(repo.root), ""))
    if not inside:  # the usual case: no need to load the ignore rules' module
        return
    from pathlib import Path

    from lambdaver.service.code import leave_out

    added = leave_out(repo, Path(outfile))
    if added is not None:
        click.echo(
            f"lambdaver: note: added {added} to .lambdaverignore, so that the response "
            "written there never becomes part of the function's code",
            err=True,
        )


_DURATION_FORMS = "a number and a unit, s, m, h or d: 30s, 10m, 2h, 1d (or 1h30m)"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """``--since``: ``10m``, ``2h``, ``30s``, ``1d``, or several (``1h30m``), in seconds."""
    if value is None:
        return None
    import re

    text = value.strip().lower()
    if not re.fullmatch(r"(\d+[smhd])+", text):
        raise click.BadParameter(f"'{value}' is not a duration: write {_DURATION_FORMS}.")
    return float(sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smhd])", text)))


@click.command(
    cls=Verb,
    operation="GetLogEvents",
    epilog=epilog(
        "lambdaver logs --tail 5",
        "lambdaver logs --qualifier 2 --output json",
        "lambdaver logs --request-id 6f1c...  # one invocation",
        "lambdaver logs --since 10m --follow  # the last 10 minutes, then new ones",
    ),
)
@opt.qualifier("A version ($LATEST, N): what it ran; an alias: what was invoked through it.")
@click.option("--tail", type=click.IntRange(min=0), help="Only the last N invocations.")
@click.option("--request-id", help="Only this invocation.")
@click.option(
    "--since",
    metavar="DURATION",
    callback=_duration,
    help="Only invocations of the last DURATION: 30s, 10m, 2h, 1d.",
)
@click.option(
    "--follow", "-f", is_flag=True, help="Keep printing new invocations until interrupted."
)
def logs(
    qualifier: str | None,
    tail: int | None,
    request_id: str | None,
    since: float | None,
    follow: bool,
) -> None:
    """The logs of past invocations, oldest first.

    On a terminal (table output) the log text itself is printed, as `aws logs tail`
    does; json and text carry each invocation's fields.  With --follow, each batch of
    new invocations is printed as it is journaled (json: one {"Events": [...]} document
    per batch) until Ctrl-C (exit 130)."""
    app = get_app()
    repo = app.repo()
    how: dict[str, Any] = {
        "qualifier": app.qualifier(qualifier),
        "tail": tail,
        "request_id": request_id,
        "since_seconds": since,
    }
    if not follow:
        _print_events(app, svc.logs(repo, **how).events, always=True)
        return
    for batch in svc.follow_logs(repo, **how):
        _print_events(app, batch, always=False)


def _print_events(app: Any, events: list[dict[str, Any]], *, always: bool) -> None:
    """Print events: their log text on a terminal, else the result ``{"Events": [...]}``
    (``always``: even when there are none)."""
    if app.query is None and app.output_format() == "table":
        for e in events:
            click.echo(e.get("Log", "").rstrip("\n"))
    elif events or always:
        app.emit({"Events": events})
    sys.stdout.flush()


@click.command(
    cls=Verb,
    operation="GetMetrics",
    epilog=epilog("lambdaver metrics", "lambdaver metrics --qualifier prod --output json"),
)
@opt.qualifier("A version ($LATEST, N) or an alias.")
def metrics(qualifier: str | None) -> None:
    """Invocations, errors, timeouts and p50/p95/max duration per executed version."""
    app = get_app()
    repo = app.repo()
    app.emit(svc.metrics(repo, qualifier=app.qualifier(qualifier)))


COMMANDS = commands(invoke, logs, metrics)
