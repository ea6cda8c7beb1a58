"""Running the relay as a process: `testigo relay serve`.

Prints one line `relay listening on http://HOST:PORT (relay key tg-relay-…)` once the
socket is bound (port 0 picks a free port), so scripts and tests can wait for it.
Stops cleanly on SIGINT/SIGTERM: every WebRTC session is closed, storage is closed.
"""

import asyncio
import signal
import sys
from pathlib import Path

from aiohttp import web

from relay_server.app import create_app, load_relay_identity
from relay_server.ice_addresses import restrict_host_candidates
from relay_server.logs import configure_logging, log_event
from relay_server.settings import Settings


async def _serve(settings: Settings) -> None:
    relay = load_relay_identity(Path(settings.relay_key))
    app = create_app(settings, relay=relay)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    addresses = runner.addresses
    host, port = addresses[0][0], addresses[0][1]
    print(f"relay listening on http://{host}:{port} (relay key {relay.public})", flush=True)
    log_event(20, "relay.started", port=port, relay=relay.public.fingerprint)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    try:
        await stop.wait()
    finally:
        log_event(20, "relay.stopping")
        await runner.cleanup()


def serve(settings: Settings) -> None:
    configure_logging(settings.log_level)
    restrict_host_candidates(settings.host)
    try:
        asyncio.run(_serve(settings))
    except OSError as error:
        print(f"testigo: error: cannot listen on {settings.host}:{settings.port}: "
              f"{error.strerror}", file=sys.stderr)  # fmt: skip
        print("hint: choose another --port, or stop what uses it", file=sys.stderr)
        sys.exit(1)
