"""The typed application keys of the relay's aiohttp app (no module-level state)."""

from aiohttp import web

from relay_server.alerts import Alerts
from relay_server.connections import ConnectionGuard
from relay_server.enrollment import Enrollment
from relay_server.ice_logins import DeviceProofs, IceLogins
from relay_server.ingest import Ingest
from relay_server.invites import FailureLimit, Invites
from relay_server.live import LiveHub, LiveSockets
from relay_server.metrics import Metrics
from relay_server.settings import Settings
from relay_server.storage import Storage
from relay_server.webrtc import WebRTCSessions
from vault import RelayIdentity

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
RELAY = web.AppKey("relay", RelayIdentity)
STORAGE: web.AppKey[Storage] = web.AppKey("storage")
ENROLLMENT = web.AppKey("enrollment", Enrollment)
INGEST = web.AppKey("ingest", Ingest)
SESSIONS = web.AppKey("sessions", WebRTCSessions)
LIVE = web.AppKey("live", LiveHub)
LIVE_SOCKETS = web.AppKey("live_sockets", LiveSockets)
ALERTS = web.AppKey("alerts", Alerts)
CONNECTIONS = web.AppKey("connections", ConnectionGuard)
ICE = web.AppKey("ice", IceLogins)
DEVICE_PROOFS = web.AppKey("device_proofs", DeviceProofs)
INVITES = web.AppKey("invites", Invites)
ENROLL_FAILURES = web.AppKey("enroll_failures", FailureLimit)
