"""Function URL configs: ``create-``, ``get-``, ``update-``, ``delete-function-url-config``
and ``list-function-url-configs`` (lambda-semantics-2 §2.1, messages §1.6).

A config is a ref in the ``function-urls`` namespace (service/qualified.py), named after
its qualifier (an alias name, or ``$LATEST`` for the unqualified function), with its URL id
as k1 so that ``lambdaver serve`` finds the config a request's host names.  The URL id (32
lowercase alphanumerics, as AWS's) is drawn once, when the config is created, and kept
while the config lives: promotions and rollbacks of the alias never change the URL.
Deleting the alias deletes its config; its URL id is kept in ``function-urls-gone`` so that
a request to it is answered as AWS answers one to a deleted URL.

``FunctionUrl`` is ``http://URLID.lambda-url.REGION.localhost:PORT/``: the caller gives
PORT (the server: the port it serves on; the CLI: :data:`DEFAULT_PORT`).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from lambdaver.errors import (
    InvalidRequestContentException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from lambdaver.model.names import LATEST
from lambdaver.service.qualified import FUNCTION_URLS, FUNCTION_URLS_GONE
from lambdaver.service.repository import ALIASES
from lambdaver.value import Value

if TYPE_CHECKING:
    from lambdaver.service.repository import Repository

#: The port ``FunctionUrl`` names when no server is asked (``lambdaver serve``'s default).
DEFAULT_PORT = 9001
URL_QUALIFIER_PATTERN = r"((?!^\d+$)^[0-9a-zA-Z-_]+$)"
_URL_QUALIFIER_RE = re.compile(r"(?!\d+$)[0-9a-zA-Z-_]+")
AUTH_TYPES = ("NONE", "AWS_IAM")
INVOKE_MODES = ("RESPONSE_STREAM", "BUFFERED")  # in the order AWS names them
URL_ID_LENGTH = 32
_URL_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
#: AWS's page cap for ListFunctionUrlConfigs.
LIST_PAGE = 50

NOT_FOUND = "The resource you requested does not exist."
NO_FUNCTION = "Function does not exist"

#: Cors members: (type, list member max length or None, list max items or None).
CORS_MEMBERS: dict[str, tuple[type, int | None, int | None]] = {
    "AllowCredentials": (bool, None, None),
    "AllowHeaders": (list, 1024, 100),
    "AllowMethods": (list, 6, 6),
    "AllowOrigins": (list, 253, 100),
    "ExposeHeaders": (list, 1024, 100),
    "MaxAge": (int, None, None),
}
_MIN_MEMBER_LENGTH = {"AllowOrigins": 1}
MAX_AGE_LIMIT = 86400


class UrlConfig(Value):
    """One function URL config.  ``shape``: which members the operation answers with
    (``create``: Cors/InvokeMode only if given, no LastModifiedTime; ``update``: InvokeMode
    only if ever given; ``get``: all, InvokeMode defaulting to BUFFERED)."""

    function_arn: str
    function_url: str
    auth_type: str
    creation_time: str
    last_modified_time: str
    cors: dict[str, Any] | None = None
    invoke_mode: str | None = None
    shape: str = "get"

    def to_aws(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "FunctionUrl": self.function_url,
            "FunctionArn": self.function_arn,
            "AuthType": self.auth_type,
        }
        if self.cors is not None:
            out["Cors"] = self.cors
        out["CreationTime"] = self.creation_time
        if self.shape != "create":
            out["LastModifiedTime"] = self.last_modified_time
        if self.shape == "get":
            out["InvokeMode"] = self.invoke_mode or "BUFFERED"
        elif self.invoke_mode is not None:
            out["InvokeMode"] = self.invoke_mode
        return out


class UrlConfigList(Value):
    configs: list[UrlConfig]

    def to_aws(self) -> dict[str, Any]:
        return {"FunctionUrlConfigs": [c.to_aws() for c in self.configs]}


# --- checks ------------------------------------------------------------------------------


def validate_url_qualifier(qualifier: str | None) -> None:
    """An alias name or nothing: a version number and ``$LATEST`` are refused, before
    anything is looked up (as AWS)."""
    if qualifier is None:
        return
    problems = []
    if len(qualifier) > 128:
        problems.append(
            ValidationException.problem(
                qualifier, "qualifier", "Member must have length less than or equal to 128"
            )
        )
    if not _URL_QUALIFIER_RE.fullmatch(qualifier):
        problems.append(
            ValidationException.problem(
                qualifier,
                "qualifier",
                f"Member must satisfy regular expression pattern: {URL_QUALIFIER_PATTERN}",
            )
        )
    if problems:
        raise ValidationException(problems)


def _enum(value: str | None, field: str, allowed: tuple[str, ...], problems: list[str]) -> None:
    if value is not None and value not in allowed:
        choices = ", ".join(allowed)
        problems.append(
            ValidationException.problem(
                value, field, f"Member must satisfy enum value set: [{choices}]"
            )
        )


def cors_shape_problems(cors: Any) -> list[str]:
    """What botocore itself refuses in a ``Cors`` value before sending it (its words):
    not an object, an unknown member, a member of the wrong type, a length or value under
    the model's minimum."""
    if not isinstance(cors, dict):
        return [
            f"Invalid type for parameter Cors, value: {cors}, type: {type(cors)}, "
            "valid types: <class 'dict'>"
        ]
    problems = []
    names = ", ".join(CORS_MEMBERS)
    for key, value in cors.items():
        if key not in CORS_MEMBERS:
            problems.append(f'Unknown parameter in Cors: "{key}", must be one of: {names}')
            continue
        kind, _member_max, _items = CORS_MEMBERS[key]
        where = f"Cors.{key}"
        if kind is bool and not isinstance(value, bool):
            problems.append(
                f"Invalid type for parameter {where}, value: {value}, type: {type(value)}, "
                "valid types: <class 'bool'>"
            )
        elif kind is int and (not isinstance(value, int) or isinstance(value, bool)):
            problems.append(
                f"Invalid type for parameter {where}, value: {value}, type: {type(value)}, "
                "valid types: <class 'int'>"
            )
        elif kind is int and value < 0:
            problems.append(
                f"Invalid value for parameter {where}, value: {value}, valid min value: 0"
            )
        elif kind is list:
            if not isinstance(value, (list, tuple)):
                problems.append(
                    f"Invalid type for parameter {where}, value: {value}, type: {type(value)}, "
                    "valid types: <class 'list'>, <class 'tuple'>"
                )
                continue
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    problems.append(
                        f"Invalid type for parameter {where}[{i}], value: {item}, "
                        f"type: {type(item)}, valid types: <class 'str'>"
                    )
                elif len(item) < _MIN_MEMBER_LENGTH.get(key, 0):
                    problems.append(
                        f"Invalid length for parameter {where}[{i}], value: {len(item)}, "
                        f"valid min length: {_MIN_MEMBER_LENGTH[key]}"
                    )
    return problems


