"""The relay answers enrollment questions from memory (relay_server/enrollment.py): the
same work for an enrolled device and an unknown one (the enrollment oracle,
bench/enrollment_oracle.py), and what an operator changes in another process is seen."""

from pathlib import Path

import pytest

from relay_server.enrollment import Enrollment
from relay_server.storage.fs import FilesystemStorage
from vault import DeviceIdentity

pytestmark = pytest.mark.asyncio


class CountingStorage(FilesystemStorage):
    """A real filesystem storage that notes which objects it was asked to read."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, threads=2)
        self.reads: list[str] = []

    def _get(self, key: str) -> bytes | None:
        self.reads.append(key.split("/")[0] if key.startswith("devices/") else key)
        return super()._get(key)

    def _children(self, prefix: str) -> list[str]:
        self.reads.append("list " + prefix)
        return super()._children(prefix)


async def test_a_token_check_reads_the_same_for_an_enrolled_and_an_unknown_device(
    tmp_path: Path,
) -> None:
    enrolled, stranger = DeviceIdentity.generate().public, DeviceIdentity.generate().public
    operator = FilesystemStorage(tmp_path, threads=2)  # the operator's process
    relay = CountingStorage(tmp_path)  # the running relay's
    try:
        assert await Enrollment(operator).enroll(enrolled)
        token = await Enrollment(operator).mint_token(enrolled)
        enrollment = Enrollment(relay)
        assert await enrollment.check_token(enrolled.raw, token)  # loads every record
        wrong = "tg-token-" + "a" * 52
        seen = []
        for device in (enrolled, stranger) * 3:
            relay.reads.clear()
            assert not await enrollment.check_token(device.raw, wrong)
            seen.append(list(relay.reads))
        # no read keyed by the device: only the marker that says whether anything changed
        assert seen == [["relay/devices-changed"]] * 6
        # thousands of made-up device keys later, memory holds the one enrolled device
        for n in range(2_000):
            assert not await enrollment.check_token(n.to_bytes(32, "big"), wrong)
        assert [r.device for r in await enrollment.devices()] == [enrolled]
        assert len(enrollment._records) == 1
    finally:
        await operator.close()
        await relay.close()


async def test_what_another_process_changes_is_seen_by_the_running_relay(
    tmp_path: Path,
) -> None:
    device = DeviceIdentity.generate().public
    operator = FilesystemStorage(tmp_path, threads=2)
    relay = CountingStorage(tmp_path)
    try:
        assert await Enrollment(operator).enroll(device)
        running = Enrollment(relay)
        assert await running.may_upload(device.raw)
        token = await Enrollment(operator).mint_token(device)
        assert await running.check_token(device.raw, token)  # at once: the marker changed
        assert await Enrollment(operator).revoke(device)
        record = await running.record(device.raw)
        assert record is not None
        assert record.revoked_ms is not None
        assert not await running.may_upload(device.raw)
        assert await Enrollment(operator).reinstate(device)
        assert await running.may_upload(device.raw)  # a no is checked again at once
    finally:
        await operator.close()
        await relay.close()
