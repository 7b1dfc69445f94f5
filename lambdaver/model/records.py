"""Version and alias records, and the AWS-shaped configurations built from them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from lambdaver.model.config import FunctionConfig
from lambdaver.model.names import LATEST, Arns
from lambdaver.storage import canonical_json
from lambdaver.value import Value

if TYPE_CHECKING:
    from lambdaver.storage.tree import ManifestEntry

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


class FunctionConfiguration(Value):
    """A FunctionConfiguration: of $LATEST, of a version, or of what an alias names.
    ``aliases`` and ``files`` are lambdaver's extras, set by ``versions show`` (both) and
    ``versions list`` (``aliases``)."""

    function_name: str
    function_arn: str
    runtime: str
    handler: str
    code_size: int
    description: str
    timeout: int
    memory_size: int
    last_modified: str
    code_sha256: str
    version: str
    environment: dict[str, str] | None
    revision_id: str
    aliases: list[str] | None = None
    files: list[ManifestEntry] | None = None

    def to_aws(self) -> dict[str, Any]:
        """AWS's shape and field order (then ``Aliases`` and ``Files``, when set)."""
        out: dict[str, Any] = {
            "FunctionName": self.function_name,
            "FunctionArn": self.function_arn,
            "Runtime": self.runtime,
            "Handler": self.handler,
            "CodeSize": self.code_size,
            "Description": self.description,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "LastModified": self.last_modified,
            "CodeSha256": self.code_sha256,
            "Version": self.version,
        }
        if self.environment is not None:
            out["Environment"] = {"Variables": dict(self.environment)}
        out["TracingConfig"] = {"Mode": "PassThrough"}
        out["RevisionId"] = self.revision_id
        out["State"] = "Active"
        out["LastUpdateStatus"] = "Successful"
        out["PackageType"] = "Zip"
        out["Architectures"] = ["x86_64"]
        if self.aliases is not None:
            out["Aliases"] = list(self.aliases)
        if self.files is not None:
            out["Files"] = [
                {"Path": p, "Mode": m, "Size": s, "Sha256": h} for p, m, s, h in self.files
            ]
        return out


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
) -> FunctionConfiguration:
    return FunctionConfiguration(
        arns.name,
        arns.function(arn_qualifier),
        config.runtime,
        config.handler,
        code_size,
        description,
        config.timeout,
        config.memory_size,
        last_modified,
        code_sha256,
        version,
        config.environment,
        revision_id,
        None,
        None,
    )


def version_configuration(
    arns: Arns, rec: VersionRecord, arn_qualifier: str | None = None
) -> FunctionConfiguration:
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


__all__ = [
    "LATEST",
    "AliasConfiguration",
    "FunctionConfiguration",
    "VersionRecord",
    "function_configuration",
    "version_configuration",
]


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

    def configuration(self, arns: Arns) -> AliasConfiguration:
        return AliasConfiguration(
            arns.function(self.name), self.name, self.version, self.description,
            self.weights, self.revision_id,
        )  # fmt: skip


class AliasConfiguration(Value):
    """An AliasConfiguration."""

    alias_arn: str
    name: str
    function_version: str
    description: str
    weights: dict[str, float]
    revision_id: str

    def to_aws(self) -> dict[str, Any]:
        """AWS's shape: ``RoutingConfig`` only when there are weights."""
        out: dict[str, Any] = {
            "AliasArn": self.alias_arn,
            "Name": self.name,
            "FunctionVersion": self.function_version,
            "Description": self.description,
        }
        if self.weights:
            out["RoutingConfig"] = {"AdditionalVersionWeights": dict(self.weights)}
        out["RevisionId"] = self.revision_id
        return out


def _weights(raw: dict[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in raw.items()}
