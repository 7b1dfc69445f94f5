"""The life cycle verbs: ``versions prune`` (in the ``versions`` group), ``gc``,
``recover``, ``fsck`` and ``completion``.  Parsing and rendering only; the rules live in
``lambdaver.service.lifecycle``."""

from __future__ import annotations

from typing import Any

import click

from lambdaver.cli import options as opt
from lambdaver.cli.app import Verb, commands, get_app
from lambdaver.cli.options import epilog
from lambdaver.errors import EXIT_FUNCTION_ERROR, EXIT_OK, EXIT_REPOSITORY, EXIT_SERVICE
from lambdaver.model.policy import HISTORY_DEPTH
from lambdaver.service import lifecycle as svc

FSCK_STATUSES = opt.exit_statuses(
    {
        EXIT_OK: "no problem found",
        EXIT_FUNCTION_ERROR: "problems found (listed on stdout)",
        EXIT_REPOSITORY: "repository problem (not a repository, unsupported format)",
        EXIT_SERVICE: "refused (--function-name of another function)",
    }
)


def _at_least_zero(
    decl: str, metavar: str, help: str, real: bool = False, **attrs: Any
) -> opt.Decorator:
    """An option taking a count (or with ``real``, an amount) of at least 0."""
    kind = click.FloatRange(min=0) if real else click.IntRange(min=0)
    return click.option(decl, type=kind, metavar=metavar, help=help, **attrs)


@click.command(
    "prune",
    cls=Verb,
    operation="PruneVersions",
    epilog=epilog(
        "lambdaver versions prune --keep 3 --dry-run",
        "lambdaver versions prune --keep 10 --older-than 30 && lambdaver gc",
    ),
)
@_at_least_zero("--keep", "N", "Keep the N newest versions.", required=True)
@_at_least_zero(
    "--older-than",
    "DAYS",
    "Only delete versions whose LastModified is more than DAYS days ago.",
    real=True,
)
@_at_least_zero(
    "--history-depth",
    "K",
    "Keep the versions of each alias's last K states (what rollback reaches).",
    default=HISTORY_DEPTH,
    show_default=True,
)
@opt.dry_run("Say what would be deleted; delete nothing.")
def versions_prune(keep: int, older_than: float | None, history_depth: int, dry_run: bool) -> None:
    """Delete old versions, never one that is pinned: used by an alias (primary or
    weighted), reached by an alias's recent history, among the N newest, younger than
    --older-than, or the newest of all.  Prints what it deleted and what pins each
    version it kept.  The space is freed by the next gc."""
    app = get_app()
    app.emit(
        svc.prune(
            app.unqualified_repo(),
            keep=keep,
            older_than_days=older_than,
            history_depth=history_depth,
            dry_run=dry_run,
        )
    )


@click.command(
    "gc",
    cls=Verb,
    operation="GarbageCollect",
    epilog=epilog(
        "lambdaver gc",
        "lambdaver gc --grace 0 --dry-run   # what would go, ignoring the grace period",
    ),
)
@_at_least_zero(
    "--grace",
    "SECONDS",
    "Leave alone anything written less than SECONDS ago.",
    real=True,
    default=svc.GRACE_SECONDS,
    show_default=True,
)
@opt.dry_run("Count what would be removed; remove nothing.")
def gc(grace: float, dry_run: bool) -> None:
    """Remove the objects no version references (left by versions delete, prune,
    invoke of $LATEST, interrupted publishes) and the leftovers of interrupted commands,
    once they are older than the grace period."""
    app = get_app()
    app.emit(svc.gc(app.unqualified_repo(), grace=grace, dry_run=dry_run))


@click.command(
    "recover",
    cls=Verb,
    operation="Recover",
    epilog=epilog("lambdaver recover"),
)
def recover() -> None:
    """Complete a checkout or import that was interrupted (killed, power lost) while it
    changed $LATEST's files.  Every command that changes the function does this first;
    until then, reads of $LATEST are refused rather than show a mixture of two states.
    Prints whether there was anything to complete."""
    from lambdaver.cli.listing import item_view
    from lambdaver.service.pending import complete

    app = get_app()
    app.emit({"Completed": complete(app.unqualified_repo(), view=item_view)})


@click.command(
    "fsck",
    cls=Verb,
    operation="Fsck",
    epilog=epilog(
        "lambdaver fsck",
        "lambdaver fsck --query 'Problems[].Message' --output text",
        statuses=FSCK_STATUSES,
    ),
)
def fsck() -> None:
    """Re-hash every object and check the repository's invariants (docs/FORMAT.md):
    every version's records, tree and blobs present, aliases pointing at existing
    versions and obeying the routing rules, the version counter, the alias history,
    the stat cache.  Changes nothing."""
    app = get_app()
    result = svc.fsck(app.unqualified_repo())
    if app.query is None and app.output_format() == "table":
        # One line per problem reads better on a terminal than a table of long messages.
        for problem in result.problems:
            click.echo(f"{problem.kind}: {problem.message}")
        n = len(result.problems)
        click.echo(
            f"{result.objects_checked} objects checked, "
            f"{n or 'no'} problem{'' if n == 1 else 's'} found"
        )
    else:
        app.emit(result)
    if result.problems:
        raise click.exceptions.Exit(1)


@click.command(
    "completion",
    cls=Verb,
    operation="Completion",
    epilog=epilog(
        'eval "$(lambdaver completion bash)"      # in ~/.bashrc',
        'eval "$(lambdaver completion zsh)"       # in ~/.zshrc, after compinit',
        "lambdaver completion fish > ~/.config/fish/completions/lambdaver.fish",
    ),
)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the script that makes the shell (bash, zsh or fish) complete lambdaver's
    verbs, options, alias names and version numbers."""
    from lambdaver.cli.completion import completion_script

    ctx = click.get_current_context()
    click.echo(completion_script(ctx.find_root().command, shell), nl=False)


COMMANDS = commands(versions_prune, gc, recover, fsck, completion)
