"""What an operator does outside the running relay: enroll devices, mint read tokens,
register alert targets.

`testigo relay enroll` / `testigo relay token` call these; they open the storage the
settings name, act, and close it.
"""

from relay_server.enrollment import AlertTarget, Enrollment
from relay_server.settings import Settings
from relay_server.storage import open_storage
from vault import DeviceKey


async def enroll(settings: Settings, device: DeviceKey) -> bool:
    """Enroll device on the relay's storage; False when it already was."""
    storage = open_storage(settings)
    try:
        return await Enrollment(storage).enroll(device)
    finally:
        await storage.close()


async def mint_token(settings: Settings, device: DeviceKey) -> str:
    """A new capability token to list and download device's recordings. Shown once."""
    storage = open_storage(settings)
    try:
        return await Enrollment(storage).mint_token(device)
    finally:
        await storage.close()


async def add_alert_target(settings: Settings, device: DeviceKey, kind: str, target: str) -> bool:
    """Alert target (kind "webhook": an http(s) URL; "email": an address) whenever device
    starts a recording. False when it already was one. AlertTargetError for a bad target."""
    alert = AlertTarget.make(kind, target)
    storage = open_storage(settings)
    try:
        return await Enrollment(storage).add_alert_target(device, alert)
    finally:
        await storage.close()


async def revoke(settings: Settings, device: DeviceKey) -> bool:
    """Refuse every further upload by device (a seized phone); False if it already was."""
    storage = open_storage(settings)
    try:
        return await Enrollment(storage).revoke(device)
    finally:
        await storage.close()
