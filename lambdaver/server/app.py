"""The ASGI application: the Lambda REST API's paths (lambda-semantics-2 §1.2) routed to
the service's operations, their typed results rendered as the API's JSON.

Every request opens the function's repository afresh, exactly as a CLI command does: a
change made by the CLI is seen by the next request, and RevisionId preconditions hold
across both (each change re-reads under the repository lock).  Requests run in
starlette's thread pool; invocations run in the execution environments of ``pool``
(:mod:`lambdaver.runtime.warm`), never in this process.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdaver.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    ResourceNotFoundException,
    ValidationException,
)
from lambdaver.model.names import (
    FUNCTION_NAME_PATTERN,
    LATEST,
    Arns,
    merge_qualifier,
    parse_function_name,
    validate_qualifier,
)
from lambdaver.runtime import EnvironmentPool
from lambdaver.server.functions import Functions
from lambdaver.server.wire import ApiError, error_response, query_action, query_error_response
from lambdaver.service.repository import Repository
from lambdaver.service.settings import Settings

API = "2015-03-31"
#: Where GetFunction's ``Code.Location`` points: the deployment zip, served here.
CODE_PATH = "/_lambdaver/code/"
#: Server-side page caps (lambda-semantics-2 §1.4).
VERSIONS_PAGE = 50
FUNCTIONS_PAGE = 50
ALIASES_PAGE = 10000
#: Largest request body read (a 50 MB zip, base64-encoded, and some JSON around it).
MAX_BODY = 70 * 1024 * 1024
#: Largest Event payload (AWS's asynchronous limit).
MAX_EVENT_PAYLOAD = 1_048_576

_NAME_RE = re.compile(FUNCTION_NAME_PATTERN)

#: Modules that serve more operations (policies, function URLs, event source mappings):
#: each has ``dispatch(api, call) -> Result | None`` (None: not one of its operations),
#: asked in this order before the operations of this module.  A module may also have
#: ``decorate(kind, repo, call, body) -> body``: what it keeps about a function, added to
#: this module's answers (``kind``: ``function`` for GetFunction, ``configuration`` for
#: Get/UpdateFunctionConfiguration), with the repository the answer was read from.
EXTENSION_MODULES: tuple[str, ...] = (
    "lambdaver.server.policy_api",
    "lambdaver.server.url_api",
    "lambdaver.server.esm_api",
    "lambdaver.server.extra_api",
    "lambdaver.server.stream_api",
)
_EXTENSIONS: list[Callable[[Api, Call], Result | None]] = []


_DECORATORS: list[Callable[[str, Repository, Call, dict[str, Any]], dict[str, Any]]] = []


def _extensions() -> list[Callable[[Api, Call], Result | None]]:
    if not _EXTENSIONS and EXTENSION_MODULES:
        import importlib

        modules = [importlib.import_module(m) for m in EXTENSION_MODULES]
        _DECORATORS.extend(m.decorate for m in modules if hasattr(m, "decorate"))
        _EXTENSIONS.extend(m.dispatch for m in modules)
    return _EXTENSIONS


def _decorated(kind: str, repo: Repository, call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with what the extension modules keep about the function (their
    ``decorate``; see :data:`EXTENSION_MODULES`)."""
    _extensions()
    for decorate in _DECORATORS:
        body = decorate(kind, repo, call, body)
    return body


def _complete_pending(repo: Any) -> None:
    """As the CLI does: complete an interrupted checkout or import before a change."""
    from lambdaver.cli.state import complete_pending

    complete_pending(repo)


def _view(conf: Any) -> str:
    """publish's stored view, as the CLI renders it (so its fast listing stays right)."""
    from lambdaver.cli.listing import item_view

    return item_view(conf)


