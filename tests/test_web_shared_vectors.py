"""The other vector sets through the JavaScript implementation, in a real Chromium.

tests/test_web_vectors.py runs the recordings; this module runs the rest, each with the
outcome the Python implementation gives (its own tests run the same files):

* invite links (tests/vectors/invites.json, PROTOCOL.md §15) through phone/invite.js;
* key strings (tests/vectors/keys.json, FORMAT.md §2.1, §2.2) through lib/keys.js;
* data channel messages (tests/vectors/datachannel.json, PROTOCOL.md §3.2) through
  lib/wire/datachannel.js, and the frames it writes back through vault.wire.datachannel;
* the reaction to every refusal (PROTOCOL.md §14) of lib/wire/errors.js against the one
  stream/phone/upload_machine.py takes, found by driving that machine;
* receipts (PROTOCOL.md §2) through lib/receipts.js against vault.receipts;
* the fMP4 splitter (phone/fmp4_split.js) fed in arbitrary pieces.

The page is loaded once, from a real relay process, as a phone loads it.
"""

import base64
import hashlib
import json
import random
import struct
from typing import Final, TypedDict, cast

import pytest

from stream.demo.local_relay import LocalRelay
from stream.phone.upload_machine import Close, Connect, LinkKind, Send, UploadMachine
from tests.browser import chromium_or_skip, chromium_page
from tests.vectors import generate_datachannel as dc_gen
from tests.vectors import generate_invites as invites_gen
from tests.vectors import generate_keys as keys_gen
from vault.errors import MalformedError
from vault.format import HEADER_MAX_SIZE
from vault.identity import RelayIdentity
from vault.keys import DeviceKey, PublicKey, RecipientKey, RelayKey
from vault.receipts import Receipt
from vault.wire.datachannel import ChunkFrame, Hello, Reassembler, parse_message, split_chunk
from vault.wire.errors import ErrorCode, RelayError

PARSERS: Final[dict[str, type[PublicKey]]] = {
    "recipient": RecipientKey, "device": DeviceKey, "relay": RelayKey,
}  # fmt: skip


class InvalidFragment(TypedDict):
    fragment: str
    why: str


class InviteVectors(TypedDict):
    """What this module reads of tests/vectors/invites.json."""

    secret_hex: str
    relay: str
    fragment: str
    link: str
    also_valid_fragments: list[str]
    invite_seed_hex: str
    invite_public_hex: str
    request: dict[str, str]
    request_signed_for_other_relay: dict[str, str]
    invalid_fragments: list[InvalidFragment]


Outcome = dict[str, object]  # what the page made of one input, or {"error", "message", ...}


class Results(TypedDict):
    """What the page returns (RUN, below)."""

    invite_valid: list[Outcome]
    invite_invalid: list[Outcome]
    invite_public: str
    invite_seed: str
    request: dict[str, str]
    request_other: dict[str, str]
    answer: dict[str, bool]
    keys_valid: list[Outcome]
    keys_invalid: list[Outcome]
    dc_valid: list[Outcome]
    dc_malformed: list[Outcome]
    dc_client_types: list[Outcome]
    hello: str
    hello_too_big: Outcome
    frames: list[str]
    reactions: list[str]
    receipts: dict[str, Outcome]
    fmp4_small: list[Outcome]
    fmp4_small_bytes: Outcome
    fmp4_big: list[Outcome]
    fmp4_errors: dict[str, list[Outcome]]


INVITES = cast(InviteVectors, json.loads(invites_gen.VECTORS_FILE.read_text()))
KEYS = keys_gen.load()
DATACHANNEL = dc_gen.load()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


# -- receipts: made here with vault (Ed25519 is deterministic) ------------------------------

RELAY = RelayIdentity(hashlib.sha256(b"testigo test vector receipts relay").digest())
OTHER_RELAY = RelayIdentity(hashlib.sha256(b"testigo test vector receipts other").digest())
RECORDING_ID: Final = bytes(range(16))
CHUNK_HASH: Final = hashlib.sha256(b"chunk").digest()
INDEX: Final = 9


def _signed(relay: RelayIdentity, index: int = INDEX) -> bytes:
    unsigned = Receipt(
        RECORDING_ID, index, CHUNK_HASH, 1_795_300_000_000, relay.public.raw, bytes(64)
    )
    return bytes(
        Receipt(
            RECORDING_ID, index, CHUNK_HASH, unsigned.received_ms, relay.public.raw,
            relay.sign(unsigned.signature_message()),
        )
    )  # fmt: skip


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


