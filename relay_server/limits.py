"""Per-device hourly byte budgets (setting `max_device_bytes_per_hour`)."""

from collections.abc import Callable

HOUR_MS = 3_600_000


class HourlyBudget:
    """Bytes each device may still upload in the current clock hour."""

    def __init__(self, limit: int, clock_ms: Callable[[], int]) -> None:
        self.limit = limit
        self._clock_ms = clock_ms
        self._hour = -1
        self._used: dict[bytes, int] = {}

    def _roll(self) -> None:
        hour = self._clock_ms() // HOUR_MS
        if hour != self._hour:
            self._hour = hour
            self._used.clear()

    def allows(self, device: bytes, size: int) -> bool:
        self._roll()
        return self._used.get(device, 0) + size <= self.limit

    def charge(self, device: bytes, size: int) -> None:
        self._roll()
        self._used[device] = self._used.get(device, 0) + size
