"""Identity files (docs/FORMAT.md 2.3): round trips, the file as specified, every MUST reject."""

import base64
import json
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from vault import (
    DeviceIdentity,
    DeviceKey,
    MalformedError,
    RecipientIdentity,
    RelayIdentity,
    Role,
    StoredIdentity,
    WrongPassphraseError,
    errors,
    generate_identity,
    load_identity,
    save_identity,
)
from vault import _primitives as p
from vault.identity import KdfLimits, decode_identity, encode_identity

IdentityKind = type[DeviceIdentity] | type[RelayIdentity] | type[RecipientIdentity]
FAST = KdfLimits(1, 8 * 1024 * 1024)
PASSPHRASE = "correct horse battery staple"

Document = dict[str, object]


class Asked:
    """A PassphraseSource that counts how often it was asked."""

    def __init__(self, passphrase: str = PASSPHRASE) -> None:
        self.passphrase = passphrase
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return self.passphrase


def document_of(data: bytes) -> Document:
    value = json.loads(data)
    assert isinstance(value, dict)
    return {str(k): v for k, v in value.items()}


def encoded(document: Document) -> bytes:
    return json.dumps(document).encode()


def argon2id(document: Document) -> Document:
    value = document["argon2id"]
    assert isinstance(value, dict)
    return {str(k): v for k, v in value.items()}


def text(document: Document, name: str) -> str:
    value = document[name]
    assert isinstance(value, str)
    return value


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def lawyer() -> StoredIdentity:
    return generate_identity(Role.LAWYER)


@pytest.fixture(scope="module")
def protected(lawyer: StoredIdentity) -> Document:
    return document_of(encode_identity(lawyer, PASSPHRASE, FAST))


@pytest.fixture(scope="module")
def unprotected(lawyer: StoredIdentity) -> Document:
    return document_of(encode_identity(lawyer, None))


# --- round trips and the file as specified --------------------------------------------


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("passphrase", [PASSPHRASE, None], ids=["argon2id", "none"])
def test_save_and_load_round_trip(tmp_path: Path, role: Role, passphrase: str | None) -> None:
    stored = generate_identity(role)
    path = tmp_path / "key.json"
    save_identity(path, stored, passphrase, FAST)
    asked = Asked()
    loaded = load_identity(path, asked)
    assert loaded.role is role
    assert loaded.public_text == stored.public_text
    assert loaded.fingerprint == stored.fingerprint
    assert loaded.identity.secret_bytes() == stored.identity.secret_bytes()
    assert type(loaded.identity) is type(stored.identity)
    assert asked.count == (0 if passphrase is None else 1)


def test_file_mode_is_0600(tmp_path: Path, lawyer: StoredIdentity) -> None:
    for name, passphrase in [("a.json", PASSPHRASE), ("b.json", None)]:
        path = tmp_path / name
        save_identity(path, lawyer, passphrase, FAST)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_refuses_to_overwrite(tmp_path: Path, lawyer: StoredIdentity) -> None:
    path = tmp_path / "key.json"
    path.write_bytes(b"precious")
    with pytest.raises(errors.TestigoError, match="already exists"):
        save_identity(path, lawyer, None)
    assert path.read_bytes() == b"precious"
    assert list(tmp_path.iterdir()) == [path]


def test_load_missing_file_is_a_testigo_error(tmp_path: Path) -> None:
    with pytest.raises(errors.TestigoError, match="does not exist"):
        load_identity(tmp_path / "nope.json", Asked())


