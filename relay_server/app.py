"""The relay's aiohttp application: `create_app(settings)`.

State lives in typed `web.AppKey`s, set up and torn down by a cleanup context; on
shutdown every WebRTC peer connection is closed. Routes are in http_api.py.
"""

import os
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from relay_server import http_api
from relay_server.enrollment import Enrollment
from relay_server.ingest import Ingest
from relay_server.metrics import Metrics
from relay_server.settings import Settings
from relay_server.state import ENROLLMENT, INGEST, METRICS, RELAY, SESSIONS, SETTINGS, STORAGE
from relay_server.storage import BlobStorage, open_storage
from relay_server.webrtc import WebRTCSessions
from vault import Role, SigningIdentity, load_identity
from vault.errors import TestigoError
from vault.identity import is_protected, no_passphrase

HTTP_OVERHEAD = 64 * 1024


def load_relay_identity(path: Path) -> SigningIdentity:
    """The relay's signing identity; a protected file opens with TESTIGO_PASSPHRASE."""

    def from_environment() -> str:
        value = os.environ.get("TESTIGO_PASSPHRASE")
        return no_passphrase() if value is None else value

    stored = load_identity(path, from_environment if is_protected(path) else no_passphrase)
    if stored.role is not Role.RELAY or not isinstance(stored.identity, SigningIdentity):
        raise TestigoError(
            f"{path} is a {stored.role} identity, not a relay identity",
            hint="make one with: testigo relay keygen",
        )
    return stored.identity


def create_app(
    settings: Settings,
    *,
    relay: SigningIdentity | None = None,
    storage: BlobStorage | None = None,
) -> web.Application:
    """The relay application. relay and storage default to what settings name."""
    identity = relay if relay is not None else load_relay_identity(Path(settings.relay_key))
    if identity.role is not Role.RELAY:
        raise TestigoError("receipts are signed by a relay identity")
    app = web.Application(client_max_size=settings.max_chunk_bytes + HTTP_OVERHEAD)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[RELAY] = identity

    async def resources(app: web.Application) -> AsyncIterator[None]:
        backend = storage if storage is not None else open_storage(settings)
        enrollment = Enrollment(backend)
        ingest = Ingest(backend, enrollment, identity, settings, app[METRICS])
        app[STORAGE] = backend
        app[ENROLLMENT] = enrollment
        app[INGEST] = ingest
        app[SESSIONS] = WebRTCSessions(ingest, settings, app[METRICS])
        yield
        await app[SESSIONS].close_all()
        await backend.close()

    async def close_sessions(app: web.Application) -> None:
        await app[SESSIONS].close_all()

    app.cleanup_ctx.append(resources)
    app.on_shutdown.append(close_sessions)
    app.middlewares.append(http_api.error_middleware)
    app.add_routes(http_api.routes())
    return app
