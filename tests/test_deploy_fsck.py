"""fsck checks deployment records (docs/lifecycle.md "fsck", docs/deploy.md): each record
can be read, one in progress has its alias and target, is indexed under both (one per
alias), and its alias is in a state the deployment passed through.  A deployment in
progress is made in this process (``Deployer.start`` and a step, never ``run``); the
records are then corrupted through the metadata API, as a bug of lambdaver would.  The
same in-process deployer also shows how often the alarms are evaluated between steps."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lambdaver.service import deploy as svc
from lambdaver.service.functions import DEPLOYMENTS
from lambdaver.service.repository import ALIASES, Repository
from lambdaver.storage import canonical_json

from conftest import Fn


@pytest.fixture
def two(fn: Fn) -> Fn:
    """Versions 1 and 2; alias prod on 1."""
    assert fn.publish(**{"app.py": "def handler(e, c):\n    return 1\n"}) == "1"
    assert fn.publish(**{"app.py": "def handler(e, c):\n    return 2\n"}) == "2"
    fn.ok("alias", "create", "prod", "--version", "1")
    return fn


@pytest.fixture
def repo(two: Fn) -> Iterator[Repository]:
    r = Repository.discover(two.root)
    r.meta.bypass_memo()
    yield r
    r.meta.close()


def in_progress(repo: Repository, steps: int = 1) -> str:
    """A canary of prod to version 2 whose process is gone after ``steps`` steps."""
    plan = svc.prepare(repo, "prod", "2", strategy="Canary10Percent5Minutes")
    deployer = svc.Deployer(repo, plan)
    deployer.start()
    for index in range(steps):
        deployer._step(index, plan.strategy.steps[index].weight)
    return deployer.id


def edit(repo: Repository, deployment_id: str, change: Callable[[dict[str, Any]], Any]) -> None:
    """Rewrite a record (keeping its index keys) through the metadata API."""
    old = repo.meta.get(DEPLOYMENTS, deployment_id)
    assert old is not None
    record = json.loads(old)
    change(record)
    k1, k2 = index_of(repo, deployment_id)
    with repo.meta.transaction():
        repo.meta.set_if_equals(DEPLOYMENTS, deployment_id, old, canonical_json(record), k1, k2)


def reindex(repo: Repository, deployment_id: str, k1: str | None, k2: str | None) -> None:
    raw = repo.meta.get(DEPLOYMENTS, deployment_id)
    assert raw is not None
    with repo.meta.transaction():
        repo.meta.set_if_equals(DEPLOYMENTS, deployment_id, raw, raw, k1, k2)


def index_of(repo: Repository, deployment_id: str) -> tuple[str | None, str | None]:
    """The keys a deployment of prod to 2 is indexed under (None: not under that one)."""
    k1 = "prod" if deployment_id in dict(repo.meta.find_k1(DEPLOYMENTS, "prod")) else None
    k2 = "2" if deployment_id in repo.meta.find(DEPLOYMENTS, "2") else None
    return k1, k2


def problems(fn: Fn, unchanged: Any) -> tuple[int, list[tuple[str, str, str]]]:
    with unchanged(fn.root):
        r = fn("fsck")
    assert r.stderr == ""
    return r.exit_code, [
        (p["Kind"], p.get("Deployment") or p.get("Alias") or "", p["Message"])
        for p in r.json["Problems"]
    ]


def test_deployments_in_progress_and_ended_are_clean(
    two: Fn, repo: Repository, unchanged: Any
) -> None:
    deployment = in_progress(repo)
    assert problems(two, unchanged) == (0, [])
    # the alias rolled back by hand (lambdaver rollback): the state before the deployment
    two.ok("rollback", "prod")
    assert problems(two, unchanged) == (0, [])
    two.ok("deploy", "stop", deployment)
    ok = two("deploy", "prod", "--version", "2", "--speed", "600")
    assert ok.exit_code == 0, ok
    assert problems(two, unchanged) == (0, [])


def test_a_record_that_cannot_be_read(two: Fn, repo: Repository, unchanged: Any) -> None:
    deployment = in_progress(repo)
    old = repo.meta.get(DEPLOYMENTS, deployment)
    with repo.meta.transaction():
        repo.meta.set_if_equals(DEPLOYMENTS, deployment, old, "{not json", "prod", "2")
    code, found = problems(two, unchanged)
    assert code == 1
    assert [(k, d) for k, d, _m in found] == [("BadDeployment", deployment)]
    assert found[0][2].startswith(f"Deployment {deployment}'s record is not JSON: ")


def test_a_record_without_its_keys_or_with_a_strange_status(
    two: Fn, repo: Repository, unchanged: Any
) -> None:
    deployment = in_progress(repo)
    edit(repo, deployment, lambda r: r.pop("AliasName"))
    assert problems(two, unchanged) == (
        1,
        [("BadDeployment", deployment, f"Deployment {deployment}'s record has no AliasName")],
    )
    edit(repo, deployment, lambda r: r.update(AliasName="prod", Status="Paused"))
    code, found = problems(two, unchanged)
    assert code == 1
    assert ("BadDeployment", deployment,
            f"Deployment {deployment}'s Status 'Paused' is not one of InProgress, Succeeded, "
            "Failed, Stopped") in found  # fmt: skip
    # ... and, no longer InProgress, it should not be indexed
    assert ("DeploymentIndex", deployment,
            f"Deployment {deployment} has ended (Paused) but is still indexed under alias prod "
            "and version 2 (deploy would refuse the alias, versions delete the version)"
            ) in found  # fmt: skip


def test_an_in_progress_deployment_whose_target_was_deleted(
    two: Fn, repo: Repository, unchanged: Any
) -> None:
    """The alias was put back by hand and the version deleted behind the index's back."""
    deployment = in_progress(repo, steps=0)
    reindex(repo, deployment, "prod", None)  # so that versions delete lets it go
    two.ok("versions", "delete", "2")
    code, found = problems(two, unchanged)
    assert code == 1
    assert found == [
        ("DeploymentIndex", deployment,
         f"Deployment {deployment} is in progress but not indexed under version 2 (versions "
         "delete would not see it)"),
        ("DanglingDeployment", deployment,
         f"Deployment {deployment} is in progress towards version 2, which does not exist"),
    ]  # fmt: skip


