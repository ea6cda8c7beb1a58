"""Talking HTTP to a relay, for every client (phone, contact): time limits, and failures
said in words a person can act on, never a library's text alone.

A relay that accepts connections and then says nothing (overloaded, or an attacker's
tarpit in between) must not make a client wait silently for minutes: connecting is
limited to `CONNECT_TIMEOUT_S`, and a relay that sends nothing for `READ_TIMEOUT_S`
while a request is open counts as gone.

An https:// relay's certificate is always verified (there is no switch to turn that
off), against the system's CAs, or the CA bundle named by the standard `SSL_CERT_FILE`
variable (and `SSL_CERT_DIR`), read when a session is made: a relay with a certificate
of its own CA works once the user names that CA.
"""

import functools
import ipaddress
import os
import ssl
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


CA_VARIABLES: Final = ("SSL_CERT_FILE", "SSL_CERT_DIR")


@functools.cache
def _ssl_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)  # reads SSL_CERT_*
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context


def client_ssl_context() -> ssl.SSLContext:
    """The TLS settings for every relay connection: TLS 1.2+, the certificate verified
    against the CAs `SSL_CERT_FILE`/`SSL_CERT_DIR` name now (else the system's)."""
    return _ssl_context(*(os.environ.get(name) for name in CA_VARIABLES))


def relay_session(timeout: aiohttp.ClientTimeout | None = None) -> aiohttp.ClientSession:
    """A client session for talking to relays (inside a running event loop)."""
    return aiohttp.ClientSession(
        timeout=timeout or client_timeout(),
        connector=aiohttp.TCPConnector(ssl=client_ssl_context()),
    )


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
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return _certificate_text(error.certificate_error)
    if isinstance(error, aiohttp.ClientConnectorSSLError):
        reason = str(getattr(error.os_error, "reason", None) or error.os_error.strerror or "")
        if reason == "WRONG_VERSION_NUMBER":
            return "the relay does not speak TLS there (is its URL http://?)"
        return f"TLS with the relay failed ({reason.lower() or error.os_error})"
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


def is_certificate_failure(error: BaseException) -> bool:
    """Whether error is the relay's certificate failing verification (not the network)."""
    return isinstance(error, aiohttp.ClientConnectorCertificateError)


CERTIFICATE_HINT: Final = (
    "the relay's certificate must come from a CA you trust: set SSL_CERT_FILE to the CA "
    "file its operator gives you (verification cannot be turned off)"
)


def _certificate_text(error: BaseException) -> str:
    detail = getattr(error, "verify_message", None) or str(error)
    cafile = os.environ.get("SSL_CERT_FILE")
    if cafile and not os.path.isfile(cafile):
        trust = f"; SSL_CERT_FILE names {cafile}, which is not a file"
    elif cafile:
        trust = f"; checked against SSL_CERT_FILE {cafile}"
    else:
        trust = "; if the relay's CA is your own, name it with SSL_CERT_FILE=ca.pem"
    return f"the relay's TLS certificate is not trusted ({detail}){trust}"
