"""Shared CLI plumbing: the App on ``ctx.obj`` (the state of one run), the command classes
(a Verb knows its aws operation name and takes the global options; a lazy group imports
the module that defines a command only when that command is needed)."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from lambdaver.cli.options import global_options


def _complete_pending(repo: Any) -> None:
    """Before a command changes the repository: complete an interrupted checkout or
    import (service/pending.py).  Installed on every repository the CLI opens; it runs
    only when a command takes the lock to change something, never for a read."""
    from lambdaver.service.pending import complete_locked

    complete_locked(repo)


class App:
    """The state of one run, built once (by ``main``) and passed on the root ``ctx.obj``:
    the global options' values, the operation being run (for error messages: "when calling
    the X operation") and the repository found (whose derived data ``main`` saves when
    the command succeeds)."""

    def __init__(self, debug: bool = False) -> None:
        self.output: str | None = None
        self.query: str | None = None
        self.function_name: str | None = None
        self.debug = debug
        self.operation: str | None = None
        self._settings: Any = None
        self._memo: Any = None  # the settings memo, when there is no repository yet
        self._repo: Any = None

    @property
    def cwd(self) -> str:
        return os.getcwd()  # -C has already changed to its directory

    @property
    def found(self) -> Any:
        """The repository this run found or made, if any (without looking for one)."""
        return self._repo

    @property
    def settings(self) -> Any:
        """The user's settings: through the repository's memo when there is a repository."""
        if self._settings is None:
            from lambdaver.service.repository import find_root

            if find_root(self.cwd) is not None:
                try:
                    return self.repo().settings
                except Exception as exc:
                    from lambdaver.service.storage_errors import is_expected

                    if not is_expected(exc):
                        raise
                    # the verb reports it when it asks for the repository itself
            from lambdaver.service.settings import SettingsMemo

            self._memo = SettingsMemo(None)
            self._settings = self._memo.load()
        return self._settings

    def repo(self) -> Any:
        """The repository found from the working directory, checked against --function-name."""
        if self._repo is None:
            from lambdaver.service.repository import Repository

            self._repo = Repository.discover(self.cwd, self._settings)
            self._repo.on_lock(_complete_pending)
            self._settings = self._repo.settings
        return self._repo

    def unqualified_repo(self) -> Any:
        """The repository, for a verb that takes no qualifier: one in --function-name is
        refused."""
        repo = self.repo()
        if self.qualifier(None) is not None:
            from lambdaver.errors import InvalidParameterValueException

            raise InvalidParameterValueException("Cannot provide qualifier")
        return repo

    def adopt(self, repo: Any) -> None:
        """A repository this command made (init): it gets a settings memo too."""
        from lambdaver.service.settings import SettingsMemo

        memo = self._memo
        if memo is None:  # the settings came from another repository (init in its subtree)
            memo = SettingsMemo(None)
            memo.load()
        memo.path = repo.settings_memo_path
        repo.settings_memo = memo
        self._repo = repo

    def qualifier(self, given: str | None) -> str | None:
        """Merge ``--qualifier`` with a qualifier carried by ``--function-name``."""
        repo = self.repo()
        if self.function_name is None:
            return given
        from lambdaver.model.names import merge_qualifier, parse_function_name

        in_name = parse_function_name(
            self.function_name,
            region=self.settings.region,
            account=self.settings.account_id,
            expected=repo.name,
        )
        return merge_qualifier(in_name, given)

    def output_format(self) -> str:
        if self.output:
            return self.output
        env = os.environ.get("LAMBDAVER_OUTPUT")
        if env in ("json", "table", "text"):
            return env
        if self.settings.output:
            return str(self.settings.output)
        return "table" if sys.stdout.isatty() else "json"

    def emit(self, result: Any, stream: Any = None) -> None:
        """Render a result (to stdout unless ``stream`` is given)."""
        from lambdaver.cli.render import apply_query, render

        render(apply_query(result, self.query), self.output_format(), self.operation or "", stream)


def get_app(ctx: click.Context | None = None) -> App:
    """The App on the root context (made there if the caller gave none)."""
    root = (ctx or click.get_current_context()).find_root()
    if not isinstance(root.obj, App):
        root.obj = App()
    return root.obj


class Verb(click.Command):
    """A leaf command that knows the aws operation it mirrors and takes the global options."""

    def __init__(self, *args: Any, operation: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
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