def test_an_in_progress_deployment_whose_alias_is_gone(
    two: Fn, repo: Repository, unchanged: Any
) -> None:
    deployment = in_progress(repo, steps=0)
    with repo.meta.transaction():
        repo.meta.remove(ALIASES, "prod")
    code, found = problems(two, unchanged)
    assert code == 1
    assert ("DanglingDeployment", deployment,
            f"Deployment {deployment} is in progress on alias prod, which does not exist"
            ) in found  # fmt: skip


def test_the_index_disagrees_with_the_records(two: Fn, repo: Repository, unchanged: Any) -> None:
    first = in_progress(repo, steps=0)
    reindex(repo, first, None, "2")
    code, found = problems(two, unchanged)
    assert (code, found) == (1, [
        ("DeploymentIndex", first,
         f"Deployment {first} is in progress but not indexed under alias prod (a second "
         "deployment of the alias would not be refused)"),
    ])  # fmt: skip
    # which let a second deployment start on the same alias
    second = in_progress(repo, steps=0)
    code, found = problems(two, unchanged)
    assert code == 1
    assert ("DeploymentIndex", "prod",
            f"Alias prod has 2 deployments in progress ({', '.join(sorted([first, second]))}); "
            "there may be one at a time") in found  # fmt: skip


def test_an_ended_deployment_still_indexed(two: Fn, repo: Repository, unchanged: Any) -> None:
    ok = two("deploy", "prod", "--version", "2", "--speed", "600")
    assert ok.exit_code == 0, ok
    deployment = ok.json["DeploymentId"]
    reindex(repo, deployment, "prod", None)
    assert problems(two, unchanged) == (1, [
        ("DeploymentIndex", deployment,
         f"Deployment {deployment} has ended (Succeeded) but is still indexed under alias prod "
         "(deploy would refuse the alias, versions delete the version)"),
    ])  # fmt: skip


def test_the_alias_in_a_state_the_deployment_never_set(
    two: Fn, repo: Repository, unchanged: Any
) -> None:
    """Changed by hand while the deployment's process is gone: fsck says how to end it."""
    deployment = in_progress(repo)  # prod: 1 with 2 weighted 0.1
    two.ok(
        "alias", "update", "prod", "--routing-config", '{"AdditionalVersionWeights": {"2": 0.5}}'
    )
    assert problems(two, unchanged) == (1, [
        ("DeploymentAlias", deployment,
         f"Alias prod is at version 1 with 2 weighted 0.5, a state deployment {deployment} (in "
         f"progress, version 1 -> 2) never set; end it with 'lambdaver deploy stop "
         f"{deployment}'"),
    ])  # fmt: skip
    two.ok("deploy", "stop", deployment)  # leaves the alias as the user set it
    assert problems(two, unchanged) == (0, [])


def test_the_record_and_the_alias_disagree(two: Fn, repo: Repository, unchanged: Any) -> None:
    """The alias carries the RevisionId the deployment wrote, but the record's steps say
    something else: one of the two transactions' halves was lost."""
    deployment = in_progress(repo)
    edit(repo, deployment, lambda r: r.update(Steps=[]))
    assert problems(two, unchanged) == (1, [
        ("DeploymentAlias", deployment,
         f"Alias prod is at version 1 with 2 weighted 0.1 but deployment {deployment}'s last "
         "step left it at version 1"),
    ])  # fmt: skip


def test_fsck_table_output_names_the_deployment(two: Fn, repo: Repository) -> None:
    deployment = in_progress(repo)
    reindex(repo, deployment, None, None)
    r = two("fsck", "--output", "table")
    assert r.exit_code == 1
    assert r.stdout.splitlines()[0] == (
        f"DeploymentIndex: Deployment {deployment} is in progress but not indexed under alias "
        "prod (a second deployment of the alias would not be refused)"
    )


@pytest.mark.parametrize(("speed", "every"), [(1, 0.1), (60, 1 / 60), (100_000, 0.005)])
def test_alarms_are_evaluated_once_per_second_of_deployment_time(
    repo: Repository, speed: float, every: float
) -> None:
    """Between steps the alarms are read once per second of deployment time (every
    1/speed s of real time), within 5-100 ms of real time; progress every 100 ms."""
    plan = svc.prepare(repo, "prod", "2", strategy="Canary10Percent5Minutes", speed=speed)
    clock = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    reports: list[float] = []
    deployer = svc.Deployer(
        repo, plan, lambda p: reports.append(clock[0]), sleep=sleep, monotonic=lambda: clock[0]
    )
    checks: list[float] = []
    deployer._check = lambda: checks.append(clock[0])  # type: ignore[method-assign]
    deployer._wait(1.0)
    assert sleeps[0] == pytest.approx(every)
    assert len(checks) == pytest.approx(1.0 / every + 1, abs=1)
    # the last report is at the deadline, whenever it comes
    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(reports[:-1]))
