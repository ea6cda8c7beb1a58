"""The relay's logs hold no client address and no traceback, whatever clients do wrong.

Against the real relay process (its stderr is the log): requests cut off mid-body,
garbage instead of HTTP, a refused WebSocket upgrade, a refused offer. Every probe is
followed by what shows the relay handled it (its answer, or the log line it writes).
"""

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from relay_server.logs import scrub_addresses
from stream.demo.local_relay import LocalRelay

DEADLINE_S = 30.0


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[LocalRelay]:
    with LocalRelay(tmp_path / "relay") as running:
        yield running


def connect(relay: LocalRelay) -> socket.socket:
    port = int(relay.url.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)


def answer_of(relay: LocalRelay, request: bytes) -> bytes:
    """Send request, then read the relay's answer until it closes or sends a status."""
    with connect(relay) as conn:
        conn.sendall(request)
        return conn.recv(4096)


def wait_for_line(relay: LocalRelay, text: str, count: int) -> str:
    """The relay's log once it holds count lines with text (polled, with a deadline)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        log = relay.log_path.read_text()
        if log.count(text) >= count:
            return log
        time.sleep(0.02)  # polling a file the relay writes, not a timing guess
    raise AssertionError(f"the relay never logged {text!r} {count} times:\n{log}")


def test_no_address_and_no_traceback_after_misbehaving_clients(relay: LocalRelay) -> None:
    cut_offs = [
        b"POST /v1/headers HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10,
        b"POST /v1/webrtc/offer HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{",
    ]
    for request in cut_offs:
        with connect(relay) as conn:
            conn.sendall(request)
    assert answer_of(relay, b"\x16\x03\x01\x02\x00 not http\r\n\r\n").startswith(b"HTTP/1.")
    upgrade = (
        b"GET /v1/devices/tg-device-x/live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    refused = answer_of(relay, upgrade)
    assert b" 401 " in refused
    assert b"\r\nServer: testigo\r\n" in refused  # no software or version to fingerprint
    assert b"aiohttp" not in refused
    junk_offer = b'{"sdp": "v=0 junk", "type": "offer"}'
    offer = b"POST /v1/webrtc/offer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(
        junk_offer
    )
    assert answer_of(relay, offer + junk_offer).startswith(b"HTTP/1.1 ")
    log = wait_for_line(relay, "event=http.client_gone", len(cut_offs))
    assert "Traceback" not in log
    assert "127.0.0.1" not in log
    assert scrub_addresses(log) == log  # nothing else shaped like an address either


def test_scrubbing_finds_every_kind_of_address() -> None:
    line = "from 10.1.2.3:5555, [2001:db8::1]:443, fe80::1%eth0 and ::1 at 23:05:16 v1.2.3"
    assert scrub_addresses(line) == (
        "from <address>, <address>, <address> and <address> at 23:05:16 v1.2.3"
    )


def test_a_flood_of_one_event_is_held_back_and_counted() -> None:
    from relay_server.logs import EVENTS_PER_SECOND, _RateLimit

    now = [100.0]
    limit = _RateLimit(clock=lambda: now[0])
    allowed = [limit.allow("header.unknown_device")[0] for _ in range(EVENTS_PER_SECOND + 30)]
    assert allowed.count(True) == EVENTS_PER_SECOND
    assert limit.allow("alarm.conflicting_chunk")[0]  # other events are not affected
    now[0] = 101.0
    first, suppressed = limit.allow("header.unknown_device")
    assert first
    assert suppressed == {"header.unknown_device": 30}