def test_protected_file_is_as_specified(lawyer: StoredIdentity, protected: Document) -> None:
    assert set(protected) == {
        "testigo-identity",
        "role",
        "public",
        "created",
        "protection",
        "argon2id",
        "nonce",
        "secret",
    }
    assert protected["testigo-identity"] == 1
    assert protected["role"] == "lawyer"
    assert protected["public"] == lawyer.public_text
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text(protected, "created"))
    assert protected["protection"] == "argon2id"
    kdf = argon2id(protected)
    assert kdf["opslimit"] == 1
    assert kdf["memlimit"] == 8 * 1024 * 1024
    salt = base64.b64decode(text(kdf, "salt"))
    nonce = base64.b64decode(text(protected, "nonce"))
    sealed = base64.b64decode(text(protected, "secret"))
    assert (len(salt), len(nonce), len(sealed)) == (16, 24, 48)
    # decrypt by the spec's formula
    key = p.password_key(PASSPHRASE.encode(), salt, 1, 8 * 1024 * 1024)
    ad = b"testigo/v1 identity\x00lawyer\x00" + lawyer.public_text.encode()
    assert p.aead_decrypt(key, nonce, ad, sealed) == lawyer.identity.secret_bytes()


def test_unprotected_file_is_as_specified(lawyer: StoredIdentity, unprotected: Document) -> None:
    assert "argon2id" not in unprotected
    assert "nonce" not in unprotected
    assert unprotected["protection"] == "none"
    secret = base64.b64decode(text(unprotected, "secret"))
    assert secret == lawyer.identity.secret_bytes()


def test_default_limits_are_the_documented_ones() -> None:
    assert KdfLimits() == KdfLimits(3, 64 * 1024 * 1024)


def test_signing_identity_secret_is_the_seed() -> None:
    stored = generate_identity(Role.DEVICE)
    assert isinstance(stored.identity, DeviceIdentity)
    seed = stored.identity.secret_bytes()
    assert len(seed) == 32
    assert DeviceIdentity(seed).public == stored.identity.public


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        (DeviceIdentity, Role.DEVICE),
        (RelayIdentity, Role.RELAY),
        (RecipientIdentity, Role.CONTACT),
        (RecipientIdentity, Role.LAWYER),
    ],
)
def test_each_kind_loads_its_own_role(tmp_path: Path, kind: IdentityKind, role: Role) -> None:
    stored = generate_identity(role)
    path = tmp_path / "key.json"
    save_identity(path, stored, None)
    loaded = kind.load(path, Asked())
    assert type(loaded) is kind
    assert loaded.public == stored.identity.public


@pytest.mark.parametrize(
    ("kind", "role", "wanted", "hint"),
    [
        (DeviceIdentity, Role.RELAY, "not a device key", "testigo keygen --role device"),
        (DeviceIdentity, Role.LAWYER, "not a device key", "testigo keygen --role device"),
        (RelayIdentity, Role.DEVICE, "not a relay key", "testigo relay keygen"),
        (RecipientIdentity, Role.DEVICE, "not a contact or lawyer key", "--role lawyer"),
    ],
)
def test_a_file_of_another_role_is_refused_with_a_hint(
    tmp_path: Path, kind: IdentityKind, role: Role, wanted: str, hint: str
) -> None:
    path = tmp_path / "key.json"
    save_identity(path, generate_identity(role), None)
    with pytest.raises(errors.TestigoError) as caught:
        kind.load(path, Asked())
    message = str(caught.value)
    assert message == f"{path} is a {role} key, {wanted}"
    assert "\n" not in message
    assert hint in caught.value.hint


def test_a_stored_identity_matches_its_role() -> None:
    with pytest.raises(ValueError, match="relay identity cannot be a DeviceIdentity"):
        StoredIdentity(Role.RELAY, DeviceIdentity.generate())
    with pytest.raises(ValueError, match="contact identity cannot be a RelayIdentity"):
        StoredIdentity(Role.CONTACT, RelayIdentity.generate())


# --- MUST reject ------------------------------------------------------------------------


def test_wrong_passphrase(protected: Document) -> None:
    with pytest.raises(WrongPassphraseError):
        decode_identity(encoded(protected), Asked("wrong horse"))


def test_wrong_passphrase_from_file(tmp_path: Path, lawyer: StoredIdentity) -> None:
    path = tmp_path / "key.json"
    save_identity(path, lawyer, PASSPHRASE, FAST)
    with pytest.raises(WrongPassphraseError):
        load_identity(path, Asked(""))


