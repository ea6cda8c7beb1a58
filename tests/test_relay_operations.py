"""The operator's side of a running relay process: the metrics listener."""

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from stream.demo.local_relay import LocalRelay, free_port


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_metrics_are_served_only_on_the_operators_listener(tmp_path: Path) -> None:
    port = free_port()
    with LocalRelay(tmp_path / "relay", settings=(f"metrics_listen=127.0.0.1:{port}",)) as relay:
        assert get(relay.url + "/metrics")[0] == 404
        status, text = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert "testigo_relay_webrtc_sessions 0" in text
        assert get(f"http://127.0.0.1:{port}/v1/webrtc/config")[0] == 404  # only metrics


def test_by_default_there_is_no_metrics_listener(tmp_path: Path) -> None:
    with LocalRelay(tmp_path / "relay") as relay:
        assert get(relay.url + "/metrics")[0] == 404
        assert get(relay.url + "/healthz") == (200, "ok\n")


@pytest.mark.parametrize("value", ["nowhere", "127.0.0.1:", ":9464", "127.0.0.1:70000"])
def test_a_bad_metrics_address_is_refused(value: str) -> None:
    from relay_server.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="metrics_listen"):
        Settings(metrics_listen=value)