def _receipt_cases() -> dict[str, bytes]:
    good = _signed(RELAY)
    return {
        "valid": good,
        "signed by another relay": _signed(OTHER_RELAY),
        "another relay's key, this relay's signature": (
            good[:64] + OTHER_RELAY.public.raw + good[96:]
        ),
        "a flipped signature bit": _flip(good, 100),
        "the last signature byte changed": _flip(good, 159),
        "a flipped index bit (signed part)": _flip(good, 23),
        "a flipped received_ms bit (signed part)": _flip(good, 60),
        "another index, signed": _signed(RELAY, INDEX + 1),
        "wrong magic": b"tgrv" + good[4:],
        "magic in upper case": b"TGRC" + good[4:],
        "159 bytes": good[:-1],
        "161 bytes": good + b"\x00",
        "empty": b"",
    }


RECEIPTS = _receipt_cases()


def python_receipt(data: bytes) -> dict[str, object]:
    """vault.receipts' verdict on a receipt against RELAY's key, and whether it names the chunk."""
    try:
        receipt = Receipt.parse(data)
    except MalformedError:
        return {"verdict": "malformed"}
    if receipt.verify(RELAY.public):
        verdict = "valid"
    elif receipt.relay_key != RELAY.public.raw:
        verdict = "other relay"
    else:
        verdict = "bad signature"
    return {"verdict": verdict, "names": receipt.names(RECORDING_ID, INDEX, CHUNK_HASH)}


# -- refusals: the Python machine's reaction, by driving it --------------------------------


def python_reaction(code: ErrorCode, about_header: bool) -> str:
    """What stream/phone/upload_machine.py does about a refusal of HELLO or of chunk 0."""
    machine = UploadMachine(
        recording_id=RECORDING_ID, relay_key=RELAY.public, device_text="tg-device-x",
        pending=[0], webrtc=False, rng=random.Random(0),
    )  # fmt: skip
    assert machine.actions(0.0) == [Connect(LinkKind.HTTPS)]
    if about_header:
        machine.session_refused(LinkKind.HTTPS, code, "refused", 0.0)
    else:
        machine.connected(LinkKind.HTTPS, 0.0)
        assert machine.actions(0.0) == [Send(LinkKind.HTTPS, 0)]
        machine.sent(0, CHUNK_HASH, 0)
        machine.refused(LinkKind.HTTPS, 0, code, "refused", 0.0)
    actions = machine.actions(0.0)
    if machine.status.stopped is not None:
        return "final for recording"
    if 0 in machine.given_up:
        return "final for chunk"
    assert machine.unsafe_indices == [0]
    assert not any(isinstance(a, Send) for a in actions)
    if not about_header and Close(LinkKind.HTTPS) in actions:
        return "resend header"  # the link is dropped: HELLO goes again before the chunk
    return "later"  # nothing given up, sent again after the backoff


REACTIONS = [(code, about) for code in ErrorCode for about in (True, False)]


# -- the fMP4 splitter: streams built here, box by box -------------------------------------


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def large_box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 1) + kind + struct.pack(">Q", 16 + len(body)) + body


def fragment(n: int, size: int, *, large: bool = False, before: bytes = b"") -> bytes:
    moof = box(b"moof", box(b"mfhd", struct.pack(">II", 0, n)))
    data = bytes((n * 31 + i) % 256 for i in range(size))
    return before + moof + (large_box if large else box)(b"mdat", data)


INIT: Final = box(b"ftyp", b"iso6\x00\x00\x00\x00iso6") + box(b"moov", box(b"mvhd", bytes(100)))
SMALL_MEDIA: Final = [
    fragment(1, 40),
    fragment(2, 30, large=True),
    fragment(3, 10, before=box(b"styp", b"msdh") + box(b"sidx", bytes(24))),
    fragment(4, 0, before=box(b"prft", bytes(20))),
]
SMALL_TAIL: Final = fragment(5, 20)[:-7]  # a fragment cut off: never a piece
SMALL: Final = INIT + b"".join(SMALL_MEDIA) + SMALL_TAIL
BIG_MEDIA: Final = [fragment(n, 1000 + 997 * n % 40_000, large=n % 5 == 0) for n in range(1, 41)]
BIG: Final = INIT + b"".join(BIG_MEDIA)
BIG_SPLITS: Final = [
    sorted(random.Random(seed).sample(range(1, len(BIG)), random.Random(seed).randint(1, 400)))
    for seed in range(30)
]


def pieces_of(init: bytes, media: list[bytes]) -> list[str]:
    """The pieces a splitter must give, as the page reports them (kind:blake2b-256)."""
    return [f"init:{_blake2b(init)}"] + [f"media:{_blake2b(m)}" for m in media]


def _blake2b(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


MOOV: Final = box(b"moov", b"")
FMP4_ERRORS: Final = {
    "a box of 7 bytes": INIT + struct.pack(">I", 7) + b"moof" + bytes(8),
    "a box of size 0 (to the end)": INIT + struct.pack(">I", 0) + b"mdat" + bytes(8),
    "a box above 64 MiB": INIT + struct.pack(">I", 64 * 1024 * 1024 + 1) + b"mdat",
    "a largesize below 16": INIT + struct.pack(">I4sQ", 1, b"mdat", 15),
    "a largesize above 64 MiB": INIT + struct.pack(">I4sQ", 1, b"mdat", 64 * 1024 * 1024 + 1),
    "a moof before the moov": box(b"ftyp", b"iso6") + fragment(1, 10) + MOOV,
    "a moof first": fragment(1, 10) + INIT,
}

# Runs in the page: every set through the JavaScript implementation.
RUN = """
async (input) => {
  const sodium = await import("/app/lib/sodium.js");
  await sodium.ready();
  const { fromHex, toHex } = await import("/app/lib/bytes.js");
  const { KINDS, PublicKey } = await import("/app/lib/keys.js");
  const invite = await import("/app/phone/invite.js");
  const { deviceSigner } = await import("/app/lib/device_key.js");
  const dc = await import("/app/lib/wire/datachannel.js");
  const { reactionTo } = await import("/app/lib/wire/errors.js");
  const receipts = await import("/app/lib/receipts.js");
  const { Fmp4Splitter } = await import("/app/phone/fmp4_split.js");
  const fromB64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const toB64 = (data) => {
    let s = "";
    for (const b of data) s += String.fromCharCode(b);
    return btoa(s);
  };
  const failure = (error) => ({
    error: error.name, message: String(error.message), reason: error.reason ?? null,
  });
  const attempt = (f) => { try { return f(); } catch (error) { return failure(error); } };
  const pattern = (length, step) => Uint8Array.from({ length }, (_, i) => (i * step + 1) % 256);
  const out = {};

  // 1. invites
  const v = input.invites;
  const parsed = (fragment) => attempt(() => {
    const { secret, relay } = invite.parseInviteFragment(fragment);
    return { secret: toHex(secret), relay: relay.toString() };
  });
  const linkFragment = v.link.slice(v.link.indexOf("#"));
  out.invite_valid = [v.fragment, linkFragment, ...v.also_valid_fragments].map(parsed);
  out.invite_invalid = v.invalid_fragments.map((c) => parsed(c.fragment));
  const secret = fromHex(v.secret_hex);
  const pair = invite.inviteKey(secret);
  out.invite_public = toHex(pair.publicKey);
  out.invite_seed = toHex(pair.secretKey.slice(0, 32));
  const seed = fromHex(v.device_seed_hex);
  const publicKey = sodium.ed25519Keypair(seed).publicKey;
  const signer = deviceSigner({ kind: "sodium", seed, publicKey });
  const relay = PublicKey.parse(KINDS.relay, v.relay);
  const otherPublic = sodium.ed25519Keypair(fromHex(v.other_relay_seed_hex)).publicKey;
  const other = new PublicKey(KINDS.relay, otherPublic);
  out.request = await invite.enrollRequest(secret, relay, signer);
  out.request_other = await invite.enrollRequest(secret, other, signer);
  const changed = (text) => {
    const s = sodium.fromBase64Url(text);
    s[0] ^= 1;
    return sodium.toBase64Url(s);
  };
  const answered = (answer, key = relay, device = signer.publicKey) =>
    invite.answerIsFromRelay(answer, key, device, pair.publicKey);
  out.answer = {
    vector: answered(v.answer),
    changed_signature: answered({ relay_signature: changed(v.answer.relay_signature) }),
    other_relay: answered(v.answer, other),
    other_device: answered(v.answer, relay, pattern(32, 5)),
    padded: answered({ relay_signature: v.answer.relay_signature + "==" }),
    truncated: answered({ relay_signature: v.answer.relay_signature.slice(0, -2) }),
    no_signature: answered({}),
    not_an_object: answered(v.answer.relay_signature),
    null: answered(null),
  };

  // 2. key strings
  const keyOf = (c) => attempt(() => {
    const key = PublicKey.parse(KINDS[c.kind], c.text);
    return { raw: toHex(key.raw), fingerprint: key.fingerprint, text: key.toString() };
  });
  out.keys_valid = input.keys.valid.map(keyOf);
  out.keys_invalid = input.keys.invalid.map(keyOf);

  // 3. data channel
  const fields = (hex) => attempt(() => {
    const m = dc.parseRelayMessage(fromHex(hex));
    return m.type === "receipt" ? { ...m, receipt: toHex(m.receipt) } : m;
  });
  out.dc_valid = input.datachannel.from_relay.map((c) => fields(c.hex));
  out.dc_malformed = input.datachannel.malformed.map((c) => fields(c.hex));
  out.dc_client_types = ["01", "0101", "02000000000000000100000000ff"].map(fields);
  const to = input.datachannel.to_relay;
  out.hello = toB64(dc.helloMessage(pattern(to.header.length, to.header.step)));
  out.hello_too_big = attempt(() => dc.helloMessage(new Uint8Array(input.header_max_size + 1)));
  out.frames = dc.chunkFrames(to.chunk.index, pattern(to.chunk.length, to.chunk.step)).map(toB64);

  // 4. refusals
  out.reactions = input.reactions.map(([code, aboutHeader]) => reactionTo(code, aboutHeader));

  // 5. receipts
  const pinned = fromHex(input.receipts.relay);
  const id = fromHex(input.receipts.recording_id);
  const hash = fromHex(input.receipts.chunk_hash);
  out.receipts = {};
  for (const [name, b64] of Object.entries(input.receipts.cases)) {
    try {
      const r = receipts.parseReceipt(fromB64(b64));
      out.receipts[name] = {
        verdict: receipts.checkReceipt(r, pinned),
        names: receipts.receiptNames(r, id, input.receipts.index, hash),
      };
    } catch (error) {
      const malformed = error.name === "MalformedError";
      out.receipts[name] = malformed ? { verdict: "malformed" } : failure(error);
    }
  }

  // 6. the fMP4 splitter
  const split = (stream, cuts) => {
    const splitter = new Fmp4Splitter();
    const pieces = [];
    let at = 0;
    for (const cut of [...cuts, stream.length]) {
      for (const p of splitter.push(stream.slice(at, cut))) {
        pieces.push(`${p.kind}:${toHex(sodium.hash32(p.bytes))}`);
      }
      at = cut;
    }
    return { pieces, leftover: splitter.leftover };
  };
  const small = fromB64(input.fmp4.small);
  out.fmp4_small = [];
  for (let cut = 0; cut <= small.length; cut += 1) out.fmp4_small.push(split(small, [cut]));
  out.fmp4_small_bytes = split(small, Array.from({ length: small.length }, (_, i) => i));
  const big = fromB64(input.fmp4.big);
  out.fmp4_big = input.fmp4.big_splits.map((cuts) => split(big, cuts));
  out.fmp4_errors = {};
  for (const [name, b64] of Object.entries(input.fmp4.errors)) {
    const stream = fromB64(b64);
    const everyByte = Array.from({ length: stream.length }, (_, i) => i);
    out.fmp4_errors[name] = [
      attempt(() => split(stream, [])), attempt(() => split(stream, everyByte)),
    ];
  }
  return out;
}
"""


@pytest.fixture(scope="module")
def js(tmp_path_factory: pytest.TempPathFactory) -> Results:
    chromium_or_skip()
    workdir = tmp_path_factory.mktemp("web-shared-vectors")
    arguments = {
        "invites": INVITES,
        "keys": KEYS,
        "datachannel": DATACHANNEL,
        "header_max_size": HEADER_MAX_SIZE,
        "reactions": [[int(code), about] for code, about in REACTIONS],
        "receipts": {
            "relay": RELAY.public.raw.hex(), "recording_id": RECORDING_ID.hex(),
            "chunk_hash": CHUNK_HASH.hex(), "index": INDEX,
            "cases": {name: _b64(data) for name, data in RECEIPTS.items()},
        },
        "fmp4": {
            "small": _b64(SMALL), "big": _b64(BIG), "big_splits": BIG_SPLITS,
            "errors": {name: _b64(data) for name, data in FMP4_ERRORS.items()},
        },
    }  # fmt: skip
    with LocalRelay(workdir) as relay, chromium_page(workdir / "profile") as page:
        page.goto(relay.url + "/app/phone/")
        return cast(Results, page.evaluate(RUN, arguments))


# -- 1. invites ----------------------------------------------------------------------------


def test_valid_invite_fragments_parse_alike(js: Results) -> None:
    expected = {"secret": INVITES["secret_hex"], "relay": INVITES["relay"]}
    assert js["invite_valid"] == [expected] * (2 + len(INVITES["also_valid_fragments"]))


@pytest.mark.parametrize(
    "number", range(len(INVITES["invalid_fragments"])),
    ids=[c["why"] for c in INVITES["invalid_fragments"]],
)  # fmt: skip
def test_invalid_invite_fragments_are_rejected(js: Results, number: int) -> None:
    result = js["invite_invalid"][number]
    assert result.get("error") == "SetupFailed", result
    assert result["reason"] == "link_broken"


def test_the_invite_key_and_the_request_are_the_vectors(js: Results) -> None:
    assert js["invite_public"] == INVITES["invite_public_hex"]
    assert js["invite_seed"] == INVITES["invite_seed_hex"]
    assert js["request"] == INVITES["request"]
    assert js["request_other"] == INVITES["request_signed_for_other_relay"]


def test_only_the_linked_relays_answer_is_taken(js: Results) -> None:
    assert js["answer"] == {
        "vector": True, "changed_signature": False, "other_relay": False,
        "other_device": False, "padded": False, "truncated": False,
        "no_signature": False, "not_an_object": False, "null": False,
    }  # fmt: skip


# -- 2. key strings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", range(len(KEYS["valid"])), ids=[f"{c['kind']}: {c['why']}" for c in KEYS["valid"]]
)
def test_valid_key_strings_parse_alike(js: Results, number: int) -> None:
    case = KEYS["valid"][number]
    assert js["keys_valid"][number] == {
        "raw": case["raw_hex"],
        "fingerprint": case["fingerprint"],
        "text": case["text"].strip(keys_gen.KEY_SPACE).lower(),
    }