@pytest.mark.parametrize("field", ["secret", "nonce", "salt"])
def test_a_corrupted_protected_file_looks_like_a_wrong_passphrase(
    protected: Document, field: str
) -> None:
    document = dict(protected)
    holder = argon2id(document) if field == "salt" else document
    raw = bytearray(base64.b64decode(text(holder, field)))
    raw[0] ^= 0x01
    holder[field] = b64(bytes(raw))
    if field == "salt":
        document["argon2id"] = holder
    with pytest.raises(WrongPassphraseError):
        decode_identity(encoded(document), Asked())


@pytest.mark.parametrize("role", ["contact", "device"])
def test_role_is_bound_to_the_encrypted_secret(protected: Document, role: str) -> None:
    # lawyer -> contact keeps the same public key form, so only the AEAD's ad can catch it
    document = {**protected, "role": role}
    with pytest.raises((WrongPassphraseError, MalformedError)):
        decode_identity(encoded(document), Asked())


MutateFn = Callable[[Document], None]


def _set(name: str, value: object) -> MutateFn:
    def mutate(document: Document) -> None:
        document[name] = value

    return mutate


def _drop(name: str) -> MutateFn:
    def mutate(document: Document) -> None:
        del document[name]

    return mutate


def _kdf(name: str, value: object) -> MutateFn:
    def mutate(document: Document) -> None:
        kdf = argon2id(document)
        kdf[name] = value
        document["argon2id"] = kdf

    return mutate


def _kdf_drop(name: str) -> MutateFn:
    def mutate(document: Document) -> None:
        kdf = argon2id(document)
        del kdf[name]
        document["argon2id"] = kdf

    return mutate


PROTECTED_REJECTS: dict[str, MutateFn] = {
    "version missing": _drop("testigo-identity"),
    "version 2": _set("testigo-identity", 2),
    "version 0": _set("testigo-identity", 0),
    "version as text": _set("testigo-identity", "1"),
    "version true": _set("testigo-identity", True),
    "version 1.5": _set("testigo-identity", 1.5),
    "role missing": _drop("role"),
    "role unknown": _set("role", "admin"),
    "role upper case": _set("role", "LAWYER"),
    "role not text": _set("role", 3),
    "protection missing": _drop("protection"),
    "protection unknown": _set("protection", "scrypt"),
    "protection not text": _set("protection", None),
    "public missing": _drop("public"),
    "argon2id missing": _drop("argon2id"),
    "argon2id not an object": _set("argon2id", [1, 2]),
    "opslimit 0": _kdf("opslimit", 0),
    "opslimit 11": _kdf("opslimit", 11),
    "opslimit negative": _kdf("opslimit", -1),
    "opslimit as text": _kdf("opslimit", "3"),
    "opslimit true": _kdf("opslimit", True),
    "opslimit missing": _kdf_drop("opslimit"),
    "memlimit below 8 MiB": _kdf("memlimit", 8 * 1024 * 1024 - 1),
    "memlimit above 1 GiB": _kdf("memlimit", 1024 * 1024 * 1024 + 1),
    "memlimit 1 TiB": _kdf("memlimit", 1 << 40),
    "memlimit float": _kdf("memlimit", 8.0 * 1024 * 1024),
    "memlimit missing": _kdf_drop("memlimit"),
    "salt missing": _kdf_drop("salt"),
    "salt 15 bytes": _kdf("salt", b64(bytes(15))),
    "salt 17 bytes": _kdf("salt", b64(bytes(17))),
    "salt not base64": _kdf("salt", "not*base64!"),
    "nonce missing": _drop("nonce"),
    "nonce 23 bytes": _set("nonce", b64(bytes(23))),
    "nonce 25 bytes": _set("nonce", b64(bytes(25))),
    "nonce not base64": _set("nonce", "%%%%"),
    "nonce base64url": _set("nonce", "-_" * 16),
    "secret missing": _drop("secret"),
    "secret 47 bytes": _set("secret", b64(bytes(47))),
    "secret 49 bytes": _set("secret", b64(bytes(49))),
    "secret 32 bytes": _set("secret", b64(bytes(32))),
    "secret not base64": _set("secret", "a"),
    "secret not text": _set("secret", 12),
}


