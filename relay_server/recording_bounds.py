"""What a recording's stored chunks still allow (docs/PROTOCOL.md §4.1).

Once a recording's final chunk is stored, the relay refuses any chunk with a higher
index; it refuses a final chunk below an index it already holds, and a second init chunk
at another index. So whoever holds a device key (a seized phone) cannot append to an
ended recording or end it early after the fact through this relay; chunks missing below
the final one may still arrive (a device uploading what it had left).

The bounds are kept in memory per recording, learnt from storage the first time a
recording is seen (its highest stored chunk tells whether it ended, its lowest where the
init chunk is) and updated as chunks are stored; a bounded number of recordings is kept.
"""

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

from relay_server.storage import Storage
from vault.errors import MalformedError
from vault.format import Chunk, ChunkKind


@dataclass
class Bounds:
    """What is stored of one recording, as far as the end rules need it."""

    highest: int | None = None
    final: int | None = None
    init: int | None = None

    def refusal(self, chunk: Chunk) -> str | None:
        """Why chunk may not be stored next to what is, or None."""
        if self.final is not None and chunk.index > self.final:
            return f"the recording ended at chunk {self.final}; nothing is accepted after it"
        if chunk.final and self.highest is not None and chunk.index < self.highest:
            return f"chunk {self.highest} is stored: the recording cannot end before it"
        if chunk.kind is ChunkKind.INIT and self.init is not None and chunk.index != self.init:
            return f"the recording's init chunk is chunk {self.init}"
        return None

    def stored(self, chunk: Chunk) -> None:
        self.highest = chunk.index if self.highest is None else max(self.highest, chunk.index)
        if chunk.final:
            self.final = chunk.index
        if chunk.kind is ChunkKind.INIT:
            self.init = chunk.index


class RecordingBounds:
    """The `Bounds` of recently seen recordings (at most `size`)."""

    def __init__(self, storage: Storage, size: int) -> None:
        self._storage = storage
        self._size = size
        self._bounds: OrderedDict[tuple[bytes, bytes], Bounds] = OrderedDict()
        self._loading: dict[tuple[bytes, bytes], asyncio.Future[Bounds]] = {}

    async def of(self, device: bytes, recording_id: bytes) -> Bounds:
        """The recording's bounds; StorageError when storage cannot tell."""
        key = (device, recording_id)
        known = self._bounds.get(key)
        if known is not None:
            self._bounds.move_to_end(key)
            return known
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(self._load(device, recording_id))
            self._loading[key] = loading
            try:
                bounds = await loading
            finally:
                del self._loading[key]
            self._bounds[key] = bounds
            while len(self._bounds) > self._size:
                self._bounds.popitem(last=False)
            return bounds
        return await asyncio.shield(loading)

    def known(self, device: bytes, recording_id: bytes) -> Bounds | None:
        """The recording's bounds if they are in memory (nothing is read)."""
        return self._bounds.get((device, recording_id))

    async def _load(self, device: bytes, recording_id: bytes) -> Bounds:
        indices = [i async for i in self._storage.chunk_indices(device, recording_id)]
        bounds = Bounds()
        for index in sorted({min(indices), max(indices)} if indices else ()):
            data = await self._storage.read_chunk(device, recording_id, index)
            if data is None:
                continue
            try:
                bounds.stored(Chunk.parse(data))  # stored only after every check passed
            except MalformedError:
                continue
        if indices:
            bounds.highest = max(bounds.highest or 0, max(indices))
        return bounds
