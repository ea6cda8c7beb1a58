"""Shared fixtures."""

from pathlib import Path

import imageio_ffmpeg
import pytest

from capture.synthetic import write_synthetic_clip


@pytest.fixture(scope="session")
def synthetic_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3 s, 320x180, 30 fps H.264 + AAC MP4 (not fragmented) with a keyframe every second."""
    path = tmp_path_factory.mktemp("media") / "synthetic.mp4"
    write_synthetic_clip(path, 3.0, 320, 180, 30)
    return path


@pytest.fixture(scope="session")
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped by imageio-ffmpeg."""
    return str(imageio_ffmpeg.get_ffmpeg_exe())
