"""A small threaded HTTP server for the webhook receiver (extract.webhooks); the local stand-ins
(the Mollie sandbox and the Frappe test server) build on it too.

A threading HTTP/1.1 server that tracks its keep-alive connections so `stop()` can close them
(otherwise a client's idle connection keeps a handler thread alive), handlers that disable
Nagle's algorithm, and start/stop/context-manager in a background daemon thread.
"""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("mollie_ledger.http")


class TrackingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], owner: Any, handler: type[TrackedHandler]) -> None:
        self.owner = owner
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(addr, handler)

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._conns_lock:
            if alive:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def close_all(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error from %s", client_address, exc_info=True)


class TrackedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this
    server: TrackingHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without NODELAY, Nagle + delayed ACK
        # stall every keep-alive response by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)


class BackgroundHTTPService:
    """Runs a `TrackingHTTPServer` with `handler_class` in a daemon thread on host:port."""

    handler_class: type[TrackedHandler]
    thread_name = "http-service"

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._httpd: TrackingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self):  # returns self (typed by subclasses)
        if self._httpd is not None:
            return self
        self._httpd = TrackingHTTPServer((self.host, self.port), self, self.handler_class)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"{self.thread_name}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._started()
        return self

    def _started(self) -> None:
        """Hook for subclasses (warm-up, a log line)."""

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_all()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
