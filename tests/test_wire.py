"""vault/wire: the protocol's sans-IO layer. Round trips, and every rejection."""

import hashlib
import json

import pytest

from tests.vectors import generate_datachannel as dc_gen
from vault.errors import MalformedError
from vault.identity import DeviceIdentity, RelayIdentity
from vault.wire import routes
from vault.wire.datachannel import (
    ErrorMessage,
    Hello,
    Message,
    ReceiptMessage,
    Welcome,
    parse_message,
    split_chunk,
)
from vault.wire.device_proof import MINT_TOKEN_CONTEXT, REVOKE_TOKEN_CONTEXT, DeviceProof
from vault.wire.documents import (
    HeaderAccepted,
    IceConfig,
    IceServer,
    MintedToken,
    RecordingEntry,
    RecordingList,
)
from vault.wire.errors import ErrorBody, ErrorCode, RelayError
from vault.wire.live import (
    MAX_END_TEXT,
    EndReason,
    LiveChunk,
    LiveDropped,
    LiveEnd,
    LiveHeader,
    LiveMessage,
    LiveSilent,
    parse_live_message,
)
from vault.wire.live_auth import LiveAuth

# -- live messages (PROTOCOL.md §12) --


@pytest.mark.parametrize(
    ("message", "encoded"),
    [
        (LiveHeader(b"testigo/v1\n..."), b"\x01testigo/v1\n..."),
        (LiveChunk(b"\x00" * 200), b"\x02" + b"\x00" * 200),
        (LiveDropped(258), b"\x03\x00\x00\x01\x02"),
        (LiveEnd(EndReason.SHUTDOWN, "bye"), b"\x04\x01bye"),
        (
            LiveSilent(bytes(range(16)), 0x0102030405060708, 3000),
            b"\x05" + bytes(range(16)) + bytes(range(1, 9)) + b"\x00\x00\x0b\xb8",
        ),
    ],
)
def test_live_messages_round_trip(message: LiveMessage, encoded: bytes) -> None:
    assert bytes(message) == encoded
    assert parse_live_message(encoded) == message


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty message"),
        (b"\x06abc", "unknown message type 0x06"),
        (b"\x01", "HEADER is empty"),
        (b"\x02", "CHUNK is empty"),
        (b"\x03\x00\x00\x01", "DROPPED has the wrong length"),
        (b"\x03\x00\x00\x00\x01\x00", "DROPPED has the wrong length"),
        (b"\x04", "END has the wrong length"),
        (b"\x04\x01" + b"x" * (MAX_END_TEXT + 1), "END has the wrong length"),
        (b"\x05", "SILENT has the wrong length"),
        (b"\x05" + bytes(27), "SILENT has the wrong length"),
        (b"\x05" + bytes(29), "SILENT has the wrong length"),
    ],
)
def test_malformed_live_messages_are_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedError, match=reason):
        parse_live_message(data)


def test_live_silent_caps_a_very_long_silence_instead_of_failing() -> None:
    encoded = bytes(LiveSilent(bytes(16), 1, 2**40))
    assert parse_live_message(encoded) == LiveSilent(bytes(16), 1, 2**32 - 1)


def test_live_end_text_is_cut_on_a_character_boundary() -> None:
    encoded = bytes(LiveEnd(EndReason.SHUTDOWN, "é" * MAX_END_TEXT))
    assert len(encoded) <= 2 + MAX_END_TEXT
    assert parse_live_message(encoded) == LiveEnd(1, "é" * (MAX_END_TEXT // 2))


# -- the error body (PROTOCOL.md §4, §5) --


def test_error_body_round_trips_and_names_its_code() -> None:
    body = ErrorBody.of(RelayError(ErrorCode.CONFLICT, "another chunk 3", index=3))
    assert json.loads(bytes(body)) == {
        "error": {"code": 8, "name": "conflict", "message": "another chunk 3", "index": 3}
    }
    parsed = ErrorBody.parse(bytes(body))
    assert parsed == body
    error = parsed.error()
    assert (error.code, str(error), error.index) == (ErrorCode.CONFLICT, "another chunk 3", 3)


def test_error_body_without_index() -> None:
    body = ErrorBody(ErrorCode.BUSY, "too many")
    assert "index" not in json.loads(bytes(body))["error"]
    assert ErrorBody.parse(bytes(body)).index is None


def test_an_unknown_error_code_reads_as_malformed() -> None:
    data = json.dumps({"error": {"code": 999, "message": "future"}}).encode()
    assert ErrorBody.parse(data).code is ErrorCode.MALFORMED
    assert ErrorCode.of(999) is ErrorCode.MALFORMED


@pytest.mark.parametrize(
    "data",
    [
        b"<html>502 Bad Gateway</html>",
        b"[]",
        b'{"error": "nope"}',
        b'{"error": {"code": "8", "message": "x"}}',
        b'{"error": {"code": 8}}',
        b'{"error": {"code": 8, "message": 5}}',
        b'{"error": {"code": 8, "message": "x", "index": "3"}}',
        b'{"error": {"code": 8, "message": "' + b"x" * 5000 + b'"}}',
    ],
)
def test_what_is_not_an_error_body_is_rejected(data: bytes) -> None:
    with pytest.raises(MalformedError):
        ErrorBody.parse(data)


def test_every_code_has_an_error_status_and_a_distinct_name() -> None:
    assert all(400 <= code.http_status < 600 for code in ErrorCode)
    assert len({code.wire_name for code in ErrorCode}) == len(ErrorCode)


# -- JSON documents (PROTOCOL.md §4, §6) --


def test_header_accepted_round_trips() -> None:
    document = HeaderAccepted("tg-device-abc", "00" * 16, ((0, 4), (7, 7)))
    assert json.loads(bytes(document)) == {
        "device": "tg-device-abc",
        "recording_id": "00" * 16,
        "held": [[0, 4], [7, 7]],
    }
    assert HeaderAccepted.parse(bytes(document)) == document


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b'"a string"',
        b'{"device": "d", "recording_id": "r"}',
        b'{"device": 1, "recording_id": "r", "held": []}',
        b'{"device": "d", "recording_id": "r", "held": [[1]]}',
        b'{"device": "d", "recording_id": "r", "held": [[1, "2"]]}',
        b'{"device": "d", "recording_id": "r", "held": [[true, 2]]}',
    ],
)
def test_a_bad_header_answer_is_rejected(data: bytes) -> None:
    with pytest.raises(MalformedError):
        HeaderAccepted.parse(data)


def test_recording_list_round_trips() -> None:
    listing = RecordingList(
        (RecordingEntry("aa" * 16, 12, 1700), RecordingEntry("bb" * 16, 0, None))
    )
    assert RecordingList.parse(bytes(listing)) == listing


@pytest.mark.parametrize(
    "data",
    [
        b"{}",
        b'{"recordings": {}}',
        b'{"recordings": [1]}',
        b'{"recordings": [{"recording_id": "r"}]}',
        b'{"recordings": [{"recording_id": "r", "chunks": false}]}',
        b'{"recordings": [{"recording_id": "r", "chunks": 1, "created_ms": "x"}]}',
    ],
)
def test_a_bad_recording_list_is_rejected(data: bytes) -> None:
    with pytest.raises(MalformedError):
        RecordingList.parse(data)


# -- routes --


def test_routes_join_any_relay_url() -> None:
    where = {"device": "tg-device-x", "recording_id": "ab" * 16}
    expected = "https://relay.example/v1/devices/tg-device-x/recordings/" + "ab" * 16 + "/archive"
    assert routes.ARCHIVE.url("https://relay.example/", **where) == expected
    assert routes.ARCHIVE.url("https://relay.example", **where) == expected


def test_every_route_is_versioned_or_operational() -> None:
    every = [value for value in vars(routes).values() if isinstance(value, routes.Route)]
    assert len(every) == 14
    assert all(r.template.startswith(("/v1/", "/metrics", "/healthz", "/app/")) for r in every)
    assert routes.APP.path(path="phone/") == "/app/phone/"  # the browser app, not the API


def test_ice_config_round_trips() -> None:
    config = IceConfig(
        (
            IceServer(("stun:stun.example:3478",)),
            IceServer(("turn:turn.example:3478?transport=tcp",), "user", "secret"),
        )
    )
    assert json.loads(bytes(config)) == {
        "ice_servers": [
            {"urls": ["stun:stun.example:3478"]},
            {
                "urls": ["turn:turn.example:3478?transport=tcp"],
                "username": "user",
                "credential": "secret",
            },
        ]
    }
    assert IceConfig.parse(bytes(config)) == config
    assert IceConfig.parse(bytes(IceConfig())) == IceConfig()


@pytest.mark.parametrize(
    "data",
    [
        b"{}",
        b'{"ice_servers": [{"urls": []}]}',
        b'{"ice_servers": [{"urls": [3]}]}',
        b'{"ice_servers": ["stun:x"]}',
        b'{"ice_servers": [{"urls": ["stun:x"], "username": 1}]}',
    ],
)
def test_a_bad_ice_config_is_rejected(data: bytes) -> None:
    with pytest.raises(MalformedError):
        IceConfig.parse(data)


# -- the shared data channel vectors (tests/vectors/datachannel.json), also run by the page --

DC_VECTORS = dc_gen.load()


def test_the_datachannel_vector_file_is_what_the_generator_writes() -> None:
    assert dc_gen.VECTORS_FILE.read_text() == dc_gen.render()


def _fields(message: Message) -> dict[str, object]:
    if isinstance(message, Welcome):
        return {
            "type": "welcome",
            "more": message.more,
            "ranges": [list(r) for r in message.ranges],
        }
    if isinstance(message, ReceiptMessage):
        return {"type": "receipt", "duplicate": message.duplicate, "receipt": message.receipt.hex()}
    assert isinstance(message, ErrorMessage)
    return {"type": "error", "code": message.code, "index": message.index,
            "fatal": message.fatal, "message": message.message}  # fmt: skip


@pytest.mark.parametrize("case", DC_VECTORS["from_relay"], ids=lambda c: c["name"])
def test_relay_message_vectors_parse(case: dc_gen.RelayMessage) -> None:
    message = parse_message(bytes.fromhex(case["hex"]))
    assert _fields(message) == case["expect"]
    assert bytes(message) == bytes.fromhex(case["hex"])


@pytest.mark.parametrize("case", DC_VECTORS["malformed"], ids=lambda c: c["why"])
def test_malformed_relay_message_vectors_are_rejected(case: dc_gen.Malformed) -> None:
    with pytest.raises(RelayError) as raised:
        parse_message(bytes.fromhex(case["hex"]))
    assert raised.value.code is ErrorCode.MALFORMED


def test_the_client_message_vectors_are_what_vault_writes() -> None:
    to_relay = DC_VECTORS["to_relay"]
    header = dc_gen.pattern(to_relay["header"]["length"], to_relay["header"]["step"])
    assert hashlib.sha256(bytes(Hello(header))).hexdigest() == to_relay["hello_sha256"]
    chunk = dc_gen.pattern(to_relay["chunk"]["length"], to_relay["chunk"]["step"])
    frames = [bytes(f) for f in split_chunk(to_relay["chunk"]["index"], chunk)]
    assert [{"length": len(f), "sha256": hashlib.sha256(f).hexdigest()} for f in frames] == (
        to_relay["frames"]
    )


def test_the_live_auth_message_parser_is_strict() -> None:
    token = "tg-token-" + "b" * 52
    assert LiveAuth.parse(f"testigo-live-auth/1 {token}").token == token
    for text in (
        f"testigo-live-auth/1  {token}",
        f"testigo-live-auth/2 {token}",
        f"testigo-live-auth/1 {token} ",
        f"testigo-live-auth/1 {token.upper()}",
        f"TESTIGO-LIVE-AUTH/1 {token}",
        "testigo-live-auth/1 tg-token-" + "1" * 52,
    ):
        with pytest.raises(MalformedError):
            LiveAuth.parse(text)


def test_a_minted_token_document_is_parsed_strictly() -> None:
    good = MintedToken("tg-token-" + "a" * 52, "0a1b2c3d")
    assert MintedToken.parse(good.to_json()) == good
    for bad in (
        b'{"token": "tg-token-short", "token_id": "0a1b2c3d"}',
        b'{"token": "tg-token-' + b"a" * 52 + b'", "token_id": "0A1B2C3D"}',
        b'{"token_id": "0a1b2c3d"}',
        b"[]",
    ):
        with pytest.raises(MalformedError):
            MintedToken.parse(bad)


def test_device_proofs_are_bound_to_their_purpose_and_subject() -> None:
    device = DeviceIdentity.generate()
    relay_key = RelayIdentity.generate().public
    proof = DeviceProof.sign(
        device, relay_key, 1_000, purpose=REVOKE_TOKEN_CONTEXT, subject=b"0a1b2c3d"
    )
    assert proof.verify(relay_key, purpose=REVOKE_TOKEN_CONTEXT, subject=b"0a1b2c3d")
    assert not proof.verify(relay_key, purpose=REVOKE_TOKEN_CONTEXT, subject=b"ffffffff")
    assert not proof.verify(relay_key, purpose=MINT_TOKEN_CONTEXT)
    assert not proof.verify(relay_key)  # not a TURN login's
