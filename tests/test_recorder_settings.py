"""The recorder's settings table: one declaration, checked by the encoder, documented."""

import dataclasses
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from capture.encoder import CaptureConfig
from capture.settings import RECORDER_SETTING, RECORDER_SETTINGS, SEAL_FRAGMENT_SECONDS
from cli import main

ROOT = Path(__file__).resolve().parent.parent


def documented_rows() -> dict[str, tuple[str, str, str]]:
    """name -> (default, allowed, option) of the README's recorder settings table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Recorder settings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(
        r"^\| `([a-z0-9_]+)` \| ([^|]*) \| ([^|]*) \| ([^|]*) \|", section, re.MULTILINE
    )
    return {name: (d.strip(), a.strip(), o.strip()) for name, d, a, o in rows}


def test_every_setting_is_a_capture_config_field_with_its_default() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(CaptureConfig)}
    assert {s.name for s in RECORDER_SETTINGS} == set(fields)
    for setting in RECORDER_SETTINGS:
        assert fields[setting.name] == setting.default, setting.name
        assert setting.help.strip()
        setting.check(setting.default)


def test_the_readme_table_matches_the_code() -> None:
    documented = documented_rows()
    assert set(documented) == {s.name for s in RECORDER_SETTINGS}
    for setting in RECORDER_SETTINGS:
        default = "(none)" if setting.default is None else f"`{setting.default}`"
        option = f"`{setting.option}`" if setting.option else "—"
        assert documented[setting.name] == (default, setting.range_text, option), setting.name


@pytest.mark.parametrize(
    ("arguments", "accepted"),
    [
        (["--fps", "240"], True),
        (["--fps", "241"], False),
        (["--fragment-seconds", "60"], True),
        (["--fragment-seconds", "61"], False),
        (["--fragment-seconds", "0.2"], False),
        (["--bitrate", "9999"], False),
        (["--keyframe-interval", "0"], False),
        (["--resolution", "1920x1080"], True),
        (["--resolution", "161x120"], False),
        (["--resolution", "8194x720"], False),
    ],
)
def test_record_accepts_exactly_what_the_encoder_does(
    tmp_path: Path, arguments: list[str], accepted: bool
) -> None:
    """Past its options, record stops at the empty contact book (exit 1), not at usage (2)."""
    result = CliRunner().invoke(main, ["record", "--home", str(tmp_path), "-o", "s", *arguments])
    assert result.exit_code == (1 if accepted else 2), result.output
    if accepted:
        assert "nobody to seal to" in result.stderr
    else:
        assert result.stderr.startswith("testigo: error: invalid value for")


def test_seal_keeps_1_s_fragments_and_record_takes_the_table_default() -> None:
    """A file already on disk has no loss window or live delay to shorten."""

    def default(command: str) -> object:
        params = main.commands[command].params
        return next(p.default for p in params if p.name == "fragment_seconds")

    assert default("seal") == SEAL_FRAGMENT_SECONDS == 1.0
    assert default("record") == RECORDER_SETTING["fragment_seconds"].default
