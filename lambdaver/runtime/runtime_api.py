"""A small threaded HTTP/1.1 server on a loopback port, for the Lambda Runtime API.

Built on h11 (the HTTP/1.1 state machine uvicorn uses): one thread accepts, one thread
per connection parses requests and calls the handler, which may block (the Runtime API's
``/next`` waits for an invocation).  Keep-alive connections are kept, as AWS's runtime
interface clients expect.  Nothing here knows about Lambda: see
:mod:`lambdaver.runtime.provided` for the routes.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import h11

#: (method, target, headers with lower-case names, body) -> (status, headers, body)
Handler = Callable[[str, str, dict[str, str], bytes], tuple[int, list[tuple[str, str]], bytes]]

_MAX_BODY = 7 << 20  # a little above the 6 MB payload limit, so 413 can be answered


class LoopbackServer:
    """Serves ``handler`` on ``127.0.0.1`` at a free port until :meth:`close`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]
        self.closed = False
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, name="lambdaver-rapi", daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``: the value of ``AWS_LAMBDA_RUNTIME_API``."""
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        with self.lock:
            self.closed = True
            connections = list(self.connections)
        for s in [self.sock, *connections]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return  # closed
            with self.lock:
                if self.closed:
                    conn.close()
                    return
                self.connections.add(conn)
            threading.Thread(
                target=self._serve, args=(conn,), name="lambdaver-rapi-conn", daemon=True
            ).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._serve_connection(conn)
        except (OSError, h11.ProtocolError):
            pass
        finally:
            with self.lock:
                self.connections.discard(conn)
            conn.close()

    def _serve_connection(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        h = h11.Connection(h11.SERVER)
        while True:
            request: h11.Request | None = None
            body = bytearray()
            while True:
                event = h.next_event()
                if event is h11.NEED_DATA:
                    data = conn.recv(1 << 16)
                    h.receive_data(data)
                    if not data and request is None:
                        return
                    continue
                if isinstance(event, h11.Request):
                    request = event
                elif isinstance(event, h11.Data):
                    if len(body) <= _MAX_BODY:
                        body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    return
            if request is None:  # pragma: no cover - h11 always sends a Request first
                return
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
            status, out_headers, out_body = self.handler(
                request.method.decode("ascii"), request.target.decode("latin-1"), headers,
                bytes(body),
            )  # fmt: skip
            out_headers = [*out_headers, ("Content-Length", str(len(out_body)))]
            conn.sendall(h.send(h11.Response(status_code=status, headers=out_headers)) or b"")
            conn.sendall(h.send(h11.Data(data=out_body)) or b"")
            conn.sendall(h.send(h11.EndOfMessage()) or b"")
            if h.our_state is h11.MUST_CLOSE or h.their_state is h11.MUST_CLOSE:
                return
            h.start_next_cycle()
