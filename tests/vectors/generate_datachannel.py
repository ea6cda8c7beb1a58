"""Write tests/vectors/datachannel.json: data channel messages (docs/PROTOCOL.md §3.2).

Run from the project root:

    .venv/bin/python -m tests.vectors.generate_datachannel

`from_relay` holds the messages a client reads (WELCOME, RECEIPT, ERROR), each with the
fields it carries, and `malformed` what a client MUST NOT accept from the relay (each with
why). `to_relay` fixes what a client writes: a HELLO for a header and the CHUNK frames of
a 150 000-byte chunk. The messages are made here by hand with struct, from the spec's
layout, not by vault/wire; the receipt is signed with a fixed relay seed (Ed25519 is
deterministic), so the file is the same at every run (tests/test_wire.py checks that).
"""

import hashlib
import json
import struct
from pathlib import Path
from typing import TypedDict, cast

from tests.vectors.kit import render_json, write_json_vectors
from vault.identity import RelayIdentity

VECTORS_FILE = Path(__file__).with_name("datachannel.json")
MAX_MESSAGE_SIZE = 65536
MAX_INDEX = 2**31 - 1
NO_INDEX = 0xFFFFFFFF
WELCOME, RECEIPT, ERROR = 0x81, 0x82, 0x83
CHUNK_LENGTH = 150_000
CHUNK_INDEX = 7
FRAME_DATA = MAX_MESSAGE_SIZE - 13
HEADER_LENGTH = 700


def _fixed(label: str) -> bytes:
    return hashlib.sha256(b"testigo test vector datachannel " + label.encode()).digest()


RELAY = RelayIdentity(_fixed("relay"))


def pattern(length: int, step: int) -> bytes:
    """The fixed bytes every implementation makes alike: byte i is (i * step + 1) mod 256."""
    return bytes((i * step + 1) % 256 for i in range(length))


def receipt() -> bytes:
    signed = struct.pack(
        ">4s16sI32sQ", b"tgrc", _fixed("id")[:16], 3, _fixed("hash"), 1_795_300_000_000
    )
    signature = RELAY.sign(b"testigo/v1 receipt" + signed[4:])
    return signed + RELAY.public.raw + signature


def welcome(more: int, ranges: list[tuple[int, int]], count: int | None = None) -> bytes:
    fields = struct.pack(">BBH", WELCOME, more, len(ranges) if count is None else count)
    return fields + b"".join(struct.pack(">II", a, b) for a, b in ranges)


def error(code: int, index: int, fatal: int, text: bytes) -> bytes:
    return struct.pack(">BHIB", ERROR, code, index, fatal) + text


def _from_relay() -> list[dict[str, object]]:
    r = receipt()
    cases: list[tuple[str, bytes, dict[str, object]]] = [
        ("WELCOME, no range", welcome(0, []), {"type": "welcome", "more": False, "ranges": []}),
        (
            "WELCOME, three ranges, more to come",
            welcome(1, [(0, 0), (2, 5), (7, MAX_INDEX)]),
            {"type": "welcome", "more": True, "ranges": [[0, 0], [2, 5], [7, MAX_INDEX]]},
        ),
        (
            "RECEIPT",
            bytes([RECEIPT, 0]) + r,
            {"type": "receipt", "duplicate": False, "receipt": r.hex()},
        ),
        (
            "RECEIPT, duplicate",
            bytes([RECEIPT, 1]) + r,
            {"type": "receipt", "duplicate": True, "receipt": r.hex()},
        ),
        (
            "ERROR about a chunk, not fatal",
            error(8, 42, 0, b"a different chunk for a stored index"),
            {
                "type": "error",
                "code": 8,
                "index": 42,
                "fatal": False,
                "message": "a different chunk for a stored index",
            },
        ),
        (
            "ERROR about no chunk, fatal",
            error(3, NO_INDEX, 1, b"unknown device"),
            {"type": "error", "code": 3, "index": None, "fatal": True, "message": "unknown device"},
        ),
        (
            "ERROR, index 0",
            error(7, 0, 0, b""),
            {"type": "error", "code": 7, "index": 0, "fatal": False, "message": ""},
        ),
        (
            "ERROR, non-ASCII UTF-8 text",
            error(12, NO_INDEX, 0, "stockage plein \u2014 r\u00e9essayez \U0001f4be".encode()),
            {
                "type": "error",
                "code": 12,
                "index": None,
                "fatal": False,
                "message": "stockage plein \u2014 r\u00e9essayez \U0001f4be",
            },
        ),
        (
            "ERROR, 1 024 bytes of text (the most)",
            error(1, NO_INDEX, 1, b"x" * 1024),
            {"type": "error", "code": 1, "index": None, "fatal": True, "message": "x" * 1024},
        ),
        (
            "ERROR, a code this client does not know",
            error(999, 5, 0, b"new"),
            {"type": "error", "code": 999, "index": 5, "fatal": False, "message": "new"},
        ),
    ]
    return [{"name": n, "hex": m.hex(), "expect": e} for n, m, e in cases]


