"""Counters for `/metrics`, rendered in the Prometheus text format (0.0.4)."""

from collections import Counter
from typing import Final

LATENCY_BUCKETS: Final = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.chunks_stored: Counter[str] = Counter()
        self.bytes_stored = 0
        self.rejects: Counter[str] = Counter()
        self.webrtc_sessions = 0
        self._latency_buckets = [0] * len(LATENCY_BUCKETS)
        self._latency_count = 0
        self._latency_sum = 0.0

    def stored(self, size: int, *, duplicate: bool, seconds: float) -> None:
        self.chunks_stored["1" if duplicate else "0"] += 1
        if not duplicate:
            self.bytes_stored += size
        self._latency_count += 1
        self._latency_sum += seconds
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self._latency_buckets[i] += 1

    def reject(self, reason: str) -> None:
        self.rejects[reason] += 1

    def render(self) -> str:
        lines = [
            "# HELP testigo_relay_chunks_stored_total Chunks answered with a receipt.",
            "# TYPE testigo_relay_chunks_stored_total counter",
        ]
        for duplicate in ("0", "1"):
            value = self.chunks_stored[duplicate]
            lines.append(f'testigo_relay_chunks_stored_total{{duplicate="{duplicate}"}} {value}')
        lines += [
            "# HELP testigo_relay_bytes_stored_total Bytes of newly stored chunks.",
            "# TYPE testigo_relay_bytes_stored_total counter",
            f"testigo_relay_bytes_stored_total {self.bytes_stored}",
            "# HELP testigo_relay_rejects_total Refused messages by reason.",
            "# TYPE testigo_relay_rejects_total counter",
        ]
        for reason in sorted(self.rejects):
            lines.append(f'testigo_relay_rejects_total{{reason="{reason}"}} {self.rejects[reason]}')
        lines += [
            "# HELP testigo_relay_receipt_seconds From a complete chunk to its receipt.",
            "# TYPE testigo_relay_receipt_seconds histogram",
        ]
        for bound, count in zip(LATENCY_BUCKETS, self._latency_buckets, strict=True):
            lines.append(f'testigo_relay_receipt_seconds_bucket{{le="{bound:g}"}} {count}')
        lines += [
            f'testigo_relay_receipt_seconds_bucket{{le="+Inf"}} {self._latency_count}',
            f"testigo_relay_receipt_seconds_sum {self._latency_sum:.6f}",
            f"testigo_relay_receipt_seconds_count {self._latency_count}",
            "# HELP testigo_relay_webrtc_sessions Open WebRTC sessions.",
            "# TYPE testigo_relay_webrtc_sessions gauge",
            f"testigo_relay_webrtc_sessions {self.webrtc_sessions}",
        ]
        return "\n".join(lines) + "\n"
