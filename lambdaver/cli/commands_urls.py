"""Verbs for function URLs: ``create-``, ``get-``, ``update-``, ``delete-function-url-config``
and ``list-function-url-configs`` (aws spellings).  Parsing and rendering only; the rules
live in ``lambdaver.service.urls``."""

from __future__ import annotations

from typing import Any

import click

from lambdaver.cli import options as opt
from lambdaver.cli.app import Verb, commands, get_app
from lambdaver.cli.options import complete_aliases, epilog

URL_QUALIFIER = "An alias name (default: the unqualified function, $LATEST)."
CORS_HELP = (
    'JSON {"AllowOrigins": ["*"], "AllowMethods": ["GET"], "MaxAge": 300}, the aws shorthand '
    "AllowOrigins=*,AllowMethods=GET,POST,MaxAge=300, file://PATH or - (stdin)."
)
_LISTS = ("AllowHeaders", "AllowMethods", "AllowOrigins", "ExposeHeaders")


def parse_cors(text: str | None) -> Any:
    """``--cors``: JSON, or the aws shorthand ``Key=value,Key=v1,v2`` (a list member takes
    the values up to the next ``Key=``).  Refused as botocore refuses a bad value (exit
    252)."""
    if text is None:
        return None
    import json

    from lambdaver.cli.values import read_value
    from lambdaver.errors import ParamValidationError
    from lambdaver.service.urls import cors_shape_problems

    raw = read_value(text)
    assert isinstance(raw, str)  # noqa: S101
    stripped = raw.strip()
    if stripped.startswith("{"):
        try:
            cors = json.loads(stripped)
        except ValueError as exc:
            raise ParamValidationError(
                f"Error parsing parameter '--cors': Invalid JSON: {exc}\nJSON received: {raw}"
            ) from None
    else:
        cors = _shorthand(stripped)
    problems = cors_shape_problems(cors)
    if problems:
        raise ParamValidationError("Parameter validation failed: " + "; ".join(problems))
    return cors


def _shorthand(text: str) -> dict[str, Any]:
    from lambdaver.errors import ParamValidationError

    out: dict[str, Any] = {}
    key: str | None = None
    for part in text.split(",") if text else []:
        name, sep, value = part.partition("=")
        if sep and name.strip() and "/" not in name and ":" not in name:
            key = name.strip()
            value = value.strip()
            if key in _LISTS:
                out[key] = [value]
            elif key == "MaxAge":
                out[key] = int(value) if value.lstrip("-").isdigit() else value
            elif key == "AllowCredentials" and value.lower() in ("true", "false"):
                out[key] = value.lower() == "true"
            else:
                out[key] = value
        elif key in _LISTS:
            out[key].append(part.strip())
        else:
            raise ParamValidationError(
                f"Error parsing parameter '--cors': Expected: '=', received: '{part}' "
                "for input: " + text
            )
    return out


def _port() -> int:
    from lambdaver.service.urls import DEFAULT_PORT

    return DEFAULT_PORT


def _repo_and_qualifier(qualifier: str | None) -> tuple[Any, str | None]:
    app = get_app()
    repo = app.repo()
    return repo, app.qualifier(qualifier)


@click.command(
    "create-function-url-config",
    cls=Verb,
    epilog=epilog(
        "lambdaver create-function-url-config --qualifier prod --auth-type NONE",
        "lambdaver create-function-url-config --qualifier prod --auth-type NONE "
        "--cors 'AllowOrigins=*,AllowMethods=GET,POST'",
    ),
)
@opt.qualifier(URL_QUALIFIER, complete_aliases)
@click.option("--auth-type", required=True, help="NONE (public, with a permission) or AWS_IAM.")
@click.option("--cors", metavar="CORS", help=CORS_HELP)
@click.option("--invoke-mode", help="BUFFERED (default) or RESPONSE_STREAM.")
def create_url_config(
    qualifier: str | None, auth_type: str, cors: str | None, invoke_mode: str | None
) -> None:
    """Give an alias (or the unqualified function) an HTTP URL, served by 'lambdaver
    serve'.  A NONE URL also needs a permission: add-permission --action
    lambda:InvokeFunctionUrl --principal '*' --function-url-auth-type NONE."""
    from lambdaver.service import urls

    cors_value = parse_cors(cors)
    repo, q = _repo_and_qualifier(qualifier)
    get_app().emit(
        urls.create_url_config(
            repo, q, auth_type, cors=cors_value, invoke_mode=invoke_mode, port=_port()
        )
    )


@click.command(
    "get-function-url-config",
    cls=Verb,
    epilog=epilog("lambdaver get-function-url-config --qualifier prod"),
)
@opt.qualifier(URL_QUALIFIER, complete_aliases)
def get_url_config(qualifier: str | None) -> None:
    """Show the URL config of an alias (or of the unqualified function)."""
    from lambdaver.service import urls

    repo, q = _repo_and_qualifier(qualifier)
    get_app().emit(urls.get_url_config(repo, q, port=_port()))


@click.command(
    "update-function-url-config",
    cls=Verb,
    epilog=epilog("lambdaver update-function-url-config --qualifier prod --auth-type AWS_IAM"),
)
@opt.qualifier(URL_QUALIFIER, complete_aliases)
@click.option("--auth-type", help="NONE or AWS_IAM (default: kept).")
@click.option("--cors", metavar="CORS", help=CORS_HELP + " Default: kept.")
@click.option("--invoke-mode", help="BUFFERED or RESPONSE_STREAM (default: kept).")
def update_url_config(
    qualifier: str | None, auth_type: str | None, cors: str | None, invoke_mode: str | None
) -> None:
    """Change a URL config; what is not given is kept, and so is the URL."""
    from lambdaver.service import urls

    cors_value = parse_cors(cors)
    repo, q = _repo_and_qualifier(qualifier)
    get_app().emit(
        urls.update_url_config(
            repo, q, auth_type=auth_type, cors=cors_value, invoke_mode=invoke_mode, port=_port()
        )
    )


@click.command(
    "delete-function-url-config",
    cls=Verb,
    epilog=epilog("lambdaver delete-function-url-config --qualifier prod"),
)
@opt.qualifier(URL_QUALIFIER, complete_aliases)
def delete_url_config(qualifier: str | None) -> None:
    """Delete the URL config of an alias (without --qualifier: only the unqualified
    function's).  Prints nothing."""
    from lambdaver.service import urls

    repo, q = _repo_and_qualifier(qualifier)
    urls.delete_url_config(repo, q)


@click.command(
    "list-function-url-configs",
    cls=Verb,
    epilog=epilog("lambdaver list-function-url-configs"),
)
def list_url_configs() -> None:
    """Every function URL config of the function."""
    from lambdaver.service import urls

    app = get_app()
    repo = app.unqualified_repo()
    app.emit(urls.list_url_configs(repo, port=_port()))


COMMANDS = commands(
    create_url_config, get_url_config, update_url_config, delete_url_config, list_url_configs
)
