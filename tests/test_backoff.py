"""The one backoff rule shared by the uploader, the watcher and the relay's alerts."""

import math
import random

import pytest

from vault.wire.backoff import Backoff


def delays(backoff: Backoff, count: int) -> list[float]:
    return [backoff.next_delay() for _ in range(count)]


def test_delays_double_up_to_the_maximum_without_jitter() -> None:
    assert delays(Backoff(0.25, 5.0), 8) == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_factor_sets_the_growth() -> None:
    assert delays(Backoff(1.0, 100.0, factor=3.0), 5) == [1.0, 3.0, 9.0, 27.0, 81.0]
    assert delays(Backoff(2.0, 10.0, factor=1.0), 3) == [2.0, 2.0, 2.0]


def test_no_maximum_means_exact_doubling_for_ever() -> None:
    assert delays(Backoff(2.0, math.inf), 4) == [2.0, 4.0, 8.0, 16.0]


def test_reset_starts_again_from_initial() -> None:
    backoff = Backoff(0.5, 10.0)
    assert delays(backoff, 3) == [0.5, 1.0, 2.0]
    backoff.reset()
    assert delays(backoff, 2) == [0.5, 1.0]


def test_jitter_shortens_each_delay_by_at_most_its_fraction() -> None:
    backoff = Backoff(0.25, 5.0, jitter=0.5, rng=random.Random(10))
    nominal = [0.25, 0.5, 1.0, 2.0, 4.0, 5.0] + [5.0] * 200
    drawn = delays(backoff, len(nominal))
    for delay, limit in zip(drawn, nominal, strict=True):
        assert limit * 0.5 <= delay <= limit
    assert len(set(drawn[6:])) > 100  # capped delays still differ from client to client


def test_jitter_is_drawn_from_the_given_generator() -> None:
    first = delays(Backoff(1.0, 8.0, jitter=0.3, rng=random.Random(7)), 6)
    again = delays(Backoff(1.0, 8.0, jitter=0.3, rng=random.Random(7)), 6)
    other = delays(Backoff(1.0, 8.0, jitter=0.3, rng=random.Random(8)), 6)
    assert first == again
    assert first != other
    expected_rng = random.Random(7)
    assert first[0] == pytest.approx(1.0 * (1 - 0.3 * expected_rng.random()))


def test_zero_initial_delay_stays_zero() -> None:
    assert delays(Backoff(0.0, math.inf), 3) == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("initial", "maximum", "factor", "jitter", "message"),
    [
        (-1.0, 1.0, 2.0, 0.0, "initial must be finite and >= 0"),
        (math.nan, 1.0, 2.0, 0.0, "initial must be finite and >= 0"),
        (2.0, 1.0, 2.0, 0.0, r"maximum must be >= initial \(2.0\)"),
        (1.0, 2.0, 0.5, 0.0, "factor must be finite and >= 1"),
        (1.0, 2.0, 2.0, 1.5, "jitter must be within 0..1"),
        (1.0, 2.0, 2.0, -0.1, "jitter must be within 0..1"),
    ],
)
def test_bad_parameters_are_refused(
    initial: float, maximum: float, factor: float, jitter: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(initial, maximum, factor=factor, jitter=jitter)
