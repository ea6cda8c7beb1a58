"""Public key strings and fingerprints (docs/FORMAT.md 2.1, 2.2): every MUST, one by one."""

import base64
import hashlib
import re

import pytest

from tests.vectors import generate_keys as gen
from vault import DeviceKey, MalformedError, RecipientIdentity, RecipientKey, RelayKey
from vault.identity import DeviceIdentity, RelayIdentity
from vault.keys import PublicKey

ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
KINDS: tuple[type[PublicKey], ...] = (RecipientKey, DeviceKey, RelayKey)


def key_of(kind: type[PublicKey], label: bytes = b"key") -> PublicKey:
    seed = hashlib.sha256(label).digest()
    if kind is RecipientKey:
        return RecipientIdentity(seed).public
    if kind is DeviceKey:
        return DeviceIdentity(seed).public
    return RelayIdentity(seed).public


def spec_text(prefix: str, key: bytes) -> str:
    """The text form computed from the spec with hashlib, not with vault/."""
    checksum = hashlib.blake2b(
        b"testigo/v1 key-checksum" + prefix.encode() + key, digest_size=32
    ).digest()[:4]
    return prefix + base64.b32encode(key + checksum).decode().rstrip("=").lower()


def with_char(text: str, position: int, char: str) -> str:
    return text[:position] + char + text[position + 1 :]


@pytest.mark.parametrize("kind", KINDS)
def test_text_form_is_the_spec_form_and_round_trips(kind: type[PublicKey]) -> None:
    key = key_of(kind)
    text = str(key)
    assert text == spec_text(kind.PREFIX, key.raw)
    assert re.fullmatch(re.escape(kind.PREFIX) + "[a-z2-7]{58}", text)
    assert kind.parse(text) == key


@pytest.mark.parametrize("kind", KINDS)
def test_fingerprint_is_the_spec_fingerprint(kind: type[PublicKey]) -> None:
    key = key_of(kind)
    digest = hashlib.blake2b(
        b"testigo/v1 fingerprint" + kind.PREFIX.encode() + key.raw, digest_size=32
    ).digest()
    text = base64.b32encode(digest[:10]).decode()
    assert key.fingerprint == "-".join(text[i : i + 4] for i in range(0, 16, 4))
    assert re.fullmatch("[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", key.fingerprint)
    assert key.fingerprint != key_of(kind, b"another").fingerprint


def test_same_bytes_different_kind_different_text_and_fingerprint() -> None:
    raw = key_of(DeviceKey).raw
    device, relay = DeviceKey(raw), RelayKey(raw)
    assert str(device)[len("tg-device-") :] != str(relay)[len("tg-relay-") :]
    assert device.fingerprint != relay.fingerprint


@pytest.mark.parametrize("kind", KINDS)
def test_upper_case_encoded_part_is_accepted(kind: type[PublicKey]) -> None:
    key = key_of(kind)
    encoded = str(key)[len(kind.PREFIX) :]
    assert kind.parse(kind.PREFIX + encoded.upper()) == key
    mixed = "".join(c.upper() if i % 2 else c for i, c in enumerate(encoded))
    assert kind.parse(kind.PREFIX + mixed) == key


@pytest.mark.parametrize("space", [" ", "\n", "\t", "\r\n", "  \n\t "])
def test_surrounding_white_space_is_ignored(space: str) -> None:
    key = key_of(RecipientKey)
    assert RecipientKey.parse(space + str(key) + space) == key


def test_inner_white_space_is_rejected() -> None:
    text = str(key_of(RecipientKey))
    with pytest.raises(MalformedError):
        RecipientKey.parse(text[:30] + " " + text[30:])


@pytest.mark.parametrize(
    "prefix", ["", "tg-", "tg-contact-", "tg-lawyer-", "age1", "tg-recipients-", "tgrecipient-"]
)
def test_unknown_prefix_is_rejected(prefix: str) -> None:
    encoded = str(key_of(RecipientKey))[len("tg-recipient-") :]
    with pytest.raises(MalformedError):
        RecipientKey.parse(prefix + encoded)


@pytest.mark.parametrize("expected", KINDS)
@pytest.mark.parametrize("given", KINDS)
def test_a_parser_for_one_kind_rejects_the_others(
    expected: type[PublicKey], given: type[PublicKey]
) -> None:
    text = str(key_of(given))
    if expected is given:
        assert expected.parse(text) == key_of(given)
        return
    with pytest.raises(MalformedError, match=f"{given.KIND} key, not a {expected.KIND}"):
        expected.parse(text)


@pytest.mark.parametrize("change", ["drop last", "drop first", "add one", "add eight", "empty"])
def test_wrong_length_is_rejected(change: str) -> None:
    text = str(key_of(DeviceKey))
    prefix, encoded = "tg-device-", text[len("tg-device-") :]
    changed = {
        "drop last": encoded[:-1],
        "drop first": encoded[1:],
        "add one": encoded + "a",
        "add eight": encoded + "aaaaaaaa",
        "empty": "",
    }[change]
    with pytest.raises(MalformedError):
        DeviceKey.parse(prefix + changed)


