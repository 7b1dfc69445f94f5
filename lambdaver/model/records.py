"""Version records and the AWS-shaped FunctionConfiguration built from them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from lambdaver.model.config import FunctionConfig
from lambdaver.model.names import LATEST, Arns
from lambdaver.storage import canonical_json
from lambdaver.value import Value

R = TypeVar("R", bound=Value)


class VersionRecord(Value):
    """What ``publish`` freezes.  Immutable; stored as an object and as the version's ref."""

    version: str
    tree: str  # sha256 hex of the canonical manifest
    config_hash: str  # sha256 hex of $LATEST's canonical configuration at publish time
    config: FunctionConfig  # ... and that configuration
    description: str  # the version's own description
    code_sha256: str
    code_size: int
    last_modified: str
    revision_id: str

    def to_json(self) -> str:
        return canonical_json({**self._asdict(), "config": self.config.to_record()})

    @classmethod
    def from_json(cls, text: str) -> VersionRecord:
        import json  # imported when used: a millisecond of start-up

        return _decode(cls, json.loads(text), config=FunctionConfig.from_record, code_size=int)


def _decode(cls: type[R], raw: dict[str, Any], **convert: Callable[[Any], Any]) -> R:
    """A record from its JSON object: every field read in declaration order (a missing one
    raises KeyError), those named in ``convert`` passed through their function."""
    return cls(*[convert[f](raw[f]) if f in convert else raw[f] for f in cls._fields])


def function_configuration(
    arns: Arns,
    *,
    arn_qualifier: str | None,
    version: str,
    config: FunctionConfig,
    description: str,
    code_sha256: str,
    code_size: int,
    last_modified: str,
    revision_id: str,
) -> dict[str, Any]:
    """A FunctionConfiguration in AWS's field order and shape."""
    out: dict[str, Any] = {
        "FunctionName": arns.name,
        "FunctionArn": arns.function(arn_qualifier),
        "Runtime": config.runtime,
        "Handler": config.handler,
        "CodeSize": code_size,
        "Description": description,
        "Timeout": config.timeout,
        "MemorySize": config.memory_size,
        "LastModified": last_modified,
        "CodeSha256": code_sha256,
        "Version": version,
    }
    if config.environment is not None:
        out["Environment"] = {"Variables": dict(config.environment)}
    out["TracingConfig"] = {"Mode": "PassThrough"}
    out["RevisionId"] = revision_id
    out["State"] = "Active"
    out["LastUpdateStatus"] = "Successful"
    out["PackageType"] = "Zip"
    out["Architectures"] = ["x86_64"]
    return out


def version_configuration(
    arns: Arns, rec: VersionRecord, arn_qualifier: str | None = None
) -> dict[str, Any]:
    return function_configuration(
        arns,
        arn_qualifier=arn_qualifier if arn_qualifier is not None else rec.version,
        version=rec.version,
        config=rec.config,
        description=rec.description,
        code_sha256=rec.code_sha256,
        code_size=rec.code_size,
        last_modified=rec.last_modified,
        revision_id=rec.revision_id,
    )


__all__ = ["LATEST", "VersionRecord", "function_configuration", "version_configuration"]


class AliasState(Value):
    """One state of an alias: where it points, its weights, its description, its revision."""

    name: str
    version: str
    description: str
    weights: dict[str, float]
    revision_id: str

    def to_json(self) -> str:
        return canonical_json(self._asdict())

    @classmethod
    def from_json(cls, text: str) -> AliasState:
        import json

        return _decode(cls, json.loads(text), weights=_weights)

    @property
    def additional_version(self) -> str | None:
        return next(iter(self.weights), None)

    def configuration(self, arns: Arns) -> dict[str, Any]:
        """An AliasConfiguration; ``RoutingConfig`` only when there are weights."""
        out: dict[str, Any] = {
            "AliasArn": arns.function(self.name),
            "Name": self.name,
            "FunctionVersion": self.version,
            "Description": self.description,
        }
        if self.weights:
            out["RoutingConfig"] = {"AdditionalVersionWeights": dict(self.weights)}
        out["RevisionId"] = self.revision_id
        return out


def _weights(raw: dict[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in raw.items()}
