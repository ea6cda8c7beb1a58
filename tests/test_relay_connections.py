"""Strangers cannot exhaust the relay with connections (relay_server/connections.py):
against the real relay process, idle and trickling connections are closed on time, one
address cannot hold more than its share, and genuine requests are answered meanwhile."""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from stream.demo.local_relay import LocalRelay

WAIT_S = 30.0  # an upper bound for a socket to see the relay's answer or close
FAST = ("request_header_seconds=1.0", "body_read_seconds=1.0")


def open_socket(relay: LocalRelay) -> socket.socket:
    port = int(relay.url.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)


def closed_by_relay(conn: socket.socket) -> bool:
    """Blocks until the relay sends something or closes; True when it closed."""
    try:
        data = conn.recv(4096)
    except ConnectionResetError:
        return True
    return data == b""


def healthz(relay: LocalRelay) -> bytes:
    with open_socket(relay) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n")
        return conn.recv(4096)


@pytest.fixture
def relay(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LocalRelay]:
    settings = tuple(getattr(request, "param", ()))
    with LocalRelay(tmp_path / "relay", settings=FAST + settings) as running:
        yield running


def test_idle_connections_are_closed_and_genuine_requests_answered(relay: LocalRelay) -> None:
    idle = [open_socket(relay) for _ in range(40)]
    assert healthz(relay).startswith(b"HTTP/1.1 200")  # while they hang on
    partial = open_socket(relay)
    partial.sendall(b"GET /healthz HTTP/1.1\r\nHost: rel")  # headers that never end
    for conn in [*idle, partial]:
        assert closed_by_relay(conn)
        conn.close()


def test_a_trickling_body_is_cut_off(relay: LocalRelay) -> None:
    with open_socket(relay) as conn:
        conn.sendall(b"POST /v1/headers HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nxx")
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408")


def test_an_idle_keep_alive_connection_is_closed(relay: LocalRelay) -> None:
    with open_socket(relay) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
        assert conn.recv(4096).startswith(b"HTTP/1.1 200")
        assert closed_by_relay(conn)  # nothing more sent: it does not stay open


@pytest.mark.parametrize("relay", [("max_connections_per_address=5",)], indirect=True)
def test_one_address_cannot_hold_more_than_its_share(relay: LocalRelay) -> None:
    held = [open_socket(relay) for _ in range(5)]
    extra = open_socket(relay)
    assert closed_by_relay(extra)
    extra.close()
    assert "event=connection.refused" in relay.log_path.read_text()  # refused, not timed out
    for conn in held:
        assert closed_by_relay(conn)
        conn.close()
    assert healthz(relay).startswith(b"HTTP/1.1 200")  # the place is free again
