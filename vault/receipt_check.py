"""Checking a relay's receipts against a recording (`testigo verify --relay-key`).

Every valid chunk of the recording should have a receipt signed by the trusted relay key
that names exactly that chunk (recording, index, chunk hash). The relay's reception time
stands beside the device's time: independent evidence of when each chunk existed.
"""

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from vault.errors import MalformedError, TestigoError
from vault.format import Chunk
from vault.keys import RelayKey
from vault.receipts import Receipt
from vault.spool import RECEIPT_SUFFIX, RECEIPTS_DIR
from vault.wire.receipts_file import ReceiptsFile, read_receipts_file


@dataclass
class ReceiptReport:
    relay_fingerprint: str
    receipted: int = 0
    unreceipted: list[int] = field(default_factory=list)
    invalid: list[int] = field(default_factory=list)
    for_missing_chunks: list[int] = field(default_factory=list)
    delays_ms: list[int] = field(default_factory=list)
    received_ms: dict[int, int] = field(default_factory=dict)  # index → the relay's clock
    malformed_records: int = 0  # records of the receipts file that did not parse
    late_ms: dict[int, int] = field(default_factory=dict)  # index → how much later than usual
    # the periods the relay had the device revoked (its signed statements), in order:
    # (revoked_ms, reinstated_ms), reinstated_ms None while it still is
    revoked_periods: list[tuple[int, int | None]] = field(default_factory=list)
    after_revocation: list[int] = field(default_factory=list)  # received within one

    @property
    def revoked_ms(self) -> int | None:
        """When the relay first revoked the device, if it did."""
        return self.revoked_periods[0][0] if self.revoked_periods else None

    @property
    def complete(self) -> bool:
        return not self.unreceipted and not self.invalid and not self.malformed_records

    def to_json(self) -> dict[str, object]:
        return {
            "relay_fingerprint": self.relay_fingerprint,
            "receipted": self.receipted,
            "unreceipted": self.unreceipted,
            "invalid": self.invalid,
            "for_missing_chunks": self.for_missing_chunks,
            "malformed_records": self.malformed_records,
            "relay_minus_device_ms": self.delay_summary(),
            "received_ms": {str(i): t for i, t in sorted(self.received_ms.items())},
            "late": [{"index": i, "later_than_usual_ms": t} for i, t in self.late_ms.items()],
            "revoked_ms": self.revoked_ms,
            "revoked_periods": [
                {"revoked_ms": start, "reinstated_ms": end} for start, end in self.revoked_periods
            ],
            "after_revocation": self.after_revocation,
        }

    def delay_summary(self) -> dict[str, float] | None:
        if not self.delays_ms:
            return None
        return {
            "min": min(self.delays_ms),
            "median": statistics.median(self.delays_ms),
            "max": max(self.delays_ms),
        }

    def text(self) -> str:
        lines = [
            f"Receipts    {self.receipted} chunk(s) receipted by relay {self.relay_fingerprint}"
        ]
        if self.unreceipted:
            lines.append(f"  - no receipt for chunk(s) {_indices(self.unreceipted)}")
        if self.invalid:
            lines.append(f"  - INVALID receipt for chunk(s) {_indices(self.invalid)}")
        if self.malformed_records:
            lines.append(
                f"  - {self.malformed_records} record(s) of the receipts file are damaged "
                "(skipped; the others were checked)"
            )
        if self.for_missing_chunks:
            lines.append(
                f"  - receipts for chunk(s) absent from this file: "
                f"{_indices(self.for_missing_chunks)} (the relay acknowledged them)"
            )
        if self.received_ms:
            first, last = min(self.received_ms), max(self.received_ms)
            lines.append(
                f"  received by the relay from {_utc(self.received_ms[first])} (chunk {first}) "
                f"to {_utc(self.received_ms[last])} (chunk {last}), by the relay's clock"
            )
        summary = self.delay_summary()
        if summary is not None:
            lines.append(
                f"  relay time minus device time: median {summary['median'] / 1000:.2f} s "
                f"(min {summary['min'] / 1000:.2f} s, max {summary['max'] / 1000:.2f} s)"
            )
        for start, end in self.revoked_periods:
            until = "not reinstated" if end is None else f"reinstated it at {_utc(end)}"
            lines.append(f"  the relay revoked this device at {_utc(start)}, {until}")
        if self.after_revocation:
            lines.append(
                f"  - AFTER REVOCATION: chunk(s) {_indices(self.after_revocation)} reached the "
                "relay while it had the device revoked: the device key was then in other hands"
            )
        for index, late in self.late_ms.items():
            lines.append(
                f"  - LATE: chunk {index} reached the relay {_duration(late)} later than the "
                f"rest of the recording did (at {_utc(self.received_ms[index])}): it was not "
                "sent while recording; whoever held the device key then could have made it"
            )
        return "\n".join(lines)


