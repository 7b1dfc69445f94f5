"""Verbs for aliases: ``alias create/update/get/list/delete/history``, ``rollback``,
``promote``, and the aws spellings ``create-alias``, ``update-alias``, ``get-alias``,
``list-aliases``, ``delete-alias``.  Parsing and rendering only; the rules live in
``lambdaver.service.aliases``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from lambdaver.cli import options as opt
from lambdaver.cli.app import Verb, VerbGroup, commands, get_app
from lambdaver.cli.options import ALIAS_REVISION, complete_aliases, complete_versions, epilog
from lambdaver.service import aliases as svc


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


def _create(
    name: str, version: str, routing_config: str | None, weight: Any = None, **given: Any
) -> None:
    """Create an alias (both spellings); the weights are read once the repository is found."""
    app = get_app()
    repo = app.unqualified_repo()
    app.emit(
        svc.create_alias(repo, name, version, weights=_weights(routing_config, weight), **given)
    )


def _update(name: str, routing_config: str | None, weight: Any = None, **given: Any) -> None:
    """Update an alias (both spellings)."""
    app = get_app()
    repo = app.unqualified_repo()
    app.emit(svc.update_alias(repo, name, weights=_weights(routing_config, weight), **given))


def _on_alias(action: Callable[..., Any], *args: Any) -> None:
    """Run a service call on the repository, with ``args``, and print what it returns."""
    app = get_app()
    result = action(app.unqualified_repo(), *args)
    if result is not None:
        app.emit(result)


# --- the alias group ---------------------------------------------------------------------


@click.group(cls=VerbGroup)
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
@opt.alias_version("$LATEST or a version number.", required=True)
@opt.description("The alias's description.")
@opt.routing()
def alias_create(name: str, version: str, **given: Any) -> None:
    """Create alias NAME pointing at a version (optionally weighted with another)."""
    _create(name, version, **given)


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
@opt.alias_version("$LATEST or a version number (default: kept).")
@opt.description("The alias's description (default: kept).")
@opt.routing()
@opt.revision_id(ALIAS_REVISION)
def alias_update(name: str, version: str | None, **given: Any) -> None:
    """Repoint or reweight alias NAME; what is not given is kept (the weights too)."""
    _update(name, function_version=version, **given)


@alias.command("get", operation="GetAlias", epilog=epilog("lambdaver alias get prod"))
@click.argument("name", shell_complete=complete_aliases)
def alias_get(name: str) -> None:
    """Show alias NAME."""
    _on_alias(svc.get_alias, name)


@alias.command(
    "list",
    operation="ListAliases",
    list_key="Aliases",
    epilog=epilog("lambdaver alias list", "lambdaver alias list --version 2"),
)
@opt.alias_version("Only aliases whose primary version is this.")
def alias_list(version: str | None) -> None:
    """All aliases, by name."""
    _on_alias(svc.list_aliases, version)


@alias.command("delete", operation="DeleteAlias", epilog=epilog("lambdaver alias delete prod"))
@click.argument("name", shell_complete=complete_aliases)
def alias_delete(name: str) -> None:
    """Delete alias NAME and its history (its versions stay).  A missing alias is not
    an error.  Prints nothing."""
    _on_alias(svc.delete_alias, name)


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
    _on_alias(svc.alias_history, name)


# --- rollback, promote -------------------------------------------------------------------


@click.command(
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
@opt.revision_id(ALIAS_REVISION)
def rollback(name: str, to_version: str | None, revision_id: str | None) -> None:
    """Undo ALIAS's latest change: restore its previous version, weights and
    description.  Again: one step further back (an undo stack, not a toggle)."""
    app = get_app()
    repo = app.unqualified_repo()
    app.emit(svc.rollback(repo, name, to_version=to_version, revision_id=revision_id))


@click.command(
    "promote",
    cls=Verb,
    operation="PromoteAlias",
    epilog=epilog(
        "lambdaver promote dev qa",
        "lambdaver promote qa prod --create   # the first time: prod does not exist yet",
    ),
)
@click.argument("source", shell_complete=complete_aliases)
@click.argument("target", shell_complete=complete_aliases)
@opt.description("TARGET's description (default: kept; new: empty).")
@opt.revision_id("Only if TARGET exists with this RevisionId.")
@click.option("--create", is_flag=True, help="Create TARGET if it does not exist.")
def promote(
    source: str, target: str, description: str | None, revision_id: str | None, create: bool
) -> None:
    """Point alias TARGET at exactly what alias SOURCE points to (version and weights).
    A TARGET that does not exist is refused (a typo must not make a new alias) unless
    --create is given."""
    app = get_app()
    repo = app.unqualified_repo()
    app.emit(
        svc.promote(
            repo, source, target, description=description, revision_id=revision_id, create=create
        )
    )


# --- aws spellings -----------------------------------------------------------------------


@click.command(
    "create-alias",
    cls=Verb,
    epilog=epilog("lambdaver create-alias --name prod --function-version 1"),
)
@opt.alias_name()
@opt.function_version("$LATEST or a version number.", required=True)
@opt.description("The alias's description.")
@opt.routing(weight=False)
def create_alias(name: str, function_version: str, **given: Any) -> None:
    """Create an alias (aws spelling of alias create)."""
    _create(name, function_version, **given)


@click.command(
    "update-alias",
    cls=Verb,
    epilog=epilog(
        "lambdaver update-alias --name prod --function-version 2 "
        "--routing-config 'AdditionalVersionWeights={1=0.9}'"
    ),
)
@opt.alias_name()
@opt.function_version("$LATEST or a version number (default: kept).")
@opt.description("The alias's description (default: kept).")
@opt.routing(weight=False)
@opt.revision_id(ALIAS_REVISION)
def update_alias(name: str, **given: Any) -> None:
    """Repoint or reweight an alias (aws spelling of alias update)."""
    _update(name, **given)


@click.command("get-alias", cls=Verb, epilog=epilog("lambdaver get-alias --name prod"))
@opt.alias_name()
def get_alias(name: str) -> None:
    """Show an alias (aws spelling of alias get)."""
    _on_alias(svc.get_alias, name)


@click.command(
    "list-aliases",
    cls=Verb,
    epilog=epilog("lambdaver list-aliases", "lambdaver list-aliases --function-version 2"),
)
@opt.function_version("Only aliases whose primary version is this.")
def list_aliases(function_version: str | None) -> None:
    """All aliases (aws spelling of alias list)."""
    _on_alias(svc.list_aliases, function_version)


@click.command("delete-alias", cls=Verb, epilog=epilog("lambdaver delete-alias --name prod"))
@opt.alias_name()
def delete_alias(name: str) -> None:
    """Delete an alias and its history (aws spelling of alias delete).  Prints nothing."""
    _on_alias(svc.delete_alias, name)


COMMANDS = commands(
    alias, rollback, promote, create_alias, update_alias, get_alias, list_aliases, delete_alias
)