@pytest.mark.parametrize(
    "number",
    range(len(KEYS["invalid"])),
    ids=[f"{c['kind']}: {c['why']}" for c in KEYS["invalid"]],
)
def test_invalid_key_strings_are_rejected(js: Results, number: int) -> None:
    case, result = KEYS["invalid"][number], js["keys_invalid"][number]
    assert result.get("error") == "MalformedError", result
    with pytest.raises(MalformedError) as raised:  # the mirrored module says the same
        PARSERS[case["kind"]].parse(case["text"])
    assert result["message"] == str(raised.value)


# -- 3. data channel -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    range(len(DATACHANNEL["from_relay"])),
    ids=[c["name"] for c in DATACHANNEL["from_relay"]],
)
def test_relay_messages_parse_alike(js: Results, number: int) -> None:
    assert js["dc_valid"][number] == DATACHANNEL["from_relay"][number]["expect"]


@pytest.mark.parametrize(
    "number", range(len(DATACHANNEL["malformed"])), ids=[c["why"] for c in DATACHANNEL["malformed"]]
)
def test_malformed_relay_messages_are_rejected(js: Results, number: int) -> None:
    result = js["dc_malformed"][number]
    assert result.get("error") == "MalformedError", result
    with pytest.raises(RelayError) as raised:  # the mirrored module says the same
        parse_message(bytes.fromhex(DATACHANNEL["malformed"][number]["hex"]))
    assert result["message"] == str(raised.value)