def _camel(key: str) -> str:
    return key[:1].lower() + key[1:]


def cors_problems(cors: dict[str, Any]) -> list[str]:
    """The service's own checks of a well-typed ``Cors``: the model's maxima (its words)."""
    problems = []
    for key, value in cors.items():
        _kind, member_max, items = CORS_MEMBERS[key]
        field = f"cors.{_camel(key)}"
        if key == "MaxAge" and value > MAX_AGE_LIMIT:
            problems.append(
                ValidationException.problem(
                    value, field, f"Member must have value less than or equal to {MAX_AGE_LIMIT}"
                )
            )
        if items is not None and len(value) > items:
            problems.append(
                ValidationException.problem(
                    "[" + ", ".join(value) + "]",
                    field,
                    f"Member must have length less than or equal to {items}",
                )
            )
        if member_max is not None and any(len(v) > member_max for v in value):
            low = _MIN_MEMBER_LENGTH.get(key, 0)
            problems.append(
                ValidationException.problem(
                    "[" + ", ".join(value) + "]",
                    field,
                    "Member must satisfy constraint: [Member must have length less than or "
                    f"equal to {member_max}, Member must have length greater than or equal to "
                    f"{low}, Member must satisfy regular expression pattern: .*]",
                )
            )
    return problems


def _check_inputs(
    qualifier: str | None, auth_type: str | None, cors: Any, invoke_mode: str | None
) -> None:
    validate_url_qualifier(qualifier)
    if cors is not None:
        shape = cors_shape_problems(cors)
        if shape:  # what botocore refuses; a raw request's body is malformed
            raise InvalidRequestContentException(
                "Could not parse request body into json: " + "; ".join(shape)
            )
    problems: list[str] = []
    _enum(auth_type, "authType", AUTH_TYPES, problems)
    if cors is not None:
        problems += cors_problems(cors)
    _enum(invoke_mode, "invokeMode", INVOKE_MODES, problems)
    if problems:
        raise ValidationException(problems)


