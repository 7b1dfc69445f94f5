"""The state of one run: the ``App`` on the root context's ``ctx.obj``."""

from __future__ import annotations

import os
import sys
from typing import Any

import click


def complete_pending(repo: Any) -> None:
    """Before a command changes the repository: complete an interrupted checkout or
    import (service/pending.py).  Installed on every repository the CLI opens; it runs
    only when a command takes the lock to change something, never for a read."""
    from lambdaver.cli.listing import item_view
    from lambdaver.service.pending import complete_locked

    complete_locked(repo, view=item_view)


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
        # the aws CLI's global options that mean something here (docs/cli.md)
        self.region: str | None = None
        self.profile: str | None = None  # lambdaver's [profiles.P] table
        self.aws_profile: str | None = None  # push/pull: the AWS profile boto3 reads
        self.endpoint_url: str | None = None  # push/pull: the Lambda API to talk to
        self.color: str | None = None  # on, off, auto (None: auto)
        self.cli_binary_format: str | None = None  # None: raw JSON, as raw-in-base64-out
        # a list verb: the key of its list, and the paging asked for
        self.list_key: str | None = None
        self.max_items: int | None = None
        self.starting_token: int | None = None  # the decoded token: where to start
        self.page_size: int | None = None
        self.generate_cli_skeleton: str | None = None
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
            self._settings = self._for_call(self._memo.load())
        return self._settings

    def _for_call(self, settings: Any) -> Any:
        """The user's settings as --profile and --region change them for this run."""
        if self.profile is None and self.region is None:
            return settings
        return settings.for_call(self.profile, self.region)

    def repo(self) -> Any:
        """The repository found from the working directory, checked against --function-name;
        outside a function, the function --function-name names among those under the
        working directory (a project of several functions, service/project.py)."""
        if self._repo is None:
            from lambdaver.service.repository import Repository

            given = self._settings is not None  # already made for this call
            self._repo = Repository.discover(self._function_dir(), self._settings)
            self._repo.on_lock(complete_pending)
            if not given:
                self._repo.settings = self._for_call(self._repo.settings)
            self._settings = self._repo.settings
        return self._repo

    def _function_dir(self) -> str:
        """Where to look for the repository: the working directory, unless it is inside no
        function and --function-name is given (then that function's directory)."""
        from lambdaver.service.repository import find_root

        cwd = self.cwd
        if self.function_name is None or find_root(cwd) is not None:
            return cwd
        from lambdaver.service.project import find_function

        return find_function(cwd, self.function_name, lambda: self.settings)

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
        """Render a result (to stdout unless ``stream`` is given): a service's typed record
        (rendered from its AWS shape) or plain JSON-like data."""
        from lambdaver.cli.render import apply_query, render

        data = result.to_aws() if hasattr(result, "to_aws") else result
        if self.paged and self.list_key is not None and isinstance(data, dict):
            from lambdaver.cli.paging import page

            data = page(data, self.list_key, self.max_items, self.starting_token)
        output = self.output_format()
        token = None
        if output == "text" and self.query is None and isinstance(data, dict):
            data = dict(data)  # the aws CLI's text prints the token last, on its own line
            token = data.pop("NextToken", None)
        render(apply_query(data, self.query), output, self.operation or "", stream,
               color=self.color_mode())  # fmt: skip
        if token is not None:
            render({"NextToken": {"NextToken": token}}, output, "", stream)

    @property
    def paged(self) -> bool:
        """--max-items or --starting-token was given: the listing is cut."""
        return self.max_items is not None or self.starting_token is not None

    def color_mode(self) -> str:
        """``--color``, else ``off`` when ``NO_COLOR`` is set (to anything but ""), else
        ``auto`` (colour on a terminal)."""
        if self.color is not None:
            return self.color
        return "off" if os.environ.get("NO_COLOR") else "auto"


def get_app(ctx: click.Context | None = None) -> App:
    """The App on the root context (made there if the caller gave none)."""
    root = (ctx or click.get_current_context()).find_root()
    if not isinstance(root.obj, App):
        root.obj = App()
    return root.obj
