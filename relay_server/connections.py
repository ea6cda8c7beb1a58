"""Who may hold a TCP connection to the relay, and for how long (docs/PROTOCOL.md §8).

A relay on the open internet is reachable by the people a recording is about. Without
limits, a thousand idle or trickling connections (slowloris) exhaust its file
descriptors and every upload stops. `ConnectionGuard` wraps the HTTP server's protocol
factory:

* at most `max_connections` connections in all, and `max_connections_per_address` from
  one client address (kept in memory only, never logged); a connection beyond either is
  closed at once;
* a connection must complete a request's headers within `request_header_seconds` of
  opening, and of its previous answer (which also bounds an idle keep-alive); the HTTP
  layer tells the guard when a request starts and ends (`request_started`,
  `request_ended`), and a connection that misses its deadline is closed.

Request bodies have their own minimum rate (http_api.read_body).
"""

import asyncio
import resource
from collections import Counter
from collections.abc import Callable

from relay_server.logs import log_event

Factory = Callable[[], asyncio.BaseProtocol]


class GuardedConnection(asyncio.Protocol):
    """One connection: passes everything to the HTTP protocol, under the guard's rules."""

    def __init__(self, inner: asyncio.BaseProtocol, guard: "ConnectionGuard") -> None:
        self._inner = inner
        self._guard = guard
        self.transport: asyncio.Transport | None = None
        self.address = ""
        self.admitted = False
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not self._guard.admit(self):
            transport.abort()
            return
        self.admitted = True
        self._inner.connection_made(transport)
        self._guard.arm(self)

    def data_received(self, data: bytes) -> None:
        if self.admitted:
            assert isinstance(self._inner, asyncio.Protocol)
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self.admitted:
            assert isinstance(self._inner, asyncio.Protocol)
            return self._inner.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard.release(self)
        if self.admitted:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.admitted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self.admitted:
            self._inner.resume_writing()


class ConnectionGuard:
    """The connection rules of one listener; see the module docstring."""

    def __init__(
        self, *, max_connections: int, max_per_address: int, header_seconds: float
    ) -> None:
        self.max_connections = max_connections
        self.max_per_address = max_per_address
        self.header_seconds = header_seconds
        self._open: dict[asyncio.Transport, GuardedConnection] = {}
        self._per_address: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._open)

    def factory(self, inner: Factory) -> Callable[[], asyncio.Protocol]:
        return lambda: GuardedConnection(inner(), self)

    def admit(self, connection: GuardedConnection) -> bool:
        if (
            len(self._open) >= self.max_connections
            or self._per_address[connection.address] >= self.max_per_address
        ):
            log_event(20, "connection.refused", open=len(self._open))
            return False
        assert connection.transport is not None
        self._open[connection.transport] = connection
        self._per_address[connection.address] += 1
        return True

    def release(self, connection: GuardedConnection) -> None:
        self._cancel(connection)
        if connection.admitted and connection.transport in self._open:
            del self._open[connection.transport]
            self._per_address[connection.address] -= 1
            if self._per_address[connection.address] <= 0:
                del self._per_address[connection.address]

    def arm(self, connection: GuardedConnection) -> None:
        """Start the clock for the next request's headers."""
        self._cancel(connection)
        loop = asyncio.get_running_loop()
        connection.deadline = loop.call_later(self.header_seconds, self._expire, connection)

    def _connection(self, transport: asyncio.BaseTransport | None) -> GuardedConnection | None:
        return self._open.get(transport) if isinstance(transport, asyncio.Transport) else None

    def request_started(self, transport: asyncio.BaseTransport | None) -> None:
        connection = self._connection(transport)
        if connection is not None:
            self._cancel(connection)

    def request_ended(self, transport: asyncio.BaseTransport | None) -> None:
        connection = self._connection(transport)
        if (
            connection is not None
            and connection.transport is not None
            and not connection.transport.is_closing()
        ):
            self.arm(connection)

    def _expire(self, connection: GuardedConnection) -> None:
        connection.deadline = None
        if connection.transport is not None and not connection.transport.is_closing():
            connection.transport.abort()

    @staticmethod
    def _cancel(connection: GuardedConnection) -> None:
        if connection.deadline is not None:
            connection.deadline.cancel()
            connection.deadline = None


def raise_open_file_limit() -> int:
    """Raise this process's soft open-file limit to its hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft
