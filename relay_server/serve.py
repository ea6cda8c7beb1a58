"""Running the relay as a process: `testigo relay serve`.

Prints one line `relay listening on http://HOST:PORT (relay key tg-relay-…)` once the
socket is bound (port 0 picks a free port), so scripts and tests can wait for it; with
`tls_cert_file`/`tls_key_file` it serves HTTPS and says `https://`. The metrics listener
is always plain HTTP (it belongs on loopback).
Stops cleanly on SIGINT/SIGTERM: every WebRTC session is closed, storage is closed.
"""

import asyncio
import errno
import signal
import ssl
from pathlib import Path

from aiohttp import web

from relay_server.app import create_app, create_metrics_app, load_relay_identity
from relay_server.connections import raise_open_file_limit
from relay_server.errors import StorageError
from relay_server.ice_addresses import restrict_host_candidates
from relay_server.logs import configure_logging, log_event
from relay_server.settings import Settings
from relay_server.state import CONNECTIONS, STORAGE
from relay_server.tls import server_context
from vault.errors import TestigoError
from vault.identity import PassphraseSource


async def _serve(
    settings: Settings, passphrase: PassphraseSource | None, tls: ssl.SSLContext | None
) -> None:
    relay = load_relay_identity(Path(settings.relay_key), passphrase)
    app = create_app(settings, relay=relay)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()  # opens the storage (the app's cleanup context)
    try:
        await app[STORAGE].check()  # before saying it listens: a receipt must mean stored
    except StorageError as error:
        await runner.cleanup()
        raise TestigoError(
            f"the storage does not work: {error}",
            hint="check --storage (the directory's permissions and free space, or the S3 "
            "endpoint, bucket and credentials)",
        ) from None
    loop = asyncio.get_running_loop()
    assert runner.server is not None
    listener = await loop.create_server(
        app[CONNECTIONS].factory(runner.server),
        settings.host,
        settings.port,
        ssl=tls,
        # a handshake is not yet a connection the guard counts: it gets the headers' time
        ssl_handshake_timeout=settings.request_header_seconds if tls else None,
    )
    try:
        metrics_runner = await _start_metrics(app, settings)
    except OSError as error:
        listener.close()
        await runner.cleanup()
        raise TestigoError(
            f"cannot serve metrics on {settings.metrics_listen}: {error.strerror or error}",
            hint="set metrics_listen to a free HOST:PORT of this machine, or leave it empty",
        ) from None
    host, port = listener.sockets[0].getsockname()[:2]
    url = f"{settings.scheme}://{f'[{host}]' if ':' in host else host}:{port}"
    print(f"relay listening on {url} (relay key {relay.public})", flush=True)
    log_event(20, "relay.started", port=port, tls=tls is not None, relay=relay.public.fingerprint)
    stop = asyncio.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    try:
        await stop.wait()
    finally:
        log_event(20, "relay.stopping")
        listener.close()
        if metrics_runner is not None:
            await metrics_runner.cleanup()
        await runner.cleanup()


async def _start_metrics(app: web.Application, settings: Settings) -> web.AppRunner | None:
    """The operator's /metrics listener, when metrics_listen asks for one."""
    address = settings.metrics_address
    if address is None:
        return None
    runner = web.AppRunner(create_metrics_app(app), handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, *address).start()
    log_event(20, "relay.metrics_listening", port=address[1])
    return runner


def serve(settings: Settings, passphrase: PassphraseSource | None = None) -> None:
    """Run until SIGINT/SIGTERM; passphrase opens a protected relay key (default: the
    TESTIGO_PASSPHRASE variable)."""
    configure_logging(settings.log_level)
    restrict_host_candidates(settings.host)
    files = raise_open_file_limit()
    log_event(20, "relay.open_file_limit", files=files)
    tls = None
    if settings.tls_cert_file:
        tls = server_context(settings.tls_cert_file, settings.tls_key_file)
    try:
        asyncio.run(_serve(settings, passphrase, tls))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            hint = "choose another --port, or stop what uses it"
        elif error.errno == errno.EACCES:
            hint = "ports below 1024 need privileges: choose --port 8080 or above"
        else:
            hint = "--host must be an address of this machine: 127.0.0.1, 0.0.0.0, ::"
        raise TestigoError(
            f"cannot listen on {settings.host}:{settings.port}: {error.strerror or error}",
            hint=hint,
        ) from None
