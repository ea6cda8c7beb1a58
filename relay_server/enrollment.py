"""Enrolled devices, capability tokens and alert targets (docs/PROTOCOL.md §1, §13).

One JSON record per enrolled device in the storage. A capability token is shown once,
when minted; only its hash is kept, and tokens are compared by hash in constant time.
The record also lists where to send alerts when the device starts a recording.
"""

import asyncio
import base64
import dataclasses
import hmac
import itertools
import json
import re
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Self
from urllib.parse import urlsplit

from relay_server.storage import Storage
from vault import DeviceKey
from vault._primitives import hash32
from vault.errors import MalformedError, TestigoError

TOKEN_PREFIX: Final = "tg-token-"  # noqa: S105 - a prefix, not a secret
TOKEN_CONTEXT: Final = b"testigo/v1 relay-token"
TOKEN_BYTES: Final = 32
RECORD_VERSION: Final = 1
MAX_ALERT_TARGETS: Final = 32
MAX_TARGET_LENGTH: Final = 2048
UPLOAD_CHECK_S: Final = 2.0
FULL_RELOAD_S: Final = 60.0  # the records are reloaded this often even if no marker changed
_EMAIL = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")


def token_hash(token_bytes: bytes) -> bytes:
    """H("testigo/v1 relay-token" || token): BLAKE2b-256, as FORMAT.md's H."""
    return hash32(TOKEN_CONTEXT + token_bytes)


_DECOY_TOKEN: Final = bytes(TOKEN_BYTES)  # hashed in place of a malformed token
_DECOY_HASH: Final = token_hash(b"decoy")  # compared against when a device has no tokens


def parse_token(text: str) -> bytes | None:
    """The token's bytes, or None when text is not a well-formed token."""
    text = text.strip()
    if not text.startswith(TOKEN_PREFIX):
        return None
    encoded = text[len(TOKEN_PREFIX) :].upper()
    try:
        data = base64.b32decode(encoded + "=" * (-len(encoded) % 8))
    except ValueError:
        return None
    return data if len(data) == TOKEN_BYTES else None


def token_id_of(stored_hash: bytes) -> str:
    """A token's short public name (from its stored hash): what an operator lists and
    revokes it by. It says nothing that would let anyone use the token."""
    return stored_hash[:4].hex()


def new_token() -> tuple[str, bytes]:
    """A fresh token as (text shown to the operator, hash to store)."""
    raw = secrets.token_bytes(TOKEN_BYTES)
    text = TOKEN_PREFIX + base64.b32encode(raw).decode("ascii").rstrip("=").lower()
    return text, token_hash(raw)


class AlertKind(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


class AlertTargetError(TestigoError):
    """Raised when an alert target is one the relay cannot use."""

    hint = "a webhook is an http(s):// URL, an email target is one address"


@dataclass(frozen=True)
class AlertTarget:
    """Where to say that a recording started: a webhook URL or an email address."""

    kind: AlertKind
    target: str

    def __post_init__(self) -> None:
        if not isinstance(self.kind, AlertKind):
            raise AlertTargetError(f"unknown alert kind {self.kind!r}")
        text = self.target
        if not text or len(text) > MAX_TARGET_LENGTH or text != text.strip():
            raise AlertTargetError(f"an alert target is 1..{MAX_TARGET_LENGTH} characters")
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
            raise AlertTargetError("an alert target has no spaces or control characters")
        if self.kind is AlertKind.WEBHOOK:
            parts = urlsplit(text)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise AlertTargetError("a webhook target is an http:// or https:// URL")
        elif not _EMAIL.match(text):
            raise AlertTargetError("an email target is one address, like name@example.org")

    @classmethod
    def make(cls, kind: str, target: str) -> "AlertTarget":
        try:
            alert_kind = AlertKind(kind)
        except ValueError:
            raise AlertTargetError(f"unknown alert kind {kind!r}: webhook or email") from None
        return cls(alert_kind, target.strip())

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind.value, "target": self.target}


