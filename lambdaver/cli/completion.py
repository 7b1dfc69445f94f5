"""Shell completion of alias names and version numbers (``shell_complete=`` callbacks).

click completes verbs and options by itself; these callbacks add the values only the
repository knows.  They read the repository found from ``-C`` or the working directory,
never write, and fail silently (no completions) outside a repository or on any error:
a completion must never print an error into the user's command line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

SHELLS = ("bash", "zsh", "fish")


def _repo(ctx: click.Context) -> Any:
    from lambdaver.cli.state import get_app
    from lambdaver.service.repository import Repository
    from lambdaver.service.settings import load_settings

    return Repository.discover(get_app(ctx).cwd, load_settings())


def _latest(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    from click.shell_completion import CompletionItem

    return [CompletionItem("$LATEST")] if "$LATEST".startswith(incomplete) else []


def _versions(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    from click.shell_completion import CompletionItem

    from lambdaver.model.records import VersionRecord
    from lambdaver.service.repository import VERSIONS

    out = []
    for number, raw in _repo(ctx).meta.items(VERSIONS, numeric=True):
        if number.startswith(incomplete):
            rec = VersionRecord.from_json(raw)
            out.append(CompletionItem(number, help=rec.description or rec.last_modified))
    return out


def _aliases(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    from click.shell_completion import CompletionItem

    from lambdaver.model.records import AliasState
    from lambdaver.service.repository import ALIASES

    out = []
    for name, raw in _repo(ctx).meta.items(ALIASES):
        if name.startswith(incomplete):
            out.append(CompletionItem(name, help=f"alias of {AliasState.from_json(raw).version}"))
    return out


Source = Callable[[click.Context, str], "list[CompletionItem]"]
Callback = Callable[[click.Context, click.Parameter, str], "list[CompletionItem]"]


def _quietly(*sources: Source) -> Callback:
    """A ``shell_complete=`` callback offering what ``sources`` offer, in that order, and
    nothing at all if any of them fails."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        try:
            return [item for source in sources for item in source(ctx, incomplete)]
        except Exception:  # noqa: BLE001 - completion fails silently
            return []

    return complete


complete_versions = _quietly(_versions)  # published version numbers
complete_targets = _quietly(_latest, _versions)  # what an alias may point at
complete_aliases = _quietly(_aliases)  # alias names
complete_qualifiers = _quietly(_latest, _versions, _aliases)  # any qualifier


def completion_script(cli: click.Command, shell: str, prog_name: str = "lambdaver") -> str:
    """The script that makes ``shell`` complete ``prog_name`` (click's own, as printed by
    ``_LAMBDAVER_COMPLETE=bash_source lambdaver``)."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - click.Choice has checked the name
        raise click.UsageError(f"Unsupported shell: {shell}")
    complete_var = "_{}_COMPLETE".format(prog_name.replace("-", "_").upper())
    return cls(cli, {}, prog_name, complete_var).source()
