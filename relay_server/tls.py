"""HTTPS served by the relay itself: `relay serve --tls-cert PATH --tls-key PATH`.

The certificate chain and key are loaded once, at start; every problem with them is a
`TestigoError` saying which file and what to do, before the relay says it listens.

A private key that anyone on the machine may read is refused: a stolen key lets its
holder impersonate the relay to every phone. A key its group may read is only warned
about, since Debian's convention is exactly that (`/etc/ssl/private/*.key`, mode 0640,
group `ssl-cert`, for the services in that group).
"""

import os
import ssl
import stat
from pathlib import Path

from relay_server.logs import log_event
from vault.errors import TestigoError


class TlsError(TestigoError):
    """Raised when the relay cannot serve HTTPS with the certificate and key it was given."""

    hint = "give --tls-cert the PEM certificate chain and --tls-key its PEM private key"


def _refuse_loose_key(key_file: str) -> None:
    try:
        mode = os.stat(key_file).st_mode
    except OSError as error:
        raise TlsError(
            f"cannot read the TLS key {key_file}: {error.strerror or error}",
            hint="check --tls-key (the path, and that the relay's user may read it)",
        ) from None
    if not stat.S_ISREG(mode):
        raise TlsError(f"the TLS key {key_file} is not a file", hint="check --tls-key")
    if mode & stat.S_IROTH:
        raise TlsError(
            f"the TLS key {key_file} is readable by every user of this machine",
            hint=f"make it private: chmod 600 {key_file} (or 640 with a group of its own)",
        )
    if mode & stat.S_IRGRP:
        log_event(30, "relay.tls_key_group_readable")


def _read(path: str, what: str, option: str) -> None:
    try:
        with open(path, "rb") as file:
            file.read(1)
    except OSError as error:
        raise TlsError(
            f"cannot read the TLS {what} {path}: {error.strerror or error}",
            hint=f"check {option} (the path, and that the relay's user may read it)",
        ) from None


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A TLS 1.2+ server context holding cert_file's chain and key_file's key."""
    _read(cert_file, "certificate", "--tls-cert")
    _refuse_loose_key(key_file)
    _read(key_file, "key", "--tls-key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    asked: list[bool] = []

    def no_passphrase() -> bytes:  # never let OpenSSL prompt on the terminal
        asked.append(True)
        return b""

    try:
        context.load_cert_chain(cert_file, key_file, password=no_passphrase)
    except ssl.SSLError as error:
        raise _load_failure(cert_file, key_file, error, bool(asked)) from None
    return context


def _load_failure(cert_file: str, key_file: str, error: ssl.SSLError, encrypted: bool) -> TlsError:
    reason = str(error.reason or "")
    if encrypted:
        return TlsError(
            f"the TLS key {key_file} is protected by a passphrase",
            hint=f"give an unencrypted copy, private to the relay's user: "
            f"openssl pkey -in {key_file} -out relay-tls.key; chmod 600 relay-tls.key",
        )
    if reason == "KEY_VALUES_MISMATCH":
        return TlsError(
            f"the TLS key {key_file} does not belong to the certificate {cert_file}",
            hint="give --tls-key the private key the certificate was issued for",
        )
    first = _first_pem_label(Path(cert_file))
    if first != "CERTIFICATE":
        return TlsError(
            f"{cert_file} is not a PEM certificate",
            hint="--tls-cert takes the PEM chain (-----BEGIN CERTIFICATE-----), "
            "the server's certificate first",
        )
    return TlsError(
        f"{key_file} is not a usable PEM private key ({reason.lower() or error})",
        hint="--tls-key takes the unencrypted PEM key (-----BEGIN PRIVATE KEY-----)",
    )


def _first_pem_label(path: Path) -> str:
    try:
        text = path.read_bytes()[:65536].decode("ascii", "replace")
    except OSError:
        return ""
    start = text.find("-----BEGIN ")
    if start < 0:
        return ""
    return text[start + 11 :].split("-----", 1)[0]
