"""A function's configuration: the fields of ``lambdaver.toml``, with AWS's limits."""

from __future__ import annotations

import re
from typing import Any

from lambdaver import storage
from lambdaver.errors import InvalidParameterValueException, ValidationException
from lambdaver.value import Value

DEFAULT_HANDLER = "app.handler"
DEFAULT_MEMORY = 128
DEFAULT_TIMEOUT = 3

RUNTIMES = (
    "nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x",
    "python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14",
    "java8.al2", "java11", "java17", "java21", "java25",
    "dotnet8", "dotnet10", "ruby3.2", "ruby3.3", "ruby3.4",
    "provided.al2", "provided.al2023",
)  # fmt: skip

RESERVED_ENV_KEYS = frozenset(
    {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_RUNTIME_API",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    }
)  # fmt: skip
ENV_KEY_PATTERN = "[a-zA-Z]([a-zA-Z0-9_])+"
_ENV_KEY_RE = ENV_KEY_PATTERN
_HANDLER_RE = r"[^\s]+"

# TOML key -> (aws field name used in error messages)
FIELDS = {
    "runtime": "runtime",
    "handler": "handler",
    "memory_size": "memorySize",
    "timeout": "timeout",
    "description": "description",
}


class FunctionConfig(Value):
    """Version-level configuration (what a published version freezes)."""

    runtime: str
    handler: str = DEFAULT_HANDLER
    memory_size: int = DEFAULT_MEMORY
    timeout: int = DEFAULT_TIMEOUT
    description: str = ""
    environment: dict[str, str] | None = None

    def to_record(self) -> dict[str, Any]:
        """Canonical dict for hashing and storage (field names are the TOML keys, in the
        TOML file's order); no ``environment`` when it is unset."""
        rec = self._asdict()
        env = rec.pop("environment")
        if env is not None:
            rec["environment"] = dict(sorted(env.items()))
        return rec

    def canonical_bytes(self) -> bytes:
        return storage.canonical_bytes(self.to_record())

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> FunctionConfig:
        env = rec.get("environment")
        return cls(
            runtime=rec["runtime"],
            handler=rec["handler"],
            memory_size=int(rec["memory_size"]),
            timeout=int(rec["timeout"]),
            description=rec.get("description", ""),
            environment=dict(env) if env is not None else None,
        )

    def with_changes(self, **changes: Any) -> FunctionConfig:
        return self.replace(**changes)

    def validate(self) -> None:
        validate_config(self)


def validate_config(c: FunctionConfig) -> None:
    """AWS's checks, in AWS's words.  Range/pattern problems are collected together."""
    problems: list[str] = []
    if not isinstance(c.handler, str) or len(c.handler) > 128:
        problems.append(
            ValidationException.problem(
                c.handler, "handler", "Member must have length less than or equal to 128"
            )
        )
    elif not re.fullmatch(_HANDLER_RE, c.handler):
        problems.append(
            ValidationException.problem(
                c.handler, "handler", r"Member must satisfy regular expression pattern: [^\s]+"
            )
        )
    if c.memory_size < 128:
        problems.append(
            ValidationException.problem(
                c.memory_size, "memorySize", "Member must have value greater than or equal to 128"
            )
        )
    elif c.memory_size > 10240:
        problems.append(
            ValidationException.problem(
                c.memory_size, "memorySize", "Member must have value less than or equal to 10240"
            )
        )
    if c.timeout < 1:
        problems.append(
            ValidationException.problem(
                c.timeout, "timeout", "Member must have value greater than or equal to 1"
            )
        )
    elif c.timeout > 900:
        problems.append(
            ValidationException.problem(
                c.timeout, "timeout", "Member must have value less than or equal to 900"
            )
        )
    if len(c.description) > 256:
        problems.append(
            ValidationException.problem(
                c.description, "description", "Member must have length less than or equal to 256"
            )
        )
    if c.environment is not None:
        bad = [k for k in c.environment if not re.fullmatch(_ENV_KEY_RE, k)]
        if bad:
            problems.append(
                "Value at 'environment.variables' failed to satisfy constraint: Map keys must "
                "satisfy constraint: [Member must satisfy regular expression pattern: "
                f"{ENV_KEY_PATTERN}]"
            )
    if problems:
        raise ValidationException(problems)
    if c.runtime not in RUNTIMES:
        raise InvalidParameterValueException(
            f"Value {c.runtime} at 'runtime' failed to satisfy constraint: Member must satisfy "
            f"enum value set: [{', '.join(RUNTIMES)}] or be a valid ARN"
        )
    validate_environment(c.environment)


def validate_environment(env: dict[str, str] | None) -> None:
    if not env:
        return
    reserved = [k for k in env if k in RESERVED_ENV_KEYS]
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported "
            f"for modification. Reserved keys used in this request: {', '.join(reserved)}"
        )
    import json

    measured = json.dumps(env, separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode()) > 4096:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit. String measured: " + measured
        )


def parse_env_assignment(text: str) -> tuple[str, str]:
    """``K=V`` from ``--env``."""
    key, sep, value = text.partition("=")
    if not sep:
        raise InvalidParameterValueException(
            f"Invalid environment variable '{text}': expected KEY=VALUE"
        )
    return key, value