LATE_AFTER_MS = 60_000  # later than the recording's usual delay by this much: flagged


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(ms: int) -> str:
    seconds = ms // 1000
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def late_chunks(delays_ms: dict[int, int]) -> dict[int, int]:
    """The chunks whose relay-minus-device delay exceeds the recording's median delay by
    more than LATE_AFTER_MS, with by how much: sent long after they were sealed, unlike
    the others (an end chunk added hours later, say). A recording uploaded late as a whole
    (an offline spool) has large but even delays, and is not flagged."""
    if len(delays_ms) < 2:
        return {}
    usual = statistics.median(delays_ms.values())
    return {
        index: int(delay - usual)
        for index, delay in sorted(delays_ms.items())
        if delay - usual > LATE_AFTER_MS
    }


def _indices(values: list[int]) -> str:
    shown = ", ".join(str(v) for v in values[:20])
    return shown + (f" ... ({len(values)} in all)" if len(values) > 20 else "")


def _receipts_file(path: Path) -> ReceiptsFile:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TestigoError(
            f"receipts file {path} does not exist",
            hint="testigo fetch saves it as RECORDING.receipts",
        ) from None
    try:
        return read_receipts_file(data)
    except MalformedError as error:
        raise MalformedError(f"{path}: {error}") from None


def _spooled_receipts(directory: Path) -> ReceiptsFile:
    """The receipts a device stored beside its chunks (FORMAT.md §5.1), and how many of
    those files are damaged."""
    receipts, bad = [], 0
    for path in sorted(directory.glob("*" + RECEIPT_SUFFIX)):
        try:
            receipts.append(Receipt.parse(path.read_bytes()))
        except (OSError, MalformedError):
            bad += 1
    return ReceiptsFile(tuple(receipts), (), bad)


class ReceiptChecker:
    """Collects the valid chunks of a recording (as a verify sink) and checks receipts."""

    def __init__(self, relay_key: RelayKey, receipts_path: Path) -> None:
        self.relay_key = relay_key
        if (receipts_path / RECEIPTS_DIR).is_dir():  # a spooled recording: its own receipts
            contents = _spooled_receipts(receipts_path / RECEIPTS_DIR)
        else:
            contents = _receipts_file(receipts_path)
        self._malformed = contents.damaged
        self._revocations = sorted(
            {r for r in contents.revocations if r.verify(relay_key)},
            key=lambda r: (r.revoked_ms, r.reinstated_ms is None, r.reinstated_ms or 0),
        )
        self._receipts: dict[int, Receipt] = {}
        self._conflicting: set[int] = set()
        for receipt in contents.receipts:
            known = self._receipts.setdefault(receipt.index, receipt)
            if known != receipt:
                self._conflicting.add(receipt.index)  # two different receipts, one chunk
        self._chunks: dict[int, tuple[bytes, bytes, int]] = {}

    def __call__(self, chunk: Chunk, _plaintext: bytes | None) -> None:
        self._chunks[chunk.index] = (chunk.recording_id, chunk.chunk_hash, chunk.device_time_ms)

    def report(self) -> ReceiptReport:
        report = ReceiptReport(self.relay_key.fingerprint, malformed_records=self._malformed)
        for index, (recording_id, chunk_hash, device_time_ms) in sorted(self._chunks.items()):
            receipt = self._receipts.get(index)
            if receipt is None:
                report.unreceipted.append(index)
            elif (
                index in self._conflicting
                or not receipt.names(recording_id, index, chunk_hash)
                or not receipt.verify(self.relay_key)
            ):
                report.invalid.append(index)
            else:
                report.receipted += 1
                report.delays_ms.append(receipt.received_ms - device_time_ms)
                report.received_ms[index] = receipt.received_ms
        report.for_missing_chunks = sorted(set(self._receipts) - set(self._chunks))
        delays = {
            index: report.received_ms[index] - self._chunks[index][2]
            for index in report.received_ms
        }
        report.late_ms = late_chunks(delays)
        report.revoked_periods = [(r.revoked_ms, r.reinstated_ms) for r in self._revocations]
        report.after_revocation = [
            i
            for i, t in sorted(report.received_ms.items())
            if any(r.covers(t) for r in self._revocations)
        ]
        return report
