"""Shared CLI plumbing: the App on ``ctx.obj``, global options (accepted before or after
the verb), the Verb command class (knows its aws operation name) and output."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

# The operation being run, for error messages ("when calling the X operation"), and the
# repository it found (whose derived data is saved when the command succeeds).
CURRENT: dict[str, Any] = {"operation": None, "debug": False, "repo": None}

EXIT_STATUSES = (
    "Exit statuses: 0 success; 2 usage error; 253 repository problem;\n"
    "254 refused (the aws service's errors); 130 interrupted; 255 internal error."
)


def epilog(*examples: str, statuses: str = EXIT_STATUSES) -> str:
    lines = ["\b", "Examples:"] + [f"  {e}" for e in examples] + ["", "\b", *statuses.splitlines()]
    return "\n".join(lines)


def _complete_pending(repo: Any) -> None:
    """Before a command changes the repository: complete an interrupted checkout or
    import (service/pending.py).  Installed on every repository the CLI opens; it runs
    only when a command takes the lock to change something, never for a read."""
    from lambdaver.service.pending import complete_locked

    complete_locked(repo)


class App:
    """Built once per run and passed on ``ctx.obj``."""

    def __init__(self) -> None:
        self.output: str | None = None
        self.query: str | None = None
        self.function_name: str | None = None
        self._settings: Any = None
        self._memo: Any = None  # the settings memo, when there is no repository yet
        self._repo: Any = None

    @property
    def cwd(self) -> str:
        return os.getcwd()  # -C has already changed to its directory

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
            CURRENT["repo"] = self._repo
        return self._repo

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
        CURRENT["repo"] = repo

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

        render(
            apply_query(result, self.query),
            self.output_format(),
            CURRENT["operation"] or "",
            stream,
        )


def get_app() -> App:
    ctx = click.get_current_context()
    root = ctx.find_root()
    if not isinstance(root.obj, App):
        root.obj = App()
    return root.obj


# --- global options: a callback stores each into the App, wherever it stands ---------


def _set(attr: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or value is False:
            return
        app = get_app()
        if attr == "directory":  # like git -C: every relative path is then DIR's
            try:
                os.chdir(value)
            except OSError as exc:
                raise click.BadParameter(f"'{value}' is not a directory ({exc.strerror})") from exc
            return
        if attr == "query":
            import jmespath
            from jmespath.exceptions import JMESPathError

            try:
                jmespath.compile(value)
            except JMESPathError as exc:
                raise click.BadParameter(
                    f"Bad value for --query {value}: {exc}", ctx, param
                ) from exc
        if attr == "debug":
            CURRENT["debug"] = True
            return
        setattr(app, attr, value)

    return callback


_GLOBAL_OPTIONS: dict[bool, list[click.Parameter]] = {}


def global_options(include_function_name: bool) -> list[click.Parameter]:
    """The global options, made once and shared by every command that takes them (they
    hold no state: values go to the App through their callbacks), so that registering a
    module's verbs does not build five options per verb."""
    if include_function_name not in _GLOBAL_OPTIONS:
        opts: list[click.Parameter] = [
            click.Option(
                ["-C", "chdir"],
                metavar="DIR",
                expose_value=False,
                callback=_set("directory"),
                help="Run as if lambdaver was started in DIR.",
            ),
            click.Option(
                ["--output"],
                type=click.Choice(["json", "table", "text"]),
                expose_value=False,
                callback=_set("output"),
                help="Output format (default: table on a terminal, else json).",
            ),
            click.Option(
                ["--query"],
                metavar="EXPR",
                expose_value=False,
                callback=_set("query"),
                help="JMESPath expression applied to the result, as in the aws CLI.",
            ),
            click.Option(
                ["--debug"],
                is_flag=True,
                expose_value=False,
                callback=_set("debug"),
                help="Show a traceback for errors.",
            ),
        ]
        if include_function_name:
            opts.append(
                click.Option(
                    ["--function-name"],
                    metavar="NAME|ARN",
                    expose_value=False,
                    callback=_set("function_name"),
                    help="The function: a name, partial or full ARN (default: this repository's).",
                )
            )
        _GLOBAL_OPTIONS[include_function_name] = opts
    return _GLOBAL_OPTIONS[include_function_name]


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
        CURRENT["operation"] = self.operation
        return super().make_context(info_name, args, parent, **extra)


class VerbGroup(click.Group):
    """A group of verbs (``config``, ``versions``, ``alias``) that also takes global options."""

    command_class = Verb

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_options(include_function_name=False))


__all__ = ["CURRENT", "App", "Verb", "VerbGroup", "epilog", "get_app"]
