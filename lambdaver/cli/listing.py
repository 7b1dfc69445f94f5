"""``versions list --output json`` from renderings made once: the aws CLI's JSON of each
published version, spliced.

A version is immutable, so its FunctionConfiguration is too (for a given region, account
and name).  publish stores it rendered (:func:`item_view`) as it appears inside
``{"Versions": [...]}``, and the listing splices those texts instead of decoding and
re-encoding a thousand records; a rendering made under another ARN prefix (or none, for a
version published by a library caller that asked for none) is rendered afresh.  The spliced
listing of the published versions is kept as derived data keyed by the metadata's change
key, and $LATEST's entry keyed by everything it is made of (docs/FORMAT.md, "Derived
data"); the command that uses them (cli/commands_functions.py) imports this module only
when something must be rendered.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from lambdaver.model.names import LATEST

if TYPE_CHECKING:
    from lambdaver.model.records import FunctionConfiguration

_ITEM_INDENT = "\n        "
_NO_ALIASES_TAIL = f',{_ITEM_INDENT}    "Aliases": []{_ITEM_INDENT}}}'


def item_view(conf: FunctionConfiguration) -> str:
    """A version's configuration (without ``Aliases``) as indented inside the list, without
    its closing brace: what publish stores as the version's view."""
    return json.dumps(conf.to_aws(), indent=4, ensure_ascii=False)[:-2].replace("\n", _ITEM_INDENT)


def aliases_tail(names: list[str]) -> str:
    """The ``Aliases`` field and the closing brace that complete an :func:`item_view`."""
    if not names:
        return _NO_ALIASES_TAIL
    text = json.dumps(names, indent=4, ensure_ascii=False).replace("\n", _ITEM_INDENT + "    ")
    return f',{_ITEM_INDENT}    "Aliases": {text}{_ITEM_INDENT}}}'


def published(repo: Any, arn_base: str) -> tuple[Any, tuple[int, list[str], bytes]]:
    """The published versions' entries, rendered and joined (UTF-8), with the version
    counter and $LATEST's aliases, and the metadata's change key of the state they show."""
    from lambdaver.service import functions as svc

    arns = repo.arns
    name_json = json.dumps(arns.name, ensure_ascii=False)
    head = f'{{{_ITEM_INDENT}    "FunctionName": {name_json},{_ITEM_INDENT}    "FunctionArn": '
    data = svc.published_rows(repo)
    by_version = data.aliases
    parts = []
    for number, raw, cached in data.rows:
        if cached is not None and cached.startswith(f'{head}"{arn_base}:{number}",'):
            view = cached
        else:
            view = item_view(svc.row_configuration(repo, raw))
        parts.append(view + aliases_tail(by_version.get(number, [])))
    text = ",\n        ".join(parts).encode()
    key = None if data.key is None else (data.key, arn_base)
    return key, (data.counter, by_version.get(LATEST, []), text)


def latest(repo: Any, state: Any, counter: int, aliases: list[str]) -> str:
    """$LATEST's entry, rendered afresh."""
    from lambdaver.service import functions as svc

    conf = svc.latest_configuration(repo, state, LATEST, counter)
    return item_view(conf) + aliases_tail(aliases)
