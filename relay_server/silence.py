"""Per-key silence timers on the event loop (alerts and live viewing, PROTOCOL.md §12, §13).

`Silences.touch(key)` says something arrived for key; once `seconds` pass with no touch,
`on_silent(key, silent_s)` is called, once, and key is forgotten (a later touch watches it
again). One `loop.call_later` handle per key: a touch only records the time (no timer is
re-armed per chunk); a timer that fires early re-arms for what is left. Nothing polls.
`seconds` 0 turns it off. `close()` cancels every timer (shutdown).
"""

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from relay_server.logs import log_event

K = TypeVar("K", bound=Hashable)
EARLY_S = 0.001  # a timer this close to its deadline counts as due


@dataclass
class _Watched:
    last: float  # loop.time() of the last touch
    handle: asyncio.TimerHandle


class Silences(Generic[K]):
    """See the module docstring. At most max_keys keys are watched (oldest dropped)."""

    def __init__(
        self, seconds: float, on_silent: Callable[[K, float], None], *, max_keys: int
    ) -> None:
        self._seconds = seconds
        self._on_silent = on_silent
        self._max_keys = max_keys
        self._watched: OrderedDict[K, _Watched] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._seconds > 0

    def __contains__(self, key: K) -> bool:
        return key in self._watched

    def __len__(self) -> int:
        return len(self._watched)

    def touch(self, key: K) -> None:
        """Data arrived for key: its silence starts (again) now."""
        if not self.enabled:
            return
        loop = asyncio.get_running_loop()
        watched = self._watched.get(key)
        if watched is not None:
            watched.last = loop.time()
            self._watched.move_to_end(key)
            return
        handle = loop.call_later(self._seconds, self._due, key)
        self._watched[key] = _Watched(loop.time(), handle)
        while len(self._watched) > self._max_keys:
            _key, oldest = self._watched.popitem(last=False)
            oldest.handle.cancel()

    def forget(self, key: K) -> None:
        """Stop watching key (it ended)."""
        watched = self._watched.pop(key, None)
        if watched is not None:
            watched.handle.cancel()

    def _due(self, key: K) -> None:
        watched = self._watched.get(key)
        if watched is None:
            return
        loop = asyncio.get_running_loop()
        silent = loop.time() - watched.last
        left = self._seconds - silent
        if left > EARLY_S:
            watched.handle = loop.call_later(left, self._due, key)
            return
        del self._watched[key]
        try:
            self._on_silent(key, silent)
        except Exception as error:  # a timer callback must never break the loop
            log_event(logging.ERROR, "silence.failed", error=type(error).__name__)

    def close(self) -> None:
        for watched in self._watched.values():
            watched.handle.cancel()
        self._watched.clear()
