"""Invites: one-time links with which a phone enrolls itself (docs/PROTOCOL.md §15).

The relay keeps, per invite, its public key (the invite id), when it was made and when
it expires (`invites/<id>/invite`, written once), and later one closing mark
(`invites/<id>/closed`, written once, never overwritten): which device used it, or that
the operator withdrew it. Whoever writes the mark first wins, across concurrent
requests, processes and restarts. The invite secret is never stored: a copy of the
storage cannot enroll anyone.
"""

import ipaddress
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Self

from relay_server.enrollment import Enrollment
from relay_server.storage import PutResult, Storage
from vault import _primitives as p
from vault.errors import MalformedError, TestigoError
from vault.identity import RelayIdentity
from vault.keys import DeviceKey
from vault.wire.documents import EnrollAnswer, EnrollRequest
from vault.wire.errors import ErrorCode, RelayError
from vault.wire.invite import MAX_EXPIRY_S, MIN_EXPIRY_S, SECRET_SIZE, InviteKey

RECORD_VERSION: Final = 1
INVITE_ID_HEX: Final = 8  # the short id an operator lists and withdraws an invite by
UNUSABLE_MESSAGE: Final = "this invite cannot enroll a device (unknown, used, expired or withdrawn)"
# Failed attempts per client address (an IPv6 /64) and window; addresses kept at most.
MAX_FAILURES: Final = 10
FAILURE_WINDOW_S: Final = 600.0
MAX_TRACKED_ADDRESSES: Final = 4096


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def invite_id_of(invite: bytes) -> str:
    """An invite's short public name: the first 4 bytes of its public key, in hex."""
    return invite.hex()[:INVITE_ID_HEX]


class InviteState(StrEnum):
    OPEN = "open"
    USED = "used"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class InviteRecord:
    invite: bytes  # the invite public key
    created_ms: int
    expires_ms: int

    def to_bytes(self) -> bytes:
        document = {
            "testigo-relay-invite": RECORD_VERSION,
            "invite": self.invite.hex(),
            "created_ms": self.created_ms,
            "expires_ms": self.expires_ms,
        }
        return (json.dumps(document, indent=2) + "\n").encode()

    @classmethod
    def parse(cls, data: bytes) -> Self:
        try:
            document = json.loads(data)
            if not isinstance(document, dict) or document.get("testigo-relay-invite") != 1:
                raise MalformedError("not a relay invite record")
            invite = bytes.fromhex(str(document["invite"]))
            created_ms, expires_ms = int(document["created_ms"]), int(document["expires_ms"])
        except (ValueError, KeyError, TypeError):
            raise MalformedError("damaged relay invite record") from None
        if len(invite) != p.KEY_SIZE:
            raise MalformedError("damaged relay invite record")
        return cls(invite, created_ms, expires_ms)


def used_mark(device: DeviceKey) -> bytes:
    """The closing mark of an invite used by device: the same bytes for the same device,
    so a request repeated after a lost answer is recognised (and answered again)."""
    return (json.dumps({"testigo-relay-invite-closed": 1, "used_by": str(device)}) + "\n").encode()


WITHDRAWN_MARK: Final = (
    json.dumps({"testigo-relay-invite-closed": 1, "withdrawn": True}) + "\n"
).encode()
_DECOY_RECORD: Final = InviteRecord(bytes(32), 0, 0).to_bytes()


@dataclass(frozen=True)
class InviteInfo:
    record: InviteRecord
    state: InviteState
    used_by: DeviceKey | None = None

    @property
    def invite_id(self) -> str:
        return invite_id_of(self.record.invite)


def _state(record: InviteRecord, closing: bytes | None, now: int) -> InviteInfo:
    if closing == WITHDRAWN_MARK:
        return InviteInfo(record, InviteState.WITHDRAWN)
    if closing is not None:
        try:
            device = DeviceKey.parse(str(json.loads(closing)["used_by"]))
        except (ValueError, KeyError, TypeError, MalformedError):
            device = None
        return InviteInfo(record, InviteState.USED, device)
    if now >= record.expires_ms:
        return InviteInfo(record, InviteState.EXPIRED)
    return InviteInfo(record, InviteState.OPEN)


