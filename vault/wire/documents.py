"""The JSON documents of the HTTPS API (docs/PROTOCOL.md §4, §6, §15): encoded by the relay,
parsed by the clients, with the same field names at both ends.

`parse` raises `MalformedError` for anything that is not the document (another server's
page, a proxy's error, a truncated answer).
"""

import json
import re
from dataclasses import dataclass
from typing import Self, TypeVar

from vault import _primitives as p
from vault.errors import MalformedError
from vault.identity import DeviceIdentity, RelayIdentity
from vault.keys import DeviceKey, RelayKey
from vault.wire.invite import (
    InviteLink,
    b64url,
    b64url_decode,
    enroll_device_message,
    enroll_message,
    enrolled_message,
    verify_invite_signature,
)
from vault.wire.live_auth import CAPABILITY_TOKEN

JSONObject = dict[str, object]
T = TypeVar("T")


def _object(data: bytes, what: str) -> JSONObject:
    try:
        value = json.loads(data)
    except ValueError:
        raise MalformedError(f"the relay's {what} is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedError(f"the relay's {what} is not a JSON object")
    return value


def _field(fields: JSONObject, name: str, kind: type[T], what: str) -> T:
    value = fields.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedError(f"the relay's {what} lacks a valid {name!r}")
    return value


def _optional(fields: JSONObject, name: str, what: str) -> int | None:
    return None if fields.get(name) is None else _field(fields, name, int, what)


@dataclass(frozen=True)
class HeaderAccepted:
    """The answer to POST /v1/headers: where the recording's chunks go, and which of
    its chunk indices the relay holds already (ranges first..last)."""

    device: str
    recording_id: str
    held: tuple[tuple[int, int], ...]

    def __bytes__(self) -> bytes:
        document = {
            "device": self.device,
            "recording_id": self.recording_id,
            "held": [list(r) for r in self.held],
        }
        return json.dumps(document).encode()

    @classmethod
    def parse(cls, data: bytes) -> Self:
        what = "header answer"
        fields = _object(data, what)
        held: list[tuple[int, int]] = []
        for pair in _field(fields, "held", list, what):
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(n, int) and not isinstance(n, bool) for n in pair)
            ):
                raise MalformedError("the relay's header answer holds an invalid range")
            held.append((pair[0], pair[1]))
        return cls(
            _field(fields, "device", str, what),
            _field(fields, "recording_id", str, what),
            tuple(held),
        )


@dataclass(frozen=True)
class RecordingEntry:
    """One recording in GET /v1/devices/{device}/recordings. created_ms is the device's
    claim in the header (None when the relay has lost the header), last_time_ms the
    device clock of the highest-index chunk held, received_ms the relay's own clock when
    it received the lowest-index chunk it holds (both None when it holds none)."""

    recording_id: str
    chunks: int
    created_ms: int | None
    last_time_ms: int | None = None
    received_ms: int | None = None


@dataclass(frozen=True)
class RecordingList:
    recordings: tuple[RecordingEntry, ...]

    def __bytes__(self) -> bytes:
        entries = [
            {
                "recording_id": r.recording_id,
                "chunks": r.chunks,
                "created_ms": r.created_ms,
                "last_time_ms": r.last_time_ms,
                "received_ms": r.received_ms,
            }
            for r in self.recordings
        ]
        return json.dumps({"recordings": entries}).encode()

    @classmethod
    def parse(cls, data: bytes) -> Self:
        what = "recording list"
        entries: list[RecordingEntry] = []
        for item in _field(_object(data, what), "recordings", list, what):
            if not isinstance(item, dict):
                raise MalformedError("the relay's recording list holds a non-object")
            entries.append(
                RecordingEntry(
                    _field(item, "recording_id", str, what),
                    _field(item, "chunks", int, what),
                    _optional(item, "created_ms", what),
                    _optional(item, "last_time_ms", what),
                    _optional(item, "received_ms", what),
                )
            )
        return cls(tuple(entries))


