"""The sealer's two constructors: `start` draws, `_from_parts` takes what was drawn."""

import pytest

from tests.vectors.generate import (
    CREATED_MS,
    DEVICE,
    FILE_KEY,
    MEDIA_TYPE,
    OTHER_DEVICE,
    RECIPIENTS,
    RECORDING_ID,
)
from vault import Header, RecordingSealer
from vault.seal import now_ms

KEYS = [r.public for r in RECIPIENTS]


def stanza_owners(header: Header) -> list[int]:
    """For each stanza, the index in RECIPIENTS of the one recipient it opens for."""
    owners = []
    for stanza in header.stanzas:
        opened = [i for i, r in enumerate(RECIPIENTS) if r.unwrap(stanza) is not None]
        assert len(opened) == 1
        owners.append(opened[0])
    return owners


def file_key(sealer: RecordingSealer) -> bytes | None:
    return RECIPIENTS[0].unwrap(sealer.header.stanzas[stanza_owners(sealer.header).index(0)])


def from_parts() -> RecordingSealer:
    return RecordingSealer._from_parts(
        DEVICE,
        KEYS,
        MEDIA_TYPE,
        max_chunk_size=4096,
        created_ms=CREATED_MS,
        recording_id=RECORDING_ID,
        file_key=FILE_KEY,
    )


def test_from_parts_uses_exactly_the_parts_given() -> None:
    sealer = from_parts()
    assert sealer.header.recording_id == RECORDING_ID
    assert sealer.header.created_ms == CREATED_MS
    assert sealer.header.device_key == DEVICE.public.raw
    assert stanza_owners(sealer.header) == list(range(len(RECIPIENTS)))
    assert file_key(sealer) == FILE_KEY


def test_start_draws_the_id_the_key_the_time_and_the_stanza_order() -> None:
    before = now_ms()
    sealers = [RecordingSealer.start(DEVICE, KEYS, MEDIA_TYPE) for _ in range(30)]
    assert len({s.header.recording_id for s in sealers}) == 30
    assert len({file_key(s) for s in sealers}) == 30
    assert len({stanza_owners(s.header)[0] for s in sealers}) > 1  # all alike: (1/5)^29
    assert all(before <= s.header.created_ms <= now_ms() for s in sealers)
    assert RecordingSealer.start(DEVICE, KEYS, MEDIA_TYPE, created_ms=7).header.created_ms == 7


def test_a_sealer_continues_only_its_own_devices_header() -> None:
    with pytest.raises(ValueError, match="another device"):
        RecordingSealer(OTHER_DEVICE, from_parts().header, FILE_KEY)
