"""Function names, alias names, qualifiers and ARNs, validated as AWS validates them."""

from __future__ import annotations

import re

from lambdaver.errors import (
    AccessDeniedException,
    InvalidParameterValueException,
    ResourceNotFoundException,
    ValidationException,
)
from lambdaver.value import Value

LATEST = "$LATEST"

FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
_FUNCTION_NAME_RE = FUNCTION_NAME_PATTERN
_BARE_NAME_RE = r"[a-zA-Z0-9-_]{1,64}"
ALIAS_NAME_PATTERN = "(?!^[0-9]+$)([a-zA-Z0-9-_]+)"
_ALIAS_NAME_RE = r"(?![0-9]+$)[a-zA-Z0-9-_]+"
QUALIFIER_PATTERN = r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"
_QUALIFIER_RE = QUALIFIER_PATTERN
VERSION_PATTERN = r"(\$LATEST|[0-9]+)"
_VERSION_RE = VERSION_PATTERN


def validate_function_name(name: str, field: str = "functionName") -> None:
    """A name for a new function: ``[a-zA-Z0-9-_]{1,64}``."""
    if len(name) > 64:
        raise ValidationException.constraint(
            name, field, "Member must have length less than or equal to 64"
        )
    if not re.fullmatch(_BARE_NAME_RE, name):
        raise ValidationException.constraint(
            name, field, "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+"
        )


def alias_name_problems(name: str, field: str = "name") -> list[str]:
    problems = []
    if len(name) > 128:
        problems.append(
            ValidationException.problem(
                name, field, "Member must have length less than or equal to 128"
            )
        )
    if len(name) < 1:
        problems.append(
            ValidationException.problem(
                name, field, "Member must have length greater than or equal to 1"
            )
        )
    elif not re.fullmatch(_ALIAS_NAME_RE, name):
        problems.append(
            ValidationException.problem(
                name, field, f"Member must satisfy regular expression pattern: {ALIAS_NAME_PATTERN}"
            )
        )
    return problems


def validate_alias_name(name: str, field: str = "name") -> None:
    problems = alias_name_problems(name, field)
    if problems:
        raise ValidationException(problems)


def validate_qualifier(q: str) -> None:
    problems = []
    if len(q) > 128:
        problems.append(
            ValidationException.problem(
                q, "qualifier", "Member must have length less than or equal to 128"
            )
        )
    if not q or not re.fullmatch(_QUALIFIER_RE, q):
        problems.append(
            ValidationException.problem(
                q,
                "qualifier",
                f"Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}",
            )
        )
    if problems:
        raise ValidationException(problems)


def validate_version(v: str, field: str = "functionVersion") -> None:
    if not v or len(v) > 1024 or not re.fullmatch(_VERSION_RE, v):
        raise ValidationException.constraint(
            v, field, f"Member must satisfy regular expression pattern: {VERSION_PATTERN}"
        )


def is_version_number(q: str) -> bool:
    return q.isdigit() and q.isascii()


class Arns(Value):
    """Builds ARNs for one function in one region and account."""

    region: str
    account: str
    name: str

    def function(self, qualifier: str | None = None) -> str:
        base = f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"
        return f"{base}:{qualifier}" if qualifier else base


def parse_function_name(value: str, *, region: str, account: str, expected: str) -> str | None:
    """Check ``--function-name`` (name, partial or full ARN, maybe qualified) against the
    repository's function ``expected``; return the qualifier it carries, if any."""
    if len(value) > 256:
        raise ValidationException.constraint(
            value, "functionName", "Member must have length less than or equal to 256"
        )
    m = re.fullmatch(_FUNCTION_NAME_RE, value)
    if not m:
        raise ValidationException.constraint(
            value,
            "functionName",
            f"Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}",
        )
    arn_prefix, arn_region, arn_account, name, qualifier = (
        m.group(1),
        m.group(3),
        m.group(8),
        m.group(10),
        m.group(12),
    )
    if arn_region and arn_region[:-1] != region:
        raise ResourceNotFoundException(
            f"Functions from '{arn_region[:-1]}' are not reachable in this region ('{region}')"
            + _elsewhere(region, account)
        )
    if arn_account and arn_account[:-1] != account:
        raise AccessDeniedException(
            f"Access denied to account {arn_account[:-1]}" + _elsewhere(region, account)
        )
    if arn_prefix and not arn_region:
        # "arn:aws:lambda::123:function:x" does not match the regex group for region
        raise ValidationException.constraint(
            value,
            "functionName",
            f"Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}",
        )
    if name != expected:
        raise ResourceNotFoundException(
            f"Function not found: {Arns(region, account, name).function()}"
        )
    return qualifier


def _elsewhere(region: str, account: str) -> str:
    """What an ARN of another region or account is told: where this call's functions are,
    and how to change that."""
    return (
        f"; lambdaver's functions here are in region {region}, account {account} (change them "
        "with region and account_id in the user config file, a --profile, or --region)"
    )


def merge_qualifier(from_name: str | None, given: str | None) -> str | None:
    """AWS: a qualifier in the name and in ``--qualifier`` must agree."""
    if from_name is not None and given is not None and from_name != given:
        raise InvalidParameterValueException(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return given if given is not None else from_name
