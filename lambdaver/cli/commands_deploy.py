"""``deploy``: canary and linear rollouts of an alias with alarms, hooks and automatic
rollback (``deploy ALIAS --version V ...``, which is ``deploy start ALIAS ...``), and
``deploy list``, ``deploy status [ID]``, ``deploy stop ID``.  Parsing and rendering only;
the rules live in ``lambdaver.service.deploy``."""

from __future__ import annotations

import sys
from typing import Any

import click

from lambdaver.cli.app import VerbGroup, commands, get_app
from lambdaver.cli.options import complete_aliases, complete_versions, epilog, exit_statuses
from lambdaver.errors import EXIT_FUNCTION_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_SERVICE

DEPLOY_STATUSES = exit_statuses(
    {
        EXIT_OK: "the deployment Succeeded",
        EXIT_FUNCTION_ERROR: "it Failed (an alarm or a hook; rolled back) or was Stopped",
        EXIT_SERVICE: "refused, nothing changed",
        EXIT_INTERRUPTED: "interrupted (Ctrl-C): stopped and rolled back",
    }
)

#: The subcommands; any other first word is an alias to deploy (``deploy start ALIAS``).
SUBCOMMANDS = ("start", "list", "status", "stop")


class DeployGroup(VerbGroup):
    """``deploy ALIAS ...`` runs ``deploy start ALIAS ...``: a first word that is not a
    subcommand is the alias.  An alias named like a subcommand: ``deploy start list``."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in SUBCOMMANDS and not args[0].startswith("-"):
            return "start", self.get_command(ctx, "start"), args
        return super().resolve_command(ctx, args)


@click.group(
    cls=DeployGroup,
    epilog=epilog(
        "lambdaver deploy prod --version 7 --strategy Canary10Percent5Minutes \\",
        "    --alarm 'error-rate>1%' --alarm 'p95>800ms' --pre-traffic-command 'pytest'",
        "lambdaver deploy prod --version 7 --strategy Linear10PercentEvery1Minute \\",
        "    --speed 60 --traffic events.jsonl --rate 20",
        "lambdaver deploy list",
        "lambdaver deploy status",
        "lambdaver deploy stop d-ABCDEFGH1",
        statuses=DEPLOY_STATUSES,
    ),
)
def deploy() -> None:
    """Move an alias to a new version step by step, as CodeDeploy does, watching alarms.

    `deploy ALIAS --version V` is `deploy start ALIAS --version V` (an alias named list,
    status, stop or start: `deploy start NAME ...`)."""


@deploy.command(
    "start",
    operation="CreateDeployment",
    epilog=epilog(
        "lambdaver deploy prod --version 7",
        "lambdaver deploy prod --version 7 --strategy Canary10Percent5Minutes --alarm 'errors>0'",
        "lambdaver deploy prod --version 7 --strategy Linear10PercentEvery1Minute --speed 60",
        "lambdaver deploy start list --version 7       # an alias named 'list'",
        statuses=DEPLOY_STATUSES,
    ),
)
@click.argument("alias", shell_complete=complete_aliases)
@click.option("--version", "version", required=True, shell_complete=complete_versions,
              help="The version to move the alias to.")  # fmt: skip
@click.option("--strategy", metavar="S",
              help="AllAtOnce (default), Canary10Percent5Minutes, Linear10PercentEvery1Minute, "
              "... (CodeDeploy's nine, with or without CodeDeployDefault.Lambda), or "
              "CanaryPPercentMMinutes / LinearPPercentEveryMMinutes.")  # fmt: skip
@click.option("--alarm", "alarms", multiple=True, metavar="EXPR",
              help="Roll back when it trips, on the new version's invocations: errors>N, "
              "error-rate>P%, timeouts>N, p95>Dms, p99>Dms, max>Dms.  Repeatable.")  # fmt: skip
@click.option("--pre-traffic", metavar="Q",
              help="Before any traffic moves, invoke Q (a qualifier of this function, or "
              "FUNCTION:Q) with CodeDeploy's payload; a function error fails it.")  # fmt: skip
@click.option("--pre-traffic-command", metavar="CMD",
              help="Before any traffic moves, run CMD in a shell; non-zero fails it.")  # fmt: skip
@click.option("--post-traffic", metavar="Q",
              help="After the switch, invoke Q; a function error rolls back.")  # fmt: skip
@click.option("--post-traffic-command", metavar="CMD",
              help="After the switch, run CMD in a shell; non-zero rolls back.")  # fmt: skip
@click.option("--hook-timeout", type=float, default=300.0, show_default=True, metavar="SECONDS",
              help="A hook running longer fails (real time, not --speed's).")  # fmt: skip
@click.option("--speed", type=float, default=1.0, metavar="X",
              help="Run the schedule X times faster (60: a minute takes a second).")  # fmt: skip
@click.option("--traffic", metavar="FILE",
              help="Invoke the alias with the events of this JSON-lines file, in a loop, "
              "while the deployment runs.")  # fmt: skip
@click.option("--rate", type=float, default=10.0, show_default=True, metavar="N",
              help="--traffic's invocations per second.")  # fmt: skip
def deploy_start(alias: str, version: str, **given: Any) -> int:
    """Move ALIAS to --version step by step; roll back when an alarm trips or a hook fails."""
    from lambdaver.service import deploy as svc

    app = get_app()
    repo = app.unqualified_repo()
    plan = svc.prepare(repo, alias, version, **given)
    view = _View(plan, app.color_mode())
    deployer = svc.Deployer(repo, plan, view.update)
    deployer.start()
    view.begin(deployer)
    interrupted = False
    try:
        result = deployer.run()
    except KeyboardInterrupt:
        interrupted = True
        result = deployer.result()
    finally:
        view.close()
    app.emit(result)
    if interrupted:
        click.echo("Interrupted: the deployment was stopped and rolled back.", err=True)
        return EXIT_INTERRUPTED
    return EXIT_OK if result.record["Status"] == svc.SUCCEEDED else EXIT_FUNCTION_ERROR


@deploy.command(
    "list",
    operation="ListDeployments",
    epilog=epilog("lambdaver deploy list", "lambdaver deploy list --alias prod"),
)
@click.option("--alias", help="Only this alias's deployments.")
def deploy_list(alias: str | None) -> None:
    """Every deployment of this function, newest first."""
    from lambdaver.service import deploy as svc

    app = get_app()
    app.emit(svc.list_deployments(app.unqualified_repo(), alias))


@deploy.command(
    "status",
    operation="GetDeployment",
    epilog=epilog("lambdaver deploy status", "lambdaver deploy status d-ABCDEFGH1"),
)
@click.argument("deployment_id", metavar="[ID]", required=False)
def deploy_status(deployment_id: str | None) -> None:
    """A deployment (default: the newest): its status, its steps, and, while it is
    InProgress, whether the process running it is still alive."""
    from lambdaver.service import deploy as svc

    app = get_app()
    app.emit(svc.get_deployment(app.unqualified_repo(), deployment_id))


@deploy.command(
    "stop",
    operation="StopDeployment",
    epilog=epilog(
        "lambdaver deploy stop d-ABCDEFGH1", "lambdaver deploy stop d-ABCDEFGH1 --no-rollback"
    ),
)
@click.argument("deployment_id", metavar="ID")
@click.option("--no-rollback", is_flag=True,
              help="Leave the alias where the deployment left it.")  # fmt: skip
def deploy_stop(deployment_id: str, no_rollback: bool) -> None:
    """Stop a deployment in progress (running, or whose process was killed) and roll the
    alias back to its old version."""
    from lambdaver.service import deploy as svc

    app = get_app()
    app.emit(svc.stop_deployment(app.unqualified_repo(), deployment_id, rollback=not no_rollback))


# --- progress -------------------------------------------------------------------------


class _View:
    """A live view on a terminal (stderr), else one line per step on stderr."""

    def __init__(self, plan: Any, color: str) -> None:
        self.plan = plan
        self.color = color
        self.live: Any = None
        self.header = ""

    def begin(self, deployer: Any) -> None:
        plan = self.plan
        speed = f", x{plan.speed:g}" if plan.speed != 1 else ""
        self.header = (
            f"Deployment {deployer.id}: alias {plan.alias}, version {deployer.old} -> "
            f"{plan.target}, {plan.strategy.name}{speed}"
        )
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.live import Live

            console = Console(file=sys.stderr, no_color=self.color == "off")
            self.live = Live(console=console, auto_refresh=False, transient=False)
            self.live.start()
        else:
            click.echo(self.header, err=True)

    def update(self, progress: Any) -> None:
        if self.live is not None:
            self.live.update(live_view(self.header, progress, self.plan.alarms), refresh=True)
        elif progress.line is not None:
            click.echo(progress.line, err=True)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def live_view(header: str, progress: Any, alarms: Any = ()) -> Any:
    """The live view of one moment: the header, the step, the weights and the time to
    the next step, then per version: weight, invocations, errors, p95."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    weights = _weights(progress)
    if progress.phase == "done":
        when = "finished"
    elif progress.next_step_in is not None:
        when = f"next step in {progress.next_step_in:.1f} s"
    else:
        when = progress.phase
    step = Text(f"step {progress.step}/{progress.steps} ({progress.phase}), {when}")
    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("Version", "Weight", "Invocations", "Errors", "p95 ms"):
        table.add_column(column, justify="left" if column == "Version" else "right")
    for s in progress.stats:
        version = str(s["Version"])
        table.add_row(
            version, f"{weights.get(version, 0.0) * 100:g}%", str(s["Invocations"]),
            str(s["Errors"]), f"{s['DurationP95Ms']:.0f}",
        )  # fmt: skip
    parts: list[Any] = [Text(header), step, table]
    if alarms:
        parts.append(Text("alarms: " + ", ".join(a.text for a in alarms)))
    if progress.line is not None and progress.phase == "done":
        parts.append(Text(progress.line))
    return Group(*parts)


def _weights(progress: Any) -> dict[str, float]:
    extra = sum(progress.weights.values())
    return {progress.version: 1.0 - extra, **progress.weights}


def render_live_text(header: str, progress: Any, alarms: Any = (), width: int = 72) -> str:
    """The live view as plain text (docs/deploy.md shows one, checked by the tests)."""
    import io

    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=width, no_color=True, color_system=None).print(
        live_view(header, progress, alarms)
    )
    return out.getvalue()


COMMANDS = commands(deploy)
