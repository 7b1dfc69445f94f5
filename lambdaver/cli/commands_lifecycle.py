"""The life cycle verbs: ``versions prune`` (added to the ``versions`` group), ``gc``,
``fsck`` and ``completion``.  Parsing and rendering only; the rules live in
``lambdaver.service.lifecycle``."""

from __future__ import annotations

from typing import Any

import click

from lambdaver.cli.app import App, Verb, epilog, get_app

FSCK_STATUSES = (
    "Exit statuses: 0 no problem found; 1 problems found (listed on stdout);\n"
    "2 usage error; 253 repository problem (not a repository, unsupported format);\n"
    "254 refused (--function-name of another function); 130 interrupted; 255 internal error."
)


def _repo(app: App) -> Any:
    """The repository, checked against an unqualified ``--function-name``."""
    repo = app.repo()
    if app.qualifier(None) is not None:
        from lambdaver.errors import InvalidParameterValueException

        raise InvalidParameterValueException("Cannot provide qualifier")
    return repo


def add_prune(versions: click.Group) -> None:
    """``versions prune``, attached by ``commands_functions.register`` to its group.
    Defined with cheap imports only: it is attached whenever ``versions`` loads."""
    from lambdaver.model.policy import HISTORY_DEPTH

    @versions.command(
        "prune",
        operation="PruneVersions",
        epilog=epilog(
            "lambdaver versions prune --keep 3 --dry-run",
            "lambdaver versions prune --keep 10 --older-than 30 && lambdaver gc",
        ),
    )
    @click.option(
        "--keep",
        type=click.IntRange(min=0),
        required=True,
        metavar="N",
        help="Keep the N newest versions.",
    )
    @click.option(
        "--older-than",
        type=click.FloatRange(min=0),
        metavar="DAYS",
        help="Only delete versions whose LastModified is more than DAYS days ago.",
    )
    @click.option(
        "--history-depth",
        type=click.IntRange(min=0),
        default=HISTORY_DEPTH,
        show_default=True,
        metavar="K",
        help="Keep the versions of each alias's last K states (what rollback reaches).",
    )
    @click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
    def versions_prune(
        keep: int, older_than: float | None, history_depth: int, dry_run: bool
    ) -> None:
        """Delete old versions, never one that is pinned: used by an alias (primary or
        weighted), reached by an alias's recent history, among the N newest, younger than
        --older-than, or the newest of all.  Prints what it deleted and what pins each
        version it kept.  The space is freed by the next gc."""
        from lambdaver.service import lifecycle as svc

        app = get_app()
        app.emit(
            svc.prune(
                _repo(app),
                keep=keep,
                older_than_days=older_than,
                history_depth=history_depth,
                dry_run=dry_run,
            )
        )


def register(cli: click.Group) -> None:
    from lambdaver.service import lifecycle as svc

    @cli.command(
        "gc",
        cls=Verb,
        operation="GarbageCollect",
        epilog=epilog(
            "lambdaver gc",
            "lambdaver gc --grace 0 --dry-run   # what would go, ignoring the grace period",
        ),
    )
    @click.option(
        "--grace",
        type=click.FloatRange(min=0),
        default=svc.GRACE_SECONDS,
        show_default=True,
        metavar="SECONDS",
        help="Leave alone anything written less than SECONDS ago.",
    )
    @click.option("--dry-run", is_flag=True, help="Count what would be removed; remove nothing.")
    def gc(grace: float, dry_run: bool) -> None:
        """Remove the objects no version references (left by versions delete, prune,
        invoke of $LATEST, interrupted publishes) and the leftovers of interrupted commands,
        once they are older than the grace period."""
        app = get_app()
        app.emit(svc.gc(_repo(app), grace=grace, dry_run=dry_run))

    @cli.command(
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
        from lambdaver.service.pending import complete

        app = get_app()
        app.emit({"Completed": complete(_repo(app))})

    @cli.command(
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
        result = svc.fsck(_repo(app))
        if app.query is None and app.output_format() == "table":
            # One line per problem reads better on a terminal than a table of long messages.
            for problem in result["Problems"]:
                click.echo(f"{problem['Kind']}: {problem['Message']}")
            n = len(result["Problems"])
            click.echo(
                f"{result['ObjectsChecked']} objects checked, "
                f"{n or 'no'} problem{'' if n == 1 else 's'} found"
            )
        else:
            app.emit(result)
        if result["Problems"]:
            raise click.exceptions.Exit(1)

    @cli.command(
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
