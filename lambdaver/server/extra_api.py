"""The operations Terraform's AWS provider (and other tools) call around a function besides
lambda-semantics-2 §1.2's, with honest local answers.  Paths and status codes are
botocore's Lambda service model's:

- tags: ListTags (``GET /2017-03-31/tags/{ARN}``, 200), TagResource (``POST``, 204),
  UntagResource (``DELETE``, ``tagKeys`` in the query, 204); CreateFunction's ``Tags``
  are kept too, and GetFunction returns them (``Tags``), as AWS does;
- reserved concurrency: PutFunctionConcurrency (``PUT /2017-10-31/functions/{F}/
  concurrency``, 200), GetFunctionConcurrency (``GET /2019-09-30/...``, 200, ``{}`` when
  none), DeleteFunctionConcurrency (``DELETE /2017-10-31/...``, 204); GetFunction returns
  it as ``Concurrency``.  It is kept and returned, **not enforced** (the server's warm
  pool does not cap a function's concurrent invocations by it);
- ``Role``: kept from CreateFunction and UpdateFunctionConfiguration and returned in
  their answers and GetFunction/GetFunctionConfiguration's (one per function, not per
  version; nothing assumes it: functions run with the server's own permissions);
- GetFunctionCodeSigningConfig (``GET /2020-06-30/functions/{F}/code-signing-config``):
  none, ``{"CodeSigningConfigArn": "", "FunctionName": F}`` as AWS answers then;
- GetRuntimeManagementConfig (``GET /2021-07-20/functions/{F}/runtime-management-config``):
  ``{"UpdateRuntimeOn": "Auto", "FunctionArn": ...}``;
- GetFunctionRecursionConfig / PutFunctionRecursionConfig (``/2024-08-31/functions/{F}/
  recursion-config``): ``Terminate`` unless set (kept, not acted on: there is no loop
  detection);
- GetFunctionEventInvokeConfig (``GET /2019-09-25/functions/{F}/event-invoke-config``):
  none configured, 404 as AWS answers then.

What is kept lives in the function's repository metadata, namespace :data:`NS`, written
under the repository lock in one SQLite transaction.  Registered in ``server/app.py``'s
EXTENSION_MODULES (asked before app.py's own operations, so it wraps CreateFunction,
GetFunction and Get/UpdateFunctionConfiguration to add what it keeps)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from lambdaver.errors import (
    InvalidParameterValueException,
    ResourceNotFoundException,
    ValidationException,
)

if TYPE_CHECKING:
    from lambdaver.server.app import Api, Call, Result
    from lambdaver.service.repository import Repository

#: Namespace of the repository metadata holding what this module keeps.
NS = "server-extras"
TAGS = "tags"
CONCURRENCY = "concurrency"
ROLE = "role"
RECURSION = "recursion"

#: AWS's limits: 50 tags a resource, keys of 1-128 and values of 0-256 characters.
MAX_TAGS = 50
#: An account's default concurrency (1000) less the 100 AWS keeps unreserved.
MAX_RESERVED = 900
RECURSIVE_LOOP = ("Allow", "Terminate")


def dispatch(api: Api, call: Call) -> Result | None:
    from lambdaver.server.app import Api as _Api

    s = call.segments
    m = call.method
    if len(s) == 3 and s[:2] == ["2017-03-31", "tags"]:
        table = {"GET": _list_tags, "POST": _tag, "DELETE": _untag}
        return _Api._method(m, table)(api, call, s[2])
    if len(s) < 2 or s[1] != "functions":
        return None
    if s[0] == "2015-03-31":
        return _wrapped(api, call)
    if len(s) != 4:
        return None
    fn, sub = s[2], s[3]
    ops: dict[tuple[str, str], dict[str, Any]] = {
        ("2020-06-30", "code-signing-config"): {"GET": _code_signing},
        ("2019-09-30", "concurrency"): {"GET": _get_concurrency},
        ("2017-10-31", "concurrency"): {"PUT": _put_concurrency, "DELETE": _delete_concurrency},
        ("2021-07-20", "runtime-management-config"): {"GET": _runtime_management},
        ("2024-08-31", "recursion-config"): {"GET": _get_recursion, "PUT": _put_recursion},
        ("2019-09-25", "event-invoke-config"): {"GET": _event_invoke_config},
    }
    found = ops.get((s[0], sub))
    if found is None:
        return None
    return _Api._method(m, found)(api, call, fn)


# --- what is kept ------------------------------------------------------------------------


def _get(repo: Repository, name: str) -> Any:
    raw = repo.meta.get(NS, name)
    return None if raw is None else json.loads(raw)


def _put(repo: Repository, values: dict[str, Any]) -> None:
    """Set (None: remove) each of ``values`` under the lock, in one transaction."""
    meta = repo.meta
    with repo.lock.held(), meta.transaction():
        for name, value in values.items():
            if value is None:
                meta.remove(NS, name)
            else:
                meta.set_if_equals(NS, name, meta.get(NS, name), json.dumps(value))


# --- CreateFunction, GetFunction, Get/UpdateFunctionConfiguration, wrapped -------------


def _wrapped(api: Api, call: Call) -> Result | None:
    """CreateFunction, to keep its ``Role`` and ``Tags`` (checked before it runs)."""
    if len(call.segments) == 2 and call.method == "POST":
        return _create_function(api, call)
    return None


def decorate(kind: str, repo: Repository, call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """app.py's answers with what is kept here: ``Role`` in a configuration (kept from
    UpdateFunctionConfiguration's body first), ``Tags`` and ``Concurrency`` beside
    GetFunction's configuration, as Terraform's provider reads them."""
    if kind == "configuration":
        if call.method == "PUT":
            role = _role(call)
            if role is not None:
                _put(repo, {ROLE: role})
        return _with_role(repo, body)
    body = {**body, "Configuration": _with_role(repo, body["Configuration"])}
    tags = _get(repo, TAGS)
    if tags:
        body["Tags"] = tags
    reserved = _get(repo, CONCURRENCY)
    if reserved is not None:
        body["Concurrency"] = {"ReservedConcurrentExecutions": reserved}
    return body


def _with_role(repo: Repository, conf: dict[str, Any]) -> dict[str, Any]:
    role = _get(repo, ROLE)
    if role is None:
        return conf
    out: dict[str, Any] = {}
    for key, value in conf.items():  # AWS's place for Role: after Runtime
        out[key] = value
        if key == "Runtime":
            out["Role"] = role
    out.setdefault("Role", role)
    return out


def _role(call: Call) -> str | None:
    """The body's ``Role``: kept as given (not checked against AWS's pattern, as the
    server took any value before it kept one; it is never assumed)."""
    role: str | None = call.field("Role", str)
    return role


def _create_function(api: Api, call: Call) -> Result:
    role = _role(call)
    tags = _tags(call.field("Tags", dict, {}))
    status, body, headers = api.create_function(call)
    kept: dict[str, Any] = {}
    if role is not None:
        kept[ROLE] = role
    if tags:
        kept[TAGS] = tags
    if kept:
        repo = api.open(body["FunctionName"])[0]
        _put(repo, kept)
        body = _with_role(repo, body)
    return status, body, headers


# --- tags --------------------------------------------------------------------------------


def _tags(tags: dict[str, Any]) -> dict[str, str]:
    for key, value in tags.items():
        if not isinstance(value, str) or not 1 <= len(key) <= 128 or len(value) > 256:
            raise InvalidParameterValueException(
                "Tags must map keys of 1 to 128 characters to string values of at most 256"
            )
        if key.lower().startswith("aws:"):
            raise InvalidParameterValueException("Tag keys starting with 'aws:' are reserved")
    return dict(tags)


def _tagged(api: Api, arn: str) -> Repository:
    """The function a tags operation names (by ARN, as AWS requires; unqualified)."""
    if not arn.startswith("arn:"):
        raise ValidationException.constraint(
            arn, "resource", "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)"
            "?:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:function:"
            "[a-zA-Z0-9-_]+",
        )  # fmt: skip
    return api.unqualified(arn)


def _list_tags(api: Api, call: Call, arn: str) -> Result:
    repo = _tagged(api, arn)
    return 200, {"Tags": _get(repo, TAGS) or {}}, {}


def _tag(api: Api, call: Call, arn: str) -> Result:
    repo = _tagged(api, arn)
    new = _tags(call.required("Tags", dict))
    with repo.lock.held():
        tags = {**(_get(repo, TAGS) or {}), **new}
        if len(tags) > MAX_TAGS:
            raise InvalidParameterValueException(
                f"A function can have at most {MAX_TAGS} tags ({len(tags)} given)"
            )
        _put(repo, {TAGS: tags})
    return 204, None, {}


def _untag(api: Api, call: Call, arn: str) -> Result:
    repo = _tagged(api, arn)
    keys = [v for k, v in call.query_items if k == "tagKeys"]
    if not keys:
        raise ValidationException.constraint(None, "tagKeys", "Member must not be null")
    with repo.lock.held():
        tags = {k: v for k, v in (_get(repo, TAGS) or {}).items() if k not in keys}
        _put(repo, {TAGS: tags or None})
    return 204, None, {}


# --- concurrency -------------------------------------------------------------------------


def _get_concurrency(api: Api, call: Call, fn: str) -> Result:
    reserved = _get(api.unqualified(fn), CONCURRENCY)
    return 200, {} if reserved is None else {"ReservedConcurrentExecutions": reserved}, {}


def _put_concurrency(api: Api, call: Call, fn: str) -> Result:
    repo = api.unqualified(fn)
    reserved = call.required("ReservedConcurrentExecutions", int)
    if reserved < 0:
        raise ValidationException.constraint(
            reserved, "reservedConcurrentExecutions", "Member must have value greater than or "
            "equal to 0",
        )  # fmt: skip
    if reserved > MAX_RESERVED:
        raise InvalidParameterValueException(
            "Specified ReservedConcurrentExecutions for function decreases account's "
            "UnreservedConcurrentExecution below its minimum value of [100]."
        )
    _put(repo, {CONCURRENCY: reserved})
    return 200, {"ReservedConcurrentExecutions": reserved}, {}


def _delete_concurrency(api: Api, call: Call, fn: str) -> Result:
    _put(api.unqualified(fn), {CONCURRENCY: None})
    return 204, None, {}


# --- fixed answers -----------------------------------------------------------------------


def _code_signing(api: Api, call: Call, fn: str) -> Result:
    repo = api.unqualified(fn)
    return 200, {"CodeSigningConfigArn": "", "FunctionName": repo.name}, {}


def _runtime_management(api: Api, call: Call, fn: str) -> Result:
    from lambdaver.service import functions as svc

    repo, qualifier = api.qualified(call, fn)
    conf = svc.get_configuration(repo, qualifier)  # an unknown qualifier: 404
    return 200, {"UpdateRuntimeOn": "Auto", "FunctionArn": conf.function_arn}, {}


def _get_recursion(api: Api, call: Call, fn: str) -> Result:
    loop = _get(api.unqualified(fn), RECURSION) or "Terminate"
    return 200, {"RecursiveLoop": loop}, {}


def _put_recursion(api: Api, call: Call, fn: str) -> Result:
    repo = api.unqualified(fn)
    loop = call.required("RecursiveLoop", str)
    if loop not in RECURSIVE_LOOP:
        raise ValidationException.constraint(
            loop, "recursiveLoop", "Member must satisfy enum value set: [Allow, Terminate]"
        )
    _put(repo, {RECURSION: loop})
    return 200, {"RecursiveLoop": loop}, {}


def _event_invoke_config(api: Api, call: Call, fn: str) -> Result:
    from lambdaver.service import functions as svc

    repo, qualifier = api.qualified(call, fn)
    conf = svc.get_configuration(repo, qualifier)
    raise ResourceNotFoundException(
        f"The function {conf.function_arn} doesn't have an EventInvokeConfig"
    )
