"""``--cli-input-json`` and ``--generate-cli-skeleton`` of the aws verbs.

Both are read from a verb's arguments before click parses them (``Verb.parse_args``):
``--generate-cli-skeleton [input]`` prints the operation's input skeleton and ends the
command (nothing else is parsed or checked, as in the aws CLI, so required options may
be missing); ``--cli-input-json`` becomes the options it stands for, appended to the
arguments unless the command line gives them already (the command line wins), so that
they are parsed, checked and completed exactly as if they had been typed.

Keys are the API's parameter names (aws_model.py, from botocore's model), each mapped to
the option ``--kebab-case`` of its name, as the aws CLI maps them; the exceptions are
the paginated operations' ``Marker`` and ``MaxItems``, which the aws CLI replaces with
``--starting-token`` and ``--max-items``.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import click

from lambdaver.errors import ParamValidationError

INPUT_JSON = "--cli-input-json"
SKELETON = "--generate-cli-skeleton"
SKELETON_CHOICES = ("input", "output")

#: API parameters whose option is not their kebab-case name.
OPTION_OF = {"Marker": "--starting-token", "MaxItems": "--max-items"}
#: Blob parameters: a string is base64 with --cli-binary-format base64.
PAYLOAD, ZIP_FILE = "Payload", "ZipFile"


def kebab(name: str) -> str:
    """``CodeSha256`` -> ``code-sha256``, ``KMSKeyArn`` -> ``kms-key-arn``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _find(args: list[str], option: str) -> tuple[int, str | None] | None:
    """The last occurrence of ``option`` in ``args`` (up to ``--``): its index and its
    ``=``-joined value, if any."""
    found: tuple[int, str | None] | None = None
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == option:
            found = (i, None)
        elif arg.startswith(option + "="):
            found = (i, arg[len(option) + 1 :])
    return found


def _value_after(args: list[str], option: str) -> str | None:
    at = _find(args, option)
    if at is None:
        return None
    i, joined = at
    if joined is not None:
        return joined
    return args[i + 1] if i + 1 < len(args) else None


def expand(verb: Any, ctx: click.Context, args: list[str]) -> list[str]:
    """``args`` with --cli-input-json's parameters added; prints the input skeleton and
    ends the command when --generate-cli-skeleton asks for it."""
    at = _find(args, SKELETON)
    if at is not None:
        i, joined = at
        value = joined
        if value is None and i + 1 < len(args) and not args[i + 1].startswith("-"):
            value = args[i + 1]
        value = value if value is not None else "input"
        if value not in SKELETON_CHOICES:
            raise ParamValidationError(
                f"lambdaver: error: argument {SKELETON}: Invalid choice, valid choices are: "
                + " | ".join(SKELETON_CHOICES)
            )
        if value == "input":
            click.echo(json.dumps(input_skeleton(verb), indent=4))
            raise click.exceptions.Exit(0)
    if _find(args, INPUT_JSON) is None:
        return args
    text = _value_after(args, INPUT_JSON)
    if text is None:
        return args  # click says the option needs a value
    return [*args, *_as_options(verb, ctx, args, _load(text, args))]


def input_skeleton(verb: Any) -> dict[str, Any]:
    """The operation's input skeleton (botocore's model), or one made from the verb's
    options for an operation the API does not have."""
    from lambdaver.cli import aws_model

    known = aws_model.INPUT.get(verb.operation)
    if known is not None:
        return dict(known)
    made: dict[str, Any] = {}
    for p in _own_options(verb):
        if isinstance(p, click.Option) and p.name:
            made[camel(p.name)] = True if p.is_flag else (0 if p.type is click.INT else "")
    return made


def output_skeleton(verb: Any) -> dict[str, Any]:
    from lambdaver.cli import aws_model

    return dict(aws_model.OUTPUT.get(verb.operation, {}))


def _own_options(verb: Any) -> list[click.Parameter]:
    """The verb's options, the function's name among them, without the other globals."""
    from lambdaver.cli.options import aws_input_options, global_options

    shared = global_options(include_function_name=False) + aws_input_options()
    return [p for p in verb.params if p not in shared]


