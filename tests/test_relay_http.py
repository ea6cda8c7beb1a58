"""The relay app over HTTP: the HTTPS fallback ingest, reading with tokens, metrics.

Drives the real app (create_app) with pytest-aiohttp's client; recordings are sealed
with vault.RecordingSealer and every receipt is verified with the relay key.
"""

import io
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import ClientResponse

from relay_server import operator
from relay_server.app import create_app, create_metrics_app
from relay_server.ingest import STORAGE_FAILURE_TEXT, now_ms
from relay_server.settings import Settings
from stream.contact.fetch import RemoteRecording, newest
from tests.relay_fixtures import (
    Client,
    MakeClient,
    SealedRecording,
    StartRelay,
    forged_chunk,
    seal_recording,
    signed_chunk,
)
from vault import (
    Chunk,
    ChunkKind,
    DeviceIdentity,
    RecipientIdentity,
    RelayIdentity,
    Role,
    Status,
    StoredIdentity,
    errors,
    save_identity,
    verify_stream,
)
from vault.format import Header
from vault.receipts import Receipt
from vault.wire.documents import RecordingList
from vault.wire.receipts_file import parse_receipts_file, read_receipts_file

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def relay(start_relay: StartRelay) -> Client:
    """A running relay with device_identity enrolled."""
    return await start_relay()


async def post_header(client: Client, recording: SealedRecording) -> dict[str, object]:
    response = await client.post("/v1/headers", data=recording.header)
    assert response.status == 200, await response.text()
    body: dict[str, object] = await response.json()
    return body


def chunk_url(device: DeviceIdentity, recording: SealedRecording) -> str:
    return f"/v1/recordings/{device.public}/{recording.recording_id.hex()}/chunks"


async def error_of(response: ClientResponse) -> tuple[int, str]:
    body = await response.json()
    return response.status, body["error"]["name"]


