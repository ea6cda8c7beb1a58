"""The relay's aiohttp application: `create_app(settings)`.

State lives in typed `web.AppKey`s, set up and torn down by a cleanup context; on
shutdown every WebRTC peer connection and every live viewer is closed. Routes are in
http_api.py.
"""

import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from relay_server import http_api
from relay_server.alerts import Alerts
from relay_server.connections import ConnectionGuard
from relay_server.enrollment import Enrollment
from relay_server.ice_logins import DeviceProofs, IceLogins
from relay_server.ingest import Ingest
from relay_server.invites import FailureLimit, Invites
from relay_server.live import LiveHub, LiveSockets
from relay_server.metrics import Metrics
from relay_server.settings import Settings
from relay_server.state import (
    ALERTS,
    CONNECTIONS,
    DEVICE_PROOFS,
    ENROLL_FAILURES,
    ENROLLMENT,
    ICE,
    INGEST,
    INVITES,
    LIVE,
    LIVE_SOCKETS,
    METRICS,
    RELAY,
    SESSIONS,
    SETTINGS,
    STORAGE,
)
from relay_server.storage import BlobStorage, open_storage
from relay_server.web_app import WebApp
from relay_server.webrtc import WebRTCSessions
from vault import RelayIdentity
from vault.identity import PassphraseSource, is_protected, no_passphrase

HTTP_OVERHEAD = 64 * 1024
ALERT_SHUTDOWN_GRACE_S = 5.0


def load_relay_identity(path: Path, passphrase: PassphraseSource | None = None) -> RelayIdentity:
    """The relay's signing identity; a protected file opens with passphrase (asked only
    then), by default with TESTIGO_PASSPHRASE."""

    def from_environment() -> str:
        value = os.environ.get("TESTIGO_PASSPHRASE")
        return no_passphrase() if value is None else value

    source = from_environment if passphrase is None else passphrase
    return RelayIdentity.load(path, source if is_protected(path) else no_passphrase)


def create_app(
    settings: Settings,
    *,
    relay: RelayIdentity | None = None,
    storage: BlobStorage | None = None,
) -> web.Application:
    """The relay application. relay and storage default to what settings name."""
    identity = relay if relay is not None else load_relay_identity(Path(settings.relay_key))
    app = web.Application(client_max_size=settings.max_chunk_bytes + HTTP_OVERHEAD)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[RELAY] = identity
    app[ICE] = IceLogins.from_settings(settings)
    app[LIVE_SOCKETS] = LiveSockets()
    app[ENROLL_FAILURES] = FailureLimit()
    app[CONNECTIONS] = ConnectionGuard(
        max_connections=settings.max_connections,
        max_per_address=settings.max_connections_per_address,
        header_seconds=settings.request_header_seconds,
    )

    async def resources(app: web.Application) -> AsyncIterator[None]:
        backend = storage if storage is not None else open_storage(settings)
        enrollment = Enrollment(backend)
        hub = LiveHub(
            queue_bytes=settings.live_queue_bytes,
            max_viewers=settings.max_live_viewers,
            max_per_device=settings.max_live_viewers_per_device,
            max_per_holder=settings.max_live_viewers_per_token,
            silence_seconds=settings.live_silence_seconds,
        )
        client = aiohttp.ClientSession()
        alerts = Alerts.from_environment(settings, enrollment, client)
        ingest = Ingest(
            backend, enrollment, identity, settings, app[METRICS], listeners=(hub, alerts)
        )
        alerts.use_ended(ingest.known_ended)
        app[STORAGE] = backend
        app[ENROLLMENT] = enrollment
        app[INVITES] = Invites(backend, enrollment)
        app[LIVE] = hub
        app[ALERTS] = alerts
        app[INGEST] = ingest
        app[DEVICE_PROOFS] = DeviceProofs(identity.public, enrollment.may_upload)
        app[SESSIONS] = WebRTCSessions(ingest, settings, app[METRICS], app[ICE])
        try:
            yield
        finally:
            await app[SESSIONS].close_all()
            await hub.close_all()
            await alerts.close(grace=min(ALERT_SHUTDOWN_GRACE_S, settings.alert_timeout_seconds))
            await client.close()
            await backend.close()

    async def close_connections(app: web.Application) -> None:
        await app[SESSIONS].close_all()
        await app[LIVE].close_all()
        await app[LIVE_SOCKETS].close_all()

    app.cleanup_ctx.append(resources)
    app.on_shutdown.append(close_connections)
    app.middlewares.append(http_api.error_middleware)
    app.on_response_prepare.append(http_api.no_banner)
    app.add_routes(http_api.route_table())
    app.add_routes(WebApp().route_table())
    return app


def create_metrics_app(relay_app: web.Application) -> web.Application:
    """The app of the metrics listener: /metrics (and /healthz) of relay_app's counters."""
    app = web.Application()
    app[METRICS] = relay_app[METRICS]
    app.on_response_prepare.append(http_api.no_banner)
    app.add_routes(http_api.metrics_route_table())
    return app