@pytest.mark.parametrize("mutate", PROTECTED_REJECTS.values(), ids=PROTECTED_REJECTS.keys())
def test_protected_file_rejects(protected: Document, mutate: MutateFn) -> None:
    document = json.loads(json.dumps(protected))
    assert isinstance(document, dict)
    mutate(document)
    asked = Asked()
    with pytest.raises(MalformedError):
        decode_identity(encoded(document), asked)
    # structure and limits are checked before Argon2 runs (the passphrase is asked just
    # before it), so a hostile file cannot make the reader spend memory or time
    assert asked.count == 0


UNPROTECTED_REJECTS: dict[str, MutateFn] = {
    "secret 31 bytes": _set("secret", b64(bytes(31))),
    "secret 33 bytes": _set("secret", b64(bytes(33))),
    "secret 48 bytes": _set("secret", b64(bytes(48))),
    "secret not base64": _set("secret", "****"),
    "secret missing": _drop("secret"),
    "version 2": _set("testigo-identity", 2),
    "version true": _set("testigo-identity", True),
    "role unknown": _set("role", "owner"),
    "protection unknown": _set("protection", "None"),
}


@pytest.mark.parametrize("mutate", UNPROTECTED_REJECTS.values(), ids=UNPROTECTED_REJECTS.keys())
def test_unprotected_file_rejects(unprotected: Document, mutate: MutateFn) -> None:
    document = json.loads(json.dumps(unprotected))
    assert isinstance(document, dict)
    mutate(document)
    with pytest.raises(MalformedError):
        decode_identity(encoded(document), Asked())


def test_public_that_does_not_match_the_secret_is_rejected(unprotected: Document) -> None:
    other = RecipientIdentity.generate().public
    document = {**unprotected, "public": str(other)}
    with pytest.raises(MalformedError, match="does not match"):
        decode_identity(encoded(document), Asked())


def test_public_of_the_wrong_kind_is_rejected(unprotected: Document) -> None:
    # a lawyer file whose public is the same 32 bytes spelled as a device key
    public = RecipientIdentity(base64.b64decode(text(unprotected, "secret"))).public.raw
    document = {**unprotected, "public": str(DeviceKey(public))}
    with pytest.raises(MalformedError):
        decode_identity(encoded(document), Asked())


def test_role_device_with_a_recipient_secret_is_rejected(unprotected: Document) -> None:
    document = {**unprotected, "role": "device"}  # the public is a tg-recipient- key
    with pytest.raises(MalformedError):
        decode_identity(encoded(document), Asked())


def test_public_mismatch_in_a_protected_file_is_rejected(
    tmp_path: Path, lawyer: StoredIdentity
) -> None:
    # re-encrypt the secret with the ad of another public key, so the AEAD opens and only
    # the public check can catch it
    other = str(RecipientIdentity.generate().public)
    salt, nonce = bytes(16), bytes(24)
    key = p.password_key(PASSPHRASE.encode(), salt, 1, 8 * 1024 * 1024)
    ad = b"testigo/v1 identity\x00lawyer\x00" + other.encode()
    document: Document = {
        "testigo-identity": 1,
        "role": "lawyer",
        "public": other,
        "created": "2026-11-22T22:30:00Z",
        "protection": "argon2id",
        "argon2id": {"opslimit": 1, "memlimit": 8 * 1024 * 1024, "salt": b64(salt)},
        "nonce": b64(nonce),
        "secret": b64(p.aead_encrypt(key, nonce, ad, lawyer.identity.secret_bytes())),
    }
    with pytest.raises(MalformedError, match="does not match"):
        decode_identity(encoded(document), Asked())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"\xff\xfe{}",
        b"[]",
        b'"testigo-identity"',
        b"null",
        b"1",
        b'{"testigo-identity": 1',
        b"{}",
    ],
)
def test_not_an_identity_file_is_rejected(data: bytes) -> None:
    with pytest.raises(MalformedError):
        decode_identity(data, Asked())


