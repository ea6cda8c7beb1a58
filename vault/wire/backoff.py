"""How long to wait before the next attempt after a failure (sans-IO: it only computes).

The nominal delays start at `initial` and are multiplied by `factor` after each attempt,
up to `maximum`. With `jitter` > 0 each delay is shortened by up to that fraction of
itself, at random, so clients cut off together (a relay restart) do not all come back in
the same instant; a delay is never longer than its nominal value. `reset()` after a
success starts again from `initial`.
"""

import math
import random


class Backoff:
    """Delays between attempts; see the module docstring.

    >>> backoff = Backoff(0.25, 5.0)
    >>> [backoff.next_delay() for _ in range(7)]
    [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    """

    def __init__(
        self,
        initial: float,
        maximum: float,
        *,
        factor: float = 2.0,
        jitter: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        if not (math.isfinite(initial) and initial >= 0):
            raise ValueError(f"initial must be finite and >= 0, got {initial!r}")
        if not maximum >= initial:
            raise ValueError(f"maximum must be >= initial ({initial!r}), got {maximum!r}")
        if not (math.isfinite(factor) and factor >= 1):
            raise ValueError(f"factor must be finite and >= 1, got {factor!r}")
        if not 0 <= jitter <= 1:
            raise ValueError(f"jitter must be within 0..1, got {jitter!r}")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._rng = rng if rng is not None else random.Random()
        self._nominal = initial

    def next_delay(self) -> float:
        """The wait before the next attempt, in seconds; advances to the one after."""
        nominal = self._nominal
        self._nominal = min(nominal * self.factor, self.maximum)
        if not self.jitter:
            return nominal
        return nominal * (1 - self.jitter * self._rng.random())

    def reset(self) -> None:
        """After a success: the next delay is `initial` again."""
        self._nominal = self.initial
