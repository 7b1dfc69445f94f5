"""``schedule create/list/delete/fire``: EventBridge schedules whose target is this
function.  Parsing and rendering only; the rules live in ``lambdaver.service.schedules``
and ``lambdaver.model.schedule``."""

from __future__ import annotations

from typing import Any

import click

from lambdaver.cli import options as opt
from lambdaver.cli.app import VerbGroup, commands, get_app
from lambdaver.errors import EXIT_FUNCTION_ERROR, EXIT_OK


@click.group(cls=VerbGroup)
def schedule() -> None:
    """Schedules (EventBridge rules): invoke an alias on a rate() or cron() expression.

    A schedule lives in the repository of its function; `lambdaver serve` and
    `lambdaver triggers poll` deliver the events that are due."""


@schedule.command(
    "create",
    operation="PutRule",
    epilog=opt.epilog(
        "lambdaver schedule create nightly --expression 'cron(0 3 * * ? *)' "
        "--target arn:aws:lambda:us-east-1:000000000000:function:hello:prod",
        "lambdaver schedule create tick --expression 'rate(5 minutes)' "
        "--target arn:aws:lambda:us-east-1:000000000000:function:hello:prod "
        '--input \'{"job": "tick"}\'',
    ),
)
@click.argument("name")
@click.option(
    "--expression", required=True, metavar="EXPR",
    help="rate(N minute|minutes|hour|hours|day|days) or cron(min hour dom month dow year), UTC.",
)  # fmt: skip
@click.option(
    "--target", required=True, metavar="ARN",
    help="This function's ARN, with an alias or version to invoke that qualifier.",
)  # fmt: skip
@click.option(
    "--input", "input_json", metavar="JSON",
    help="Send this JSON instead of the scheduled event.",
)  # fmt: skip
def create(name: str, expression: str, target: str, input_json: str | None) -> None:
    """Create a schedule (or replace the one of that name)."""
    from lambdaver.service import schedules as svc

    app = get_app()
    app.emit(svc.create_schedule(app.unqualified_repo(), name, expression, target, input_json))


@schedule.command(
    "list", operation="ListRules", epilog=opt.epilog("lambdaver schedule list --output table")
)
def list_() -> None:
    """List the schedules, with the time each fires next."""
    from lambdaver.service import schedules as svc

    app = get_app()
    app.emit(svc.list_schedules(app.unqualified_repo()))


@schedule.command(
    "delete", operation="DeleteRule", epilog=opt.epilog("lambdaver schedule delete nightly")
)
@click.argument("name")
def delete(name: str) -> None:
    """Delete a schedule (deleting one that does not exist is not an error)."""
    from lambdaver.service import schedules as svc

    svc.delete_schedule(get_app().unqualified_repo(), name)


@schedule.command(
    "fire",
    operation="Invoke",
    epilog=opt.epilog(
        "lambdaver schedule fire nightly",
        statuses=opt.exit_statuses(
            {EXIT_OK: "delivered", EXIT_FUNCTION_ERROR: "the function returned an error"}
        ),
    ),
)
@click.argument("name")
def fire(name: str) -> None:
    """Deliver one event of the schedule now (when it is due next does not change)."""
    from lambdaver.service import schedules as svc
    from lambdaver.service.delivery import local_invoker

    app = get_app()
    repo = app.unqualified_repo()
    delivery = svc.fire(repo, name)
    result: dict[str, Any] = svc.deliver(repo, delivery, local_invoker(repo))
    app.emit({"Trigger": delivery.trigger, "Qualifier": delivery.qualifier or "$LATEST",
              **result})  # fmt: skip
    if "FunctionError" in result:
        raise click.exceptions.Exit(EXIT_FUNCTION_ERROR)


COMMANDS = commands(schedule)