# --- records --------------------------------------------------------------------------------


def _ref(qualifier: str | None) -> str:
    return LATEST if qualifier is None else qualifier


def function_url(url_id: str, region: str, port: int) -> str:
    return f"http://{url_id}.lambda-url.{region}.localhost:{port}/"


def new_url_id() -> str:
    import secrets

    return "".join(secrets.choice(_URL_ID_ALPHABET) for _ in range(URL_ID_LENGTH))


def _config(
    repo: Repository, name: str, record: dict[str, Any], port: int, shape: str = "get"
) -> UrlConfig:
    return UrlConfig(
        function_arn=repo.arns.function(None if name == LATEST else name),
        function_url=function_url(record["UrlId"], repo.settings.region, port),
        auth_type=record["AuthType"],
        creation_time=record["CreationTime"],
        last_modified_time=record["LastModifiedTime"],
        cors=record.get("Cors"),
        invoke_mode=record.get("InvokeMode"),
        shape=shape,
    )


def _load(repo: Repository, qualifier: str | None) -> tuple[str | None, dict[str, Any] | None]:
    raw = repo.meta.get(FUNCTION_URLS, _ref(qualifier))
    return raw, (json.loads(raw) if raw is not None else None)


def _alias_exists(repo: Repository, qualifier: str | None) -> bool:
    return qualifier is None or repo.meta.get(ALIASES, qualifier) is not None


