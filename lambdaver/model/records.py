"""Version records and the AWS-shaped FunctionConfiguration built from them."""

from __future__ import annotations

from typing import Any

from lambdaver.model.config import FunctionConfig
from lambdaver.model.names import LATEST, Arns
from lambdaver.value import Value


class VersionRecord(Value):
    """What ``publish`` freezes.  Immutable; stored as an object and as the version's ref."""

    __slots__ = (
        "code_sha256",
        "code_size",
        "config",
        "config_hash",
        "description",
        "last_modified",
        "revision_id",
        "tree",
        "version",
    )

    def __init__(
        self,
        version: str,
        tree: str,
        config_hash: str,
        config: FunctionConfig,
        description: str,
        code_sha256: str,
        code_size: int,
        last_modified: str,
        revision_id: str,
    ) -> None:
        self.version = version
        self.tree = tree  # sha256 hex of the canonical manifest
        self.config_hash = (
            config_hash  # sha256 hex of $LATEST's canonical configuration at publish time
        )
        self.config = config  # ... and that configuration
        self.description = description  # the version's own description
        self.code_sha256 = code_sha256
        self.code_size = code_size
        self.last_modified = last_modified
        self.revision_id = revision_id

    def to_json(self) -> str:
        import json  # imported when used: a millisecond of start-up

        return json.dumps(
            {
                "version": self.version,
                "tree": self.tree,
                "config_hash": self.config_hash,
                "config": self.config.to_record(),
                "description": self.description,
                "code_sha256": self.code_sha256,
                "code_size": self.code_size,
                "last_modified": self.last_modified,
                "revision_id": self.revision_id,
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> VersionRecord:
        import json

        raw = json.loads(text)
        return cls(
            version=raw["version"],
            tree=raw["tree"],
            config_hash=raw["config_hash"],
            config=FunctionConfig.from_record(raw["config"]),
            description=raw["description"],
            code_sha256=raw["code_sha256"],
            code_size=int(raw["code_size"]),
            last_modified=raw["last_modified"],
            revision_id=raw["revision_id"],
        )


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

    __slots__ = ("description", "name", "revision_id", "version", "weights")

    def __init__(
        self,
        name: str,
        version: str,
        description: str,
        weights: dict[str, float],
        revision_id: str,
    ) -> None:
        self.name = name
        self.version = version
        self.description = description
        self.weights = weights
        self.revision_id = revision_id

    def to_json(self) -> str:
        import json  # imported when used: a millisecond of start-up

        return json.dumps(
            {
                "name": self.name,
                "version": self.version,
                "description": self.description,
                "weights": self.weights,
                "revision_id": self.revision_id,
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> AliasState:
        import json

        raw = json.loads(text)
        return cls(
            name=raw["name"],
            version=raw["version"],
            description=raw["description"],
            weights={str(k): float(v) for k, v in raw["weights"].items()},
            revision_id=raw["revision_id"],
        )

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
