"""The JSON documents of the HTTPS API (docs/PROTOCOL.md §4, §6): encoded by the relay,
parsed by the clients, with the same field names at both ends.

`parse` raises `MalformedError` for anything that is not the document (another server's
page, a proxy's error, a truncated answer).
"""

import json
from dataclasses import dataclass
from typing import Self, TypeVar

from vault.errors import MalformedError

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
