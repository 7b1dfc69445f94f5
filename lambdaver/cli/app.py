"""Shared CLI plumbing: the command classes (a Verb knows its aws operation name and takes
the global options; a lazy group imports the module that defines a command only when that
command is needed).  The state of one run, ``App``, is cli/state.py's."""

from __future__ import annotations

from typing import Any

import click

from lambdaver.cli.options import global_options
from lambdaver.cli.state import App, get_app

__all__ = ["App", "LazyGroup", "Verb", "VerbGroup", "aws_spelling", "commands", "get_app"]


class Verb(click.Command):
    """A leaf command that knows the aws operation it mirrors and takes the global options."""

    def __init__(
        self, *args: Any, operation: str = "", list_key: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # list verbs: the key of the result's list, which --max-items and friends page
        self.list_key = list_key
        self.operation = operation or "".join(p.capitalize() for p in (self.name or "").split("-"))
        self.params.extend(global_options(include_function_name=True))

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        if parent is not None:
            get_app(parent).operation = self.operation
        return super().make_context(info_name, args, parent, **extra)


def aws_spelling(verb: click.Command, name: str) -> Verb:
    """The same verb under its aws spelling: same operation, options, callback and help."""
    assert isinstance(verb, Verb)  # noqa: S101
    shared = global_options(include_function_name=True)
    return Verb(
        name=name,
        operation=verb.operation,
        list_key=verb.list_key,
        callback=verb.callback,
        params=[p for p in verb.params if p not in shared],
        help=verb.help,
        epilog=verb.epilog,
        short_help=verb.short_help,
    )


class LazyGroup(click.Group):
    """A group some of whose commands are defined in other modules: ``lazy`` maps each such
    module to the names of its commands in this group (found in the module's ``COMMANDS``).
    A module is imported only when one of its commands is needed (to run, or to be listed
    for ``--help`` and completion), so start-up pays for one module, not all of them."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, ...]] | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}
        self._loaded: set[str] = set()

    def load(self, module: str) -> None:
        if module not in self._loaded:
            import importlib

            self._loaded.add(module)
            defined = importlib.import_module(module).COMMANDS
            for name in self.lazy[module]:
                self.add_command(defined[name], name)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for module, names in self.lazy.items():
            if cmd_name in names:
                self.load(module)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in self.lazy:
            self.load(module)
        return super().list_commands(ctx)


class VerbGroup(LazyGroup):
    """A group of verbs (``config``, ``versions``, ``alias``) that also takes global options."""

    command_class = Verb

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_options(include_function_name=False))


def commands(*defined: click.Command) -> dict[str, click.Command]:
    """A module's ``COMMANDS``: the commands it defines for lazy groups, by name."""
    return {str(c.name): c for c in defined}


__all__ = ["App", "LazyGroup", "Verb", "VerbGroup", "aws_spelling", "commands", "get_app"]