def _chdir_of(args: list[str]) -> str:
    """Where relative paths are, with a ``-C DIR`` among the verb's arguments."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "-C" and i + 1 < len(args):
            return os.path.join(os.getcwd(), args[i + 1])
        if arg.startswith("-C") and len(arg) > 2 and not arg.startswith("--"):
            return os.path.join(os.getcwd(), arg[2:])
    return os.getcwd()


def _load(text: str, args: list[str]) -> dict[str, Any]:
    """The JSON object of --cli-input-json (itself or ``file://PATH``)."""
    where = f"Error parsing parameter '{INPUT_JSON}': "
    for prefix in ("file://", "fileb://"):
        if text.startswith(prefix):
            path = os.path.join(_chdir_of(args), os.path.expanduser(text[len(prefix) :]))
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else str(exc)
                raise ParamValidationError(
                    where + f"Unable to load paramfile {text}: {reason}"
                ) from exc
            break
    try:
        data = json.loads(text)
    except ValueError as exc:
        received = " ".join(text.split())
        raise ParamValidationError(
            where + f"Invalid JSON: {exc} JSON received: {received}"
        ) from exc
    if not isinstance(data, dict):
        raise ParamValidationError(
            where + "Invalid JSON: expected an object of parameters, as "
            f"--generate-cli-skeleton prints, not {json.dumps(data)}"
        )
    return data


def _given(param: click.Parameter, args: list[str]) -> bool:
    names = [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
    for arg in args:
        if arg == "--":
            break
        if any(arg == n or arg.startswith(n + "=") for n in names if n.startswith("--")):
            return True
    return False


def _as_options(verb: Any, ctx: click.Context, args: list[str], data: dict[str, Any]) -> list[str]:
    """The options that --cli-input-json's ``data`` stands for, given on the command line
    or not."""
    from lambdaver.cli.options import global_options
    from lambdaver.cli.state import get_app

    app = get_app(ctx)
    members = list(input_skeleton(verb))
    unknown = [k for k in data if k not in members]
    if unknown:
        raise ParamValidationError(
            "Parameter validation failed: "
            + "; ".join(
                f'Unknown parameter in input: "{k}", must be one of: {", ".join(members)}'
                for k in unknown
            )
        )
    by_option = {o: p for p in verb.params for o in getattr(p, "opts", [])}
    shared = global_options(include_function_name=True)
    out: list[str] = []
    for key, value in data.items():
        param = by_option.get(OPTION_OF.get(key, "--" + kebab(key)))
        if value is None:
            continue
        if param is None:
            if value not in ("", {}, []):
                click.echo(
                    f"lambdaver: {INPUT_JSON}: {key} has no meaning here and is ignored",
                    err=True,
                )
            continue
        if _given(param, args) or (param in shared and getattr(app, str(param.name)) is not None):
            continue  # the command line wins
        assert isinstance(param, click.Option)  # noqa: S101
        name = param.opts[0]
        if param.is_flag:
            if value is True:
                out.append(name)
            elif value is False and param.secondary_opts:
                out.append(param.secondary_opts[0])
            continue
        out += [name, _text(key, value, app, ctx)]
    return out


def _text(key: str, value: Any, app: Any, ctx: click.Context) -> str:
    """A parameter's value as its option takes it."""
    if key == PAYLOAD and isinstance(value, (dict, list)):
        text = json.dumps(value)  # a JSON event written as JSON: the event itself
        if app.cli_binary_format == "base64":
            import base64

            text = base64.b64encode(text.encode()).decode()
        return text
    if key == ZIP_FILE and isinstance(value, str):
        from lambdaver.cli.values import decode_blob

        return "fileb://" + _temporary(ctx, decode_blob(value, app.cli_binary_format))
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)


def _temporary(ctx: click.Context, data: bytes) -> str:
    """A file holding ``data`` for the command's life."""
    import shutil
    import tempfile

    where = tempfile.mkdtemp(prefix="lambdaver-input-")
    ctx.call_on_close(lambda: shutil.rmtree(where, ignore_errors=True))
    path = os.path.join(where, "ZipFile.zip")
    with open(path, "wb") as f:
        f.write(data)
    return path
