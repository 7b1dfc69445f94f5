"""Run the API with uvicorn: bind, say where, serve until SIGINT or SIGTERM, then shut down
in order (stop accepting, let running requests and Event invocations end, stop every
execution environment)."""

from __future__ import annotations

import contextlib
import ipaddress
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from lambdaver.server.app import Api, create_app
from lambdaver.service.settings import Settings

#: How long shutdown waits for Event invocations still running (each is killed at its
#: function's timeout anyway).
EVENT_GRACE_SECONDS = 900.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BindError(Exception):
    """The address cannot be listened on (in use, not this machine's, not resolvable)."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise BindError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    family, _type, _proto, _name, address = infos[0]
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when
    # the socket says it is TCP; without it Nagle's algorithm held each response's body
    # back until the client's delayed ACK, 40 ms on every request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise BindError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(
    root: str,
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 9001,
    idle_timeout: float = 300.0,
    echo: Callable[[str], None] | None = None,
) -> int:
    """Serve the functions under ``root`` until SIGINT/SIGTERM; return the exit status."""
    import uvicorn

    from lambdaver.runtime.warm import WarmPool

    say = echo or (lambda line: print(line, file=sys.stderr, flush=True))
    if not is_loopback(host):
        say(
            f"lambdaver: warning: serving on {host}, not the loopback address: anyone who "
            "can reach this port can run the functions' code"
        )
    sock = bind(host, port)
    pool = WarmPool(idle_timeout=idle_timeout)
    api = Api(root, settings, pool, warn=lambda m: say(f"lambdaver: warning: {m}"))
    config = uvicorn.Config(
        create_app(api),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=None,
        server_header=False,
        date_header=True,
    )
    server = _Server(config, on_started=lambda: say(f"Listening on {url_of(sock)}"))
    delivery = _start_delivery(api, settings, pool, say)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        delivery.stop()
        api.wait_for_events(EVENT_GRACE_SECONDS)
        pool.close()
    return 0


def _start_delivery(api: Api, settings: Settings, pool: Any, say: Callable[[str], None]) -> Any:
    """The triggers' delivery loop (service/triggers.py), in this process, with the warm
    environments of the API's invocations."""
    from lambdaver.server.app import _complete_pending
    from lambdaver.service.triggers import start_delivery

    def prepare(repo: Any) -> None:
        repo.on_lock(_complete_pending)

    return start_delivery(
        api.functions.all, settings, pool, lambda m: say(f"lambdaver: warning: {m}"), prepare
    )


class _Server:
    """uvicorn's Server, made to print the start-up line once it accepts requests, and
    to treat SIGINT/SIGTERM as "shut down and exit 0" (uvicorn re-raises the signal after
    its shutdown, which would end the process before the environments are stopped)."""

    def __new__(cls, config: Any, on_started: Callable[[], None]) -> Any:
        import uvicorn

        class Server(uvicorn.Server):
            _seen = False

            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets)
                if self.started:
                    on_started()

            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                if threading.current_thread() is not threading.main_thread():
                    yield
                    return

                def handle(sig: int, frame: Any) -> None:
                    self.should_exit = True
                    if sig == signal.SIGINT and self.force_exit is False and self._seen:
                        self.force_exit = True
                    self._seen = True

                self._seen = False
                previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
                try:
                    yield
                finally:
                    for s, h in previous.items():
                        signal.signal(s, h)

        return Server(config)
