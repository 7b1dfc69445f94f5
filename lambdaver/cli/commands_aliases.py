"""Verbs for aliases: ``alias create/update/get/list/delete/history``, ``rollback``,
``promote``, and the aws spellings ``create-alias``, ``update-alias``, ``get-alias``,
``list-aliases``, ``delete-alias``.  Parsing and rendering only; the rules live in
``lambdaver.service.aliases``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from lambdaver.cli.app import App, Verb, VerbGroup, epilog, get_app
from lambdaver.cli.completion import complete_aliases, complete_targets, complete_versions

ROUTING_HELP = (
    'JSON {"AdditionalVersionWeights": {"2": 0.1}}, the aws shorthand '
    "AdditionalVersionWeights={2=0.1}, file://PATH or - (stdin); {} clears the weights."
)
WEIGHT_HELP = "VERSION=WEIGHT: send WEIGHT (0-1) of the traffic to VERSION (e.g. 2=0.1)."
REVISION_HELP = "Only if the alias's RevisionId is this (optimistic concurrency)."


def _weight_option(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    from lambdaver.cli.values import parse_weight

    try:
        return [parse_weight(v) for v in value]
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc


def _weights(
    routing_config: str | None, weight: list[tuple[str, float]] | None = None
) -> dict[str, float] | None:
    """The weights map asked for; ``None`` when neither option was given (keep them)."""
    if routing_config is not None and weight:
        raise click.UsageError("--weight and --routing-config cannot be used together")
    if routing_config is not None:
        from lambdaver.cli.values import parse_routing_config

        return parse_routing_config(routing_config)
    if weight:
        return dict(weight)
    return None


def _repo(app: App) -> Any:
    """The repository, checked against an unqualified ``--function-name``."""
    repo = app.repo()
    if app.qualifier(None) is not None:
        from lambdaver.errors import InvalidParameterValueException

        raise InvalidParameterValueException("Cannot provide qualifier")
    return repo


def _routing_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--weight",
        multiple=True,
        metavar="V=W",
        callback=_weight_option,
        help=WEIGHT_HELP,
    )(f)
    return click.option("--routing-config", metavar="R", help=ROUTING_HELP)(f)


def register(cli: click.Group) -> None:
    from lambdaver.service import aliases as svc

    # --- the alias group --------------------------------------------------------------

    @cli.group(cls=VerbGroup)
    def alias() -> None:
        """Create, move, inspect and delete aliases (named pointers to versions)."""

    @alias.command(
        "create",
        operation="CreateAlias",
        epilog=epilog(
            'lambdaver alias create prod --version 1 --description "live"',
            "lambdaver alias create prod --version 2 --weight 1=0.9",
        ),
    )
    @click.argument("name")
    @click.option(
        "--version",
        "version",
        required=True,
        help="$LATEST or a version number.",
        shell_complete=complete_targets,
    )
    @click.option("--description", help="The alias's description.")
    @_routing_options
    def alias_create(
        name: str,
        version: str,
        description: str | None,
        routing_config: str | None,
        weight: list[tuple[str, float]],
    ) -> None:
        """Create alias NAME pointing at a version (optionally weighted with another)."""
        app = get_app()
        repo = _repo(app)
        weights = _weights(routing_config, weight)
        app.emit(svc.create_alias(repo, name, version, description=description, weights=weights))

    @alias.command(
        "update",
        operation="UpdateAlias",
        epilog=epilog(
            "lambdaver alias update prod --version 2",
            "lambdaver alias update prod --version 2 --weight 1=0.9    # canary: 10% on 2",
            "lambdaver alias update prod --routing-config '{}'        # clear the weights",
        ),
    )
    @click.argument("name", shell_complete=complete_aliases)
    @click.option(
        "--version",
        "version",
        help="$LATEST or a version number (default: kept).",
        shell_complete=complete_targets,
    )
    @click.option("--description", help="The alias's description (default: kept).")
    @_routing_options
    @click.option("--revision-id", help=REVISION_HELP)
    def alias_update(
        name: str,
        version: str | None,
        description: str | None,
        routing_config: str | None,
        weight: list[tuple[str, float]],
        revision_id: str | None,
    ) -> None:
        """Repoint or reweight alias NAME; what is not given is kept (the weights too)."""
        app = get_app()
        repo = _repo(app)
        app.emit(
            svc.update_alias(
                repo,
                name,
                function_version=version,
                description=description,
                weights=_weights(routing_config, weight),
                revision_id=revision_id,
            )
        )

    @alias.command("get", operation="GetAlias", epilog=epilog("lambdaver alias get prod"))
    @click.argument("name", shell_complete=complete_aliases)
    def alias_get(name: str) -> None:
        """Show alias NAME."""
        app = get_app()
        app.emit(svc.get_alias(_repo(app), name))

    @alias.command(
        "list",
        operation="ListAliases",
        epilog=epilog("lambdaver alias list", "lambdaver alias list --version 2"),
    )
    @click.option(
        "--version",
        "version",
        help="Only aliases whose primary version is this.",
        shell_complete=complete_targets,
    )
    def alias_list(version: str | None) -> None:
        """All aliases, by name."""
        app = get_app()
        app.emit(svc.list_aliases(_repo(app), version))

    @alias.command("delete", operation="DeleteAlias", epilog=epilog("lambdaver alias delete prod"))
    @click.argument("name", shell_complete=complete_aliases)
    def alias_delete(name: str) -> None:
        """Delete alias NAME and its history (its versions stay).  A missing alias is not
        an error.  Prints nothing."""
        app = get_app()
        svc.delete_alias(_repo(app), name)

    @alias.command(
        "history",
        operation="GetAliasHistory",
        epilog=epilog(
            "lambdaver alias history prod",
            "lambdaver alias history prod --query 'History[].[ChangedAt,Change,FunctionVersion]'"
            " --output text",
        ),
    )
    @click.argument("name", shell_complete=complete_aliases)
    def alias_history(name: str) -> None:
        """Every state alias NAME has had, newest first, with ChangedAt and Change."""
        app = get_app()
        app.emit(svc.alias_history(_repo(app), name))

    # --- rollback, promote --------------------------------------------------------------

    @cli.command(
        "rollback",
        cls=Verb,
        operation="RollbackAlias",
        epilog=epilog(
            "lambdaver rollback prod                  # undo prod's latest change",
            "lambdaver rollback prod --to-version 3   # point prod at 3, no weights",
        ),
    )
    @click.argument("name", metavar="ALIAS", shell_complete=complete_aliases)
    @click.option(
        "--to-version",
        help="Point the alias at this version, with no weights.",
        shell_complete=complete_versions,
    )
    @click.option("--revision-id", help=REVISION_HELP)
    def rollback(name: str, to_version: str | None, revision_id: str | None) -> None:
        """Undo ALIAS's latest change: restore its previous version, weights and
        description.  Again: one step further back (an undo stack, not a toggle)."""
        app = get_app()
        app.emit(svc.rollback(_repo(app), name, to_version=to_version, revision_id=revision_id))

    @cli.command(
        "promote",
        cls=Verb,
        operation="PromoteAlias",
        epilog=epilog("lambdaver promote dev qa", "lambdaver promote qa prod"),
    )
    @click.argument("source", shell_complete=complete_aliases)
    @click.argument("target", shell_complete=complete_aliases)
    @click.option("--description", help="TARGET's description (default: kept; new: empty).")
    @click.option("--revision-id", help="Only if TARGET exists with this RevisionId.")
    def promote(source: str, target: str, description: str | None, revision_id: str | None) -> None:
        """Point alias TARGET at exactly what alias SOURCE points to (version and weights);
        TARGET is created if it does not exist."""
        app = get_app()
        app.emit(
            svc.promote(
                _repo(app), source, target, description=description, revision_id=revision_id
            )
        )

    # --- aws spellings --------------------------------------------------------------------

    @cli.command(
        "create-alias",
        cls=Verb,
        epilog=epilog("lambdaver create-alias --name prod --function-version 1"),
    )
    @click.option("--name", required=True, help="The alias's name.")
    @click.option("--function-version", required=True, help="$LATEST or a version number.")
    @click.option("--description", help="The alias's description.")
    @click.option("--routing-config", metavar="R", help=ROUTING_HELP)
    def create_alias(
        name: str, function_version: str, description: str | None, routing_config: str | None
    ) -> None:
        """Create an alias (aws spelling of alias create)."""
        app = get_app()
        repo = _repo(app)
        weights = _weights(routing_config)
        app.emit(
            svc.create_alias(repo, name, function_version, description=description, weights=weights)
        )

    @cli.command(
        "update-alias",
        cls=Verb,
        epilog=epilog(
            "lambdaver update-alias --name prod --function-version 2 "
            "--routing-config 'AdditionalVersionWeights={1=0.9}'"
        ),
    )
    @click.option("--name", required=True, help="The alias's name.")
    @click.option("--function-version", help="$LATEST or a version number (default: kept).")
    @click.option("--description", help="The alias's description (default: kept).")
    @click.option("--routing-config", metavar="R", help=ROUTING_HELP)
    @click.option("--revision-id", help=REVISION_HELP)
    def update_alias(
        name: str,
        function_version: str | None,
        description: str | None,
        routing_config: str | None,
        revision_id: str | None,
    ) -> None:
        """Repoint or reweight an alias (aws spelling of alias update)."""
        app = get_app()
        repo = _repo(app)
        app.emit(
            svc.update_alias(
                repo,
                name,
                function_version=function_version,
                description=description,
                weights=_weights(routing_config),
                revision_id=revision_id,
            )
        )

    @cli.command("get-alias", cls=Verb, epilog=epilog("lambdaver get-alias --name prod"))
    @click.option("--name", required=True, help="The alias's name.")
    def get_alias(name: str) -> None:
        """Show an alias (aws spelling of alias get)."""
        app = get_app()
        app.emit(svc.get_alias(_repo(app), name))

    @cli.command(
        "list-aliases",
        cls=Verb,
        epilog=epilog("lambdaver list-aliases", "lambdaver list-aliases --function-version 2"),
    )
    @click.option("--function-version", help="Only aliases whose primary version is this.")
    def list_aliases(function_version: str | None) -> None:
        """All aliases (aws spelling of alias list)."""
        app = get_app()
        app.emit(svc.list_aliases(_repo(app), function_version))

    @cli.command("delete-alias", cls=Verb, epilog=epilog("lambdaver delete-alias --name prod"))
    @click.option("--name", required=True, help="The alias's name.")
    def delete_alias(name: str) -> None:
        """Delete an alias and its history (aws spelling of alias delete).  Prints nothing."""
        app = get_app()
        svc.delete_alias(_repo(app), name)
