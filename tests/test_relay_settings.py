"""The relay's one settings table: validated, and documented in docs/PROTOCOL.md and README."""

import re
from pathlib import Path

import pytest

from relay_server.settings import SETTINGS, S3Location, Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = {"docs/PROTOCOL.md": "## 9. Settings", "README.md": "## Relay settings"}


def documented_settings(document: str = "docs/PROTOCOL.md") -> dict[str, str]:
    """name -> default column of the settings table in a document's settings section."""
    text = (ROOT / document).read_text(encoding="utf-8")
    section = text.split(DOCUMENTS[document], 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]*) \|", section, re.MULTILINE)
    return {name: default.strip() for name, default in rows}


@pytest.mark.parametrize("document", sorted(DOCUMENTS))
def test_every_setting_is_documented_with_its_default(document: str) -> None:
    documented = documented_settings(document)
    for setting in SETTINGS:
        assert setting.name in documented, f"{setting.name} missing from {document}"
        shown = documented[setting.name]
        expected = "(empty)" if setting.default == "" else f"`{setting.default}`"
        assert shown == expected, f"{setting.name}: docs say {shown}, code says {expected}"
    assert set(documented) == {s.name for s in SETTINGS}, "docs list a setting that is gone"


def test_every_setting_has_help_and_a_valid_default() -> None:
    assert len(SETTINGS) >= 15
    for setting in SETTINGS:
        assert setting.help.strip()
        setting.check(setting.default)
    assert Settings().as_dict() == {s.name: s.default for s in SETTINGS}


def test_from_strings_converts_by_type() -> None:
    settings = Settings.from_strings(
        {"port": "9000", "session_idle_seconds": "2.5", "storage": "s3://bucket/some/prefix"}
    )
    assert settings.port == 9000
    assert settings.session_idle_seconds == 2.5
    assert settings.storage_location == S3Location("bucket", "some/prefix/")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"port": "seventy"}, "not an integer"),
        ({"port": "70000"}, "at most"),
        ({"max_chunk_bytes": "10"}, "at least"),
        ({"log_level": "loud"}, "one of"),
        ({"no_such_setting": "1"}, "unknown setting"),
        ({"storage": "s3://"}, "s3://bucket/prefix"),
        ({"ice_servers": "http://example.org"}, "stun:/turn:"),
        ({"session_idle_seconds": "soon"}, "not a number"),
    ],
)
def test_invalid_values_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_strings(values)


def test_keyword_construction_is_validated_too() -> None:
    with pytest.raises(SettingsError, match="max_webrtc_sessions"):
        Settings(max_webrtc_sessions=-1)
    assert Settings(session_idle_seconds=3).session_idle_seconds == 3.0
    assert Settings().replace(port=1234).port == 1234