@dataclass(frozen=True)
class RevocationPeriod:
    """A time the device was revoked: from revoked_ms until reinstated_ms (None: still)."""

    revoked_ms: int
    reinstated_ms: int | None = None

    def __post_init__(self) -> None:
        if self.revoked_ms < 0 or (
            self.reinstated_ms is not None and self.reinstated_ms <= self.revoked_ms
        ):
            raise ValueError("a revocation period ends after it starts")

    def to_json(self) -> dict[str, int | None]:
        return {"revoked_ms": self.revoked_ms, "reinstated_ms": self.reinstated_ms}


def _ms(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**64:
        raise ValueError("a time is a whole number of milliseconds")
    return value


def _period(item: object) -> RevocationPeriod:
    if not isinstance(item, dict) or set(item) != {"revoked_ms", "reinstated_ms"}:
        raise ValueError("a revocation period is revoked_ms and reinstated_ms")
    ended = item["reinstated_ms"]
    return RevocationPeriod(_ms(item["revoked_ms"]), None if ended is None else _ms(ended))


def _periods(document: dict[str, object]) -> tuple[RevocationPeriod, ...]:
    """The revocation history of a record. A record written before it was kept has only
    `revoked_ms` (the open period, if any; earlier, reinstated periods were forgotten).
    The history is in order, the periods do not overlap, only the last may be open, and
    `revoked_ms` says the open one (what an older relay reads)."""
    revoked = document.get("revoked_ms")
    current = None if revoked is None else _ms(revoked)
    if "revocations" not in document:
        return () if current is None else (RevocationPeriod(current),)
    listed = document["revocations"]
    if not isinstance(listed, list):
        raise TypeError("revocations is a list")
    periods = tuple(_period(item) for item in listed)
    for earlier, later in itertools.pairwise(periods):
        if earlier.reinstated_ms is None or later.revoked_ms < earlier.reinstated_ms:
            raise ValueError("revocation periods out of order")
    open_period = periods[-1].revoked_ms if periods and periods[-1].reinstated_ms is None else None
    if open_period != current:
        raise ValueError("revoked_ms disagrees with the revocation history")
    return periods


@dataclass(frozen=True)
class DeviceRecord:
    device: DeviceKey
    enrolled_ms: int
    token_hashes: tuple[bytes, ...] = ()
    alerts: tuple[AlertTarget, ...] = ()
    # every period the device was revoked, in order; only the last may be open (a seized
    # device: no more uploads; reading still works)
    revocations: tuple[RevocationPeriod, ...] = ()

    @property
    def revoked_ms(self) -> int | None:
        """When the device was revoked, if it is now."""
        last = self.revocations[-1] if self.revocations else None
        return last.revoked_ms if last is not None and last.reinstated_ms is None else None

    def revoked(self, now_ms: int) -> Self:
        """Revoked from now_ms (never before the last reinstatement: the periods stay in
        order even if the clock stepped back)."""
        last_ended = self.revocations[-1].reinstated_ms if self.revocations else None
        since = max(now_ms, last_ended or 0)
        return dataclasses.replace(self, revocations=(*self.revocations, RevocationPeriod(since)))

    def reinstated(self, now_ms: int) -> Self:
        """Reinstated at now_ms (after the revocation, even within its millisecond)."""
        *before, last = self.revocations
        ended = RevocationPeriod(last.revoked_ms, max(now_ms, last.revoked_ms + 1))
        return dataclasses.replace(self, revocations=(*before, ended))

    def to_bytes(self) -> bytes:
        document: dict[str, object] = {
            "testigo-relay-device": RECORD_VERSION,
            "device": str(self.device),
            "enrolled_ms": self.enrolled_ms,
            "token_hashes": [h.hex() for h in self.token_hashes],
            "alerts": [a.to_json() for a in self.alerts],
            "revoked_ms": self.revoked_ms,
            "revocations": [period.to_json() for period in self.revocations],
        }
        return (json.dumps(document, indent=2) + "\n").encode()

    @classmethod
    def parse(cls, data: bytes) -> Self:
        try:
            document = json.loads(data)
            if not isinstance(document, dict) or document.get("testigo-relay-device") != 1:
                raise MalformedError("not a relay device record")
            device = DeviceKey.parse(str(document["device"]))
            enrolled_ms = int(document["enrolled_ms"])
            hashes = tuple(bytes.fromhex(str(h)) for h in document["token_hashes"])
            alerts = tuple(
                AlertTarget.make(str(a["kind"]), str(a["target"]))
                for a in document.get("alerts", [])
            )
            revocations = _periods(document)
        except (ValueError, KeyError, TypeError, AlertTargetError):
            raise MalformedError("damaged relay device record") from None
        return cls(device, enrolled_ms, hashes, alerts, revocations)


class Enrollment:
    """The operator's view of enrolled devices; the relay asks `is_enrolled`.

    The relay answers from the device records it holds in memory, so that asking about
    a device costs the same work whether it is enrolled or not: no storage read keyed by
    the device, no record parsed (bench/enrollment_oracle.py). Every record write is
    followed by a write of the devices-changed marker; the records are reloaded when the
    marker changed (or FULL_RELOAD_S passed), which is checked before every token check
    and, for uploads and alerts, at most every UPLOAD_CHECK_S. Memory holds the enrolled
    devices only: a device key a stranger makes up adds nothing to it.
    """

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._lock = asyncio.Lock()  # one operator change at a time
        self._reload_lock = asyncio.Lock()
        self._records: dict[bytes, DeviceRecord] = {}
        self._marker: bytes | None = None
        self._checked_at: float | None = None  # when the last marker check started
        self._loaded_at = 0.0

    async def _fresh(self, max_age_s: float) -> None:
        """Make the records in memory no older than max_age_s (0: checked after now)."""
        asked = time.monotonic()
        if self._checked_at is not None and self._checked_at >= asked - max_age_s:
            return
        async with self._reload_lock:
            if self._checked_at is not None and self._checked_at >= asked - max_age_s:
                return  # another request checked meanwhile
            started = time.monotonic()
            marker = await self._storage.read_devices_changed()
            if (
                self._checked_at is None
                or marker != self._marker
                or started - self._loaded_at >= FULL_RELOAD_S
            ):
                self._records = await self._load_all()
                self._loaded_at = started
            self._marker, self._checked_at = marker, started

    async def _load_all(self) -> dict[bytes, DeviceRecord]:
        """Every device record in the storage (damaged ones skipped)."""
        records = {}
        for device in await self._storage.list_devices():
            try:
                record = await self._stored(device)
            except MalformedError:
                continue
            if record is not None:
                records[device] = record
        return records

    async def _stored(self, device: bytes) -> DeviceRecord | None:
        """The device's record as stored now (what an operator change starts from)."""
        data = await self._storage.read_device_record(device)
        if data is None:
            return None
        record = DeviceRecord.parse(data)
        return record if record.device.raw == device else None

    async def _write(self, record: DeviceRecord) -> None:
        """Store record durably, then the devices-changed marker, so that a running relay
        (another process) reloads it; this process knows it at once."""
        await self._storage.write_device_record(record.device.raw, record.to_bytes())
        await self._storage.write_devices_changed(secrets.token_bytes(16))
        self._records[record.device.raw] = record

    async def record(self, device: bytes) -> DeviceRecord | None:
        await self._fresh(0.0)
        return self._records.get(device)

    async def is_enrolled(self, device: bytes) -> bool:
        return await self.record(device) is not None

    def _allowed(self, device: bytes) -> bool:
        record = self._records.get(device)
        return record is not None and record.revoked_ms is None

    async def may_upload(self, device: bytes) -> bool:
        """Enrolled and not revoked. A yes holds for up to UPLOAD_CHECK_S, so a
        revocation made by another process (testigo relay revoke) takes effect within
        that time; a no is checked again at once (only the key's holder asks: its header
        or chunk is signed)."""
        await self._fresh(UPLOAD_CHECK_S)
        if not self._allowed(device):
            await self._fresh(0.0)
        return self._allowed(device)

    async def revoke(self, device: DeviceKey) -> bool:
        """Refuse every further upload by device (its stored recordings stay readable).
        False when it already was revoked."""
        async with self._lock:
            record = await self._stored(device.raw)
            if record is None:
                raise TestigoError("this device is not enrolled", hint="see testigo relay enroll")
            if record.revoked_ms is not None:
                return False
            await self._write(record.revoked(time.time_ns() // 1_000_000))
            return True

    async def enroll(self, device: DeviceKey) -> bool:
        """Enroll device; False when it already was (its tokens are kept). A revoked
        device is not enrolled again by this: `reinstate` says so deliberately."""
        async with self._lock:
            record = await self._stored(device.raw)
            if record is not None and record.revoked_ms is not None:
                raise TestigoError(
                    "this device was revoked; enrolling it again does not undo that",
                    hint="if its key is safe again (the phone is back and trusted): "
                    "testigo relay reinstate DEVICE_KEY",
                )
            if record is not None:
                return False
            await self._write(DeviceRecord(device, time.time_ns() // 1_000_000))
            return True

    async def reinstate(self, device: DeviceKey) -> bool:
        """Let a revoked device upload again; False when it was not revoked."""
        async with self._lock:
            record = await self._known(device)
            if record.revoked_ms is None:
                return False
            await self._write(record.reinstated(time.time_ns() // 1_000_000))
            return True

    async def devices(self) -> list[DeviceRecord]:
        """Every device record in the storage (damaged ones skipped)."""
        await self._fresh(0.0)
        return sorted(self._records.values(), key=lambda r: r.enrolled_ms)

    async def revoke_token(self, device: DeviceKey, token_id: str) -> bool:
        """Withdraw the token whose id (`token_id`) is given; the others keep working.
        False when the device has no such token."""
        async with self._lock:
            record = await self._known(device)
            kept = tuple(h for h in record.token_hashes if token_id_of(h) != token_id.lower())
            if len(kept) == len(record.token_hashes):
                return False
            await self._write(dataclasses.replace(record, token_hashes=kept))
            return True

    async def remove_alert_target(self, device: DeviceKey, target: AlertTarget) -> bool:
        """Stop alerting target; False when it was not one."""
        async with self._lock:
            record = await self._known(device)
            if target not in record.alerts:
                return False
            kept = tuple(a for a in record.alerts if a != target)
            await self._write(dataclasses.replace(record, alerts=kept))
            return True

    async def _known(self, device: DeviceKey) -> DeviceRecord:
        record = await self._stored(device.raw)
        if record is None:
            raise TestigoError(
                "this device is not enrolled", hint="list them with: testigo relay devices"
            )
        return record

    async def mint_token(self, device: DeviceKey) -> str:
        """A new capability token for reading device's recordings. Shown once."""
        async with self._lock:
            record = await self._stored(device.raw)
            if record is None:
                raise TestigoError(
                    "this device is not enrolled", hint="enroll it first: testigo relay enroll"
                )
            text, hashed = new_token()
            await self._write(
                dataclasses.replace(record, token_hashes=(*record.token_hashes, hashed))
            )
            return text

    async def add_alert_target(self, device: DeviceKey, target: AlertTarget) -> bool:
        """Alert target when device starts a recording; False when it already was one."""
        async with self._lock:
            record = await self._stored(device.raw)
            if record is None:
                raise TestigoError(
                    "this device is not enrolled", hint="enroll it first: testigo relay enroll"
                )
            if target in record.alerts:
                return False
            if len(record.alerts) >= MAX_ALERT_TARGETS:
                raise AlertTargetError(f"a device has at most {MAX_ALERT_TARGETS} alert targets")
            await self._write(dataclasses.replace(record, alerts=(*record.alerts, target)))
            return True

    async def alert_targets(self, device: bytes) -> tuple[AlertTarget, ...]:
        await self._fresh(UPLOAD_CHECK_S)
        record = self._records.get(device)
        return () if record is None else record.alerts

    async def check_token(self, device: bytes, token: str) -> bool:
        """True when token reads device's recordings. Constant time in the token."""
        raw = parse_token(token)
        record = await self.record(device)  # from memory, whether enrolled or not
        # The same work whether the device is unknown or the token wrong: a hash and a
        # comparison against at least one stored hash (a decoy when there is none).
        presented = token_hash(raw if raw is not None else _DECOY_TOKEN)
        stored_hashes = record.token_hashes if record is not None else ()
        found = False
        for stored in stored_hashes or (_DECOY_HASH,):
            found |= hmac.compare_digest(presented, stored)
        return found and raw is not None and record is not None
