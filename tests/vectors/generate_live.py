"""Write tests/vectors/live.json: the live messages a viewer reads (docs/PROTOCOL.md §12)
and a browser's first message (§12.1), which every reader (vault.wire.live here,
lib/wire/live.js in the page) must accept or reject alike.

Run from the project root:

    .venv/bin/python -m tests.vectors.generate_live

The bytes are written here by hand with struct from the spec's tables, not by vault.
"""

import json
import struct
from pathlib import Path
from typing import TypedDict, cast

from tests.vectors.kit import render_json, write_json_vectors

VECTORS_FILE = Path(__file__).with_name("live.json")
RECORDING_ID = bytes(range(16))
TOKEN = "tg-token-" + "abcdefghijklmnopqrstuvwxyz234567"[:26] * 2


class Message(TypedDict):
    hex: str
    fields: dict[str, object]


class Malformed(TypedDict):
    hex: str
    why: str


class LiveVectors(TypedDict):
    messages: list[Message]
    malformed: list[Malformed]
    auth_valid: list[dict[str, str]]
    auth_invalid: list[dict[str, str]]


def _messages() -> list[Message]:
    header = b"testigo/v1\n" + bytes(40)
    chunk = b"tgck" + bytes(170)
    return [
        {"hex": (b"\x01" + header).hex(), "fields": {"type": "header", "bytes": header.hex()}},
        {"hex": (b"\x02" + chunk).hex(), "fields": {"type": "chunk", "bytes": chunk.hex()}},
        {"hex": (b"\x03" + struct.pack(">I", 7)).hex(), "fields": {"type": "dropped", "count": 7}},
        {"hex": (b"\x04\x01" + b"relay shutting down").hex(),
         "fields": {"type": "end", "reason": 1, "text": "relay shutting down"}},
        {"hex": b"\x04\x01".hex(), "fields": {"type": "end", "reason": 1, "text": ""}},
        {"hex": (b"\x05" + struct.pack(">16sQI", RECORDING_ID, 1_795_300_000_000, 4_000)).hex(),
         "fields": {"type": "silent", "recording_id": RECORDING_ID.hex(),
                    "since_ms": 1_795_300_000_000, "silent_ms": 4_000}},
    ]  # fmt: skip


def _malformed() -> list[Malformed]:
    silent = b"\x05" + struct.pack(">16sQI", RECORDING_ID, 1, 2)
    return [
        {"hex": "", "why": "empty"},
        {"hex": "06", "why": "unknown type"},
        {"hex": "00", "why": "type 0 is no message"},
        {"hex": "01", "why": "HEADER without a header"},
        {"hex": "02", "why": "CHUNK without a chunk"},
        {"hex": "03000000", "why": "DROPPED one byte short"},
        {"hex": "030000000000", "why": "DROPPED one byte long"},
        {"hex": "04", "why": "END without its reason"},
        {"hex": "0401" + "61" * 1025, "why": "END text above 1024 bytes"},
        {"hex": silent[:-1].hex(), "why": "SILENT one byte short"},
        {"hex": (silent + b"\x00").hex(), "why": "SILENT one byte long"},
    ]


def vectors() -> dict[str, object]:
    return {
        "testigo-vectors": "live",
        "version": 1,
        "spec": "docs/PROTOCOL.md sections 12, 12.1",
        "messages": _messages(),
        "malformed": _malformed(),
        "auth_valid": [{"text": f"testigo-live-auth/1 {TOKEN}", "token": TOKEN}],
        "auth_invalid": [
            {"text": f"testigo-live-auth/1  {TOKEN}", "why": "two spaces"},
            {"text": f"testigo-live-auth/2 {TOKEN}", "why": "another version"},
            {"text": f"testigo-live-auth/1 {TOKEN} ", "why": "trailing space"},
            {"text": f"testigo-live-auth/1 {TOKEN.upper()}", "why": "upper case"},
            {"text": TOKEN, "why": "no prefix"},
            {"text": "testigo-live-auth/1 tg-token-" + "1" * 52, "why": "outside the alphabet"},
            {"text": "testigo-live-auth/1 tg-token-" + "a" * 51, "why": "a token one short"},
            {"text": "testigo-live-auth/1 ", "why": "no token"},
        ],
    }


def load() -> LiveVectors:
    return cast(LiveVectors, json.loads(VECTORS_FILE.read_text()))


def render() -> str:
    return render_json(vectors())


def main() -> None:
    write_json_vectors(VECTORS_FILE, vectors())


if __name__ == "__main__":
    main()
