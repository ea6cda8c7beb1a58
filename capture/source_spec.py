"""Which frame source a `--source` spec names: a camera (with its microphone), the
synthetic test pattern, or a media file."""

from pathlib import Path

from capture.microphone import CameraWithMicrophone, MicrophoneSource, open_default_microphone
from capture.sources import CameraSource, FileSource, FrameSource, SyntheticSource
from vault.errors import TestigoError


def open_source(
    spec: str, width: int, height: int, fps: int, microphone: str | None
) -> FrameSource:
    """camera | camera:N | camera:/dev/videoN | synthetic | a media file path.

    A camera gets the microphone too: microphone None means the system default if there
    is one, "none" means video only, "pulse:DEVICE" / "alsa:DEVICE" a given device.
    """
    if spec == "synthetic":
        return SyntheticSource(width, height, fps, realtime=True)
    if spec == "camera" or spec.startswith("camera:"):
        device = spec.partition(":")[2] or "0"
        camera = CameraSource(int(device) if device.isdigit() else device, width, height, fps)
        audio = _open_microphone(microphone)
        return camera if audio is None else CameraWithMicrophone(camera, audio)
    path = Path(spec)
    if not path.exists():
        raise TestigoError(
            f"source {spec!r} is not camera, synthetic or an existing file",
            hint="use --source camera, --source synthetic or --source PATH",
        )
    return FileSource(path)


def _open_microphone(spec: str | None) -> MicrophoneSource | None:
    if spec == "none":
        return None
    if spec is None:
        return open_default_microphone()
    backend, _, device = spec.partition(":")
    return MicrophoneSource(device or "default", backend)
