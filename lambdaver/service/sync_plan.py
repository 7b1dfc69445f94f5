"""What ``push`` and ``pull`` know and decide, without boto3: the remote's versions and
aliases as records, the local<->remote mapping kept in the repository, and the push plan.

The mapping lives in two namespaces of the metadata store (docs/sync.md, "The mapping"):

- ``remote-versions``: one ref per remote version ever pushed or pulled, named
  ``FUNCTION_ARN#REMOTE_VERSION``, with ``k1`` = ``FUNCTION_ARN#LLOCAL_VERSION`` for the
  reverse look-up; its value a :class:`VersionLink`.
- ``remote-aliases``: one ref per alias pushed, named ``FUNCTION_ARN#ALIAS``; its value an
  :class:`AliasLink` (the remote state last pushed, and its RevisionId).

Each is written in one SQLite transaction under the repository lock, right after the
remote change it records, so a push killed at any point leaves at worst a remote version
not yet recorded, which the next push finds by its content.
"""

from __future__ import annotations

import json
from typing import Any

from lambdaver.storage import canonical_json
from lambdaver.value import Value

VERSION_LINKS = "remote-versions"
ALIAS_LINKS = "remote-aliases"
LATEST_LINKS = "remote-latest"
LATEST = "$LATEST"


class RemoteVersion(Value):
    """One version of the remote function (or its $LATEST) as ListVersionsByFunction
    shows it: what push compares."""

    version: str
    code_sha256: str
    runtime: str | None
    handler: str | None
    memory_size: int | None
    timeout: int | None
    description: str
    environment: dict[str, str] | None
    revision_id: str | None
    arn: str

    @classmethod
    def from_aws(cls, raw: dict[str, Any]) -> RemoteVersion:
        env = (raw.get("Environment") or {}).get("Variables")
        return cls(
            str(raw["Version"]),
            str(raw.get("CodeSha256", "")),
            raw.get("Runtime"),
            raw.get("Handler"),
            raw.get("MemorySize"),
            raw.get("Timeout"),
            raw.get("Description") or "",
            dict(env) if env else None,
            raw.get("RevisionId"),
            str(raw.get("FunctionArn", "")),
        )

    def content(self) -> tuple[Any, ...]:
        """What makes two versions the same: code, configuration, description."""
        return (
            self.code_sha256,
            self.runtime,
            self.handler,
            self.memory_size,
            self.timeout,
            self.description,
            env_key(self.environment),
        )


def env_key(env: dict[str, str] | None) -> tuple[tuple[str, str], ...]:
    """Environment variables as a hashable, ordered key (none and empty are the same)."""
    return tuple(sorted((env or {}).items()))