@dataclass(frozen=True)
class IceServer:
    """A STUN or TURN server, as WebRTC's RTCIceServer."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class IceConfig:
    """The answer to GET /v1/webrtc/config: the only ICE servers a device uses (it never
    falls back to a public STUN server, which would tell a third party it is recording)."""

    servers: tuple[IceServer, ...] = ()

    def __bytes__(self) -> bytes:
        servers: list[dict[str, object]] = []
        for server in self.servers:
            entry: dict[str, object] = {"urls": list(server.urls)}
            if server.username is not None:
                entry["username"] = server.username
                entry["credential"] = server.credential or ""
            servers.append(entry)
        return json.dumps({"ice_servers": servers}).encode()

    @classmethod
    def parse(cls, data: bytes) -> Self:
        what = "ICE configuration"
        servers: list[IceServer] = []
        for item in _field(_object(data, what), "ice_servers", list, what):
            if not isinstance(item, dict):
                raise MalformedError("the relay's ICE configuration holds a non-object")
            urls = _field(item, "urls", list, what)
            if not urls or not all(isinstance(u, str) for u in urls):
                raise MalformedError("the relay's ICE configuration holds invalid urls")
            username = item.get("username")
            credential = item.get("credential")
            if not (username is None or isinstance(username, str)) or not (
                credential is None or isinstance(credential, str)
            ):
                raise MalformedError("the relay's ICE configuration holds an invalid login")
            servers.append(IceServer(tuple(urls), username, credential))
        return cls(tuple(servers))


MAX_ENROLL_BYTES = 512  # the request is about 350 bytes, the answer about 110
ENROLL_FIELDS = ("invite", "device", "signature", "device_signature")


def _strict_object(data: bytes, what: str, names: tuple[str, ...]) -> dict[str, str]:
    """A JSON object of exactly these string fields, each once (duplicates refused)."""
    if len(data) > MAX_ENROLL_BYTES:
        raise MalformedError(f"the {what} is above {MAX_ENROLL_BYTES} bytes")

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        fields: dict[str, object] = {}
        for name, value in items:
            if name in fields:
                raise MalformedError(f"the {what} holds {name!r} twice")
            fields[name] = value
        return fields

    try:
        value = json.loads(data, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        raise MalformedError(f"the {what} is not JSON") from None
    if not isinstance(value, dict) or set(value) != set(names):
        raise MalformedError(f"the {what} is a JSON object of exactly {', '.join(names)}")
    if not all(isinstance(value[n], str) for n in names):
        raise MalformedError(f"every field of the {what} is a string")
    return {n: str(value[n]) for n in names}


@dataclass(frozen=True)
class EnrollRequest:
    """The body of POST /v1/enroll (PROTOCOL.md §15): an invite's holder asks this relay
    to enroll a device. `signature` is the invite key's over the relay and the device,
    `device_signature` the device key's over the relay and the invite."""

    invite: bytes
    device: DeviceKey
    signature: bytes
    device_signature: bytes

    def __post_init__(self) -> None:
        if len(self.invite) != p.KEY_SIZE:
            raise ValueError("an invite id is 32 bytes")
        if len(self.signature) != p.SIGNATURE_SIZE or len(self.device_signature) != (
            p.SIGNATURE_SIZE
        ):
            raise ValueError("a signature is 64 bytes")

    @classmethod
    def sign(cls, link: InviteLink, identity: DeviceIdentity) -> Self:
        """The request that enrolls identity's key with link's invite at its relay."""
        key = link.key
        device = identity.public
        return cls(
            key.public,
            device,
            key.sign(enroll_message(link.relay_key, device)),
            identity.sign(enroll_device_message(link.relay_key, key.public)),
        )

    def verify(self, relay_key: RelayKey) -> bool:
        """Both signatures, for this relay: the invite key's, then the device key's."""
        invite_ok = verify_invite_signature(
            self.invite, enroll_message(relay_key, self.device), self.signature
        )
        device_ok = self.device.verify(
            enroll_device_message(relay_key, self.invite), self.device_signature
        )
        return invite_ok and device_ok

    def to_json(self) -> dict[str, str]:
        return {
            "invite": b64url(self.invite),
            "device": str(self.device),
            "signature": b64url(self.signature),
            "device_signature": b64url(self.device_signature),
        }

    def __bytes__(self) -> bytes:
        return json.dumps(self.to_json()).encode()

    @classmethod
    def parse(cls, data: bytes) -> Self:
        what = "enrollment request"
        fields = _strict_object(data, what, ENROLL_FIELDS)
        device_text = fields["device"]
        device = DeviceKey.parse(device_text)
        if str(device) != device_text:
            raise MalformedError("the enrollment request's device key is not canonical")
        return cls(
            b64url_decode(fields["invite"], p.KEY_SIZE, "the invite id"),
            device,
            b64url_decode(fields["signature"], p.SIGNATURE_SIZE, "the invite signature"),
            b64url_decode(fields["device_signature"], p.SIGNATURE_SIZE, "the device signature"),
        )


@dataclass(frozen=True)
class EnrollAnswer:
    """The relay's answer to a successful POST /v1/enroll: its signature over the device
    and the invite, which the page checks with the relay key it pinned from the link."""

    relay_signature: bytes

    def __post_init__(self) -> None:
        if len(self.relay_signature) != p.SIGNATURE_SIZE:
            raise ValueError("a signature is 64 bytes")

    @classmethod
    def sign(cls, relay: RelayIdentity, device: DeviceKey, invite: bytes) -> Self:
        return cls(relay.sign(enrolled_message(device, invite)))

    def verify(self, relay_key: RelayKey, device: DeviceKey, invite: bytes) -> bool:
        return relay_key.verify(enrolled_message(device, invite), self.relay_signature)

    def to_json(self) -> dict[str, str]:
        return {"relay_signature": b64url(self.relay_signature)}

    def __bytes__(self) -> bytes:
        return json.dumps(self.to_json()).encode()

    @classmethod
    def parse(cls, data: bytes) -> Self:
        fields = _strict_object(data, "relay's enrollment answer", ("relay_signature",))
        return cls(
            b64url_decode(fields["relay_signature"], p.SIGNATURE_SIZE, "the relay signature")
        )


@dataclass(frozen=True)
class MintedToken:
    """POST /v1/devices/{device}/tokens: a read token the device minted (PROTOCOL.md §1.1),
    shown once, and its short id, by which the device withdraws it alone."""

    token: str
    token_id: str

    def to_json(self) -> bytes:
        return json.dumps({"token": self.token, "token_id": self.token_id}).encode()

    @classmethod
    def parse(cls, data: bytes) -> "MintedToken":
        what = "minted token"
        fields = _object(data, what)
        token = _field(fields, "token", str, what)
        token_id = _field(fields, "token_id", str, what)
        if not CAPABILITY_TOKEN.fullmatch(token) or not re.fullmatch(r"[0-9a-f]{8}", token_id):
            raise MalformedError(f"the relay's {what} is not a token and its id")
        return cls(token, token_id)