def _malformed() -> list[dict[str, str]]:
    r = receipt()
    cases = [
        ("empty", b""),
        ("unknown type 0x00", b"\x00\x00\x00\x00"),
        ("unknown type 0x7f", b"\x7f"),
        ("unknown type 0x84", b"\x84\x00"),
        ("unknown type 0xff", b"\xff" * 8),
        ("WELCOME of 1 byte", bytes([WELCOME])),
        ("WELCOME of 3 bytes", bytes([WELCOME, 0, 0])),
        ("WELCOME, more = 2", welcome(2, [])),
        ("WELCOME, one range announced, none there", welcome(0, [], count=1)),
        ("WELCOME, no range announced, one there", welcome(0, [(1, 2)], count=0)),
        ("WELCOME, a byte too many", welcome(0, [(1, 2)]) + b"\x00"),
        ("WELCOME, a byte short", welcome(0, [(1, 2)])[:-1]),
        ("WELCOME, first > last", welcome(0, [(5, 4)])),
        ("WELCOME, last > MAX_INDEX", welcome(0, [(0, MAX_INDEX + 1)])),
        ("RECEIPT of 2 bytes", bytes([RECEIPT, 0])),
        ("RECEIPT, a byte short", bytes([RECEIPT, 0]) + r[:-1]),
        ("RECEIPT, a byte too many", bytes([RECEIPT, 0]) + r + b"\x00"),
        ("RECEIPT, duplicate = 2", bytes([RECEIPT, 2]) + r),
        ("ERROR of 7 bytes", error(1, NO_INDEX, 0, b"")[:-1]),
        ("ERROR of 1 byte", bytes([ERROR])),
        ("ERROR, 1 025 bytes of text", error(1, NO_INDEX, 0, b"x" * 1025)),
        ("ERROR, fatal = 2", error(1, NO_INDEX, 2, b"")),
        ("ERROR, fatal = 0xff", error(1, NO_INDEX, 0xFF, b"x")),
        ("ERROR text with byte 0xff", error(1, NO_INDEX, 0, b"bad \xff")),
        ("ERROR text, an overlong NUL", error(1, NO_INDEX, 0, b"\xc0\x80")),
        ("ERROR text, a UTF-16 surrogate", error(1, NO_INDEX, 0, b"\xed\xa0\x80")),
        ("ERROR text, a cut-off character", error(1, NO_INDEX, 0, b"\xe2\x82")),
        ("ERROR text, above U+10FFFF", error(1, NO_INDEX, 0, b"\xf4\x90\x80\x80")),
        ("65 537 bytes", error(1, NO_INDEX, 0, b"x" * 1024) + bytes(MAX_MESSAGE_SIZE + 1 - 1032)),
    ]
    return [{"why": why, "hex": message.hex()} for why, message in cases]


def _to_relay() -> dict[str, object]:
    header = pattern(HEADER_LENGTH, 3)
    chunk = pattern(CHUNK_LENGTH, 7)
    frames = []
    for offset in range(0, CHUNK_LENGTH, FRAME_DATA):
        data = chunk[offset : offset + FRAME_DATA]
        frame = struct.pack(">BIII", 0x02, CHUNK_INDEX, CHUNK_LENGTH, offset) + data
        frames.append({"length": len(frame), "sha256": hashlib.sha256(frame).hexdigest()})
    return {
        "header": {"length": HEADER_LENGTH, "step": 3},
        "hello_sha256": hashlib.sha256(bytes([0x01, 0x01]) + header).hexdigest(),
        "chunk": {"index": CHUNK_INDEX, "length": CHUNK_LENGTH, "step": 7},
        "chunk_sha256": hashlib.sha256(chunk).hexdigest(),
        "frames": frames,
    }


class RelayMessage(TypedDict):
    name: str
    hex: str
    expect: dict[str, object]


class Malformed(TypedDict):
    why: str
    hex: str


class Pattern(TypedDict):
    length: int
    step: int


class PatternChunk(Pattern):
    index: int


class Frame(TypedDict):
    length: int
    sha256: str


class ToRelay(TypedDict):
    header: Pattern
    hello_sha256: str
    chunk: PatternChunk
    chunk_sha256: str
    frames: list[Frame]


class DatachannelVectors(TypedDict):
    from_relay: list[RelayMessage]
    malformed: list[Malformed]
    to_relay: ToRelay


def load() -> DatachannelVectors:
    """The vector file as written."""
    return cast(DatachannelVectors, json.loads(VECTORS_FILE.read_text()))


def vectors() -> dict[str, object]:
    return {
        "testigo-vectors": "datachannel",
        "version": 1,
        "spec": "docs/PROTOCOL.md section 3.2",
        "pattern": "byte i of a patterned field is (i * step + 1) mod 256",
        "relay_seed_hex": RELAY.secret_bytes().hex(),
        "from_relay": _from_relay(),
        "malformed": _malformed(),
        "to_relay": _to_relay(),
    }


def render() -> str:
    return render_json(vectors())


def main() -> None:
    write_json_vectors(VECTORS_FILE, vectors())


if __name__ == "__main__":
    main()
