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


def forget_qualifier(repo: Repository, qualifier: str) -> None:
    """The alias or version ``qualifier`` is being deleted: its policy and its function URL
    config go with it (call inside the deleting transaction; lambda-semantics-2 §2.1, §3.6:
    an alias re-created under the same name starts without them)."""
    repo.meta.remove(POLICIES, qualifier)
    repo.meta.remove(FUNCTION_URLS, qualifier)
