"""`testigo verify --relay-key`: when the relay received the recording, LATE chunks (one
that reached it long after the rest, such as an end chunk added hours later by whoever
held the device key), and damaged receipts files (one bad record never costs the
others)."""

import json
from collections.abc import Callable
from pathlib import Path

from tests.cli_run import run_testigo
from tests.relay_fixtures import seal_recording
from vault import Chunk, DeviceIdentity, RecipientIdentity, RelayIdentity
from vault.receipt_check import LATE_AFTER_MS, late_chunks
from vault.receipts import Receipt, sign_receipt, sign_revocation
from vault.wire.receipts_file import encode_receipts_file

HOUR_MS = 3_600_000


def test_even_delays_are_not_late_and_one_outlier_is() -> None:
    assert late_chunks({0: 40, 1: 55, 2: 38}) == {}
    assert late_chunks({0: HOUR_MS, 1: HOUR_MS + 900, 2: HOUR_MS + 30}) == {}  # uploaded later
    # the usual delay is the median, 47.5 ms here
    assert late_chunks({0: 40, 1: 55, 2: 38, 3: 3 * HOUR_MS}) == {3: int(3 * HOUR_MS - 47.5)}
    assert late_chunks({0: 40, 1: 40 + LATE_AFTER_MS}) == {}  # the median is their midpoint


DEVICE_OF: list[bytes] = []  # the device key of the case being written (for damage)


def write_case(
    tmp_path: Path,
    delays_ms: list[int],
    damage: Callable[[list[bytes]], list[bytes]] | None = None,
    *,
    relays: list[RelayIdentity] | None = None,
) -> tuple[Path, RelayIdentity]:
    device, recipient, relay = (
        DeviceIdentity.generate(),
        RecipientIdentity.generate(),
        RelayIdentity.generate(),
    )
    DEVICE_OF[:] = [device.public.raw]
    if relays is not None:
        relays[:] = [relay]
    recording = seal_recording(device, recipient, [10] * (len(delays_ms) - 2))
    chunks = [Chunk.parse(c) for c in recording.chunks]
    receipts = [
        bytes(sign_receipt(relay, chunk, chunk.device_time_ms + delay))
        for chunk, delay in zip(chunks, delays_ms, strict=True)
    ]
    path = tmp_path / "case.tgr"
    path.write_bytes(recording.header + b"".join(recording.chunks))
    if damage is not None:
        receipts = damage(receipts)
    (tmp_path / "case.tgr.receipts").write_bytes(encode_receipts_file(receipts))
    return path, relay


def test_an_end_chunk_received_hours_later_is_flagged(tmp_path: Path) -> None:
    path, relay = write_case(tmp_path, [30, 35, 40, 32, 3 * HOUR_MS])
    result = run_testigo("verify", path.name, "--relay-key", str(relay.public), cwd=tmp_path)
    assert "LATE: chunk 4 reached the relay 2 h 59 min later" in result.err + result.out
    document = json.loads(
        run_testigo(
            "verify", path.name, "--relay-key", str(relay.public), "--json", cwd=tmp_path
        ).out
    )
    late = document["receipts"]["late"]
    assert [entry["index"] for entry in late] == [4]
    assert set(document["receipts"]["received_ms"]) == {"0", "1", "2", "3", "4"}


def test_a_recording_sent_while_recording_has_no_flag(tmp_path: Path) -> None:
    path, relay = write_case(tmp_path, [30, 35, 40, 32, 45])
    result = run_testigo("verify", path.name, "--relay-key", str(relay.public), cwd=tmp_path)
    assert result.code == 0, result.err
    assert "LATE" not in result.err + result.out
    assert "received by the relay from" in result.err + result.out


def verify_json(tmp_path: Path, path: Path, relay: RelayIdentity) -> tuple[int, dict[str, object]]:
    result = run_testigo(
        "verify", path.name, "--relay-key", str(relay.public), "--json", cwd=tmp_path
    )
    document = json.loads(result.out)
    assert isinstance(document, dict)
    return result.code, document


def test_one_damaged_receipt_record_does_not_cost_the_others(tmp_path: Path) -> None:
    def damage(receipts: list[bytes]) -> list[bytes]:
        return [receipts[0], b"\x00" * len(receipts[1]), *receipts[2:]]

    path, relay = write_case(tmp_path, [30, 35, 40, 32, 45], damage)
    code, document = verify_json(tmp_path, path, relay)
    receipts = document["receipts"]
    assert isinstance(receipts, dict)
    assert receipts["malformed_records"] == 1
    assert receipts["receipted"] == 4  # every other chunk's receipt was checked
    assert receipts["unreceipted"] == [1]
    assert code == 10  # authentic recording, receipts incomplete


def test_a_cut_off_receipts_file_still_gives_what_it_holds(tmp_path: Path) -> None:
    path, relay = write_case(tmp_path, [30, 35, 40, 32, 45])
    receipts_path = tmp_path / "case.tgr.receipts"
    receipts_path.write_bytes(receipts_path.read_bytes()[:-70])
    code, document = verify_json(tmp_path, path, relay)
    receipts = document["receipts"]
    assert isinstance(receipts, dict)
    assert (receipts["receipted"], receipts["malformed_records"]) == (4, 1)
    assert code == 10


def test_two_different_receipts_for_one_chunk_are_invalid(tmp_path: Path) -> None:
    def duplicate(receipts: list[bytes]) -> list[bytes]:
        forged = bytearray(receipts[2])
        forged[60] ^= 1  # another time: the relay would never sign two receipts for one chunk
        return [*receipts, bytes(forged)]

    path, relay = write_case(tmp_path, [30, 35, 40, 32, 45], duplicate)
    code, document = verify_json(tmp_path, path, relay)
    receipts = document["receipts"]
    assert isinstance(receipts, dict)
    assert receipts["invalid"] == [2]
    assert code == 20


def test_chunks_received_after_the_devices_revocation_are_flagged(tmp_path: Path) -> None:
    relays: list[RelayIdentity] = []

    def revoked_midway(receipts: list[bytes]) -> list[bytes]:
        relay = relays[0]
        third = Receipt.parse(receipts[3])
        statement = sign_revocation(relay, DEVICE_OF[0], third.received_ms - 2_500)
        return [*receipts, bytes(statement)]

    # chunks 3 and 4 reach the relay 5 s after they were sealed: after the revocation
    path, relay = write_case(tmp_path, [30, 35, 40, 5_000, 5_000], revoked_midway, relays=relays)
    _code, document = verify_json(tmp_path, path, relay)
    receipts = document["receipts"]
    assert isinstance(receipts, dict)
    assert receipts["after_revocation"] == [3, 4]
    assert receipts["receipted"] == 5
    text = run_testigo("verify", path.name, "--relay-key", str(relay.public), cwd=tmp_path)
    assert "AFTER REVOCATION: chunk(s) 3, 4" in text.out + text.err


def test_a_revocation_statement_by_another_relay_is_ignored(tmp_path: Path) -> None:
    relays: list[RelayIdentity] = []

    def forged_revocation(receipts: list[bytes]) -> list[bytes]:
        statement = sign_revocation(RelayIdentity.generate(), DEVICE_OF[0], 0)
        return [*receipts, bytes(statement)]

    path, relay = write_case(tmp_path, [30, 35, 40, 32, 45], forged_revocation, relays=relays)
    _code, document = verify_json(tmp_path, path, relay)
    receipts = document["receipts"]
    assert isinstance(receipts, dict)
    assert receipts["revoked_ms"] is None
    assert receipts["after_revocation"] == []
