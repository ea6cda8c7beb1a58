"""Live viewers are capped in all, per device and per token (relay_server/live.py)."""

import pytest

from relay_server.live import HubFull, LiveHub

DEVICE_A, DEVICE_B = b"a" * 32, b"b" * 32
TOKEN_1, TOKEN_2, TOKEN_3 = b"1" * 32, b"2" * 32, b"3" * 32


def test_one_device_cannot_take_every_viewer_slot() -> None:
    hub = LiveHub(queue_bytes=1024, max_viewers=10, max_per_device=2, max_per_holder=10)
    hub.subscribe(DEVICE_A, TOKEN_1)
    hub.subscribe(DEVICE_A, TOKEN_2)
    with pytest.raises(HubFull):
        hub.subscribe(DEVICE_A, TOKEN_3)
    hub.subscribe(DEVICE_B, TOKEN_3)  # another device's contact still gets in
    assert hub.viewers(DEVICE_A) == 2


def test_one_token_cannot_open_many_viewers_and_a_closed_one_frees_its_place() -> None:
    hub = LiveHub(queue_bytes=1024, max_viewers=10, max_per_device=10, max_per_holder=2)
    first = hub.subscribe(DEVICE_A, TOKEN_1)
    hub.subscribe(DEVICE_A, TOKEN_1)
    with pytest.raises(HubFull):
        hub.subscribe(DEVICE_A, TOKEN_1)
    hub.subscribe(DEVICE_A, TOKEN_2)  # the device's other contacts are not affected
    hub.unsubscribe(first)
    hub.subscribe(DEVICE_A, TOKEN_1)


def test_the_global_cap_still_holds() -> None:
    hub = LiveHub(queue_bytes=1024, max_viewers=2, max_per_device=5, max_per_holder=5)
    hub.subscribe(DEVICE_A, TOKEN_1)
    hub.subscribe(DEVICE_B, TOKEN_2)
    with pytest.raises(HubFull):
        hub.subscribe(DEVICE_B, TOKEN_3)