async def test_upload_receipts_and_download(
    relay: Client,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    recording = seal_recording(device_identity, recipient, [100, 70_000, 5])
    welcome = await post_header(relay, recording)
    assert welcome == {
        "device": str(device_identity.public),
        "recording_id": recording.recording_id.hex(),
        "held": [],
    }
    receipts = []
    for chunk in recording.chunks:
        response = await relay.post(chunk_url(device_identity, recording), data=chunk)
        assert response.status == 200
        assert response.headers["Testigo-Duplicate"] == "0"
        receipt = Receipt.parse(await response.read())
        assert receipt.verify(relay_identity.public, Chunk.parse(chunk))
        receipts.append(receipt)
    assert [r.index for r in receipts] == list(range(len(recording.chunks)))

    again = await post_header(relay, recording)
    assert again["held"] == [[0, len(recording.chunks) - 1]]

    token = await operator.mint_token(relay_settings, device_identity.public)
    auth = {"Authorization": f"Bearer {token}"}
    base = f"/v1/devices/{device_identity.public}/recordings"
    listing = await (await relay.get(base, headers=auth)).json()
    assert listing == {
        "recordings": [
            {
                "recording_id": recording.recording_id.hex(),
                "chunks": len(recording.chunks),
                "created_ms": Header.parse(recording.header).created_ms,
                "last_time_ms": Chunk.parse(recording.chunks[-1]).device_time_ms,
                "received_ms": receipts[0].received_ms,
            }
        ]
    }
    archive = await relay.get(f"{base}/{recording.recording_id.hex()}/archive", headers=auth)
    assert archive.status == 200
    data = await archive.read()
    assert data == recording.header + b"".join(recording.chunks)
    report = verify_stream(io.BytesIO(data), [recipient])
    assert report.status is Status.COMPLETE
    sidecar = await relay.get(f"{base}/{recording.recording_id.hex()}/receipts", headers=auth)
    assert list(parse_receipts_file(await sidecar.read())) == receipts


async def test_same_chunk_twice_gets_the_same_receipt(
    relay: Client, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    recording = seal_recording(device_identity, recipient, [10])
    await post_header(relay, recording)
    first = await relay.post(chunk_url(device_identity, recording), data=recording.chunks[1])
    second = await relay.post(chunk_url(device_identity, recording), data=recording.chunks[1])
    assert second.headers["Testigo-Duplicate"] == "1"
    assert await first.read() == await second.read()


async def test_unknown_device_is_refused_before_anything_is_written(
    relay: Client, relay_settings: Settings, recipient: RecipientIdentity
) -> None:
    stranger = DeviceIdentity.generate()
    recording = seal_recording(stranger, recipient, [10])
    response = await relay.post("/v1/headers", data=recording.header)
    assert await error_of(response) == (403, "unknown_device")
    assert not (Path(relay_settings.storage) / "recordings").exists()
    chunk = await relay.post(chunk_url(stranger, recording), data=recording.chunks[0])
    assert await error_of(chunk) == (409, "no_header")


async def test_bad_chunk_signature_is_refused(
    relay: Client, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    recording = seal_recording(device_identity, recipient, [10])
    await post_header(relay, recording)
    tampered = bytearray(recording.chunks[0])
    tampered[120] ^= 1  # inside the signature
    response = await relay.post(chunk_url(device_identity, recording), data=bytes(tampered))
    assert await error_of(response) == (422, "bad_signature")
    flipped = bytearray(recording.chunks[0])
    flipped[-1] ^= 1  # the ciphertext no longer matches its hash
    response = await relay.post(chunk_url(device_identity, recording), data=bytes(flipped))
    assert await error_of(response) == (422, "bad_signature")


async def test_bad_header_signature_is_refused(
    relay: Client, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    recording = seal_recording(device_identity, recipient, [10])
    header = bytearray(recording.header)
    header[-1] ^= 1
    response = await relay.post("/v1/headers", data=bytes(header))
    assert await error_of(response) == (422, "bad_header")


async def test_chunk_of_another_recording_is_refused(
    relay: Client, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    first = seal_recording(device_identity, recipient, [10])
    second = seal_recording(device_identity, recipient, [10])
    await post_header(relay, first)
    response = await relay.post(chunk_url(device_identity, first), data=second.chunks[0])
    assert await error_of(response) == (422, "wrong_recording")


async def test_oversize_chunk_is_refused(
    start_relay: StartRelay,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    settings = relay_settings.replace(max_chunk_bytes=10_000)
    client = await start_relay(settings)
    recording = seal_recording(device_identity, recipient, [20_000])
    await post_header(client, recording)
    response = await client.post(chunk_url(device_identity, recording), data=recording.chunks[1])
    assert await error_of(response) == (413, "too_large")
    small = await client.post(chunk_url(device_identity, recording), data=recording.chunks[0])
    assert small.status == 200


async def test_chunk_above_the_headers_max_chunk_size_is_refused(
    relay: Client, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    recording = seal_recording(device_identity, recipient, [], final=False, max_chunk_size=32)
    await post_header(relay, recording)
    big = forged_chunk(device_identity, recording.header, recording.chunks[0], bytes(64))
    response = await relay.post(chunk_url(device_identity, recording), data=big)
    assert await error_of(response) == (413, "too_large")


async def test_conflicting_chunk_is_refused_and_raises_an_alarm(
    relay: Client,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
    caplog: pytest.LogCaptureFixture,
) -> None:
    recording = seal_recording(device_identity, recipient, [10])
    await post_header(relay, recording)
    stored = await relay.post(chunk_url(device_identity, recording), data=recording.chunks[1])
    assert stored.status == 200
    other = forged_chunk(device_identity, recording.header, recording.chunks[1], bytes(30))
    response = await relay.post(chunk_url(device_identity, recording), data=other)
    assert await error_of(response) == (409, "conflict")
    alarms = [r for r in caplog.records if "alarm.conflicting_chunk" in r.getMessage()]
    assert len(alarms) == 1
    assert recording.recording_id.hex() in alarms[0].getMessage()
    assert str(device_identity.public) not in caplog.text


async def test_limits_per_recording_and_per_device_hour(
    start_relay: StartRelay,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    recording = seal_recording(device_identity, recipient, [10, 10, 10])
    budget = len(recording.header) + len(recording.chunks[0]) + len(recording.chunks[1])
    settings = relay_settings.replace(max_chunks_per_recording=3, max_device_bytes_per_hour=budget)
    client = await start_relay(settings)
    await post_header(client, recording)
    url = chunk_url(device_identity, recording)
    statuses = [(await client.post(url, data=c)) for c in recording.chunks]
    assert [s.status for s in statuses[:2]] == [200, 200]
    assert await error_of(statuses[2]) == (429, "rate_limited")
    assert await error_of(statuses[3]) == (422, "recording_limit")


async def test_malformed_bodies_are_refused(
    relay: Client, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    assert await error_of(await relay.post("/v1/headers", data=b"not a header")) == (
        400,
        "malformed",
    )
    assert await error_of(await relay.post("/v1/headers", data=bytes(6000))) == (413, "too_large")
    assert await error_of(await relay.post("/v1/headers", data=b"testigo/v9\n" + bytes(100))) == (
        400,
        "unsupported_version",
    )
    recording = seal_recording(device_identity, recipient, [10])
    await post_header(relay, recording)
    url = chunk_url(device_identity, recording)
    assert await error_of(await relay.post(url, data=b"tgck" + bytes(10))) == (400, "malformed")
    bad_path = f"/v1/recordings/{device_identity.public}/xyz/chunks"
    assert await error_of(await relay.post(bad_path, data=b"")) == (400, "malformed")


async def test_reading_needs_the_devices_token(
    relay: Client,
    relay_settings: Settings,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    recording = seal_recording(device_identity, recipient, [10])
    await post_header(relay, recording)
    other = DeviceIdentity.generate()
    await operator.enroll(relay_settings, other.public)
    other_token = await operator.mint_token(relay_settings, other.public)
    base = f"/v1/devices/{device_identity.public}/recordings"
    for headers in (
        {},
        {"Authorization": "Bearer tg-token-" + "a" * 52},
        {"Authorization": f"Bearer {other_token}"},
        {"Authorization": "Basic xyz"},
    ):
        response = await relay.get(base, headers=headers)
        assert await error_of(response) == (401, "unauthorized")
    token = await operator.mint_token(relay_settings, device_identity.public)
    ok = await relay.get(base, headers={"Authorization": f"Bearer {token}"})
    assert ok.status == 200
    missing = await relay.get(
        f"{base}/{bytes(16).hex()}/archive", headers={"Authorization": f"Bearer {token}"}
    )
    assert await error_of(missing) == (404, "not_found")
    stored = Path(relay_settings.storage) / "devices" / f"{device_identity.public.raw.hex()}.json"
    assert token not in stored.read_text()


async def test_metrics_and_health(
    relay: Client,
    aiohttp_client: MakeClient,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    assert await (await relay.get("/healthz")).text() == "ok\n"
    recording = seal_recording(device_identity, recipient, [10])
    await post_header(relay, recording)
    await relay.post(chunk_url(device_identity, recording), data=recording.chunks[0])
    await relay.post(chunk_url(device_identity, recording), data=recording.chunks[0])
    await relay.post(chunk_url(device_identity, recording), data=b"junk")
    # counters tell when someone records: not on the public listener
    assert (await relay.get("/metrics")).status == 404
    operator_side = await aiohttp_client(create_metrics_app(relay.app))
    text = await (await operator_side.get("/metrics")).text()
    assert 'testigo_relay_chunks_stored_total{duplicate="0"} 1' in text
    assert 'testigo_relay_chunks_stored_total{duplicate="1"} 1' in text
    assert f"testigo_relay_bytes_stored_total {len(recording.chunks[0])}" in text
    assert 'testigo_relay_rejects_total{reason="malformed"} 1' in text
    assert 'testigo_relay_receipt_seconds_bucket{le="+Inf"} 2' in text


async def test_relay_key_is_loaded_from_its_identity_file(
    aiohttp_client: MakeClient, tmp_path: Path, relay_settings: Settings
) -> None:
    identity = RelayIdentity.generate()
    path = tmp_path / "relay.key"
    save_identity(path, StoredIdentity(Role.RELAY, identity), passphrase=None)
    client = await aiohttp_client(create_app(relay_settings.replace(relay_key=str(path))))
    config = await (await client.get("/v1/webrtc/config")).json()
    assert config == {"ice_servers": []}
    device_path = tmp_path / "device.key"
    save_identity(
        device_path,
        StoredIdentity(Role.DEVICE, DeviceIdentity.generate()),
        passphrase=None,
    )
    with pytest.raises(errors.TestigoError, match="is a device key, not a relay key"):
        create_app(relay_settings.replace(relay_key=str(device_path)))


async def test_a_revoked_device_uploads_nothing_more_but_stays_readable(
    aiohttp_client: MakeClient,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    assert await operator.enroll(relay_settings, device_identity.public)
    token = await operator.mint_token(relay_settings, device_identity.public)
    before = seal_recording(device_identity, recipient, [100, 200, 5])
    # The relay the operator revokes through is another process in real life: the running
    # relay re-reads the device record, so revocation shows there too.
    relay = await aiohttp_client(create_app(relay_settings, relay=relay_identity))
    await post_header(relay, before)
    first = await relay.post(chunk_url(device_identity, before), data=before.chunks[0])
    assert first.status == 200
    assert await operator.revoke(relay_settings, device_identity.public)
    assert not await operator.revoke(relay_settings, device_identity.public)
    fresh = await aiohttp_client(create_app(relay_settings, relay=relay_identity))
    refused = await fresh.post(chunk_url(device_identity, before), data=before.chunks[1])
    assert await error_of(refused) == (403, "unknown_device")
    after = seal_recording(device_identity, recipient, [100])
    assert await error_of(await fresh.post("/v1/headers", data=after.header)) == (
        403,
        "unknown_device",
    )
    auth = {"Authorization": f"Bearer {token}"}
    base = f"/v1/devices/{device_identity.public}/recordings/{before.recording_id.hex()}"
    archive = await fresh.get(f"{base}/archive", headers=auth)
    assert archive.status == 200
    assert await archive.read() == before.header + before.chunks[0]
    # the receipts file says, signed, when the relay revoked the device
    receipts = read_receipts_file(await (await fresh.get(f"{base}/receipts", headers=auth)).read())
    (statement,) = receipts.revocations
    assert statement.verify(relay_identity.public)
    assert statement.device_key == device_identity.public.raw
    (record,) = await operator.devices(relay_settings)
    assert statement.revoked_ms == record.revoked_ms
    assert [r.index for r in receipts.receipts] == [0]


# -- the end of a recording (PROTOCOL.md §4.1) --


async def post_chunks(client: Client, device: DeviceIdentity, recording: SealedRecording,
                      chunks: list[bytes]) -> list[int]:  # fmt: skip
    statuses = []
    for chunk in chunks:
        response = await client.post(chunk_url(device, recording), data=chunk)
        statuses.append(response.status)
    return statuses


async def test_nothing_is_accepted_after_the_final_chunk(
    relay: Client, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    recording = seal_recording(device_identity, recipient, [10])  # init, media, end (2)
    await post_header(relay, recording)
    assert await post_chunks(relay, device_identity, recording, recording.chunks) == [200] * 3
    end = recording.chunks[2]
    for kind in (ChunkKind.MEDIA, ChunkKind.END):
        later = signed_chunk(device_identity, recording.header, end, 3, kind)
        response = await relay.post(chunk_url(device_identity, recording), data=later)
        assert await error_of(response) == (409, "conflict")
    # what was stored is unchanged, and sending it again is still answered
    assert await post_chunks(relay, device_identity, recording, recording.chunks) == [200] * 3


async def test_a_recording_cannot_be_ended_below_a_stored_chunk(
    relay: Client, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    recording = seal_recording(device_identity, recipient, [10, 10, 10], final=False)
    await post_header(relay, recording)
    held = [recording.chunks[i] for i in (0, 1, 3)]  # chunk 2 has not arrived yet
    assert await post_chunks(relay, device_identity, recording, held) == [200] * 3
    early_end = signed_chunk(
        device_identity, recording.header, recording.chunks[1], 2, ChunkKind.END
    )
    response = await relay.post(chunk_url(device_identity, recording), data=early_end)
    assert await error_of(response) == (409, "conflict")
    # the genuine chunk 2 is still welcome
    assert await post_chunks(relay, device_identity, recording, [recording.chunks[2]]) == [200]


async def test_a_second_init_chunk_is_refused(
    relay: Client, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    recording = seal_recording(device_identity, recipient, [], final=False)  # init only
    await post_header(relay, recording)
    assert await post_chunks(relay, device_identity, recording, recording.chunks) == [200]
    second = signed_chunk(device_identity, recording.header, recording.chunks[0], 1, ChunkKind.INIT)
    response = await relay.post(chunk_url(device_identity, recording), data=second)
    assert await error_of(response) == (409, "conflict")


async def test_chunks_missing_below_the_final_one_may_still_arrive(
    relay: Client, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    recording = seal_recording(device_identity, recipient, [10, 10])  # end at 3
    await post_header(relay, recording)
    first = [recording.chunks[i] for i in (0, 3, 1)]
    assert await post_chunks(relay, device_identity, recording, first) == [200] * 3
    assert await post_chunks(relay, device_identity, recording, [recording.chunks[2]]) == [200]


async def test_the_end_rules_survive_a_relay_restart(
    aiohttp_client: MakeClient,
    start_relay: StartRelay,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    recording = seal_recording(device_identity, recipient, [10])
    before = await start_relay()
    await post_header(before, recording)
    assert await post_chunks(before, device_identity, recording, recording.chunks) == [200] * 3
    after = await aiohttp_client(
        create_app(relay_settings, relay=relay_identity)
    )  # a new process's view
    await post_header(after, recording)
    later = signed_chunk(device_identity, recording.header, recording.chunks[2], 3, ChunkKind.MEDIA)
    response = await after.post(chunk_url(device_identity, recording), data=later)
    assert await error_of(response) == (409, "conflict")


async def test_the_listing_orders_by_the_relays_clock_not_the_devices(
    relay: Client,
    relay_settings: Settings,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    genuine = seal_recording(device_identity, recipient, [10])
    await post_header(relay, genuine)
    receipts = await post_chunks(relay, device_identity, genuine, genuine.chunks)
    assert receipts == [200] * 3
    first_receipt = Receipt.parse(
        await (await relay.post(chunk_url(device_identity, genuine), data=genuine.chunks[0])).read()
    )
    while now_ms() <= first_receipt.received_ms:  # the relay's clock moves on (< 1 ms)
        pass
    # uploaded later, but its header claims it was made a day earlier
    backdated = seal_recording(
        device_identity, recipient, [10], created_ms=first_receipt.received_ms - 86_400_000
    )
    await post_header(relay, backdated)
    assert await post_chunks(relay, device_identity, backdated, backdated.chunks) == [200] * 3
    token = await operator.mint_token(relay_settings, device_identity.public)
    response = await relay.get(
        f"/v1/devices/{device_identity.public}/recordings",
        headers={"Authorization": f"Bearer {token}"},
    )
    listing = RecordingList.parse(await response.read())
    entries = {e.recording_id: e for e in listing.recordings}
    older, later = entries[genuine.recording_id.hex()], entries[backdated.recording_id.hex()]
    assert older.received_ms == first_receipt.received_ms
    assert later.received_ms is not None
    assert later.received_ms > first_receipt.received_ms
    assert later.created_ms is not None
    assert older.created_ms is not None
    assert later.created_ms < older.created_ms
    remote = [RemoteRecording(e.recording_id, e.chunks, e.created_ms, e.last_time_ms,
                              e.received_ms) for e in listing.recordings]  # fmt: skip
    assert newest(remote).recording_id == backdated.recording_id.hex()


async def test_a_forged_header_does_not_tell_whether_a_device_is_enrolled(
    relay: Client, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    """A stranger who knows only device keys (not their secrets) sends headers in their
    names: the answer is the same for an enrolled device as for an unknown one."""
    stranger = DeviceIdentity.generate()  # not enrolled
    answers = []
    for device in (device_identity, stranger):
        genuine = seal_recording(device, recipient, [])
        forged = bytearray(genuine.header)
        forged[-1] ^= 1  # the signature no longer verifies
        response = await relay.post("/v1/headers", data=bytes(forged))
        answers.append((await error_of(response), response.headers.get("Content-Length")))
    assert answers[0] == answers[1]
    assert answers[0][0] == (422, "bad_header")
    # with the device's own key, an unknown device learns that it is unknown
    unknown = seal_recording(stranger, recipient, [])
    response = await relay.post("/v1/headers", data=unknown.header)
    assert await error_of(response) == (403, "unknown_device")


async def test_an_unknown_device_and_a_wrong_token_read_the_same(
    relay: Client, device_identity: DeviceIdentity
) -> None:
    wrong = {"Authorization": "Bearer tg-token-" + "a" * 52}
    answers = []
    for device in (device_identity.public, DeviceIdentity.generate().public):
        response = await relay.get(f"/v1/devices/{device}/recordings", headers=wrong)
        answers.append((response.status, await response.read()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401


async def test_new_recordings_per_hour_are_capped_but_a_header_again_is_free(
    start_relay: StartRelay,
    relay_settings: Settings,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    client = await start_relay(relay_settings.replace(max_recordings_per_hour=2))
    first, second, third = (seal_recording(device_identity, recipient, []) for _ in range(3))
    await post_header(client, first)
    await post_header(client, second)
    refused = await client.post("/v1/headers", data=third.header)
    assert await error_of(refused) == (429, "rate_limited")
    # the device carries on with the recordings it has: HELLO again costs nothing
    await post_header(client, first)
    await post_header(client, second)


async def test_headers_count_against_the_hourly_byte_budget(
    start_relay: StartRelay,
    relay_settings: Settings,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    first, second = (seal_recording(device_identity, recipient, []) for _ in range(2))
    client = await start_relay(relay_settings.replace(max_device_bytes_per_hour=len(first.header)))
    await post_header(client, first)
    refused = await client.post("/v1/headers", data=second.header)
    assert await error_of(refused) == (429, "rate_limited")


async def test_a_storage_failure_tells_clients_nothing_about_the_storage(
    relay: Client,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    recording = seal_recording(device_identity, recipient, [10])
    await post_header(relay, recording)

    def disk_full(fd: int) -> None:  # the disk at the edge of the machine fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", disk_full)
    response = await relay.post(chunk_url(device_identity, recording), data=recording.chunks[0])
    monkeypatch.undo()
    assert response.status == 503
    error = (await response.json())["error"]
    assert error["name"] == "storage_failure"
    assert error["message"] == STORAGE_FAILURE_TEXT  # no path, no errno, no endpoint
    assert "disk is full" in caplog.text  # the operator's log has the detail
    stored = await relay.post(chunk_url(device_identity, recording), data=recording.chunks[0])
    assert stored.status == 200  # once space is back, the same chunk is taken
