"""Receipts: fixed layout, signed by the relay key, bound to one chunk."""

import dataclasses

import pytest

from tests.relay_fixtures import one_chunk
from vault import Chunk, DeviceIdentity, RecipientIdentity, RelayIdentity
from vault.errors import MalformedError
from vault.receipts import RECEIPT_SIZE, Receipt, sign_receipt
from vault.wire.receipts_file import encode_receipts_file, parse_receipts_file


def test_receipt_layout_and_signature(
    relay_identity: RelayIdentity, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    chunk = one_chunk(device_identity, recipient)
    receipt = sign_receipt(relay_identity, chunk, received_ms=1_700_000_000_123)
    data = bytes(receipt)
    assert len(data) == RECEIPT_SIZE == 160
    assert data[:4] == b"tgrc"
    assert data[4:20] == chunk.recording_id
    assert data[20:24] == chunk.index.to_bytes(4, "big")
    assert data[24:56] == chunk.chunk_hash
    assert data[56:64] == (1_700_000_000_123).to_bytes(8, "big")
    assert data[64:96] == relay_identity.public.raw
    message = b"testigo/v1 receipt" + data[4:64]
    assert relay_identity.public.verify(message, data[96:])
    parsed = Receipt.parse(data)
    assert parsed == receipt
    assert parsed.verify(relay_identity.public, chunk)
    assert sign_receipt(relay_identity, chunk, 1_700_000_000_123) == receipt  # deterministic


def test_receipt_does_not_verify_for_another_chunk_key_or_time(
    relay_identity: RelayIdentity, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    chunk = one_chunk(device_identity, recipient)
    receipt = sign_receipt(relay_identity, chunk, 5)
    other_relay = RelayIdentity.generate()
    assert not receipt.verify(other_relay.public, chunk)
    later = dataclasses.replace(receipt, received_ms=6)
    assert not later.verify(relay_identity.public, chunk)
    other_chunk: Chunk = one_chunk(device_identity, recipient)
    assert not receipt.verify(relay_identity.public, other_chunk)


def test_malformed_receipts_are_refused(
    relay_identity: RelayIdentity, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    data = bytes(sign_receipt(relay_identity, one_chunk(device_identity, recipient), 1))
    with pytest.raises(MalformedError, match="160"):
        Receipt.parse(data[:-1])
    with pytest.raises(MalformedError, match="magic"):
        Receipt.parse(b"xxxx" + data[4:])


def test_receipts_file_round_trip(
    relay_identity: RelayIdentity, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    receipts = [
        bytes(sign_receipt(relay_identity, one_chunk(device_identity, recipient), t))
        for t in (1, 2)
    ]
    data = encode_receipts_file(receipts)
    assert data.startswith(b"testigo-receipts/v1\n")
    assert [bytes(r) for r in parse_receipts_file(data)] == receipts
    with pytest.raises(MalformedError, match="truncated"):
        list(parse_receipts_file(data[:-1]))
    with pytest.raises(MalformedError, match="not a Testigo receipts file"):
        list(parse_receipts_file(b"garbage"))
