"""Microphone input through FFmpeg's device layer, joined to a camera-like video source.

The test uses FFmpeg's `lavfi` input device (a generated 440 Hz tone) in place of
`pulse`/`alsa`: the same PyAV input path, with no sound card needed.
"""

import io
import itertools

import av
import numpy as np
import pytest

from capture.encoder import CaptureConfig, encode_source
from capture.errors import MediaError
from capture.microphone import CameraWithMicrophone, MicrophoneSource
from capture.sources import SyntheticSource

TONE = "sine=frequency=440:sample_rate=48000:duration=2"


def test_microphone_and_camera_are_encoded_together() -> None:
    microphone = MicrophoneSource(TONE, backend="lavfi")
    camera = SyntheticSource(320, 240, 15, seconds=2.0, realtime=False, audio=False)
    source = CameraWithMicrophone(camera, microphone)
    config = CaptureConfig(width=320, height=240, fps=15, bitrate=300_000)
    data = b"".join(segment.data for segment in encode_source(source, config))
    with av.open(io.BytesIO(data), mode="r") as container:
        assert len(container.streams.audio) == 1
        samples = [frame.to_ndarray() for frame in container.decode(audio=0)]
    audio = np.concatenate([s.reshape(-1) for s in samples])
    assert len(audio) >= 48_000 * 1.8  # about 2 s of sound
    spectrum = np.abs(np.fft.rfft(audio[:48_000]))
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)  # 1 Hz per bin over 1 s


def test_microphone_frames_are_restamped_by_sample_count() -> None:
    microphone = MicrophoneSource(TONE, backend="lavfi")
    frames = [f for f in microphone.frames() if isinstance(f, av.AudioFrame)]
    assert frames[0].pts == 0
    for previous, frame in itertools.pairwise(frames):
        assert previous.pts is not None
        assert frame.pts == previous.pts + previous.samples


def test_missing_microphone_is_a_clear_error() -> None:
    with pytest.raises(MediaError, match="no microphone at alsa:hw:99"):
        MicrophoneSource("hw:99", backend="alsa")