def test_client_messages_are_not_taken_from_the_relay(js: Results) -> None:
    # Python's parse_message reads both directions (the relay uses it); the phone reads
    # only what the relay sends (PROTOCOL.md §3.2, the direction column).
    assert [r.get("error") for r in js["dc_client_types"]] == ["MalformedError"] * 3


def test_the_phones_hello_is_what_python_reads(js: Results) -> None:
    to_relay = DATACHANNEL["to_relay"]
    hello = _unb64(js["hello"])
    assert hashlib.sha256(hello).hexdigest() == to_relay["hello_sha256"]
    message = parse_message(hello)
    assert isinstance(message, Hello)
    assert message.header == dc_gen.pattern(
        to_relay["header"]["length"], to_relay["header"]["step"]
    )
    assert js["hello_too_big"]["error"] == "RangeError"


def test_the_phones_chunk_frames_reassemble_in_python(js: Results) -> None:
    to_relay = DATACHANNEL["to_relay"]
    chunk = dc_gen.pattern(to_relay["chunk"]["length"], to_relay["chunk"]["step"])
    frames = [_unb64(f) for f in js["frames"]]
    assert frames == [bytes(f) for f in split_chunk(to_relay["chunk"]["index"], chunk)]
    assert [{"length": len(f), "sha256": hashlib.sha256(f).hexdigest()} for f in frames] == (
        to_relay["frames"]
    )
    reassembler = Reassembler(max_chunk_bytes=len(chunk))
    whole = []
    for frame in frames:
        message = parse_message(frame)
        assert isinstance(message, ChunkFrame)
        assert message.index == to_relay["chunk"]["index"]
        whole.append(reassembler.feed(message))
    assert whole[:-1] == [None] * (len(frames) - 1)
    assert whole[-1] == chunk