class RemoteAlias(Value):
    name: str
    version: str
    weights: dict[str, float]
    description: str
    revision_id: str | None

    @classmethod
    def from_aws(cls, raw: dict[str, Any]) -> RemoteAlias:
        weights = (raw.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return cls(
            str(raw["Name"]),
            str(raw["FunctionVersion"]),
            {str(k): float(v) for k, v in weights.items()},
            raw.get("Description") or "",
            raw.get("RevisionId"),
        )

    def state(self) -> tuple[str, dict[str, float], str]:
        """Where it points (an empty weights map is no weights, as moto keeps one)."""
        return (self.version, dict(self.weights), self.description)


class VersionLink(Value):
    """A local version and the remote version that holds the same code and configuration."""

    function_arn: str
    remote_version: str
    local_version: str
    code_sha256: str  # the local CodeSha256 (a tree hash)
    zip_sha256: str  # base64 sha256 of the zip AWS holds (its CodeSha256)
    direction: str  # push or pull: which side made the other

    def to_json(self) -> str:
        return canonical_json(self._asdict())

    @classmethod
    def from_json(cls, text: str) -> VersionLink:
        return cls(**json.loads(text))


class AliasLink(Value):
    """The state of a remote alias as the last push left it."""

    function_arn: str
    name: str
    version: str
    weights: dict[str, float]
    description: str
    revision_id: str | None

    def to_json(self) -> str:
        return canonical_json(self._asdict())

    @classmethod
    def from_json(cls, text: str) -> AliasLink:
        raw = json.loads(text)
        raw["weights"] = {str(k): float(v) for k, v in raw["weights"].items()}
        return cls(**raw)

    def state(self) -> tuple[str, dict[str, float], str]:
        return (self.version, dict(self.weights), self.description)


class VersionStep(Value):
    """One local version in a push: ``present`` (the remote holds it, as recorded),
    ``adopt`` (the remote holds one with the same content: recorded, nothing sent),
    ``publish`` (uploaded when its code differs from the remote $LATEST's, then published).
    ``remote_version`` is predicted for ``publish`` until the push has run."""

    local_version: str
    remote_version: str | None
    action: str
    zip_sha256: str
    upload: bool = False


class AliasStep(Value):
    """One alias in a push: ``create``, ``update``, ``unchanged``, or ``drift`` (changed on
    the remote since the last push: refused without --force)."""

    name: str
    action: str
    local_version: str
    local_weights: dict[str, float]
    remote_version: str | None
    remote_weights: dict[str, float]
    description: str
    current: tuple[str, dict[str, float], str] | None = None
    reason: str = ""


PERMISSION = "permission"
URL = "url"
MAPPING = "mapping"


class ExtraStep(Value):
    """A permission statement, function URL config or event source mapping of the
    unqualified function (``qualifier`` None) or of a pushed alias: ``create``, ``update``,
    ``unchanged``, ``drift`` (a remote statement with the same id and other content:
    refused without --force) or ``skipped`` (the remote cannot hold it: a mapping on a
    local queue).  ``key``: the StatementId, ``FunctionUrl``, or the EventSourceArn;
    ``params``: what is sent (FunctionName and Qualifier aside); ``remote_id``: the UUID
    of the remote mapping an update changes."""

    kind: str
    qualifier: str | None
    key: str
    action: str
    params: dict[str, Any]
    reason: str = ""
    remote_id: str | None = None

    @property
    def where(self) -> str:
        return f"alias {self.qualifier}" if self.qualifier else "the function"

    def to_aws(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Qualifier": self.qualifier, "Action": self.action}
        if self.kind == PERMISSION:
            out["StatementId"] = self.key
            out["Statement"] = dict(self.params)
        elif self.kind == URL:
            out["Config"] = dict(self.params)
        else:
            out["EventSourceArn"] = self.key
            out["Mapping"] = dict(self.params)
            if self.remote_id:
                out["UUID"] = self.remote_id
        if self.reason:
            out["Reason"] = self.reason
        return out

    def line(self) -> str | None:
        what = {
            PERMISSION: f"permission {self.key} of {self.where}",
            URL: f"function URL config of {self.where} (AuthType {self.params.get('AuthType')})",
            MAPPING: f"event source mapping {self.key} -> {self.where}",
        }[self.kind]
        if self.action == "create":
            return ("add " if self.kind == PERMISSION else "create ") + what
        if self.action == "update":
            return f"update {what}" + (f" ({self.reason})" if self.reason else "")
        if self.action == "drift":
            return f"DRIFT {what}: {self.reason}"
        if self.action == "skipped":
            return f"skip {what}: {self.reason}"
        return None


#: AddPermission's parameters and where a statement keeps them (Condition operator, key).
PERMISSION_CONDITIONS = {
    "SourceArn": ("ArnLike", "AWS:SourceArn"),
    "SourceAccount": ("StringEquals", "AWS:SourceAccount"),
    "FunctionUrlAuthType": ("StringEquals", "lambda:FunctionUrlAuthType"),
    "PrincipalOrgID": ("StringEquals", "aws:PrincipalOrgID"),
    "EventSourceToken": ("StringEquals", "lambda:EventSourceToken"),
}


def permission_params(statement: dict[str, Any]) -> dict[str, Any]:
    """The AddPermission parameters (StatementId aside) that make ``statement``, as the
    same for a local statement and for the one AWS (or moto) shows back."""
    principal: Any = statement.get("Principal")
    if isinstance(principal, dict):
        principal = principal.get("Service") or principal.get("AWS")
    text = str(principal)
    if text.startswith("arn:aws:iam::") and text.endswith(":root"):
        text = text.split(":")[4]  # an account: AWS shows 123456789012 as its root ARN
    out: dict[str, Any] = {"Action": str(statement.get("Action")), "Principal": text}
    condition = {
        str(op).lower(): {str(k).lower(): v for k, v in (keys or {}).items()}
        for op, keys in (statement.get("Condition") or {}).items()
    }
    for param, (op, key) in PERMISSION_CONDITIONS.items():
        value = condition.get(op.lower(), {}).get(key.lower())
        if value is not None:
            out[param] = str(value)
    return out


def url_params(
    auth_type: str, cors: dict[str, Any] | None, invoke_mode: str | None
) -> dict[str, Any]:
    """A function URL config as compared and sent: empty CORS members and the default
    InvokeMode (BUFFERED) left out, so AWS's fuller answer compares equal."""
    out: dict[str, Any] = {"AuthType": auth_type}
    kept = {k: v for k, v in (cors or {}).items() if v not in (None, [], False, 0, "")}
    if kept:
        out["Cors"] = {k: sorted(v) if isinstance(v, list) else v for k, v in kept.items()}
    if invoke_mode and invoke_mode.upper() != "BUFFERED":  # moto answers "Buffered"
        out["InvokeMode"] = invoke_mode.upper()
    return out


class PushPlan(Value):
    function_name: str
    function_arn: str | None
    create_function: bool
    versions: list[VersionStep]
    aliases: list[AliasStep]
    dry_run: bool = False
    done: bool = False
    extras: list[ExtraStep] = []  # noqa: RUF012 - records are immutable by convention

    @property
    def drift(self) -> list[AliasStep]:
        return [a for a in self.aliases if a.action == "drift"]

    @property
    def extra_drift(self) -> list[ExtraStep]:
        return [e for e in self.extras if e.action == "drift"]

    @property
    def changes(self) -> int:
        """Remote changes this plan makes (adopting a version changes only the mapping)."""
        n = int(self.create_function)
        n += sum(1 for v in self.versions if v.action == "publish")
        n += sum(1 for a in self.aliases if a.action in ("create", "update", "drift"))
        n += sum(1 for e in self.extras if e.action in ("create", "update", "drift"))
        return n

    def to_aws(self) -> dict[str, Any]:
        return {
            "FunctionName": self.function_name,
            "FunctionArn": self.function_arn,
            "CreateFunction": self.create_function,
            "Versions": [
                {
                    "LocalVersion": v.local_version,
                    "RemoteVersion": v.remote_version,
                    "Action": v.action,
                    "CodeSha256": v.zip_sha256,
                    "Upload": v.upload,
                }
                for v in self.versions
            ],
            "Aliases": [_alias_json(a) for a in self.aliases],
            "Permissions": [e.to_aws() for e in self.extras if e.kind == PERMISSION],
            "FunctionUrlConfigs": [e.to_aws() for e in self.extras if e.kind == URL],
            "EventSourceMappings": [e.to_aws() for e in self.extras if e.kind == MAPPING],
            "Changes": self.changes,
            "DryRun": self.dry_run,
            "Done": self.done,
        }

    def lines(self) -> list[str]:
        """The plan in words, for a terminal."""
        out: list[str] = []
        name = self.function_arn or self.function_name
        if self.create_function:
            out.append(f"create function {self.function_name}")
        publish = [v for v in self.versions if v.action == "publish"]
        if publish:
            local = _span([v.local_version for v in publish])
            remote = _span([v.remote_version or "?" for v in publish])
            uploads = sum(1 for v in publish if v.upload)
            word = "upload" if uploads == 1 else "uploads"
            out.append(
                f"publish local version{'s' if len(publish) > 1 else ''} {local} as remote "
                f"{remote} ({uploads} {word})"
            )
        out += [
            f"record local version {v.local_version} as remote {v.remote_version} "
            "(same code and configuration already there)"
            for v in self.versions
            if v.action == "adopt"
        ]
        for a in self.aliases:
            target = _target(a.remote_version, a.remote_weights)
            if a.action == "create":
                out.append(f"create alias {a.name} -> remote {target}")
            elif a.action == "update":
                out.append(f"move alias {a.name} to remote {target}")
            elif a.action == "drift":
                out.append(f"DRIFT alias {a.name}: {a.reason}; wanted remote {target}")
        out += [line for e in self.extras if e.action != "skipped" and (line := e.line())]
        if not out:
            out.append(f"{name}: up to date, nothing to push")
        out += [line for e in self.extras if e.action == "skipped" and (line := e.line())]
        return out


def _alias_json(a: AliasStep) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Name": a.name,
        "Action": a.action,
        "LocalFunctionVersion": a.local_version,
        "FunctionVersion": a.remote_version,
        "Description": a.description,
    }
    if a.local_weights:
        out["LocalRoutingConfig"] = {"AdditionalVersionWeights": dict(a.local_weights)}
    if a.remote_weights:
        out["RoutingConfig"] = {"AdditionalVersionWeights": dict(a.remote_weights)}
    if a.reason:
        out["Reason"] = a.reason
    return out


def _target(version: str | None, weights: dict[str, float]) -> str:
    text = version or "?"
    for v, w in weights.items():
        text += f" with {w * 100:g} % on {v}"
    return text


def _span(numbers: list[str]) -> str:
    """``3-5`` for a run of consecutive numbers, else ``3, 5, 8``."""
    if len(numbers) > 1 and all(n.isdigit() for n in numbers):
        ints = [int(n) for n in numbers]
        if ints == list(range(ints[0], ints[0] + len(ints))):
            return f"{ints[0]}-{ints[-1]}"
    return ", ".join(numbers)


class PullResult(Value):
    function_name: str
    function_arn: str
    directory: str
    versions: list[tuple[str, str, str]]  # (remote, local, action: pulled | present)
    aliases: list[tuple[str, str, str]]  # (name, local version, action)
    latest: str  # updated | unchanged
    left_out: list[str]

    def to_aws(self) -> dict[str, Any]:
        return {
            "FunctionName": self.function_name,
            "FunctionArn": self.function_arn,
            "Directory": self.directory,
            "Versions": [
                {"RemoteVersion": r, "LocalVersion": loc, "Action": act}
                for r, loc, act in self.versions
            ],
            "Aliases": [
                {"Name": n, "FunctionVersion": v, "Action": act} for n, v, act in self.aliases
            ],
            "Latest": self.latest,
            "LeftOut": list(self.left_out),
        }

    def lines(self) -> list[str]:
        pulled = [(r, loc) for r, loc, act in self.versions if act == "pulled"]
        out = [f"pulled remote version {r} as local {loc}" for r, loc in pulled]
        out += [
            f"alias {n} -> local {v} ({act})" for n, v, act in self.aliases if act != "unchanged"
        ]
        if self.latest == "updated":
            out.append("$LATEST set to the remote $LATEST")
        out += [f"left out (ignored here): {p}" for p in self.left_out]
        if not out:
            out.append(f"{self.directory}: up to date with {self.function_arn}")
        return out
