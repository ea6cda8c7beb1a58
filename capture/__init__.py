"""Capture: frames from a camera, a file or a synthetic pattern, to fragmented-MP4 segments.

``sources`` (where frames come from) -> ``encoder`` (H.264 + AAC, fragmented MP4)
-> ``muxer`` + ``boxes`` (bytes cut into init segment and fragments) + ``fragment_clock``
(each fragment's times, from its packets) -> ``segments``
(what the sealer receives). ``fragmenter`` does the same for existing files, copying
H.264/AAC without re-encoding.
"""
