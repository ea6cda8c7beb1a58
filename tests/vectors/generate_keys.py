"""Write tests/vectors/keys.json: key strings and fingerprints (docs/FORMAT.md §2.1, §2.2)
that every parser (vault.keys here, lib/keys.js in the page) must accept or reject.

Run from the project root:

    .venv/bin/python -m tests.vectors.generate_keys

The keys come from fixed seeds, so the file is the same at every run
(tests/test_vault_keys.py checks that). Text forms and fingerprints are computed here
with hashlib from the spec's formulas, not with vault/; vault only turns a seed into its
public key. Every expectation is what FORMAT.md §2.1 requires.
"""

import base64
import hashlib
import json
from pathlib import Path
from typing import TypedDict, cast

from tests.vectors.kit import render_json, write_json_vectors
from vault.identity import DeviceIdentity, RecipientIdentity, RelayIdentity

VECTORS_FILE = Path(__file__).with_name("keys.json")
ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
PREFIXES = {"recipient": "tg-recipient-", "device": "tg-device-", "relay": "tg-relay-"}
# What a parser ignores around a key (FORMAT.md §2.1), one by one.
SPACE = ["\t", "\n", "\v", "\f", "\r", " ", "\u00a0", "\ufeff", "\u200b"]
KEY_SPACE = "".join(SPACE)
# What it must not ignore: other Unicode space, and ASCII controls Python's strip() drops.
NOT_SPACE = ["\u2003", "\u0085", "\u3000", "\u001c", "\u0000"]


def _seed(label: str) -> bytes:
    return hashlib.sha256(b"testigo test vector key " + label.encode()).digest()


def public_raw(kind: str, label: str) -> bytes:
    seed = _seed(label)
    if kind == "recipient":
        return RecipientIdentity(seed).public.raw
    if kind == "device":
        return DeviceIdentity(seed).public.raw
    return RelayIdentity(seed).public.raw


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def text_of(kind: str, raw: bytes) -> str:
    prefix = PREFIXES[kind]
    checksum = hashlib.blake2b(
        b"testigo/v1 key-checksum" + prefix.encode() + raw, digest_size=32
    ).digest()[:4]
    return prefix + _b32(raw + checksum)


def fingerprint_of(kind: str, raw: bytes) -> str:
    digest = hashlib.blake2b(
        b"testigo/v1 fingerprint" + PREFIXES[kind].encode() + raw, digest_size=32
    ).digest()
    text = base64.b32encode(digest[:10]).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, 16, 4))


def _with_char(text: str, position: int, char: str) -> str:
    return text[:position] + char + text[position + 1 :]


def _valid(kind: str, raw: bytes, text: str, why: str) -> dict[str, str]:
    return {
        "kind": kind,
        "text": text,
        "raw_hex": raw.hex(),
        "fingerprint": fingerprint_of(kind, raw),
        "why": why,
    }


def _valid_cases() -> list[dict[str, str]]:
    cases = []
    for kind, prefix in PREFIXES.items():
        raw = public_raw(kind, kind)
        text = text_of(kind, raw)
        encoded = text[len(prefix) :]
        mixed = "".join(c.upper() if i % 2 else c for i, c in enumerate(encoded))
        cases += [
            _valid(kind, raw, text, "the canonical form"),
            _valid(kind, raw, text.upper(), "upper case, the prefix too"),
            _valid(kind, raw, text[0].upper() + text[1:], "a capitalised first letter"),
            _valid(kind, raw, prefix + mixed, "mixed case in the encoded part"),
        ]
    raw = public_raw("device", "device")
    text = text_of("device", raw)
    for space in SPACE:
        cases.append(_valid("device", raw, space + text + space, f"U+{ord(space):04X} around"))
    cases.append(_valid("device", raw, " \u00a0\u200b\n" + text + "\r\n\ufeff\t", "a mix around"))
    # a recipient key is any 32 bytes (X25519): the all-zero one parses
    cases.append(_valid("recipient", bytes(32), text_of("recipient", bytes(32)), "all-zero X25519"))
    return cases


