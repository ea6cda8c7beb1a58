"""RFC 6381 media types (``video/mp4; codecs="avc1.64001f,mp4a.40.2"``) from an init segment.

The codec strings come from the sample entries the muxer actually wrote: ``avcC``
gives H.264 profile, constraint flags and level; ``esds`` gives the MPEG-4 object
type and the AAC audio object type. Sample entries this module does not know are
named by their four-character code alone.
"""

import struct

from capture import isobmff
from capture.boxes import BoxSplitter

_VIDEO_SAMPLE_ENTRY_SIZE = 78
"""SampleEntry (8) + VisualSampleEntry fields (70) before the child boxes."""
_AUDIO_SAMPLE_ENTRY_SIZE = 28
"""SampleEntry (8) + AudioSampleEntry fields (20) before the child boxes."""
_QUICKTIME_AUDIO_EXTRA = {0: 0, 1: 16, 2: 36}
"""Extra bytes after the audio fields for QuickTime sound description versions 1 and 2."""


def media_type(init_segment: bytes) -> str:
    """The RFC 6381 media type of an init segment (``ftyp`` + ``moov``)."""
    splitter = BoxSplitter()
    boxes = splitter.feed(init_segment)
    splitter.close()
    moov = next((box for box in boxes if box.type == "moov"), None)
    if moov is None:
        raise ValueError("init segment has no moov box")
    codecs: list[str] = []
    has_video = False
    for trak in isobmff.children(moov.payload, "trak"):
        hdlr = isobmff.descend(trak, "mdia", "hdlr")
        stsd = isobmff.descend(trak, "mdia", "minf", "stbl", "stsd")
        if hdlr is None or stsd is None:
            raise ValueError("trak without mdia/hdlr or mdia/minf/stbl/stsd")
        handler = isobmff.parse_hdlr_type(hdlr)
        if handler == "vide":
            has_video = True
        elif handler != "soun":
            continue
        if len(stsd) < 8:
            raise ValueError(f"stsd box too short: {len(stsd)} bytes")
        for entry_type, entry in isobmff.iter_children(stsd[8:]):
            codecs.append(_codec_string(handler, entry_type, entry))
    if not codecs:
        raise ValueError("init segment has no audio or video track")
    kind = "video" if has_video else "audio"
    return f'{kind}/mp4; codecs="{",".join(codecs)}"'


def _codec_string(handler: str, entry_type: str, entry: bytes) -> str:
    if handler == "vide":
        boxes = entry[_VIDEO_SAMPLE_ENTRY_SIZE:]
        if entry_type in ("avc1", "avc3"):
            avcc = isobmff.child(boxes, "avcC")
            if avcc is None:
                raise ValueError(f"{entry_type} sample entry has no avcC box")
            return f"{entry_type}.{avc_profile_level(avcc)}"
        return entry_type
    if len(entry) < _AUDIO_SAMPLE_ENTRY_SIZE:
        raise ValueError(f"{entry_type} audio sample entry too short: {len(entry)} bytes")
    (version,) = struct.unpack_from(">H", entry, 8)
    boxes = entry[_AUDIO_SAMPLE_ENTRY_SIZE + _QUICKTIME_AUDIO_EXTRA.get(version, 0) :]
    if entry_type == "mp4a":
        esds = isobmff.child(boxes, "esds")
        if esds is None:
            raise ValueError("mp4a sample entry has no esds box")
        return f"mp4a.{esds_object_types(esds)}"
    if entry_type == "Opus":
        return "opus"
    return entry_type


def avc_profile_level(avcc: bytes) -> str:
    """``PPCCLL`` (hex profile, constraint flags, level) from an ``avcC`` payload."""
    if len(avcc) < 4:
        raise ValueError(f"avcC box too short: {len(avcc)} bytes")
    if avcc[0] != 1:
        raise ValueError(f"avcC configurationVersion is {avcc[0]}, not 1")
    return avcc[1:4].hex()


def _descriptor(data: bytes, offset: int, tag: int) -> tuple[int, int]:
    """``(body_offset, body_length)`` of the MPEG-4 descriptor with ``tag`` at ``offset``."""
    if offset >= len(data) or data[offset] != tag:
        found = data[offset] if offset < len(data) else None
        raise ValueError(f"esds: expected descriptor tag {tag:#04x}, found {found!r}")
    offset += 1
    length = 0
    for _ in range(4):
        if offset >= len(data):
            raise ValueError("esds: descriptor length runs past the end")
        byte = data[offset]
        offset += 1
        length = (length << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    if offset + length > len(data):
        raise ValueError(f"esds: descriptor {tag:#04x} of {length} bytes runs past the end")
    return offset, length


def esds_object_types(esds: bytes) -> str:
    """``OO.A``: hex object type indication and, for AAC (0x40), the decimal audio object type.

    Just ``OO`` when there is no AudioSpecificConfig (RFC 6381 allows ``mp4a.40``).
    """
    es_offset, _ = _descriptor(esds, 4, 0x03)  # after version/flags
    if es_offset + 3 > len(esds):
        raise ValueError("esds: ES_Descriptor too short")
    flags = esds[es_offset + 2]
    offset = es_offset + 3
    if flags & 0x80:
        offset += 2  # dependsOn_ES_ID
    if flags & 0x40:
        if offset >= len(esds):
            raise ValueError("esds: URL length runs past the end")
        offset += 1 + esds[offset]  # URL
    if flags & 0x20:
        offset += 2  # OCR_ES_Id
    config_offset, config_length = _descriptor(esds, offset, 0x04)
    if config_length < 13:
        raise ValueError(f"esds: DecoderConfigDescriptor too short: {config_length} bytes")
    object_type = esds[config_offset]
    if object_type != 0x40 or config_offset + 13 >= config_offset + config_length:
        return f"{object_type:02x}"  # not AAC, or no AudioSpecificConfig to say which AAC
    info_offset, info_length = _descriptor(esds, config_offset + 13, 0x05)
    if info_length < 1:
        raise ValueError("esds: empty AudioSpecificConfig")
    audio_object_type = esds[info_offset] >> 3
    if audio_object_type == 31:
        if info_length < 2:
            raise ValueError("esds: AudioSpecificConfig too short for an escaped object type")
        audio_object_type = 32 + (((esds[info_offset] & 0x07) << 3) | (esds[info_offset + 1] >> 5))
    return f"40.{audio_object_type}"