@pytest.mark.parametrize("char", ["0", "1", "8", "9", "=", "-", "_", "+", "/", "é", "\x00"])
def test_characters_outside_the_alphabet_are_rejected(char: str) -> None:
    text = str(key_of(RecipientKey))
    with pytest.raises(MalformedError):
        RecipientKey.parse(with_char(text, len("tg-recipient-") + 20, char))


@pytest.mark.parametrize(
    ("char", "looks_like"),
    [("\u0131", "i"), ("\u017f", "s")],
    ids=["dotless-i", "long-s"],
)
def test_non_ascii_letters_that_upper_case_into_the_alphabet_are_rejected(
    char: str, looks_like: str
) -> None:
    # str.upper() maps U+0131 to "I" and U+017F to "S": the parser must not accept them
    # as "i" and "s" (they are characters outside the alphabet).
    text = next(
        t
        for t in (str(key_of(RecipientKey, bytes([n]))) for n in range(256))
        if looks_like in t[len("tg-recipient-") :]
    )
    position = text.index(looks_like, len("tg-recipient-"))
    with pytest.raises(MalformedError):
        RecipientKey.parse(with_char(text, position, char))


@pytest.mark.parametrize("kind", KINDS)
def test_a_typo_anywhere_in_the_key_part_is_a_checksum_mismatch(kind: type[PublicKey]) -> None:
    text = str(key_of(kind))
    start = len(kind.PREFIX)
    for position in range(start, start + 57):  # the last character is tested below
        for char in ALPHABET:
            if char == text[position]:
                continue
            with pytest.raises(MalformedError, match=r"checksum|not a valid"):
                kind.parse(with_char(text, position, char))


@pytest.mark.parametrize("kind", KINDS)
def test_a_typo_in_the_last_character_is_rejected(kind: type[PublicKey]) -> None:
    # 58 base32 characters carry 290 bits for 288: the last character's two low bits are
    # padding. A parser that ignores them accepts four spellings of every key, so some
    # typos in the last character go unnoticed; a canonical encoding is required.
    text = str(key_of(kind))
    accepted = []
    for char in ALPHABET:
        if char == text[-1]:
            continue
        try:
            kind.parse(with_char(text, len(text) - 1, char))
        except MalformedError:
            continue
        accepted.append(char)
    assert accepted == [], f"{text[-1]!r} mistyped as {accepted} is accepted"


def test_device_key_that_is_not_a_usable_point_is_rejected() -> None:
    text = spec_text("tg-device-", bytes(32))  # the all-zero key: a small-order point
    with pytest.raises(MalformedError):
        DeviceKey.parse(text)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", [0, 31, 33])
def test_constructor_checks_length(kind: type[PublicKey], size: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        kind(bytes(size))


# --- what FORMAT.md §2.1 settles about spelling -------------------------------------------


@pytest.mark.parametrize(
    "around", [" ", "\t", "\r\n", "\u00a0", "\ufeff", "\u200b", " \u00a0\u200b\n"]
)
def test_white_space_a_copy_adds_around_a_key_is_ignored(around: str) -> None:
    key = DeviceIdentity.generate().public
    assert DeviceKey.parse(around + str(key) + around) == key


def test_a_key_string_is_case_insensitive_prefix_included() -> None:
    key = DeviceIdentity.generate().public
    assert DeviceKey.parse(str(key).upper()) == key
    assert DeviceKey.parse("Tg-device-" + str(key)[len("tg-device-") :]) == key  # auto-capital


@pytest.mark.parametrize("inside", ["\u00a0", "\u200b", " "])
def test_space_inside_a_key_is_refused(inside: str) -> None:
    text = str(DeviceIdentity.generate().public)
    with pytest.raises(MalformedError):
        DeviceKey.parse(text[:20] + inside + text[20:])


def test_non_ascii_look_alikes_are_refused() -> None:
    text = str(DeviceIdentity.generate().public)
    for look_alike in ("\u0130", "\u212a", "\uff54"):  # İ, the Kelvin sign, fullwidth t
        with pytest.raises(MalformedError, match="outside a-z and 2-7"):
            DeviceKey.parse(look_alike + text[1:])


# --- the shared vectors (tests/vectors/keys.json), also run by the page's lib/keys.js -----

KEY_VECTORS = gen.load()
PARSERS: dict[str, type[PublicKey]] = {
    "recipient": RecipientKey,
    "device": DeviceKey,
    "relay": RelayKey,
}


def test_the_key_vector_file_is_what_the_generator_writes() -> None:
    assert gen.VECTORS_FILE.read_text() == gen.render()


@pytest.mark.parametrize("case", KEY_VECTORS["valid"], ids=lambda c: f"{c['kind']}: {c['why']}")
def test_valid_key_vectors_parse(case: gen.ValidKey) -> None:
    key = PARSERS[case["kind"]].parse(case["text"])
    assert key.raw.hex() == case["raw_hex"]
    assert key.fingerprint == case["fingerprint"]
    assert str(key) == case["text"].strip(gen.KEY_SPACE).lower()


@pytest.mark.parametrize("case", KEY_VECTORS["invalid"], ids=lambda c: f"{c['kind']}: {c['why']}")
def test_invalid_key_vectors_are_rejected(case: gen.InvalidKey) -> None:
    with pytest.raises(MalformedError):
        PARSERS[case["kind"]].parse(case["text"])