def _key_holding(kind: str, letter: str) -> str:
    """The text of a fixed key whose encoded part holds `letter`."""
    prefix = PREFIXES[kind]
    for n in range(256):
        text = text_of(kind, public_raw(kind, f"{kind} {n}"))
        if letter in text[len(prefix) : -1]:
            return text
    raise AssertionError(letter)


def _invalid_cases() -> list[dict[str, str]]:
    cases: list[dict[str, str]] = []

    def bad(kind: str, text: str, why: str) -> None:
        cases.append({"kind": kind, "text": text, "why": why})

    texts = {kind: text_of(kind, public_raw(kind, kind)) for kind in PREFIXES}
    device = texts["device"]
    start = len("tg-device-")
    bad("device", "", "empty")
    bad("device", "tg-device-", "the prefix alone")
    for inside in (" ", "\u00a0", "\u200b", "\t"):
        bad("device", device[:20] + inside + device[20:], f"U+{ord(inside):04X} inside")
    for around in NOT_SPACE:
        bad("device", around + device, f"U+{ord(around):04X} before (not in the ignored set)")
        bad("device", device + around, f"U+{ord(around):04X} after (not in the ignored set)")
    for look_alike in ("\u0130", "\u212a", "\uff54"):
        bad("device", look_alike + device[1:], f"U+{ord(look_alike):04X} as the first letter")
    for char, letter in (("\u0131", "i"), ("\u017f", "s"), ("\u212a", "k")):
        text = _key_holding("device", letter)
        position = text.index(letter, start)
        bad("device", _with_char(text, position, char), f"U+{ord(char):04X} for {letter!r}")
    for char in ("0", "1", "8", "9", "=", "-", "_", "+", "/", "\u00e9", "\x00"):
        bad("device", _with_char(device, start + 20, char), f"{char!r} is outside the alphabet")
    for prefix in ("", "tg-", "tg-contact-", "tg-lawyer-", "age1", "tg-devices-", "tgdevice-"):
        bad("device", prefix + device[start:], f"the prefix {prefix!r}")
    for expected in PREFIXES:
        for given in PREFIXES:
            if expected != given:
                bad(expected, texts[given], f"a {given} key where a {expected} key goes")
    encoded = device[start:]
    for why, changed in (
        ("the last character dropped", encoded[:-1]),
        ("the first character dropped", encoded[1:]),
        ("one character added", encoded + "a"),
        ("eight characters added", encoded + "aaaaaaaa"),
        ("base32 padding added", encoded + "======"),
    ):
        bad("device", "tg-device-" + changed, why)
    for kind, text in texts.items():
        skip = len(PREFIXES[kind])
        for position in (skip, skip + 28, skip + 51, skip + 56):  # key .. checksum
            typo = ALPHABET[(ALPHABET.index(text[position]) + 1) % 32]
            bad(kind, _with_char(text, position, typo), f"a typo at {position - skip}")
        # 58 characters carry 290 bits for 288: the last one's two low bits are unused
        last = ALPHABET.index(text[-1])
        for unused in (1, 2, 3):
            spelling = ALPHABET[last ^ unused]
            bad(kind, _with_char(text, len(text) - 1, spelling), f"non-canonical last {spelling!r}")
    for kind in ("device", "relay"):
        bad(kind, text_of(kind, bytes(32)), "the all-zero key, not a usable Ed25519 point")
    return cases


class ValidKey(TypedDict):
    kind: str
    text: str
    raw_hex: str
    fingerprint: str
    why: str


class InvalidKey(TypedDict):
    kind: str
    text: str
    why: str


class KeyVectors(TypedDict):
    valid: list[ValidKey]
    invalid: list[InvalidKey]


def load() -> KeyVectors:
    """The vector file as written."""
    return cast(KeyVectors, json.loads(VECTORS_FILE.read_text()))


def vectors() -> dict[str, object]:
    return {
        "testigo-vectors": "keys",
        "version": 1,
        "spec": "docs/FORMAT.md sections 2.1, 2.2",
        "valid": _valid_cases(),
        "invalid": _invalid_cases(),
    }


def render() -> str:
    return render_json(vectors())


def main() -> None:
    write_json_vectors(VECTORS_FILE, vectors())


if __name__ == "__main__":
    main()
