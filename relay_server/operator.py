"""What an operator does outside the running relay: enroll, revoke and reinstate devices,
mint and withdraw read tokens, add and remove alert targets, list what there is.

`testigo relay enroll` / `testigo relay token` call these; they open the storage the
settings name, act, and close it.
"""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from relay_server.enrollment import AlertTarget, DeviceRecord, Enrollment
from relay_server.settings import Settings
from relay_server.storage import open_storage
from vault import DeviceKey

T = TypeVar("T")


async def _with_enrollment(settings: Settings, act: Callable[[Enrollment], Awaitable[T]]) -> T:
    storage = open_storage(settings)
    try:
        return await act(Enrollment(storage))
    finally:
        await storage.close()


async def devices(settings: Settings) -> list[DeviceRecord]:
    """Every device the relay's storage knows, enrolled or revoked."""
    return await _with_enrollment(settings, lambda e: e.devices())


async def reinstate(settings: Settings, device: DeviceKey) -> bool:
    """Let a revoked device upload again (deliberately); False if it was not revoked."""
    return await _with_enrollment(settings, lambda e: e.reinstate(device))


async def revoke_token(settings: Settings, device: DeviceKey, token_id: str) -> bool:
    """Withdraw one read token of device, by its id; False when there is no such token."""
    return await _with_enrollment(settings, lambda e: e.revoke_token(device, token_id))


async def remove_alert_target(
    settings: Settings, device: DeviceKey, kind: str, target: str
) -> bool:
    """Stop alerting target; False when it was not one."""
    alert = AlertTarget.make(kind, target)
    return await _with_enrollment(settings, lambda e: e.remove_alert_target(device, alert))


async def enroll(settings: Settings, device: DeviceKey) -> bool:
    """Enroll device on the relay's storage; False when it already was."""
    return await _with_enrollment(settings, lambda e: e.enroll(device))


async def mint_token(settings: Settings, device: DeviceKey) -> str:
    """A new capability token to list and download device's recordings. Shown once."""
    return await _with_enrollment(settings, lambda e: e.mint_token(device))


async def add_alert_target(settings: Settings, device: DeviceKey, kind: str, target: str) -> bool:
    """Alert target (kind "webhook": an http(s) URL; "email": an address) whenever device
    starts a recording. False when it already was one. AlertTargetError for a bad target."""
    alert = AlertTarget.make(kind, target)
    return await _with_enrollment(settings, lambda e: e.add_alert_target(device, alert))


async def revoke(settings: Settings, device: DeviceKey) -> bool:
    """Refuse every further upload by device (a seized phone); False if it already was."""
    return await _with_enrollment(settings, lambda e: e.revoke(device))
