"""Errors raised by capture/ for media the user handed us or devices we could not open."""

from vault.errors import TestigoError


class MediaError(TestigoError, ValueError):
    """Raised when the input media or a capture device cannot be used.

    The message names the file or device and what is wrong with it. It is also a
    ``ValueError`` (as PyNaCl's exceptions are), so that callers which only know "bad
    input" can still catch it. Errors about a camera or microphone pass their own hint.
    """

    hint = "give an audio/video file that FFmpeg can read"


CAMERA_HINT = "connect a camera, or record the test pattern with --source synthetic"
MICROPHONE_HINT = "choose one with --microphone pulse:DEVICE or alsa:DEVICE, or --microphone none"
