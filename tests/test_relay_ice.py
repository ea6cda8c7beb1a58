"""The relay offers WebRTC only on the address it serves on."""

import aioice.ice
import pytest

from relay_server.ice_addresses import restrict_host_candidates


def test_a_specific_address_is_the_only_candidate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", aioice.ice.get_host_addresses)
    assert restrict_host_candidates("127.0.0.1")
    assert aioice.ice.get_host_addresses(True, True) == ["127.0.0.1"]
    assert aioice.ice.get_host_addresses(False, True) == []


def test_wildcards_and_names_leave_aioice_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    original = aioice.ice.get_host_addresses
    monkeypatch.setattr(aioice.ice, "get_host_addresses", original)
    for host in ("0.0.0.0", "::", "relay.example"):  # noqa: S104
        assert not restrict_host_candidates(host)
    assert aioice.ice.get_host_addresses is original