# -- 4. refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", range(len(REACTIONS)),
    ids=[f"{c.wire_name}-{'header' if h else 'chunk'}" for c, h in REACTIONS],
)  # fmt: skip
def test_the_reaction_to_a_refusal_is_the_python_machines(js: Results, number: int) -> None:
    code, about_header = REACTIONS[number]
    assert js["reactions"][number] == python_reaction(code, about_header)


def test_every_code_has_a_reaction_case() -> None:
    assert sorted({int(c) for c, _ in REACTIONS}) == list(range(1, 18))


# -- 5. receipts ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(RECEIPTS))
def test_receipt_verdicts_are_vaults(js: Results, name: str) -> None:
    assert js["receipts"][name] == python_receipt(RECEIPTS[name])


def test_the_receipt_cases_cover_every_verdict() -> None:
    verdicts = {str(python_receipt(data)["verdict"]) for data in RECEIPTS.values()}
    assert verdicts == {"valid", "other relay", "bad signature", "malformed"}
    assert python_receipt(RECEIPTS["another index, signed"]) == {"verdict": "valid", "names": False}


# -- 6. the fMP4 splitter ------------------------------------------------------------------


def test_a_small_stream_split_at_every_byte_gives_the_same_pieces(js: Results) -> None:
    expected = {"pieces": pieces_of(INIT, SMALL_MEDIA), "leftover": len(SMALL_TAIL)}
    assert len(js["fmp4_small"]) == len(SMALL) + 1
    for cut, result in enumerate(js["fmp4_small"]):
        assert result == expected, f"split at {cut}"
    assert js["fmp4_small_bytes"] == expected


def test_a_big_stream_split_at_random_gives_the_same_pieces(js: Results) -> None:
    expected = {"pieces": pieces_of(INIT, BIG_MEDIA), "leftover": 0}
    assert len(js["fmp4_big"]) == len(BIG_SPLITS)
    for seed, result in enumerate(js["fmp4_big"]):
        assert result == expected, f"seed {seed}"


@pytest.mark.parametrize("name", list(FMP4_ERRORS))
def test_a_bad_stream_throws_however_it_is_fed(js: Results, name: str) -> None:
    whole, by_bytes = js["fmp4_errors"][name]
    assert whole.get("error") == "Error", whole
    assert by_bytes.get("error") == "Error", by_bytes


def test_every_set_reached_the_browser(js: Results) -> None:
    assert len(js["keys_valid"]) == len(KEYS["valid"])
    assert len(js["keys_invalid"]) == len(KEYS["invalid"])
    assert len(js["dc_valid"]) == len(DATACHANNEL["from_relay"])
    assert len(js["dc_malformed"]) == len(DATACHANNEL["malformed"])
    assert len(js["invite_invalid"]) == len(INVITES["invalid_fragments"])
    assert len(js["reactions"]) == len(REACTIONS) == 34
    assert sorted(js["receipts"]) == sorted(RECEIPTS)
