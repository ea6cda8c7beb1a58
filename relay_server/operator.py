"""What an operator does outside the running relay: enroll, revoke and reinstate devices,
mint and withdraw read tokens, add and remove alert targets, make and withdraw invites,
list what there is.

`testigo relay enroll` / `testigo relay token` call these; they open the storage the
settings name, act, and close it.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from relay_server.enrollment import AlertTarget, DeviceRecord, Enrollment
from relay_server.invites import InviteInfo, InviteRecord, Invites
from relay_server.settings import Settings
from relay_server.storage import open_storage
from vault import DeviceKey
from vault.errors import TestigoError
from vault.keys import RelayKey
from vault.wire.invite import InviteLink

T = TypeVar("T")


@dataclass(frozen=True)
class NewInvite:
    link: str  # holds the secret: shown once, to the operator, never logged
    record: InviteRecord
    relay_key: RelayKey

    def __repr__(self) -> str:
        return f"NewInvite({self.record.invite.hex()[:8]})"


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


async def _with_invites(settings: Settings, act: Callable[[Invites], Awaitable[T]]) -> T:
    storage = open_storage(settings)
    try:
        return await act(Invites(storage, Enrollment(storage)))
    finally:
        await storage.close()


def relay_public_key(settings: Settings) -> RelayKey:
    """The relay's public key, read from its key file (no passphrase needed: the public
    half is stored in the clear)."""
    path = Path(settings.relay_key)
    try:
        document = json.loads(path.read_bytes())
        if document.get("role") != "relay":
            raise TestigoError(f"{path} is not a relay key", hint="see testigo relay keygen")
        return RelayKey.parse(str(document["public"]))
    except FileNotFoundError:
        raise TestigoError(
            f"relay key file {path} does not exist",
            hint="give --relay-key, or: testigo relay keygen",
        ) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise TestigoError(f"cannot read the relay key file {path}") from None


async def create_invite(settings: Settings, relay_url: str, expires_s: int) -> NewInvite:
    """A new one-time invite, stored; its link (which holds the secret) is shown once."""
    relay_key = relay_public_key(settings)
    secret, record = await _with_invites(settings, lambda i: i.create(expires_s))
    return NewInvite(InviteLink(secret, relay_key).url(relay_url), record, relay_key)


async def invites(settings: Settings) -> list[InviteInfo]:
    """Every invite in the relay's storage, with its state."""
    return await _with_invites(settings, lambda i: i.all())


async def withdraw_invite(settings: Settings, invite_id: str) -> InviteInfo:
    """Withdraw an invite by its short id; its state before (open or expired: withdrawn
    now; used or withdrawn: left as it was)."""
    return await _with_invites(settings, lambda i: i.withdraw(invite_id))
