"""RFC 6381 codec strings from avcC and esds."""

import struct
from fractions import Fraction

import pytest

from capture.codecs import avc_profile_level, esds_object_types, media_type
from capture.encoder import CaptureConfig, LiveEncoder
from capture.sources import AudioFormat, VideoFormat


def descriptor(tag: int, body: bytes, *, long_length: bool = False) -> bytes:
    if long_length:  # the 4-byte 0x80 0x80 0x80 NN form some muxers write
        return bytes([tag, 0x80, 0x80, 0x80, len(body)]) + body
    return bytes([tag, len(body)]) + body


def esds(object_type: int, audio_config: bytes, *, es_flags: int = 0, extra: bytes = b"") -> bytes:
    config = bytes([object_type, 0x15]) + b"\0" * 11 + descriptor(0x05, audio_config)
    es_body = struct.pack(">HB", 1, es_flags) + extra + descriptor(0x04, config)
    return b"\0\0\0\0" + descriptor(0x03, es_body, long_length=True)


def test_aac_lc() -> None:
    assert esds_object_types(esds(0x40, bytes([0x11, 0x90]))) == "40.2"


def test_he_aac() -> None:
    assert esds_object_types(esds(0x40, bytes([0x2B, 0x92]))) == "40.5"


def test_escaped_audio_object_type() -> None:
    # 31 (escape) then 6 bits: 42 - 32 = 10 -> 0b001010 (xHE-AAC is 42)
    first = (31 << 3) | 0b001
    second = 0b010 << 5
    assert esds_object_types(esds(0x40, bytes([first, second]))) == "40.42"


def test_other_object_type_and_optional_es_fields() -> None:
    extra = struct.pack(">H", 7) + bytes([3]) + b"url"
    assert esds_object_types(esds(0x6B, b"\0", es_flags=0xC0, extra=extra)) == "6b"


def test_aac_without_audio_specific_config() -> None:
    config = bytes([0x40, 0x15]) + b"\0" * 11
    es_body = struct.pack(">HB", 1, 0) + descriptor(0x04, config)
    assert esds_object_types(b"\0\0\0\0" + descriptor(0x03, es_body)) == "40"


def test_esds_wrong_tag() -> None:
    with pytest.raises(ValueError, match="expected descriptor tag 0x03"):
        esds_object_types(b"\0\0\0\0" + descriptor(0x04, b"\0" * 13))


def test_avcc() -> None:
    assert avc_profile_level(bytes([1, 0x64, 0x00, 0x1F, 0xFF])) == "64001f"
    with pytest.raises(ValueError, match="configurationVersion is 0"):
        avc_profile_level(bytes([0, 0x64, 0x00, 0x1F]))


def test_media_type_of_encoder_output() -> None:
    config = CaptureConfig(160, 96, 30, bitrate=200_000)
    encoder = LiveEncoder(config, VideoFormat(160, 96, Fraction(30)), AudioFormat(48_000, 1))
    encoder.close()
    assert encoder.media_type.startswith('video/mp4; codecs="avc1.64')
    assert encoder.media_type.endswith(',mp4a.40.2"')
    assert media_type(encoder.init_segment.data) == encoder.media_type


def test_media_type_needs_moov() -> None:
    with pytest.raises(ValueError, match="no moov box"):
        media_type(struct.pack(">I4s", 12, b"ftyp") + b"isom")
