"""Function URL configurations (filled in below)."""

from __future__ import annotations

#: Namespace of the metadata store holding function URL configs (one ref per qualifier,
#: ``$LATEST`` for the unqualified function's; k1: the URL id).
FUNCTION_URLS = "function-urls"
