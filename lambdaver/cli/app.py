"""Shared CLI plumbing: the command classes (a Verb knows its aws operation name and takes
the global options; a lazy group imports the module that defines a command only when that
command is needed).  The state of one run, ``App``, is cli/state.py's."""

from __future__ import annotations

from typing import Any

import click

from lambdaver.cli.options import aws_input_options, global_options, paging_options
from lambdaver.cli.state import App, get_app

__all__ = ["App", "LazyGroup", "Verb", "VerbGroup", "aws_spelling", "commands", "get_app"]


#: The verbs spelled as an operation of the Lambda API (all of them, generated with
#: aws_model.py): a verb of one of these names takes --cli-input-json and
#: --generate-cli-skeleton, as the aws CLI's do.
AWS_VERBS = frozenset(
    {
        "add-layer-version-permission",
        "add-permission",
        "checkpoint-durable-execution",
        "create-alias",
        "create-capacity-provider",
        "create-code-signing-config",
        "create-event-source-mapping",
        "create-function",
        "create-function-url-config",
        "delete-alias",
        "delete-capacity-provider",
        "delete-code-signing-config",
        "delete-event-source-mapping",
        "delete-function",
        "delete-function-code-signing-config",
        "delete-function-concurrency",
        "delete-function-event-invoke-config",
        "delete-function-url-config",
        "delete-layer-version",
        "delete-provisioned-concurrency-config",
        "get-account-settings",
        "get-alias",
        "get-capacity-provider",
        "get-code-signing-config",
        "get-durable-execution",
        "get-durable-execution-history",
        "get-durable-execution-state",
        "get-event-source-mapping",
        "get-function",
        "get-function-code-signing-config",
        "get-function-concurrency",
        "get-function-configuration",
        "get-function-event-invoke-config",
        "get-function-recursion-config",
        "get-function-scaling-config",
        "get-function-url-config",
        "get-layer-version",
        "get-layer-version-by-arn",
        "get-layer-version-policy",
        "get-policy",
        "get-provisioned-concurrency-config",
        "get-runtime-management-config",
        "invoke",
        "invoke-async",
        "invoke-with-response-stream",
        "list-aliases",
        "list-capacity-providers",
        "list-code-signing-configs",
        "list-durable-executions-by-function",
        "list-event-source-mappings",
        "list-function-event-invoke-configs",
        "list-function-url-configs",
        "list-function-versions-by-capacity-provider",
        "list-functions",
        "list-functions-by-code-signing-config",
        "list-layer-versions",
        "list-layers",
        "list-provisioned-concurrency-configs",
        "list-tags",
        "list-versions-by-function",
        "publish-layer-version",
        "publish-version",
        "put-function-code-signing-config",
        "put-function-concurrency",
        "put-function-event-invoke-config",
        "put-function-recursion-config",
        "put-function-scaling-config",
        "put-provisioned-concurrency-config",
        "put-runtime-management-config",
        "remove-layer-version-permission",
        "remove-permission",
        "send-durable-execution-callback-failure",
        "send-durable-execution-callback-heartbeat",
        "send-durable-execution-callback-success",
        "stop-durable-execution",
        "tag-resource",
        "untag-resource",
        "update-alias",
        "update-capacity-provider",
        "update-code-signing-config",
        "update-event-source-mapping",
        "update-function-code",
        "update-function-configuration",
        "update-function-event-invoke-config",
        "update-function-url-config",
    }
)

#: The paginated operations (botocore's paginators) and the key of their list: a verb of
#: one of these operations takes --max-items, --starting-token and --page-size.
LIST_KEYS = {
    "ListVersionsByFunction": "Versions", "ListAliases": "Aliases",
    "ListFunctions": "Functions", "ListEventSourceMappings": "EventSourceMappings",
    "ListFunctionUrlConfigs": "FunctionUrlConfigs", "ListLayers": "Layers",
    "ListLayerVersions": "LayerVersions", "ListCodeSigningConfigs": "CodeSigningConfigs",
    "ListFunctionEventInvokeConfigs": "FunctionEventInvokeConfigs",
    "ListProvisionedConcurrencyConfigs": "ProvisionedConcurrencyConfigs",
    "ListFunctionsByCodeSigningConfig": "FunctionArns",
}  # fmt: skip

_AWS_INPUT = ("--cli-input-json", "--generate-cli-skeleton")


class Verb(click.Command):
    """A leaf command that knows the aws operation it mirrors and takes the global options;
    one spelled as an aws operation (``AWS_VERBS``) also takes ``--cli-input-json`` and
    ``--generate-cli-skeleton``, and a list verb (``list_key``, by default its
    operation's in ``LIST_KEYS``) the aws CLI's paging options."""

    def __init__(
        self, *args: Any, operation: str = "", list_key: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.operation = operation or "".join(p.capitalize() for p in (self.name or "").split("-"))
        # list verbs: the key of the result's list, which --max-items and friends page
        self.list_key = list_key or LIST_KEYS.get(self.operation)
        self.aws = self.name in AWS_VERBS
        # the options every such verb shares (made once), which aws_spelling leaves out
        self.shared: list[click.Parameter] = []
        if self.list_key is not None:
            self.shared += paging_options()
        if self.aws:
            self.shared += aws_input_options()
        self.shared += global_options(include_function_name=True)
        self.params.extend(self.shared)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        if parent is not None:
            app = get_app(parent)
            app.operation = self.operation
            app.list_key = self.list_key
        return super().make_context(info_name, args, parent, **extra)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if self.aws and any(a.startswith(_AWS_INPUT) for a in args):
            from lambdaver.cli.awsinput import expand

            args = expand(self, ctx, args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        app = get_app(ctx)
        if app.generate_cli_skeleton == "output":
            from lambdaver.cli.awsinput import output_skeleton

            app.emit(output_skeleton(self))  # nothing is read: the output's shape only
            return None
        if app.profile is not None:
            app.settings  # noqa: B018 - an unknown profile is refused before anything runs
        return super().invoke(ctx)


def aws_spelling(verb: click.Command, name: str) -> Verb:
    """The same verb under its aws spelling: same operation, options, callback and help."""
    assert isinstance(verb, Verb)  # noqa: S101
    return Verb(
        name=name,
        operation=verb.operation,
        list_key=verb.list_key,
        callback=verb.callback,
        params=[p for p in verb.params if p not in verb.shared],
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
