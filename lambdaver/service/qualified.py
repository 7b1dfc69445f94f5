"""What belongs to one qualifier beside its alias or version record: its resource-based
policy (service/policy.py) and its function URL config (service/urls.py).  Their
namespaces of the metadata store are named here, in a module that imports nothing of
the service, so that deleting an alias or a version (service/aliases.py,
service/functions.py) can take them along without an import cycle."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambdaver.service.repository import Repository

#: Namespace of the policies: one ref per qualifier, ``$LATEST`` for the unqualified
#: function's (AWS refuses a policy for ``$LATEST`` itself, so the name is free).
POLICIES = "policies"
#: Namespace of the function URL configs: one ref per qualifier (``$LATEST``: the
#: unqualified function's); k1 is the URL id.
FUNCTION_URLS = "function-urls"
#: URL ids of deleted function URL configs (value: the qualifier they had), so that a
#: request to one is answered as AWS answers one to a deleted URL.
FUNCTION_URLS_GONE = "function-urls-gone"


def forget_qualifier(repo: Repository, qualifier: str) -> None:
    """The alias or version ``qualifier`` is being deleted: its policy and its function URL
    config go with it (call inside the deleting transaction; lambda-semantics-2 §2.1, §3.6:
    an alias re-created under the same name starts without them)."""
    repo.meta.remove(POLICIES, qualifier)
    forget_url(repo, qualifier)


def forget_url(repo: Repository, qualifier: str) -> None:
    """Delete the qualifier's function URL config, remembering its URL id as deleted (call
    inside a transaction)."""
    raw = repo.meta.get(FUNCTION_URLS, qualifier)
    if raw is None:
        return
    import json

    url_id = json.loads(raw).get("UrlId")
    repo.meta.remove(FUNCTION_URLS, qualifier)
    if isinstance(url_id, str) and repo.meta.get(FUNCTION_URLS_GONE, url_id) is None:
        repo.meta.add_if_new(FUNCTION_URLS_GONE, url_id, qualifier)