class Call:
    """One request, parsed: method, decoded path segments, query, headers, body."""

    def __init__(
        self, method: str, segments: list[str], query: dict[str, str], headers: Any, body: bytes,
        base_url: str,
    ) -> None:  # fmt: skip
        self.method = method
        self.segments = segments
        self.query = query
        #: Every (key, value) of the query, repeated keys too (UntagResource's tagKeys).
        self.query_items: list[tuple[str, str]] = list(query.items())
        self.headers = headers
        self.body = body
        self.base_url = base_url
        self.request_id = str(uuid.uuid4())
        self._json: dict[str, Any] | None = None

    def json(self) -> dict[str, Any]:
        if self._json is None:
            if not self.body.strip():
                self._json = {}
            else:
                try:
                    data = json.loads(self.body)
                except (ValueError, UnicodeDecodeError) as exc:
                    raise InvalidRequestContentException(
                        f"Could not parse request body into json: {exc}"
                    ) from exc
                if not isinstance(data, dict):
                    raise InvalidRequestContentException(
                        "Could not parse request body into json: the body is not a JSON object"
                    )
                self._json = data
        return self._json

    def field(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        """Body member ``key`` of type ``kind`` (missing or null: ``default``)."""
        value = self.json().get(key)
        if value is None:
            return default
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise InvalidRequestContentException(
                f"Could not parse request body into json: Unexpected value type for field "
                f"'{key}': {type(value).__name__}"
            )
        return value

    def required(self, key: str, kind: type | tuple[type, ...]) -> Any:
        value = self.field(key, kind)
        if value is None:
            field = key[:1].lower() + key[1:]
            raise ValidationException.constraint(None, field, "Member must not be null")
        return value


Result = tuple[int, Any, dict[str, str]]


class Api:
    """The operations, on the functions under ``root``."""

    def __init__(
        self,
        root: str,
        settings: Settings,
        pool: EnvironmentPool,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.functions = Functions(root)
        self.settings = settings
        self.pool = pool
        self.warn = warn or (lambda m: print(f"lambdaver: warning: {m}", file=sys.stderr))
        self.events: set[threading.Thread] = set()
        self._events_lock = threading.Lock()
        self.accepting_events = True

    # --- opening functions -------------------------------------------------------------

    def arns(self, name: str) -> Arns:
        return Arns(self.settings.region, self.settings.account_id, name)

    def open(self, raw: str) -> tuple[Repository, str | None]:
        """The repository of the function ``raw`` names (name, partial or full ARN, maybe
        qualified) and the qualifier the name carries."""
        m = _NAME_RE.fullmatch(raw)
        name = m.group(10) if m else ""
        directory = self.functions.directory(name) if m and len(raw) <= 256 else None
        if directory is None:
            # AWS's own checks (length, pattern, region, account) first, then "not found"
            parse_function_name(
                raw, region=self.settings.region, account=self.settings.account_id,
                expected=name,
            )  # fmt: skip
            raise ResourceNotFoundException(f"Function not found: {self.arns(name).function()}")
        repo = Repository(directory, self.settings)
        repo.check_format()
        repo.on_lock(_complete_pending)
        qualifier = parse_function_name(
            raw, region=self.settings.region, account=self.settings.account_id, expected=repo.name
        )
        return repo, qualifier

    def qualified(self, call: Call, raw: str) -> tuple[Repository, str | None]:
        repo, in_name = self.open(raw)
        given = call.query.get("Qualifier")
        if given is not None:
            validate_qualifier(given)
        return repo, merge_qualifier(in_name, given)

    def unqualified(self, raw: str) -> Repository:
        repo, in_name = self.open(raw)
        if in_name is not None:
            raise InvalidParameterValueException("Cannot provide qualifier")
        return repo

    # --- routing -----------------------------------------------------------------------

    def dispatch(self, call: Call) -> Result:
        for extension in _extensions():
            found = extension(self, call)
            if found is not None:
                return found
        s = call.segments
        m = call.method
        if s and s[0] == "_lambdaver" and len(s) == 3 and s[1] == "code" and m == "GET":
            return self.download_code(call, s[2])
        if len(s) < 2 or s[0] != API or s[1] != "functions":
            raise ApiError("UnknownOperationException", f"No operation at {m} /{'/'.join(s)}")
        rest = s[2:]
        if rest in ([], [""]):
            return self._method(m, {"GET": self.list_functions, "POST": self.create_function})(call)
        fn = rest[0]
        if len(rest) == 1:
            fn_ops: dict[str, Callable[..., Result]] = {
                "GET": self.get_function, "DELETE": self.delete_function,
            }  # fmt: skip
            return self._method(m, fn_ops)(call, fn)
        sub = rest[1]
        if len(rest) == 2:
            table: dict[str, dict[str, Callable[..., Result]]] = {
                "configuration": {
                    "GET": self.get_configuration, "PUT": self.update_configuration,
                },
                "code": {"PUT": self.update_code},
                "versions": {"GET": self.list_versions, "POST": self.publish_version},
                "aliases": {"GET": self.list_aliases, "POST": self.create_alias},
                "invocations": {"POST": self.invoke},
            }  # fmt: skip
            if sub in table:
                return self._method(m, table[sub])(call, fn)
        if len(rest) == 3 and sub == "aliases":
            alias_ops: dict[str, Callable[..., Result]] = {
                "GET": self.get_alias, "PUT": self.update_alias, "DELETE": self.delete_alias,
            }  # fmt: skip
            return self._method(m, alias_ops)(call, fn, rest[2])
        raise ApiError("UnknownOperationException", f"No operation at {m} /{'/'.join(s)}")

    @staticmethod
    def _method(method: str, table: dict[str, Callable[..., Result]]) -> Callable[..., Result]:
        found = table.get(method)
        if found is None:
            raise ApiError(
                "MethodNotAllowedException",
                f"Method {method} is not allowed here (allowed: {', '.join(sorted(table))})",
            )
        return found

    # --- functions -----------------------------------------------------------------------

    def list_functions(self, call: Call) -> Result:
        from lambdaver.service import functions as svc

        everything = call.query.get("FunctionVersion")
        if everything is not None and everything != "ALL":
            raise ValidationException.constraint(
                everything, "functionVersion", "Member must satisfy enum value set: [ALL]"
            )
        items: list[dict[str, Any]] = []
        for _name, directory in sorted(self.functions.all().items()):
            repo = Repository(directory, self.settings)
            try:
                repo.check_format()
                if everything:
                    items += [v.to_aws() for v in svc.list_versions(repo).versions]
                else:
                    items.append(svc.get_configuration(repo, None).to_aws())
            except Exception as exc:  # noqa: BLE001 - one broken function hides not the others
                self.warn(f"{directory}: not listed: {exc}")
        return 200, self._page(call, "Functions", items, FUNCTIONS_PAGE), {}

    def create_function(self, call: Call) -> Result:
        import io

        from lambdaver.service.project import create_function

        name_raw = call.required("FunctionName", str)
        m = _NAME_RE.fullmatch(name_raw)
        if m is None or m.group(12):
            parse_function_name(
                name_raw, region=self.settings.region, account=self.settings.account_id,
                expected="",
            )  # fmt: skip
            raise InvalidParameterValueException("Cannot provide qualifier")
        name = m.group(10)
        parse_function_name(
            name_raw, region=self.settings.region, account=self.settings.account_id, expected=name
        )
        code = call.required("Code", dict)
        zip_b64 = code.get("ZipFile")
        if not isinstance(zip_b64, str):
            raise InvalidParameterValueException(
                "lambdaver serve takes the code as Code.ZipFile (S3 and image code are not served)"
            )
        if self.functions.directory(name) is not None:
            raise _conflict(f"Function already exist: {name}")
        package_type = call.field("PackageType", str)
        if package_type not in (None, "Zip"):
            raise InvalidParameterValueException(
                "lambdaver serve runs Zip packages only (PackageType Zip)"
            )
        env = _environment(call)
        _repo, result = create_function(
            self.functions.parent_for_new(),
            self.settings,
            name,
            io.BytesIO(_b64(zip_b64, "ZipFile")),
            runtime=call.field("Runtime", str),
            handler=call.field("Handler", str),
            memory_size=call.field("MemorySize", int),
            timeout=call.field("Timeout", int),
            description=call.field("Description", str),
            environment=env,
            publish=bool(call.field("Publish", bool, False)),
            view=_view,
            set_aside=lambda old, new: self.warn(
                f"{old} held the files of a deleted function {name}: moved to {new}"
            ),
        )
        conf = result.configuration
        return 201, conf.to_aws(), {}

    def get_function(self, call: Call, fn: str) -> Result:
        from lambdaver.service import functions as svc

        repo, qualifier = self.qualified(call, fn)
        conf = svc.get_configuration(repo, qualifier)
        location = (
            call.base_url.rstrip("/") + CODE_PATH + quote(repo.name, safe="")
            + "?Qualifier=" + quote(qualifier or LATEST, safe="")
        )  # fmt: skip
        body = {
            "Configuration": conf.to_aws(),
            "Code": {"RepositoryType": "S3", "Location": location},
        }
        return 200, _decorated("function", repo, call, body), {}

    def download_code(self, call: Call, fn: str) -> Result:
        from lambdaver.service.code import write_zip

        repo, qualifier = self.qualified(call, fn)
        with tempfile.TemporaryFile() as f:
            export = write_zip(repo, qualifier, f)
            f.seek(0)
            data = f.read()
        headers = {
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{repo.name}-{export.version}.zip"',
            "x-amz-meta-codesha256": export.code_sha256,
        }
        return 200, data, headers

    def delete_function(self, call: Call, fn: str) -> Result:
        from lambdaver.service import functions as svc

        repo, qualifier = self.qualified(call, fn)
        if qualifier is None:
            svc.delete_function(repo)
        else:
            svc.delete_version(repo, qualifier)
        return 204, None, {}

    def get_configuration(self, call: Call, fn: str) -> Result:
        from lambdaver.service import functions as svc

        repo, qualifier = self.qualified(call, fn)
        conf = svc.get_configuration(repo, qualifier).to_aws()
        return 200, _decorated("configuration", repo, call, conf), {}

    def update_configuration(self, call: Call, fn: str) -> Result:
        from lambdaver.service import functions as svc

        repo = self.unqualified(fn)
        conf = svc.update_configuration(
            repo,
            runtime=call.field("Runtime", str),
            handler=call.field("Handler", str),
            memory_size=call.field("MemorySize", int),
            timeout=call.field("Timeout", int),
            description=call.field("Description", str),
            environment=_environment(call),
            revision_id=call.field("RevisionId", str),
        )
        return 200, _decorated("configuration", repo, call, conf.to_aws()), {}

    def update_code(self, call: Call, fn: str) -> Result:
        import io

        from lambdaver.service.code import import_zip

        repo = self.unqualified(fn)
        zip_b64 = call.field("ZipFile", str)
        if zip_b64 is None:
            raise InvalidParameterValueException(
                "lambdaver serve takes the code as ZipFile (S3 and image code are not served)"
            )
        data = _b64(zip_b64, "ZipFile")
        if call.field("DryRun", bool, False):
            from lambdaver.service import functions as svc

            return 200, svc.get_configuration(repo, None).to_aws(), {}
        # The client holds what it uploads: $LATEST is replaced, as AWS replaces it.
        result = import_zip(
            repo,
            io.BytesIO(data),
            publish=bool(call.field("Publish", bool, False)),
            revision_id=call.field("RevisionId", str),
            view=_view,
            force=True,
        )
        return 200, result.configuration.to_aws(), {}

    # --- versions ------------------------------------------------------------------------

    def publish_version(self, call: Call, fn: str) -> Result:
        from lambdaver.service import functions as svc

        repo = self.unqualified(fn)
        conf = svc.publish(
            repo,
            description=call.field("Description", str),
            code_sha256=call.field("CodeSha256", str),
            revision_id=call.field("RevisionId", str),
            view=_view,
        )
        return 201, conf.to_aws(), {}

    def list_versions(self, call: Call, fn: str) -> Result:
        from lambdaver.model.records import VersionRecord, version_configuration
        from lambdaver.service import functions as svc
        from lambdaver.service.repository import VERSIONS

        repo = self.unqualified(fn)
        start, limit = self._bounds(call, VERSIONS_PAGE)
        # Only this page's items are decoded and rendered ($LATEST, then ascending, as
        # svc.list_versions orders them; its per-version aliases are not in AWS's shape).
        rows = repo.meta.items(VERSIONS, numeric=True)
        items: list[Any] = []
        if start == 0:
            latest = svc.latest_configuration(repo, repo.scan_latest(), LATEST)
            items.append(latest.to_aws())
        for _number, record in rows[max(0, start - 1) : start - 1 + limit]:
            conf = version_configuration(repo.arns, VersionRecord.from_json(record))
            items.append(conf.to_aws())
        for item in items:
            item.pop("Aliases", None)
        out: dict[str, Any] = {"Versions": items}
        if start + limit < 1 + len(rows):
            out["NextMarker"] = _marker(start + limit)
        return 200, out, {}

    # --- aliases -------------------------------------------------------------------------

    def create_alias(self, call: Call, fn: str) -> Result:
        from lambdaver.service import aliases

        repo = self.unqualified(fn)
        conf = aliases.create_alias(
            repo,
            call.required("Name", str),
            call.required("FunctionVersion", str),
            description=call.field("Description", str),
            weights=_weights(call),
        )
        return 201, conf.to_aws(), {}

    def get_alias(self, call: Call, fn: str, name: str) -> Result:
        from lambdaver.service import aliases

        repo = self.unqualified(fn)
        return 200, aliases.get_alias(repo, name).to_aws(), {}

    def update_alias(self, call: Call, fn: str, name: str) -> Result:
        from lambdaver.service import aliases

        repo = self.unqualified(fn)
        conf = aliases.update_alias(
            repo,
            name,
            function_version=call.field("FunctionVersion", str),
            description=call.field("Description", str),
            weights=_weights(call),
            revision_id=call.field("RevisionId", str),
        )
        return 200, conf.to_aws(), {}

    def delete_alias(self, call: Call, fn: str, name: str) -> Result:
        from lambdaver.service import aliases

        repo = self.unqualified(fn)
        aliases.delete_alias(repo, name)
        return 204, None, {}

    def list_aliases(self, call: Call, fn: str) -> Result:
        from lambdaver.service import aliases

        repo = self.unqualified(fn)
        found = aliases.list_aliases(repo, call.query.get("FunctionVersion"))
        items = [a.to_aws() for a in found.aliases]
        return 200, self._page(call, "Aliases", items, ALIASES_PAGE), {}

    # --- invoke --------------------------------------------------------------------------

    def invoke(self, call: Call, fn: str) -> Result:
        from lambdaver.service import invoke as svc

        repo, qualifier = self.qualified(call, fn)
        kind = call.headers.get("x-amz-invocation-type") or "RequestResponse"
        log_type = call.headers.get("x-amz-log-type") or "None"
        if kind not in ("RequestResponse", "Event", "DryRun"):
            raise ValidationException.constraint(
                kind, "invocationType",
                "Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
            )  # fmt: skip
        if log_type not in ("None", "Tail"):
            raise ValidationException.constraint(
                log_type, "logType", "Member must satisfy enum value set: [Tail, None]"
            )
        # checked for every invocation type, passed on to synchronous ones only (as AWS)
        client_context = svc.parse_client_context(call.headers.get("x-amz-client-context"))
        payload = call.body
        if kind == "Event":
            from lambdaver.errors import RequestEntityTooLargeException
            from lambdaver.service.functions import resolve

            if len(payload) > MAX_EVENT_PAYLOAD:
                raise RequestEntityTooLargeException(
                    f"Request must be smaller than {MAX_EVENT_PAYLOAD} bytes for the "
                    "InvokeAsync operation"
                )
            svc.check_payload(payload)
            resolve(repo, qualifier)  # a missing qualifier is refused now, not later
            self._start_event(repo.root, qualifier, payload, call.request_id)
            return 202, None, {}
        out = svc.invoke(
            repo,
            qualifier=qualifier,
            payload=payload,
            log_type=log_type,
            invocation_type=kind,
            warn=self.warn,
            environments=self.pool,
            client_context=client_context,
            request_id=call.request_id,  # AWS answers with the invocation's own
        )
        headers: dict[str, str] = {}
        if out.executed_version is not None:
            headers["X-Amz-Executed-Version"] = out.executed_version
        if out.function_error is not None:
            headers["X-Amz-Function-Error"] = out.function_error
        if out.log_result is not None:
            headers["X-Amz-Log-Result"] = out.log_result
        return out.status_code, out.payload if out.status_code == 200 else None, headers

    def _start_event(
        self, root: str, qualifier: str | None, payload: bytes, request_id: str
    ) -> None:
        """Run an Event invocation in the background, as the CLI's queue worker runs one
        (retried twice on a function error after its delays, as AWS does; journaled with
        ``InvocationType: Event``, ``Attempt`` and the request id the 202 answered with);
        its result and log go to the journal (``lambdaver logs``)."""

        def run() -> None:
            from lambdaver.service.event_worker import run_attempts

            def open_repo() -> Repository:  # afresh for each attempt, as for a request
                repo = Repository(root, self.settings)
                repo.on_lock(_complete_pending)
                return repo

            try:
                run_attempts(
                    open_repo, qualifier=qualifier, payload=payload, request_id=request_id,
                    environments=self.pool, warn=self.warn,
                )  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - nobody waits for an event's answer
                self.warn(f"event invocation of {root} failed: {exc}")
            finally:
                with self._events_lock:
                    self.events.discard(threading.current_thread())

        with self._events_lock:
            if not self.accepting_events:
                raise ApiError("ServiceException", "The server is shutting down")
            thread = threading.Thread(target=run, name="lambdaver-event", daemon=True)
            self.events.add(thread)
        thread.start()

    def wait_for_events(self, timeout: float) -> None:
        """Stop taking Event invocations and wait (at most ``timeout`` s) for those running."""
        import time

        with self._events_lock:
            self.accepting_events = False
        until = time.monotonic() + timeout
        while True:
            with self._events_lock:
                running = list(self.events)
            if not running or time.monotonic() >= until:
                return
            running[0].join(max(0.0, min(1.0, until - time.monotonic())))

    # --- paging --------------------------------------------------------------------------

    @staticmethod
    def _page(call: Call, key: str, items: list[Any], cap: int) -> dict[str, Any]:
        """``{key: items of this page}`` plus ``NextMarker`` when more follow."""
        start, limit = Api._bounds(call, cap)
        out: dict[str, Any] = {key: items[start : start + limit]}
        if start + limit < len(items):
            out["NextMarker"] = _marker(start + limit)
        return out

    @staticmethod
    def _bounds(call: Call, cap: int) -> tuple[int, int]:
        """Where this page starts and how many items it holds at most.  The marker is the
        index of the next item, base64-encoded (opaque, as AWS's)."""
        start = 0
        marker = call.query.get("Marker")
        if marker:
            try:
                start = int(base64.urlsafe_b64decode(marker.encode()).decode())
            except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
                raise InvalidParameterValueException(f"Invalid marker: {marker}") from exc
            if start < 0:
                raise InvalidParameterValueException(f"Invalid marker: {marker}")
        limit = cap
        raw = call.query.get("MaxItems")
        if raw is not None:
            if not raw.isdigit() or not 1 <= int(raw) <= 10000:
                raise ValidationException.constraint(
                    raw, "maxItems", "Member must have value between 1 and 10000"
                )
            limit = min(int(raw), cap)
        return start, limit


def _marker(index: int) -> str:
    return base64.urlsafe_b64encode(str(index).encode()).decode()


def _conflict(message: str) -> Exception:
    from lambdaver.errors import ResourceConflictException

    return ResourceConflictException(message)


def _b64(text: str, field: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: {field} is not base64: {exc}"
        ) from exc


def _environment(call: Call) -> dict[str, str] | None:
    env = call.field("Environment", dict)
    if env is None:
        return None
    variables = env.get("Variables")
    if variables is None:
        variables = {}
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise InvalidRequestContentException(
            "Could not parse request body into json: Environment.Variables must map strings "
            "to strings"
        )
    return dict(variables)


def _weights(call: Call) -> dict[str, float] | None:
    routing = call.field("RoutingConfig", dict)
    if routing is None:
        return None
    weights = routing.get("AdditionalVersionWeights")
    if weights is None:
        weights = {}
    if not isinstance(weights, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
        for k, v in weights.items()
    ):
        raise InvalidRequestContentException(
            "Could not parse request body into json: RoutingConfig.AdditionalVersionWeights "
            "must map versions to numbers"
        )
    return {k: float(v) for k, v in weights.items()}


def _segments(raw_path: bytes) -> list[str]:
    """The path's segments, each percent-decoded on its own (so an encoded ``/`` in a
    function name stays inside its segment, and is refused by the name's pattern)."""
    text = raw_path.decode("latin-1").split("?", 1)[0]
    parts = text.strip("/").split("/") if text.strip("/") else []
    if text.endswith("/") and parts:
        parts.append("")
    return [unquote(p, errors="strict") for p in parts]


def _too_large() -> Exception:
    from lambdaver.errors import RequestEntityTooLargeException

    return RequestEntityTooLargeException(f"Request must be smaller than {MAX_BODY} bytes")


async def _read_body(request: Request) -> bytes:
    """The request's body, refused past :data:`MAX_BODY` (declared or sent)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise _too_large()
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(api: Api) -> Starlette:
    """The ASGI application serving ``api``."""
    from starlette.concurrency import run_in_threadpool

    from lambdaver.server import url_api

    async def endpoint(request: Request) -> Response:
        url = url_api.match(request.scope)  # a function URL's request, not an API call
        if url is not None:
            return await url_api.serve(api, request, *url)
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        call: Call | None = None
        try:
            try:
                segments = _segments(raw_path)
            except UnicodeDecodeError as exc:
                raise ApiError("UnknownOperationException", "Malformed path") from exc
            body = await _read_body(request)
            action = query_action(
                request.method, request.scope["path"], request.headers.get("content-type", ""),
                body,
            )  # fmt: skip
            if action is not None:
                return query_error_response(action, str(uuid.uuid4()))
            call = Call(
                request.method, segments, dict(request.query_params), request.headers, body,
                str(request.base_url),
            )  # fmt: skip
            call.query_items = request.query_params.multi_items()
            status, content, headers = await run_in_threadpool(api.dispatch, call)
        except Exception as exc:  # noqa: BLE001 - every error becomes AWS's error response
            rid = call.request_id if call is not None else str(uuid.uuid4())
            if os.environ.get("LAMBDAVER_SERVE_DEBUG"):
                import traceback

                traceback.print_exception(exc, file=sys.stderr)
            return error_response(exc, rid)
        headers = {"x-amzn-RequestId": call.request_id, **headers}
        if content is None:
            return Response(status_code=status, headers=headers)
        if isinstance(content, bytes):
            media = headers.pop("Content-Type", "application/json")
            return Response(content, status_code=status, headers=headers, media_type=media)
        return Response(
            json.dumps(content), status_code=status, headers=headers, media_type="application/json"
        )

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])
