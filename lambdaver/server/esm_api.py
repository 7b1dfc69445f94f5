"""The event source mapping operations of the Lambda API (lambda-semantics-2 §1.2):
CreateEventSourceMapping (202), GetEventSourceMapping (200), UpdateEventSourceMapping
(202), DeleteEventSourceMapping (202, State ``Deleting``), ListEventSourceMappings (200,
``Marker``/``MaxItems``, 100 a page).  Registered in app.py's EXTENSION_MODULES; the
rules are service/esm.py's, shared with the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdaver.errors import ResourceNotFoundException

if TYPE_CHECKING:
    from lambdaver.server.app import Api, Call, Result
    from lambdaver.service.repository import Repository

API = "2015-03-31"
ESM = "event-source-mappings"
#: Server-side page cap of ListEventSourceMappings.
PAGE = 100
#: Body members that only streams and other sources use: kept on the mapping as given.
KEPT = (
    "ParallelizationFactor", "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError",
    "MaximumRetryAttempts", "TumblingWindowInSeconds", "Topics", "Queues",
    "DestinationConfig", "FilterCriteria", "ScalingConfig", "SourceAccessConfigurations",
    "StartingPositionTimestamp",
)  # fmt: skip


def dispatch(api: Api, call: Call) -> Result | None:
    s = call.segments
    if len(s) < 2 or s[0] != API or s[1] != ESM:
        return None
    from lambdaver.server.app import Api as _Api

    rest = s[2:]
    if rest in ([], [""]):
        return _Api._method(call.method, {"GET": _list, "POST": _create})(api, call)
    if len(rest) == 1:
        table = {"GET": _get, "PUT": _update, "DELETE": _delete}
        return _Api._method(call.method, table)(api, call, rest[0])
    return None


def _repos(api: Api) -> list[Repository]:
    from lambdaver.service.repository import Repository

    out = []
    for _name, directory in sorted(api.functions.all().items()):
        repo = Repository(directory, api.settings)
        try:
            repo.check_format()
        except Exception as exc:  # noqa: BLE001 - one broken function hides not the others
            api.warn(f"{directory}: skipped: {exc}")
            continue
        out.append(repo)
    return out


def _function(api: Api, raw: str) -> tuple[Repository, str | None]:
    from lambdaver.service.esm import function_does_not_exist

    try:
        return api.open(raw)
    except ResourceNotFoundException as exc:
        raise function_does_not_exist() from exc


def _response_types(call: Call) -> list[str] | None:
    types = call.field("FunctionResponseTypes", list)
    return None if types is None else [str(t) for t in types]


def _create(api: Api, call: Call) -> Result:
    from lambdaver.service import esm

    raw = call.required("FunctionName", str)
    repo, qualifier = _function(api, raw)
    extra: dict[str, Any] = {k: call.json()[k] for k in KEPT if call.json().get(k) is not None}
    result = esm.create_mapping(
        repo,
        function_name=raw,
        qualifier=qualifier,
        event_source_arn=call.field("EventSourceArn", str),
        batch_size=call.field("BatchSize", int),
        window=call.field("MaximumBatchingWindowInSeconds", int),
        enabled=call.field("Enabled", bool),
        response_types=_response_types(call),
        starting_position=call.field("StartingPosition", str),
        extra=extra,
        project_root=api.functions.root,
    )
    return 202, result.to_aws(), {}


def _get(api: Api, call: Call, uuid: str) -> Result:
    from lambdaver.service import esm

    return 200, esm.get_mapping(_repos(api), uuid).to_aws(), {}


def _update(api: Api, call: Call, uuid: str) -> Result:
    from lambdaver.service import esm

    raw = call.field("FunctionName", str)
    qualifier = None
    if raw is not None:
        _repo, qualifier = _function(api, raw)
    result = esm.update_mapping(
        _repos(api),
        uuid,
        function_name=raw,
        qualifier=qualifier,
        batch_size=call.field("BatchSize", int),
        window=call.field("MaximumBatchingWindowInSeconds", int),
        enabled=call.field("Enabled", bool),
        response_types=_response_types(call),
    )
    return 202, result.to_aws(), {}


def _delete(api: Api, call: Call, uuid: str) -> Result:
    from lambdaver.service import esm

    return 202, esm.delete_mapping(_repos(api), uuid).to_aws(), {}


def _list(api: Api, call: Call) -> Result:
    from lambdaver.service import esm

    found = esm.list_mappings(
        _repos(api),
        function_name=call.query.get("FunctionName"),
        event_source_arn=call.query.get("EventSourceArn"),
    )
    items = found.to_aws()["EventSourceMappings"]
    return 200, api._page(call, "EventSourceMappings", items, PAGE), {}
