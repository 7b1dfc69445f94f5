"""``lambdaver serve`` under load: 4 boto3 clients at once, 250 mixed requests each (reads,
alias updates under a RevisionId precondition retried on PreconditionFailed, invocations).
No error but the expected PreconditionFailed, and no lost update: the alias's history is
exactly the successful updates, each made on top of the revision it named."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

from serve_helpers import DROPPED_SOCKETS, start

from conftest import run_cli

CLIENTS = 4
REQUESTS = 250
BOUND_SECONDS = 240.0

pytestmark = DROPPED_SOCKETS


def test_concurrent_clients_lose_no_update(tmp_path: Path) -> None:
    root = tmp_path / "fn"
    root.mkdir()
    for i in (1, 2, 3):
        (root / "app.py").write_text(f"def handler(event, context):\n    return {i}\n")
        if i == 1:
            assert run_cli("init", str(root), "--output", "json").exit_code == 0
        assert run_cli("-C", str(root), "publish", "--output", "json").exit_code == 0
    r = run_cli("-C", str(root), "alias", "create", "live", "--version", "1", "--output", "json")
    assert r.exit_code == 0, r
    served = start(root)
    done: list[tuple[str, str, str]] = []  # (precondition, new RevisionId, description)
    errors: list[str] = []
    counts = {"read": 0, "update": 0, "conflict": 0, "invoke": 0}
    lock = threading.Lock()

    def work(n: int) -> None:
        rnd = random.Random(n)
        lam = served.client()
        try:
            for i in range(REQUESTS):
                kind = rnd.choices(["read", "update", "invoke"], [5, 3, 2])[0]
                if kind == "read":
                    rnd.choice([
                        lambda: lam.get_alias(FunctionName="fn", Name="live"),
                        lambda: lam.get_function_configuration(FunctionName="fn:live"),
                        lambda: lam.list_versions_by_function(FunctionName="fn"),
                        lambda: lam.list_aliases(FunctionName="fn"),
                    ])()  # fmt: skip
                elif kind == "invoke":
                    out = lam.invoke(FunctionName="fn", Qualifier="live", Payload=b"{}")
                    assert out["StatusCode"] == 200 and "FunctionError" not in out
                    assert json.loads(out["Payload"].read()) in (1, 2, 3)
                else:
                    description = f"c{n}-{i}"
                    while True:  # a client's read-modify-write, as AWS's docs advise
                        current = lam.get_alias(FunctionName="fn", Name="live")["RevisionId"]
                        try:
                            new = lam.update_alias(
                                FunctionName="fn", Name="live", RevisionId=current,
                                FunctionVersion=rnd.choice("123"), Description=description,
                            )  # fmt: skip
                        except lam.exceptions.PreconditionFailedException:
                            with lock:
                                counts["conflict"] += 1
                            continue
                        with lock:
                            done.append((current, new["RevisionId"], description))
                        break
                with lock:
                    counts[kind] += 1
        except Exception as exc:  # noqa: BLE001 - reported below, with the client's number
            errors.append(f"client {n}: {type(exc).__name__}: {exc}")
        finally:
            lam.close()

    try:
        t0 = time.monotonic()
        threads = [threading.Thread(target=work, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(BOUND_SECONDS)
        elapsed = time.monotonic() - t0
        assert not any(t.is_alive() for t in threads), f"still running after {elapsed:.0f} s"
        assert errors == []
        assert sum(counts[k] for k in ("read", "update", "invoke")) == CLIENTS * REQUESTS
        final = served.client().get_alias(FunctionName="fn", Name="live")
    finally:
        served.kill()

    out = run_cli("-C", str(root), "alias", "history", "live", "--output", "json")
    history = json.loads(out.stdout)["History"][::-1]  # oldest first
    assert history[0]["Change"] == "create"
    updates = history[1:]
    assert len(updates) == len(done) == counts["update"]
    # each successful update is in the history right after the revision it was made on
    by_new = {new: (pre, desc) for pre, new, desc in done}
    for before, entry in zip(history, updates, strict=False):
        pre, desc = by_new[entry["RevisionId"]]
        assert (pre, desc) == (before["RevisionId"], entry["Description"])
    assert final["RevisionId"] == history[-1]["RevisionId"]
    assert final["Description"] == history[-1]["Description"]
    assert run_cli("-C", str(root), "fsck").exit_code == 0


def test_the_listening_socket_is_tcp_so_responses_are_not_delayed() -> None:
    """asyncio turns Nagle's algorithm off (TCP_NODELAY) on accepted connections only when
    the listening socket's proto says TCP; with proto 0 each response's body waited for
    the client's delayed ACK: 40 ms on every request."""
    import socket

    from lambdaver.server.run import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        client = socket.create_connection(sock.getsockname()[:2])
        accepted, _ = sock.accept()
        with client, accepted:
            assert accepted.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