class Invites:
    """Making, listing and withdrawing invites (the operator) and using them (the relay)."""

    def __init__(
        self, storage: Storage, enrollment: Enrollment, clock_ms: Callable[[], int] = now_ms
    ) -> None:
        self._storage = storage
        self._enrollment = enrollment
        self._clock_ms = clock_ms

    async def create(self, expires_s: int) -> tuple[bytes, InviteRecord]:
        """A new invite valid for expires_s seconds, as (secret, stored record). The
        secret is the caller's to show once; it is not kept."""
        if not MIN_EXPIRY_S <= expires_s <= MAX_EXPIRY_S:
            raise TestigoError(
                f"an invite expires after {MIN_EXPIRY_S} s to {MAX_EXPIRY_S // 86400} days",
                hint="for example --expires 24h (the default) or --expires 7d",
            )
        secret = p.random_bytes(SECRET_SIZE)
        created = self._clock_ms()
        record = InviteRecord(InviteKey(secret).public, created, created + expires_s * 1000)
        if await self._storage.put_invite(record.invite, record.to_bytes()) is not (
            PutResult.STORED
        ):
            raise TestigoError("an invite with this id exists already (this cannot happen)")
        return secret, record

    async def info(self, invite: bytes) -> InviteInfo | None:
        data = await self._storage.read_invite(invite)
        if data is None:
            return None
        record = InviteRecord.parse(data)
        closing = await self._storage.read_invite_closing(invite)
        return _state(record, closing, self._clock_ms())

    async def all(self) -> list[InviteInfo]:
        """Every invite in the storage, oldest first (damaged records skipped)."""
        found = []
        for invite in await self._storage.list_invites():
            try:
                info = await self.info(invite)
            except MalformedError:
                continue
            if info is not None:
                found.append(info)
        return sorted(found, key=lambda i: i.record.created_ms)

    async def withdraw(self, invite_id: str) -> InviteInfo:
        """Withdraw the open invite whose short id (or any longer prefix of its hex
        public key) is given; its state before, when it was not open."""
        wanted = invite_id.strip().lower()
        matches = [
            i
            for i in await self.all()
            if len(wanted) >= INVITE_ID_HEX and i.record.invite.hex().startswith(wanted)
        ]
        if not matches:
            raise TestigoError(
                f"no invite {invite_id!r} on this relay",
                hint="list them with: testigo relay invites --all",
            )
        if len(matches) > 1:
            raise TestigoError(
                f"{invite_id!r} names {len(matches)} invites", hint="give more of its hex digits"
            )
        info = matches[0]
        if info.state is not InviteState.OPEN and info.state is not InviteState.EXPIRED:
            return info
        result = await self._storage.close_invite(info.record.invite, WITHDRAWN_MARK)
        if result is PutResult.CONFLICT:  # used a moment ago
            closing = await self._storage.read_invite_closing(info.record.invite)
            return _state(info.record, closing, self._clock_ms())
        return info

    async def enroll(self, request: EnrollRequest, relay: RelayIdentity) -> EnrollAnswer:
        """Check request, close its invite and enroll its device; RelayError
        invite_unusable, the same for every reason, otherwise.

        Both signatures are checked first, so only the holder of the invite's secret
        reaches the storage; then an unknown, used, expired or withdrawn invite costs the
        same reads and the same parsing."""
        unusable = RelayError(ErrorCode.INVITE_UNUSABLE, UNUSABLE_MESSAGE)
        if not request.verify(relay.public):
            raise unusable
        data = await self._storage.read_invite(request.invite)
        closing = await self._storage.read_invite_closing(request.invite)
        device_record = await self._enrollment.record(request.device.raw)
        record = InviteRecord.parse(data if data is not None else _DECOY_RECORD)
        mark = used_mark(request.device)
        usable = (
            data is not None
            and record.invite == request.invite
            and (closing is None or closing == mark)
            and (closing == mark or self._clock_ms() < record.expires_ms)
            and (device_record is None or device_record.revoked_ms is None)
        )
        if not usable:
            raise unusable
        if await self._storage.close_invite(request.invite, mark) is PutResult.CONFLICT:
            raise unusable  # another device, or a withdrawal, came first
        try:
            await self._enrollment.enroll(request.device)
        except TestigoError:  # revoked in the meantime
            raise unusable from None
        return EnrollAnswer.sign(relay, request.device, request.invite)


def address_bucket(address: str) -> bytes:
    """What failures are counted by: an IPv4 address, or an IPv6 address's /64 (one
    machine usually holds a whole /64). Kept in memory only, never logged."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address.encode()[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        return ip.packed[:8] if ip.ipv4_mapped is None else ip.ipv4_mapped.packed
    return ip.packed


class FailureLimit:
    """At most max_failures failed enrollments per address bucket in window_s; at most
    max_addresses buckets remembered (the oldest forgotten first)."""

    def __init__(
        self,
        *,
        max_failures: int = MAX_FAILURES,
        window_s: float = FAILURE_WINDOW_S,
        max_addresses: int = MAX_TRACKED_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_failures = max_failures
        self._window_s = window_s
        self._max_addresses = max_addresses
        self._clock = clock
        self._failures: OrderedDict[bytes, tuple[float, int]] = OrderedDict()

    def allows(self, address: str) -> bool:
        entry = self._failures.get(address_bucket(address))
        if entry is None or self._clock() - entry[0] >= self._window_s:
            return True
        return entry[1] < self._max_failures

    def failed(self, address: str) -> None:
        bucket = address_bucket(address)
        now = self._clock()
        start, count = self._failures.get(bucket, (now, 0))
        if now - start >= self._window_s:
            start, count = now, 0
        self._failures[bucket] = (start, count + 1)
        self._failures.move_to_end(bucket)
        while len(self._failures) > self._max_addresses:
            self._failures.popitem(last=False)
