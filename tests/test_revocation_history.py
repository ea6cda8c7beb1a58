"""The relay remembers every period it had a device revoked (relay_server/enrollment.py),
signs a statement for each into the receipts file (vault/receipts.py, PROTOCOL.md §2.1),
and `testigo verify --relay-key` flags the chunks received within one."""

import json
import struct
from pathlib import Path

import pytest

from relay_server import operator
from relay_server.app import create_app
from relay_server.enrollment import DeviceRecord, RevocationPeriod
from relay_server.settings import Settings
from tests.cli_run import run_testigo
from tests.relay_fixtures import Client, MakeClient, StartRelay, seal_recording
from vault import Chunk, DeviceIdentity, RecipientIdentity, RelayIdentity
from vault.errors import MalformedError
from vault.receipts import RevocationStatement, sign_receipt, sign_revocation
from vault.wire.receipts_file import encode_receipts_file, parse_receipts_file, read_receipts_file

T0 = 1_700_000_000_000


async def download_receipts(
    client: Client, device: DeviceIdentity, recording_id: bytes, token: str
) -> bytes:
    base = f"/v1/devices/{device.public}/recordings/{recording_id.hex()}"
    response = await client.get(f"{base}/receipts", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    return await response.read()


def chunk_url(device: DeviceIdentity, recording_id: bytes) -> str:
    return f"/v1/recordings/{device.public}/{recording_id.hex()}/chunks"


# -- the relay keeps the history --


@pytest.mark.asyncio
async def test_revoke_then_reinstate_the_receipts_still_carry_the_statement(
    start_relay: StartRelay,
    aiohttp_client: MakeClient,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    relay = await start_relay()
    token = await operator.mint_token(relay_settings, device_identity.public)
    recording = seal_recording(device_identity, recipient, [100, 100])
    assert (await relay.post("/v1/headers", data=recording.header)).status == 200
    url = chunk_url(device_identity, recording.recording_id)
    assert (await relay.post(url, data=recording.chunks[0])).status == 200
    assert await operator.revoke(relay_settings, device_identity.public)
    assert await operator.reinstate(relay_settings, device_identity.public)
    # the relay restarts: what it signs comes from the stored history
    relay = await aiohttp_client(create_app(relay_settings, relay=relay_identity))
    assert (await relay.post(url, data=recording.chunks[1])).status == 200
    contents = read_receipts_file(
        await download_receipts(relay, device_identity, recording.recording_id, token)
    )
    (statement,) = contents.revocations
    assert statement.verify(relay_identity.public)
    assert statement.device_key == device_identity.public.raw
    (record,) = await operator.devices(relay_settings)
    (period,) = record.revocations
    assert (statement.revoked_ms, statement.reinstated_ms) == (
        period.revoked_ms,
        period.reinstated_ms,
    )
    assert record.revoked_ms is None  # reinstated: it may upload
    # the chunk received after reinstatement is not flagged
    received = {r.index: r.received_ms for r in contents.receipts}
    assert not statement.covers(received[1])
    assert not statement.covers(received[0])

    # revoked again: two statements, the second still open
    assert await operator.revoke(relay_settings, device_identity.public)
    contents = read_receipts_file(
        await download_receipts(relay, device_identity, recording.recording_id, token)
    )
    assert [(s.revoked_ms, s.reinstated_ms) for s in contents.revocations] == [
        (period.revoked_ms, period.reinstated_ms),
        (contents.revocations[1].revoked_ms, None),
    ]
    assert period.reinstated_ms is not None
    assert contents.revocations[1].revoked_ms >= period.reinstated_ms
    assert all(s.verify(relay_identity.public) for s in contents.revocations)


@pytest.mark.asyncio
async def test_the_history_survives_a_relay_restart(
    aiohttp_client: MakeClient,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
) -> None:
    key = device_identity.public
    assert await operator.enroll(relay_settings, key)
    for _ in range(2):  # each operator command opens the storage anew, as a process would
        assert await operator.revoke(relay_settings, key)
        assert await operator.reinstate(relay_settings, key)
    assert await operator.revoke(relay_settings, key)
    stored = Path(relay_settings.storage) / "devices" / f"{key.raw.hex()}.json"
    document = json.loads(stored.read_bytes())
    assert len(document["revocations"]) == 3
    assert document["revoked_ms"] == document["revocations"][2]["revoked_ms"]  # older relays
    (record,) = await operator.devices(relay_settings)
    assert [p.reinstated_ms is None for p in record.revocations] == [False, False, True]
    # a restarted relay still refuses the device and still has the whole history
    relay = await aiohttp_client(create_app(relay_settings, relay=relay_identity))
    recording = seal_recording(device_identity, RecipientIdentity.generate(), [])
    assert (await relay.post("/v1/headers", data=recording.header)).status == 403
    listed = run_testigo(
        "relay",
        "devices",
        "--storage",
        relay_settings.storage,
        "--json",
        cwd=Path(relay_settings.storage).parent,
    )
    assert listed.code == 0, listed.err
    (shown,) = json.loads(listed.out)
    assert [p["reinstated"] is None for p in shown["revocations"]] == [False, False, True]
    text = run_testigo(
        "relay",
        "devices",
        "--storage",
        relay_settings.storage,
        cwd=Path(relay_settings.storage).parent,
    )
    assert text.out.count("  revoked: ") == 3
    assert "(still revoked)" in text.out


def test_a_record_written_before_the_history_is_read(device_identity: DeviceIdentity) -> None:
    old = {
        "testigo-relay-device": 1,
        "device": str(device_identity.public),
        "enrolled_ms": T0,
        "token_hashes": [],
        "alerts": [],
        "revoked_ms": T0 + 5,
    }
    record = DeviceRecord.parse(json.dumps(old).encode())
    assert record.revocations == (RevocationPeriod(T0 + 5),)
    assert DeviceRecord.parse(record.to_bytes()) == record
    for damaged in (
        {"revoked_ms": None, "revocations": [{"revoked_ms": 5, "reinstated_ms": None}]},
        {"revoked_ms": None, "revocations": [{"revoked_ms": 5, "reinstated_ms": 5}]},
        {"revoked_ms": 9, "revocations": [{"revoked_ms": 9, "reinstated_ms": None}] * 2},
        {
            "revoked_ms": None,
            "revocations": [
                {"revoked_ms": 9, "reinstated_ms": 12},
                {"revoked_ms": 10, "reinstated_ms": 20},
            ],
        },
        {"revoked_ms": None, "revocations": [{"revoked_ms": "9", "reinstated_ms": 12}]},
        {"revoked_ms": None, "revocations": {"revoked_ms": 9}},
    ):
        with pytest.raises(MalformedError):
            DeviceRecord.parse(json.dumps({**old, **damaged}).encode())


# -- the statement --


def old_statement(relay: RelayIdentity, device_key: bytes, revoked_ms: int) -> bytes:
    """A revocation statement as the code before the history wrote it."""
    signature = relay.sign(b"testigo/v1 revocation" + device_key + struct.pack(">Q", revoked_ms))
    fields = b"tgrv" + device_key + struct.pack(">Q", revoked_ms) + bytes(20)
    return fields + relay.public.raw + signature


def test_statement_layout_and_a_file_written_before_the_history(
    relay_identity: RelayIdentity, device_identity: DeviceIdentity
) -> None:
    device = device_identity.public.raw
    closed = bytes(sign_revocation(relay_identity, device, T0, T0 + 60_000))
    assert len(closed) == 160
    assert closed[:4] == b"tgrv"
    assert closed[4:36] == device
    assert closed[36:44] == T0.to_bytes(8, "big")
    assert closed[44:52] == (T0 + 60_000).to_bytes(8, "big")
    assert closed[52:64] == bytes(12)
    assert closed[64:96] == relay_identity.public.raw
    message = b"testigo/v1 revocation" + closed[4:52]
    assert relay_identity.public.verify(message, closed[96:])
    # a still-open statement is the statement of before, byte for byte
    before = old_statement(relay_identity, device, T0)
    assert bytes(sign_revocation(relay_identity, device, T0)) == before
    parsed = RevocationStatement.parse(before)
    assert parsed.reinstated_ms is None
    assert parsed.verify(relay_identity.public)
    assert [parsed.covers(t) for t in (T0 - 1, T0, T0 + 10**9)] == [False, True, True]
    ended = RevocationStatement.parse(closed)
    edges = (T0 - 1, T0, T0 + 59_999, T0 + 60_000)
    assert [ended.covers(t) for t in edges] == [False, True, True, False]


def test_a_closed_statement_cannot_be_reopened_or_moved(
    relay_identity: RelayIdentity, device_identity: DeviceIdentity
) -> None:
    closed = bytes(sign_revocation(relay_identity, device_identity.public.raw, T0, T0 + 60_000))
    reopened = closed[:44] + bytes(8) + closed[52:]
    assert not RevocationStatement.parse(reopened).verify(relay_identity.public)
    stretched = closed[:44] + (T0 + 90_000).to_bytes(8, "big") + closed[52:]
    assert not RevocationStatement.parse(stretched).verify(relay_identity.public)


def test_malformed_statements_are_rejected_by_the_parser(
    relay_identity: RelayIdentity, device_identity: DeviceIdentity
) -> None:
    good = bytes(sign_revocation(relay_identity, device_identity.public.raw, T0, T0 + 1))
    reinstated_at = slice(44, 52)

    def with_reinstated(ms: int) -> bytes:
        data = bytearray(good)
        data[reinstated_at] = ms.to_bytes(8, "big")
        return bytes(data)

    bad_padding = good[:60] + b"\x01" + good[61:]
    for damaged, reason in (
        (good[:-1], "not a Testigo revocation statement"),
        (good + b"\x00", "not a Testigo revocation statement"),
        (b"tgrx" + good[4:], "not a Testigo revocation statement"),
        (bad_padding, "padding"),
        (with_reinstated(T0), "reinstated before"),  # an empty period
        (with_reinstated(T0 - 1), "reinstated before"),
    ):
        with pytest.raises(MalformedError, match=reason):
            RevocationStatement.parse(damaged)
    with pytest.raises(MalformedError):
        sign_revocation(relay_identity, device_identity.public.raw, T0, T0)
    # the strict reader refuses a file with a damaged statement; the forgiving one counts it
    strict = encode_receipts_file([good, bad_padding])
    with pytest.raises(MalformedError, match="padding"):
        list(parse_receipts_file(strict))
    contents = read_receipts_file(strict)
    assert (len(contents.revocations), contents.damaged) == (1, 1)


# -- verify --


def write_case(
    tmp_path: Path, statements: list[bytes], delays_s: list[int]
) -> tuple[Path, RelayIdentity, list[int]]:
    """A recording whose chunk i reached the relay delays_s[i] seconds after T0, and its
    receipts file with the given statements; the relay, and each chunk's received_ms."""
    device, relay = DeviceIdentity.generate(), RELAY
    recording = seal_recording(device, RecipientIdentity.generate(), [10] * (len(delays_s) - 2))
    chunks = [Chunk.parse(c) for c in recording.chunks]
    received = [T0 + s * 1000 for s in delays_s]
    receipts = [bytes(sign_receipt(relay, c, t)) for c, t in zip(chunks, received, strict=True)]
    path = tmp_path / "case.tgr"
    path.write_bytes(recording.header + b"".join(recording.chunks))
    (tmp_path / "case.tgr.receipts").write_bytes(encode_receipts_file([*receipts, *statements]))
    return path, relay, received


RELAY = RelayIdentity.generate()
DEVICE = DeviceIdentity.generate().public.raw


def verify(tmp_path: Path, path: Path, relay: RelayIdentity) -> dict[str, object]:
    result = run_testigo(
        "verify", path.name, "--relay-key", str(relay.public), "--json", cwd=tmp_path
    )
    receipts = json.loads(result.out)["receipts"]
    assert isinstance(receipts, dict)
    return receipts


def test_a_chunk_received_while_revoked_is_flagged_and_one_after_reinstatement_is_not(
    tmp_path: Path,
) -> None:
    # revoked from +20 s to +40 s, then again from +60 s on (still revoked)
    statements = [
        bytes(sign_revocation(RELAY, DEVICE, T0 + 20_000, T0 + 40_000)),
        bytes(sign_revocation(RELAY, DEVICE, T0 + 60_000)),
    ]
    # chunk 2 arrives in the first period, 3 at the very moment of reinstatement, 4 after
    # it, 5 in the open period
    path, relay, _received = write_case(tmp_path, statements, [0, 10, 25, 40, 50, 70])
    receipts = verify(tmp_path, path, relay)
    assert receipts["after_revocation"] == [2, 5]
    assert receipts["revoked_ms"] == T0 + 20_000
    assert receipts["revoked_periods"] == [
        {"revoked_ms": T0 + 20_000, "reinstated_ms": T0 + 40_000},
        {"revoked_ms": T0 + 60_000, "reinstated_ms": None},
    ]
    text = run_testigo("verify", path.name, "--relay-key", str(relay.public), cwd=tmp_path)
    out = text.out + text.err
    assert "AFTER REVOCATION: chunk(s) 2, 5" in out
    assert (
        "revoked this device at 2023-11-14 22:13:40 UTC, reinstated it at 2023-11-14 22:14:00 UTC"
        in out
    )
    assert "revoked this device at 2023-11-14 22:14:20 UTC, not reinstated" in out


def test_a_statement_signed_by_another_key_is_ignored(tmp_path: Path) -> None:
    other = RelayIdentity.generate()
    statements = [
        bytes(sign_revocation(other, DEVICE, T0, T0 + 100_000)),  # would cover every chunk
        bytes(sign_revocation(other, DEVICE, T0)),
        bytes(sign_revocation(RELAY, DEVICE, T0 + 20_000, T0 + 30_000)),
    ]
    path, relay, _received = write_case(tmp_path, statements, [0, 10, 25, 40])
    receipts = verify(tmp_path, path, relay)
    assert receipts["after_revocation"] == [2]
    assert receipts["revoked_periods"] == [
        {"revoked_ms": T0 + 20_000, "reinstated_ms": T0 + 30_000}
    ]


def test_a_receipts_file_from_before_the_history_still_flags(tmp_path: Path) -> None:
    path, relay, _received = write_case(
        tmp_path, [old_statement(RELAY, DEVICE, T0 + 20_000)], [0, 10, 25, 40]
    )
    receipts = verify(tmp_path, path, relay)
    assert receipts["after_revocation"] == [2, 3]
    assert receipts["malformed_records"] == 0
