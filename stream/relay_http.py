"""Talking HTTP to a relay, for every client (phone, contact): time limits, and failures
said in words a person can act on, never a library's text alone.

A relay that accepts connections and then says nothing (overloaded, or an attacker's
tarpit in between) must not make a client wait silently for minutes: connecting is
limited to `CONNECT_TIMEOUT_S`, and a relay that sends nothing for `READ_TIMEOUT_S`
while a request is open counts as gone.
"""

import ipaddress
import os
from typing import Final
from urllib.parse import urlsplit

import aiohttp

CONNECT_TIMEOUT_S: Final = 10.0
READ_TIMEOUT_S: Final = 30.0


def crosses_the_network_in_clear(url: str) -> bool:
    """Whether a request to url would travel unencrypted off this machine (http:// to
    anything but loopback)."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def client_timeout(total: float | None = None) -> aiohttp.ClientTimeout:
    """The time limits with a relay: connecting, silence, and (for one request) total;
    without a total, downloads may last but not stall."""
    return aiohttp.ClientTimeout(
        total=total, sock_connect=CONNECT_TIMEOUT_S, sock_read=READ_TIMEOUT_S
    )


def failure_text(error: BaseException) -> str:
    """What went wrong talking to the relay, in a few plain words (never empty)."""
    if isinstance(error, TimeoutError):
        return "the relay did not answer in time"
    if isinstance(error, aiohttp.ClientConnectorError):
        number = error.os_error.errno
        reason = os.strerror(number) if number else "no route"
        return f"cannot connect to {error.host}:{error.port} ({reason.lower()})"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "the relay closed the connection"
    if isinstance(error, aiohttp.ClientPayloadError):
        return "the relay's answer was cut off"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__
