"""``--max-items`` and ``--starting-token`` of the list verbs, as the aws CLI pages.

The aws CLI pages on the client side: with ``--max-items N`` it prints the first N items
and, when there are more, a top-level ``NextToken`` beside the list, which
``--starting-token`` takes back.  A token is botocore's: the base64 of a JSON object
holding the service's marker and how many items of the page were already printed
(``{"Marker": null, "boto_truncate_amount": 2}``).  lambdaver lists everything in one
page, so its marker is always null and the amount is the offset into the whole list.
"""

from __future__ import annotations

from typing import Any

from lambdaver.errors import ParamValidationError


def encode_token(offset: int) -> str:
    import base64
    import json

    text = json.dumps({"Marker": None, "boto_truncate_amount": offset})
    return base64.b64encode(text.encode()).decode()


def decode_token(token: str) -> int:
    """The offset a NextToken stands for; anything else is refused (exit 252)."""
    import base64
    import binascii
    import json

    try:
        data = json.loads(base64.b64decode(token, validate=True).decode())
    except (binascii.Error, ValueError):
        data = None
    offset = data.get("boto_truncate_amount", 0) if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("Marker") is not None
        or not isinstance(offset, int)
        or isinstance(offset, bool)
        or offset < 0
    ):
        raise ParamValidationError(
            f"Error parsing parameter '--starting-token': Invalid pagination token: {token} "
            "(give the NextToken that a previous call printed)"
        )
    return int(offset)


def page(data: dict[str, Any], key: str, max_items: int | None, start: int | None) -> Any:
    """``data`` with its list ``key`` cut to ``max_items`` items from ``start``, and a
    ``NextToken`` when more items follow."""
    items = data.get(key)
    if not isinstance(items, list):
        return data
    begin = start or 0
    end = len(items) if max_items is None else min(len(items), begin + max_items)
    out = {**data, key: items[begin:end]}
    if end < len(items):
        out["NextToken"] = encode_token(end)  # last, as botocore's full result has it
    return out
