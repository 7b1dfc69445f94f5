"""Weighted routing (``RoutingConfig.AdditionalVersionWeights``): AWS's rules, in AWS's order.

Pure: no I/O.  Whether the additional version exists is the service's question; everything
that can be decided from the values alone is decided here, in the order LocalStack and AWS's
recordings show: entry count, weight range, same-as-primary,
``$LATEST`` primary, key pattern.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal

from lambdaver.errors import InvalidParameterValueException, ValidationException
from lambdaver.model.names import LATEST

WEIGHTS_FIELD = "routingConfig.additionalVersionWeights"
_KEY_RE = re.compile(r"[0-9]+")

RANGE_CONSTRAINT = (
    "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, "
    "Member must have value greater than or equal to 0.0, Member must not be null]"
)
KEY_CONSTRAINT = (
    "Map keys must satisfy constraint: [Member must have length less than or equal to 1024, "
    "Member must have length greater than or equal to 1, "
    "Member must satisfy regular expression pattern: [0-9]+]"
)


def java_double(x: float) -> str:
    """``Double.toString``: how AWS (Java) renders a weight inside its error messages."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        return repr(float(x))  # Python's shortest repr is positional in this range
    sign, digits, exponent = Decimal(repr(float(x))).as_tuple()
    assert isinstance(exponent, int)  # noqa: S101 - finite by the checks above
    power = exponent + len(digits) - 1
    text = "".join(map(str, digits)).rstrip("0") or "0"
    mantissa = text[0] + "." + (text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{power}"


def java_map(weights: Mapping[str, float]) -> str:
    """A ``Map<String, Double>`` as Java prints it: ``{2=0.1}``."""
    return "{" + ", ".join(f"{k}={java_double(v)}" for k, v in weights.items()) + "}"


def validate_routing(primary: str, weights: Mapping[str, float]) -> None:
    """Refuse weights that AWS refuses, with AWS's error and wording, first failure wins.

    An empty map is always valid: it means "no routing".  A weight of exactly 1.0 is
    accepted (the API model allows it)."""
    if not weights:
        return
    if len(weights) > 1:
        raise InvalidParameterValueException(
            "Number of items in AdditionalVersionWeights cannot be greater than 1"
        )
    for key, weight in weights.items():
        if not 0.0 <= weight <= 1.0:  # NaN fails too
            raise ValidationException.constraint(java_map(weights), WEIGHTS_FIELD, RANGE_CONSTRAINT)
        if key == primary:
            raise InvalidParameterValueException(
                f"Invalid function version {primary}. Function version {primary} is already "
                "included in routing configuration."
            )
        if primary == LATEST:
            raise InvalidParameterValueException(
                "$LATEST is not supported for an alias pointing to more than 1 version"
            )
        if not (1 <= len(key) <= 1024 and _KEY_RE.fullmatch(key)):
            raise ValidationException.constraint(java_map(weights), WEIGHTS_FIELD, KEY_CONSTRAINT)
