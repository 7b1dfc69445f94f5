"""``events generate SERVICE EVENT [--OPTION VALUE]...``: print a sample event, as ``sam
local generate-event`` does.  The events and their builders live in
``lambdaver.service.sample_events``."""

from __future__ import annotations

import click

from lambdaver.cli import options as opt
from lambdaver.cli.app import VerbGroup, commands, get_app
from lambdaver.errors import EXIT_OK, EXIT_USAGE


@click.group(cls=VerbGroup)
def events() -> None:
    """Sample events of the services that invoke functions."""


def _catalogue() -> str:
    from lambdaver.service.sample_events import SAMPLES

    lines = ["\b", "Events:"]
    for service in sorted(SAMPLES):
        for event in sorted(SAMPLES[service]):
            options = " ".join(f"--{o}" for o in sorted(SAMPLES[service][event].options))
            lines.append(f"  {service} {event}  [{options}]")
    return "\n".join(lines)


@events.command(
    "generate",
    operation="GenerateEvent",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    epilog=opt.epilog(
        "lambdaver events generate s3 put --bucket uploads --key 'photos/red flower.jpg'",
        "lambdaver events generate sqs receive-message --body '{\"id\": 1}' > event.json",
        'lambdaver invoke --payload "$(lambdaver events generate events scheduled)"',
        statuses=opt.exit_statuses(
            {EXIT_OK: "printed", EXIT_USAGE: "an unknown service, event or option"}
        ),
    ),
)
@click.argument("service", required=False)
@click.argument("event", required=False)
@click.pass_context
def generate(ctx: click.Context, service: str | None, event: str | None) -> None:
    """Print a sample event of SERVICE's EVENT as JSON; --OPTION VALUE pairs change its
    fields (--region: the region option of every command).  Without arguments, the list
    of events and their options."""
    from lambdaver.service.sample_events import UnknownSample, generate, to_json

    if service is None or event is None:
        if service is None:
            click.echo(_catalogue().replace("\b\n", ""))
            return
        raise click.UsageError(f"Missing EVENT for service {service}. {_events_of(service)}")
    given = _pairs(list(ctx.args))
    region = get_app().region
    if region is not None:
        given.setdefault("region", region)
    try:
        click.echo(to_json(generate(service, event, given)))
    except UnknownSample as exc:
        raise click.UsageError(exc.message) from None


def _events_of(service: str) -> str:
    from lambdaver.service.sample_events import SAMPLES

    if service not in SAMPLES:
        return f"Services: {', '.join(sorted(SAMPLES))}"
    return f"Events: {', '.join(sorted(SAMPLES[service]))}"


def _pairs(args: list[str]) -> dict[str, str]:
    """``--name value`` and ``--name=value`` pairs; anything else is a usage error."""
    out: dict[str, str] = {}
    while args:
        arg = args.pop(0)
        if not arg.startswith("--") or len(arg) == 2:
            raise click.UsageError(f"Unexpected argument '{arg}': options are --NAME VALUE")
        name, eq, value = arg[2:].partition("=")
        if not eq:
            if not args:
                raise click.UsageError(f"Option '--{name}' requires a value")
            value = args.pop(0)
        out[name] = value
    return out


COMMANDS = commands(events)
