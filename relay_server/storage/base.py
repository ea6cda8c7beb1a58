"""The `Storage` protocol of the relay, and the object layout shared by its backends.

Objects are never overwritten (docs/PROTOCOL.md §7) except the small per-device
enrollment record (an invite's record and its closing mark are written once too).
Backends implement four blocking primitives on string keys (`BlobStorage`); the named,
typed methods of `Storage` are built on them here, and every blocking call runs on the
storage's own thread pool.
"""

import asyncio
import functools
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from typing import Final, ParamSpec, Protocol, TypeVar

from relay_server.errors import StorageError

_R = TypeVar("_R")
_P = ParamSpec("_P")
KEY_PATTERN: Final = re.compile(r"^[0-9a-z][0-9a-z._-]*(/[0-9a-z][0-9a-z._-]*)*$")
INDEX_DIGITS: Final = 10
PROBE_KEY: Final = "relay/storage-check"  # rewritten at each start by `check` (not on S3)
DEVICES_CHANGED_KEY: Final = "relay/devices-changed"  # rewritten after each device record


class PutResult(StrEnum):
    STORED = "stored"
    IDENTICAL = "already stored identical"
    CONFLICT = "conflict"


class Storage(Protocol):
    """Where the relay keeps headers, chunks, receipts and enrollment records.

    `put_*` never overwrite: they answer whether the object was stored now, was already
    there with the same bytes, or is there with other bytes. Once a `put_*` returned
    STORED or IDENTICAL the object is durable. Failures raise `StorageError`.
    """

    async def put_header(self, device: bytes, recording_id: bytes, data: bytes) -> PutResult: ...

    async def read_header(self, device: bytes, recording_id: bytes) -> bytes | None: ...

    async def put_chunk(
        self, device: bytes, recording_id: bytes, index: int, data: bytes
    ) -> PutResult: ...

    async def read_chunk(self, device: bytes, recording_id: bytes, index: int) -> bytes | None: ...

    def chunk_indices(self, device: bytes, recording_id: bytes) -> AsyncIterator[int]: ...

    async def put_receipt(
        self, device: bytes, recording_id: bytes, index: int, data: bytes
    ) -> PutResult: ...

    async def read_receipt(
        self, device: bytes, recording_id: bytes, index: int
    ) -> bytes | None: ...

    async def list_recordings(self, device: bytes) -> list[bytes]: ...

    async def write_device_record(self, device: bytes, data: bytes) -> None: ...

    async def read_device_record(self, device: bytes) -> bytes | None: ...

    async def list_devices(self) -> list[bytes]: ...

    async def write_devices_changed(self, data: bytes) -> None:
        """Say, durably, that some device record changed (data: any fresh value): what a
        running relay polls to know when to reload the records it holds in memory."""
        ...

    async def read_devices_changed(self) -> bytes | None: ...

    async def put_invite(self, invite: bytes, data: bytes) -> PutResult: ...

    async def read_invite(self, invite: bytes) -> bytes | None: ...

    async def close_invite(self, invite: bytes, data: bytes) -> PutResult:
        """Write the invite's one closing mark (used by a device, or withdrawn): the
        write that succeeds first is the only one that ever will (PROTOCOL.md §15)."""
        ...

    async def read_invite_closing(self, invite: bytes) -> bytes | None: ...

    async def list_invites(self) -> list[bytes]: ...

    async def check(self) -> None:
        """Write, read back and compare a small object: StorageError if storage cannot
        keep what the relay will acknowledge (checked before the relay says it listens)."""
        ...

    async def close(self) -> None: ...


def recording_prefix(device: bytes, recording_id: bytes) -> str:
    return f"recordings/{device.hex()}/{recording_id.hex()}/"


def invite_prefix(invite: bytes) -> str:
    """Where an invite's record and closing mark are kept (its public key, never its
    secret)."""
    return f"invites/{invite.hex()}/"


def index_name(index: int) -> str:
    return f"{index:0{INDEX_DIGITS}d}"


def describe_key(key: str) -> str:
    """A key as error messages and logs show it: without the device's public key."""
    parts = key.split("/")
    if parts[0] == "recordings" and len(parts) >= 3:
        return "/".join(["recording " + parts[2], *parts[3:]])
    if parts[0] == "devices":
        return "device record"
    if parts[0] == "invites":
        return "invite record"
    return key


def check_key(key: str) -> str:
    if not KEY_PATTERN.match(key) or ".." in key:
        raise ValueError(f"invalid storage key {key!r}")
    return key


