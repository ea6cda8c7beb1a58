"""Coverage-guided fuzzing (atheris) of every parser that reads untrusted bytes.

Targets: the recording reader (header + chunks, as `testigo verify` reads a file), the
relay's data-channel message parser and chunk reassembler, receipts, identity files,
public key strings, the live messages, the HTTPS JSON documents (error body, header
answer, recording list, ICE configuration, enrollment request and answer), invite links,
the relay's WebRTC offer check and metadata plaintexts. A target fails only on an
exception that is not the parser's own clear error (MalformedError / RelayError /
TestigoError).

    make fuzz                      # every target, 60 s each
    python -m bench.fuzz_parsers recording -atheris_runs=100000
"""

import contextlib
import io
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from relay_server.webrtc import admitted_offer, check_offer
    from vault.archive import verify_stream
    from vault.errors import TestigoError
    from vault.identity import decode_identity, no_passphrase
    from vault.keys import DeviceKey, RecipientKey
    from vault.verify import parse_metadata
    from vault.wire.datachannel import ChunkFrame, Reassembler, parse_message
    from vault.wire.documents import (
        EnrollAnswer,
        EnrollRequest,
        HeaderAccepted,
        IceConfig,
        RecordingList,
    )
    from vault.wire.errors import ErrorBody, RelayError
    from vault.wire.invite import InviteLink
    from vault.wire.live import parse_live_message
    from vault.wire.receipts_file import parse_receipts_file, read_receipts_file


def recording(data: bytes) -> None:
    with contextlib.suppress(TestigoError):
        verify_stream(io.BytesIO(data), workers=1)


def relay_messages(data: bytes) -> None:
    reassembler = Reassembler(1 << 20)
    for piece in data.split(b"\xff\xfe"):
        try:
            message = parse_message(piece)
            if isinstance(message, ChunkFrame):
                reassembler.feed(message)
        except RelayError:
            reassembler.reset()


def receipts(data: bytes) -> None:
    with contextlib.suppress(TestigoError):
        list(parse_receipts_file(data))
    with contextlib.suppress(TestigoError):
        read_receipts_file(data)


def live_messages(data: bytes) -> None:
    with contextlib.suppress(TestigoError):
        parse_live_message(data)


def documents(data: bytes) -> None:
    for document in (
        ErrorBody,
        HeaderAccepted,
        RecordingList,
        IceConfig,
        EnrollRequest,
        EnrollAnswer,
    ):
        with contextlib.suppress(TestigoError):
            document.parse(data)


def offers(data: bytes) -> None:
    sdp = data.decode("utf-8", "replace")
    with contextlib.suppress(RelayError):
        check_offer(sdp)
        admitted_offer(sdp, any_address=False)


def metadata(data: bytes) -> None:
    with contextlib.suppress(TestigoError):
        parse_metadata(data)


def invite_links(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    with contextlib.suppress(TestigoError):
        InviteLink.parse_fragment(text)
    with contextlib.suppress(TestigoError):
        InviteLink.parse(text)


def identity_file(data: bytes) -> None:
    with contextlib.suppress(TestigoError):
        decode_identity(data, no_passphrase)


def key_strings(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    for kind in (RecipientKey, DeviceKey):
        with contextlib.suppress(TestigoError):
            kind.parse(text)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "recording": recording,
    "relay_messages": relay_messages,
    "receipts": receipts,
    "identity_file": identity_file,
    "key_strings": key_strings,
    "live_messages": live_messages,
    "documents": documents,
    "offers": offers,
    "metadata": metadata,
    "invite_links": invite_links,
}


def seeds(name: str) -> list[bytes]:
    """Valid inputs to start from, so the fuzzer gets past the first check."""
    from vault.format import ChunkKind
    from vault.identity import (
        DeviceIdentity,
        RecipientIdentity,
        RelayIdentity,
        Role,
        encode_identity,
        generate_identity,
    )
    from vault.receipts import sign_receipt
    from vault.seal import RecordingSealer
    from vault.wire.receipts_file import encode_receipts_file

    device = DeviceIdentity.generate()
    recipient = RecipientIdentity.generate()
    sealer = RecordingSealer.start(device, [recipient.public], "video/mp4", max_chunk_size=4096)
    chunks = [
        sealer.seal(ChunkKind.INIT, b"init"),
        sealer.seal(ChunkKind.METADATA, b'{"type": "location", "lat": 1, "lon": 2}'),
        sealer.finish(),
    ]
    recording_bytes = bytes(sealer.header) + b"".join(bytes(c) for c in chunks)
    relay = RelayIdentity.generate()
    return {
        "recording": [recording_bytes],
        "relay_messages": [b"\x01\x01" + bytes(sealer.header), b"\x02" + bytes(13) + b"x"],
        "receipts": [encode_receipts_file([bytes(sign_receipt(relay, c, 1)) for c in chunks])],
        "identity_file": [encode_identity(generate_identity(Role.LAWYER), None)],
        "key_strings": [str(recipient.public).encode(), str(device.public).encode()],
        "live_messages": [
            b"\x01" + bytes(sealer.header),
            b"\x03\x00\x00\x00\x02",
            b"\x04\x01bye",
            b"\x05" + bytes(16) + bytes(8) + b"\x00\x00\x0b\xb8",
        ],
        "documents": [
            b'{"error": {"code": 8, "name": "conflict", "message": "x", "index": 3}}',
            b'{"device": "d", "recording_id": "r", "held": [[0, 4]]}',
            b'{"recordings": [{"recording_id": "r", "chunks": 1, "created_ms": 5}]}',
            b'{"ice_servers": [{"urls": ["stun:x:3478"], "username": "u", "credential": "c"}]}',
        ],
        "offers": [
            b"v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
            b"a=candidate:1 1 udp 2130706431 8.8.8.8 5000 typ host\r\n"
        ],
        "metadata": [b'{"type": "location", "lat": 1.5, "lon": 2, "deep": [[{}]]}'],
        "invite_links": [
            InviteLink(bytes(range(32)), relay.public).url("https://relay.example").encode()
        ],
    }[name]


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: python -m bench.fuzz_parsers {{{','.join(TARGETS)}}} [atheris flags]")
    name = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix=f"testigo-fuzz-{name}-") as corpus:
        for number, seed in enumerate(seeds(name)):
            (Path(corpus) / f"seed-{number}").write_bytes(seed)
        atheris.Setup([sys.argv[0], *sys.argv[2:], corpus], TARGETS[name])
        atheris.Fuzz()


if __name__ == "__main__":
    main()