def test_deeply_nested_json_is_rejected_as_malformed() -> None:
    data = b'{"testigo-identity": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(MalformedError):
        decode_identity(data, Asked())


def test_huge_integer_version_is_rejected_as_malformed() -> None:
    data = b'{"testigo-identity": ' + b"1" * 5000 + b"}"
    with pytest.raises(MalformedError):
        decode_identity(data, Asked())


def test_kdf_limits_are_checked() -> None:
    for ops, mem in [(0, 8 << 20), (11, 8 << 20), (1, (8 << 20) - 1), (1, (1 << 30) + 1)]:
        with pytest.raises(ValueError, match="limit"):
            KdfLimits(ops, mem)
    assert KdfLimits(10, 1 << 30).memlimit == 1 << 30


# --- the rules FORMAT.md §2.3 settles ----------------------------------------------------


def test_a_passphrase_opens_whatever_its_unicode_composition(lawyer: StoredIdentity) -> None:
    composed, decomposed = "contraseña segura", "contrasen\u0303a segura"
    assert composed != decomposed
    document = document_of(encode_identity(lawyer, decomposed, FAST))  # typed on one phone
    opened = decode_identity(encoded(document), Asked(composed))  # and on another
    assert opened.public_text == lawyer.public_text


def test_a_file_written_before_nfc_still_opens(lawyer: StoredIdentity) -> None:
    decomposed = "contrasen\u0303a segura"
    document = document_of(encode_identity(lawyer, decomposed, FAST))
    salt = base64.b64decode(text(argon2id(document), "salt"))
    nonce = p.random_bytes(p.AEAD_NONCE_SIZE)
    key = p.password_key(decomposed.encode(), salt, FAST.opslimit, FAST.memlimit)  # raw bytes
    ad = b"testigo/v1 identity\x00lawyer\x00" + lawyer.public_text.encode()
    secret = lawyer.identity.secret_bytes()
    document["nonce"], document["secret"] = b64(nonce), b64(p.aead_encrypt(key, nonce, ad, secret))
    opened = decode_identity(encoded(document), Asked(decomposed))
    assert opened.public_text == lawyer.public_text


@pytest.mark.parametrize("field", ["secret"])
def test_non_canonical_base64_is_refused(unprotected: Document, field: str) -> None:
    value = text(unprotected, field)
    raw = base64.b64decode(value)
    # the same bytes with the unused low bits of the last character set
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = value.rstrip("=")[-1]
    spelled = value.rstrip("=")[:-1] + alphabet[alphabet.index(last) | 1] + "="
    assert base64.b64decode(spelled) == raw  # Python's decoder alone would accept it
    with pytest.raises(errors.MalformedError, match="not canonical base64"):
        decode_identity(encoded({**unprotected, field: spelled}), Asked())


def test_integers_must_be_json_integers(protected: Document) -> None:
    kdf = argon2id(protected)
    for spelled in (float(kdf["opslimit"]), True):  # type: ignore[arg-type]  # 3.0 and true
        bad = {**protected, "argon2id": {**kdf, "opslimit": spelled}}
        with pytest.raises(errors.MalformedError, match="not an integer"):
            decode_identity(encoded(bad), Asked())


def test_public_must_be_the_canonical_key_string(unprotected: Document) -> None:
    public = text(unprotected, "public")
    for spelled in (public.upper(), " " + public, public + "\n"):
        with pytest.raises(errors.MalformedError, match="does not match"):
            decode_identity(encoded({**unprotected, "public": spelled}), Asked())