class BlobStorage(ABC):
    """`Storage` on top of a backend's blocking key/value primitives."""

    def __init__(self, threads: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="storage")

    async def _run(self, function: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        loop = asyncio.get_running_loop()
        call = functools.partial(function, *args, **kwargs)
        return await loop.run_in_executor(self._executor, call)

    # -- the primitives a backend implements (blocking; called on the thread pool) --

    @abstractmethod
    def _put_new(self, key: str, data: bytes) -> bool:
        """Store data under key unless key exists; True when stored (and durable)."""

    @abstractmethod
    def _confirm(self, key: str) -> None:
        """Make sure an object found already present is durable (e.g. fsync its folder)."""

    @abstractmethod
    def _get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is none."""

    @abstractmethod
    def _children(self, prefix: str) -> list[str]:
        """Sorted names directly below prefix (which ends with '/'), without it."""

    @abstractmethod
    def _replace(self, key: str, data: bytes) -> None:
        """Store data under key, durably, replacing what was there."""

    # -- Storage --

    async def _put_once(self, key: str, data: bytes) -> PutResult:
        check_key(key)
        if await self._run(self._put_new, key, data):
            return PutResult.STORED
        existing = await self._run(self._get, key)
        if existing != data:
            return PutResult.CONFLICT
        await self._run(self._confirm, key)
        return PutResult.IDENTICAL

    async def _read(self, key: str) -> bytes | None:
        return await self._run(self._get, check_key(key))

    async def put_header(self, device: bytes, recording_id: bytes, data: bytes) -> PutResult:
        return await self._put_once(recording_prefix(device, recording_id) + "header", data)

    async def read_header(self, device: bytes, recording_id: bytes) -> bytes | None:
        return await self._read(recording_prefix(device, recording_id) + "header")

    async def put_chunk(
        self, device: bytes, recording_id: bytes, index: int, data: bytes
    ) -> PutResult:
        key = recording_prefix(device, recording_id) + "chunks/" + index_name(index)
        return await self._put_once(key, data)

    async def read_chunk(self, device: bytes, recording_id: bytes, index: int) -> bytes | None:
        return await self._read(
            recording_prefix(device, recording_id) + "chunks/" + index_name(index)
        )

    async def chunk_indices(self, device: bytes, recording_id: bytes) -> AsyncIterator[int]:
        prefix = recording_prefix(device, recording_id) + "chunks/"
        for name in await self._run(self._children, prefix):
            if name.isdigit() and len(name) == INDEX_DIGITS:
                yield int(name)

    async def put_receipt(
        self, device: bytes, recording_id: bytes, index: int, data: bytes
    ) -> PutResult:
        key = recording_prefix(device, recording_id) + "receipts/" + index_name(index)
        return await self._put_once(key, data)

    async def read_receipt(self, device: bytes, recording_id: bytes, index: int) -> bytes | None:
        return await self._read(
            recording_prefix(device, recording_id) + "receipts/" + index_name(index)
        )

    async def list_recordings(self, device: bytes) -> list[bytes]:
        names = await self._run(self._children, f"recordings/{device.hex()}/")
        return [bytes.fromhex(n) for n in names if re.fullmatch(r"[0-9a-f]{32}", n)]

    async def write_device_record(self, device: bytes, data: bytes) -> None:
        await self._run(self._replace, check_key(f"devices/{device.hex()}.json"), data)

    async def read_device_record(self, device: bytes) -> bytes | None:
        return await self._read(f"devices/{device.hex()}.json")

    async def list_devices(self) -> list[bytes]:
        names = await self._run(self._children, "devices/")
        return [
            bytes.fromhex(n.removesuffix(".json"))
            for n in names
            if re.fullmatch(r"[0-9a-f]{64}\.json", n)
        ]

    async def write_devices_changed(self, data: bytes) -> None:
        await self._run(self._replace, DEVICES_CHANGED_KEY, data)

    async def read_devices_changed(self) -> bytes | None:
        return await self._read(DEVICES_CHANGED_KEY)

    async def put_invite(self, invite: bytes, data: bytes) -> PutResult:
        return await self._put_once(invite_prefix(invite) + "invite", data)

    async def read_invite(self, invite: bytes) -> bytes | None:
        return await self._read(invite_prefix(invite) + "invite")

    async def close_invite(self, invite: bytes, data: bytes) -> PutResult:
        return await self._put_once(invite_prefix(invite) + "closed", data)

    async def read_invite_closing(self, invite: bytes) -> bytes | None:
        return await self._read(invite_prefix(invite) + "closed")

    async def list_invites(self) -> list[bytes]:
        names = await self._run(self._children, "invites/")
        return [bytes.fromhex(n) for n in names if re.fullmatch(r"[0-9a-f]{64}", n)]

    async def check(self) -> None:
        probe = secrets.token_bytes(16)
        await self._run(self._replace, PROBE_KEY, probe)
        if await self._read(PROBE_KEY) != probe:
            raise StorageError("storage did not give back what was just written to it")

    async def close(self) -> None:
        self._executor.shutdown(wait=True)