def _dump(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"))


def _ordered(cors: dict[str, Any]) -> dict[str, Any]:
    """``Cors`` with its members in the model's order."""
    return {k: cors[k] for k in CORS_MEMBERS if k in cors}


# --- operations ------------------------------------------------------------------------------


def create_url_config(
    repo: Repository,
    qualifier: str | None,
    auth_type: str,
    *,
    cors: Any = None,
    invoke_mode: str | None = None,
    port: int = DEFAULT_PORT,
) -> UrlConfig:
    """``create-function-url-config``: one URL per alias (or for the unqualified function)."""
    _check_inputs(qualifier, auth_type, cors, invoke_mode)
    with repo.lock.held():
        if not _alias_exists(repo, qualifier):
            raise ResourceNotFoundException(NO_FUNCTION)
        if repo.meta.get(FUNCTION_URLS, _ref(qualifier)) is not None:
            raise ResourceConflictException(
                "Failed to create function url config for [functionArn = "
                f"{repo.arns.function(qualifier)}]. Error message:  FunctionUrlConfig exists "
                "for this Lambda function"
            )
        now = repo.now()
        url_id = new_url_id()
        while repo.meta.find(FUNCTION_URLS, url_id) or repo.meta.get(FUNCTION_URLS_GONE, url_id):
            url_id = new_url_id()
        record: dict[str, Any] = {
            "UrlId": url_id, "AuthType": auth_type, "CreationTime": now, "LastModifiedTime": now,
        }  # fmt: skip
        if cors is not None:
            record["Cors"] = _ordered(cors)
        if invoke_mode is not None:
            record["InvokeMode"] = invoke_mode
        with repo.meta.transaction():
            repo.meta.add_if_new(FUNCTION_URLS, _ref(qualifier), _dump(record), url_id)
        return _config(repo, _ref(qualifier), record, port, "create")


def get_url_config(
    repo: Repository, qualifier: str | None, *, port: int = DEFAULT_PORT
) -> UrlConfig:
    """``get-function-url-config``."""
    validate_url_qualifier(qualifier)
    _raw, record = _load(repo, qualifier)
    if record is None:
        raise ResourceNotFoundException(NOT_FOUND)
    return _config(repo, _ref(qualifier), record, port)


def update_url_config(
    repo: Repository,
    qualifier: str | None,
    *,
    auth_type: str | None = None,
    cors: Any = None,
    invoke_mode: str | None = None,
    port: int = DEFAULT_PORT,
) -> UrlConfig:
    """``update-function-url-config``: changes only what it is given (the URL stays)."""
    _check_inputs(qualifier, auth_type, cors, invoke_mode)
    with repo.lock.held():
        if not _alias_exists(repo, qualifier):
            raise ResourceNotFoundException(NO_FUNCTION)
        old, record = _load(repo, qualifier)
        if old is None or record is None:
            raise ResourceNotFoundException(NOT_FOUND)
        new = dict(record)
        if auth_type is not None:
            new["AuthType"] = auth_type
        if cors is not None:
            new["Cors"] = _ordered(cors)
        if invoke_mode is not None:
            new["InvokeMode"] = invoke_mode
        new["LastModifiedTime"] = repo.now()
        with repo.meta.transaction():
            repo.meta.set_if_equals(FUNCTION_URLS, _ref(qualifier), old, _dump(new), new["UrlId"])
        return _config(repo, _ref(qualifier), new, port, "update")


def delete_url_config(repo: Repository, qualifier: str | None) -> None:
    """``delete-function-url-config``: without a qualifier, only the unqualified function's
    URL goes (the aliases' stay).  A request to the deleted URL is then refused."""
    validate_url_qualifier(qualifier)
    with repo.lock.held():
        raw = repo.meta.get(FUNCTION_URLS, _ref(qualifier))
        if raw is None:
            raise ResourceNotFoundException(NOT_FOUND)
        from lambdaver.service.qualified import forget_url

        with repo.meta.transaction():
            forget_url(repo, _ref(qualifier))


def list_url_configs(repo: Repository, *, port: int = DEFAULT_PORT) -> UrlConfigList:
    """``list-function-url-configs``: every URL of the function, the unqualified one
    first, then by alias name."""
    rows = repo.meta.items(FUNCTION_URLS)
    rows.sort(key=lambda r: (r[0] != LATEST, r[0]))
    return UrlConfigList([_config(repo, name, json.loads(raw), port) for name, raw in rows])


class Target(Value):
    """What a URL id names: the function's repository, the qualifier (None: unqualified)
    and the config's record."""

    qualifier: str | None
    auth_type: str
    cors: dict[str, Any] | None


def find_url(repo: Repository, url_id: str) -> Target | bool | None:
    """The config of ``url_id`` in this repository; ``True`` if the id belonged to a URL
    deleted since; ``None`` if it is unknown here."""
    names = repo.meta.find(FUNCTION_URLS, url_id)
    if names:
        raw = repo.meta.get(FUNCTION_URLS, names[0])
        if raw is not None:
            record = json.loads(raw)
            return Target(
                None if names[0] == LATEST else names[0], record["AuthType"], record.get("Cors")
            )
    if repo.meta.get(FUNCTION_URLS_GONE, url_id) is not None:
        return True
    return None
