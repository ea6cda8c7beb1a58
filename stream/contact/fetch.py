"""The lawyer's side: list a device's recordings on a relay and download one.

A download is the recording file (FORMAT.md §3) plus its receipts file (PROTOCOL.md
§2.1), each written to a new temporary file with a random name (vault/atomic.py),
fsynced, then renamed.
"""

from dataclasses import dataclass
from pathlib import Path

import aiohttp

from stream.relay_http import (
    CERTIFICATE_HINT,
    failure_text,
    is_certificate_failure,
    relay_session,
)
from vault.atomic import atomic_writer
from vault.errors import MalformedError, TestigoError
from vault.keys import DeviceKey
from vault.wire import routes
from vault.wire.documents import RecordingList
from vault.wire.errors import ErrorBody

TOKEN_VARIABLE = "TESTIGO_TOKEN"  # noqa: S105 (a variable name)


@dataclass(frozen=True)
class RemoteRecording:
    recording_id: str
    chunks: int
    created_ms: int | None
    last_time_ms: int | None = None
    """Device clock of the latest chunk the relay holds (None from older relays)."""
    received_ms: int | None = None
    """The relay's clock when it received the first chunk it holds (None: unknown)."""

    @property
    def duration_s(self) -> float | None:
        """From the start to the latest chunk held, by the device's clock."""
        if self.created_ms is None or self.last_time_ms is None:
            return None
        return max(0, self.last_time_ms - self.created_ms) / 1000


@dataclass(frozen=True)
class Download:
    recording: Path
    receipts: Path
    recording_bytes: int


class RelayReader:
    def __init__(self, session: aiohttp.ClientSession, relay_url: str, token: str) -> None:
        self._session = session
        self._url = relay_url
        self._headers = {"Authorization": f"Bearer {token}"}

    async def recordings(self, device: DeviceKey) -> list[RemoteRecording]:
        async with self._session.get(
            routes.RECORDINGS.url(self._url, device=str(device)), headers=self._headers
        ) as response:
            await _check(response)
            try:
                listing = RecordingList.parse(await response.read())
            except MalformedError as error:
                raise TestigoError(
                    f"{self._url} does not answer as a Testigo relay ({error})",
                    hint="check --relay (the relay's URL)",
                ) from None
        return [
            RemoteRecording(r.recording_id, r.chunks, r.created_ms, r.last_time_ms, r.received_ms)
            for r in listing.recordings
        ]

    async def download(self, device: DeviceKey, recording_id: str, output: Path) -> Download:
        where = {"device": str(device), "recording_id": recording_id}
        receipts = output.with_name(output.name + ".receipts")
        size = await self._save(routes.ARCHIVE.url(self._url, **where), output)
        await self._save(routes.RECEIPTS.url(self._url, **where), receipts)
        return Download(output, receipts, size)

    async def _save(self, url: str, path: Path) -> int:
        size = 0
        async with self._session.get(url, headers=self._headers) as response:
            await _check(response)
            with atomic_writer(path) as out:
                async for block in response.content.iter_chunked(1 << 16):
                    out.write(block)
                    size += len(block)
        return size


async def _check(response: aiohttp.ClientResponse) -> None:
    if response.status == 200:
        return
    refusal = await _relay_refusal(response)
    if refusal is None:
        raise TestigoError(
            f"{response.url.origin()} is not a Testigo relay (it answered HTTP {response.status})",
            hint="check the --relay URL; the relay's operator gives it to you",
        )
    if response.status == 401:
        raise TestigoError(
            "the relay refused the token",
            hint=f"ask the relay operator for a token for this device; set ${TOKEN_VARIABLE}",
        )
    if response.status == 404:
        raise TestigoError("the relay has no such device or recording", hint="check --device")
    if response.status in (429, 503):
        raise TestigoError(f"the relay is busy: {refusal}", hint="try again later")
    raise TestigoError(f"the relay refused: {refusal}", hint="tell the relay's operator")


async def _relay_refusal(response: aiohttp.ClientResponse) -> str | None:
    """The message of a relay's error body (PROTOCOL.md section 5); None if it is not one."""
    try:
        return ErrorBody.parse(await response.read()).message
    except (MalformedError, aiohttp.ClientError):
        return None


async def fetch_recording(
    relay_url: str,
    token: str,
    device: DeviceKey,
    recording_id: str | None,
    output: Path,
) -> tuple[RemoteRecording, Download, list[RemoteRecording]]:
    """Download recording_id, or the device's latest recording when None (the one the
    relay received last); with the other recordings the relay holds of the device."""
    try:
        async with relay_session() as session:
            reader = RelayReader(session, relay_url, token)
            listed = await reader.recordings(device)
            if recording_id is None:
                if not listed:
                    raise TestigoError(
                        "the relay holds no recording of this device",
                        hint="check --device: the tg-device-… key of the phone that recorded",
                    )
                chosen = newest(listed)
            else:
                matches = [r for r in listed if r.recording_id == recording_id.lower()]
                if not matches:
                    raise TestigoError(
                        f"the relay has no recording {recording_id}",
                        hint="list them with: testigo fetch --list",
                    )
                chosen = matches[0]
            others = [r for r in listed if r.recording_id != chosen.recording_id]
            return chosen, await reader.download(device, chosen.recording_id, output), others
    except (aiohttp.ClientError, OSError) as error:
        raise _unreachable(relay_url, error) from None


def newest(recordings: list[RemoteRecording]) -> RemoteRecording:
    """The recording the relay received most recently, by the relay's clock (a device's
    clock, in its header, could say anything); the device's clock only breaks ties."""
    return max(recordings, key=lambda r: (r.received_ms or 0, r.created_ms or 0))


def _unreachable(relay_url: str, error: BaseException) -> TestigoError:
    if is_certificate_failure(error):
        hint = CERTIFICATE_HINT
    else:
        hint = (
            "check the URL and the network; if both are right, the relay may be down: "
            "try again later"
        )
    return TestigoError(f"cannot reach the relay at {relay_url}: {failure_text(error)}", hint=hint)


async def list_remote(relay_url: str, token: str, device: DeviceKey) -> list[RemoteRecording]:
    try:
        async with relay_session() as session:
            return await RelayReader(session, relay_url, token).recordings(device)
    except (aiohttp.ClientError, OSError) as error:
        raise _unreachable(relay_url, error) from None
