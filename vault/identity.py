"""Secret identities and identity files (docs/FORMAT.md section 2.3).

A recipient identity (contact, lawyer) is an X25519 key pair; a device identity and a
relay identity are Ed25519 key pairs, each its own type whose `public` is its own kind of
key, so a relay key cannot sign a recording nor a device key a receipt. Identity files
keep the secret encrypted with a passphrase (Argon2id + XChaCha20-Poly1305), or in the
clear when the user asked for no passphrase. `DeviceIdentity.load`, `RelayIdentity.load`
and `RecipientIdentity.load` read a file of their role and refuse any other.
"""

import base64
import binascii
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Final, Generic, Self, TypeVar

from vault import _primitives as p
from vault.atomic import write_file_atomically
from vault.errors import MalformedError, TestigoError, WrongPassphraseError
from vault.keys import DeviceKey, RecipientKey, RelayKey

FILE_VERSION: Final = 1
DEFAULT_OPSLIMIT: Final = 3
DEFAULT_MEMLIMIT: Final = 64 * 1024 * 1024
MIN_OPSLIMIT, MAX_OPSLIMIT = 1, 10
MIN_MEMLIMIT, MAX_MEMLIMIT = 8 * 1024 * 1024, 1024 * 1024 * 1024

PassphraseSource = Callable[[], str]
_KeyT = TypeVar("_KeyT", DeviceKey, RelayKey)


class Role(StrEnum):
    DEVICE = "device"
    RELAY = "relay"
    CONTACT = "contact"
    LAWYER = "lawyer"

    @property
    def is_recipient(self) -> bool:
        return self in (Role.CONTACT, Role.LAWYER)


class RecipientIdentity:
    """The secret half of a recipient key (a contact's or lawyer's): opens stanzas sealed to it."""

    _KIND = "contact or lawyer"
    _MAKE_HINT = "pass the identity file made with: testigo keygen --role lawyer"

    def __init__(self, secret: bytes) -> None:
        if len(secret) != p.KEY_SIZE:
            raise ValueError(f"recipient secret must be {p.KEY_SIZE} bytes")
        self._secret = bytes(secret)
        self.public = RecipientKey(p.x25519_public(self._secret))

    @classmethod
    def generate(cls) -> "RecipientIdentity":
        _public, secret = p.x25519_generate()
        return cls(secret)

    @classmethod
    def load(cls, path: Path, passphrase: PassphraseSource) -> "RecipientIdentity":
        """The recipient identity in the file at path; a device or relay file is refused."""
        return _load_as(cls, path, passphrase)

    def unwrap(self, stanza: bytes) -> bytes | None:
        """The file key in stanza, or None when the stanza is not for this identity."""
        try:
            return p.open_sealed(self.public.raw, self._secret, stanza)
        except p.AuthenticationFailed:
            return None

    def secret_bytes(self) -> bytes:
        return self._secret

    def __repr__(self) -> str:
        return f"RecipientIdentity({self.public.fingerprint})"


class _SigningIdentity(Generic[_KeyT]):
    """The secret half of an Ed25519 key; `DeviceIdentity` and `RelayIdentity` are its kinds."""

    def __init__(self, seed: bytes) -> None:
        public, self._secret = p.ed25519_keypair(seed)
        self._seed = bytes(seed)
        self.public: _KeyT = self._public_key(public)

    def _public_key(self, raw: bytes) -> _KeyT:
        raise NotImplementedError

    @classmethod
    def generate(cls) -> Self:
        return cls(p.random_bytes(p.SIGN_SEED_SIZE))

    def sign(self, message: bytes) -> bytes:
        return p.ed25519_sign(self._secret, message)

    def secret_bytes(self) -> bytes:
        return self._seed

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.public.fingerprint})"


class DeviceIdentity(_SigningIdentity[DeviceKey]):
    """The secret half of a device key: signs recording headers and chunks."""

    _KIND = "device"
    _MAKE_HINT = "make one with: testigo keygen --role device"

    def _public_key(self, raw: bytes) -> DeviceKey:
        return DeviceKey(raw)

    @classmethod
    def load(cls, path: Path, passphrase: PassphraseSource) -> "DeviceIdentity":
        """The device identity in the file at path; a file of another role is refused."""
        return _load_as(cls, path, passphrase)


class RelayIdentity(_SigningIdentity[RelayKey]):
    """The secret half of a relay key: signs receipts."""

    _KIND = "relay"
    _MAKE_HINT = "make one with: testigo relay keygen"

    def _public_key(self, raw: bytes) -> RelayKey:
        return RelayKey(raw)

    @classmethod
    def load(cls, path: Path, passphrase: PassphraseSource) -> "RelayIdentity":
        """The relay identity in the file at path; a file of another role is refused."""
        return _load_as(cls, path, passphrase)


Identity = RecipientIdentity | DeviceIdentity | RelayIdentity
_IdentityT = TypeVar("_IdentityT", RecipientIdentity, DeviceIdentity, RelayIdentity)


def _identity_type(role: Role) -> type[Identity]:
    if role.is_recipient:
        return RecipientIdentity
    return DeviceIdentity if role is Role.DEVICE else RelayIdentity


@dataclass(frozen=True)
class StoredIdentity:
    """An identity with the role its file names (contact and lawyer share one kind)."""

    role: Role
    identity: Identity

    def __post_init__(self) -> None:
        if type(self.identity) is not _identity_type(self.role):
            raise ValueError(f"a {self.role} identity cannot be a {type(self.identity).__name__}")

    @property
    def public_text(self) -> str:
        return str(self.identity.public)

    @property
    def fingerprint(self) -> str:
        return self.identity.public.fingerprint


def generate_identity(role: Role) -> StoredIdentity:
    return StoredIdentity(role, _identity_type(role).generate())


@dataclass(frozen=True)
class KdfLimits:
    opslimit: int = DEFAULT_OPSLIMIT
    memlimit: int = DEFAULT_MEMLIMIT

    def __post_init__(self) -> None:
        if not MIN_OPSLIMIT <= self.opslimit <= MAX_OPSLIMIT:
            raise ValueError(f"opslimit must be {MIN_OPSLIMIT}..{MAX_OPSLIMIT}")
        if not MIN_MEMLIMIT <= self.memlimit <= MAX_MEMLIMIT:
            raise ValueError(f"memlimit must be {MIN_MEMLIMIT}..{MAX_MEMLIMIT} bytes")


def _associated_data(role: Role, public_text: str) -> bytes:
    return b"testigo/v1 identity\x00" + role.value.encode() + b"\x00" + public_text.encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode_identity(
    stored: StoredIdentity, passphrase: str | None, limits: KdfLimits | None = None
) -> bytes:
    """The identity file's bytes; passphrase None means stored unprotected."""
    public_text = stored.public_text
    document: dict[str, object] = {
        "testigo-identity": FILE_VERSION,
        "role": stored.role.value,
        "public": public_text,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    secret = stored.identity.secret_bytes()
    if passphrase is None:
        document["protection"] = "none"
        document["secret"] = _b64(secret)
    else:
        limits = limits or KdfLimits()
        salt = p.random_bytes(p.PWHASH_SALT_SIZE)
        nonce = p.random_bytes(p.AEAD_NONCE_SIZE)
        key = p.password_key(normalized(passphrase), salt, limits.opslimit, limits.memlimit)
        sealed = p.aead_encrypt(key, nonce, _associated_data(stored.role, public_text), secret)
        document["protection"] = "argon2id"
        document["argon2id"] = {
            "opslimit": limits.opslimit,
            "memlimit": limits.memlimit,
            "salt": _b64(salt),
        }
        document["nonce"] = _b64(nonce)
        document["secret"] = _b64(sealed)
    return (json.dumps(document, indent=2) + "\n").encode()


def save_identity(
    path: Path, stored: StoredIdentity, passphrase: str | None, limits: KdfLimits | None = None
) -> None:
    """Write an identity file (mode 0600) atomically; refuses to overwrite one."""
    if path.exists():
        raise TestigoError(
            f"{path} already exists", hint="choose another -o path; keys are never overwritten"
        )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = encode_identity(stored, passphrase, limits)
    if not write_file_atomically(path, data, mode=0o600, overwrite=False):
        raise TestigoError(
            f"{path} already exists", hint="choose another -o path; keys are never overwritten"
        )


class _Fields:
    """Typed access to the JSON members of an identity file."""

    def __init__(self, document: dict[str, object]) -> None:
        self._document = document

    def text(self, name: str) -> str:
        value = self._document.get(name)
        if not isinstance(value, str):
            raise MalformedError(f"identity file: '{name}' is missing or not text")
        return value

    def integer(self, name: str) -> int:
        value = self._document.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise MalformedError(f"identity file: '{name}' is missing or not an integer")
        return value

    def binary(self, name: str, size: int) -> bytes:
        text = self.text(name)
        try:
            value = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedError(f"identity file: '{name}' is not base64") from None
        if _b64(value) != text:  # one spelling only: padding, and zero unused bits
            raise MalformedError(f"identity file: '{name}' is not canonical base64")
        if len(value) != size:
            raise MalformedError(f"identity file: '{name}' must be {size} bytes")
        return value

    def nested(self, name: str) -> "_Fields":
        value = self._document.get(name)
        if not isinstance(value, dict):
            raise MalformedError(f"identity file: '{name}' is missing")
        return _Fields({str(k): v for k, v in value.items()})


def normalized(passphrase: str) -> bytes:
    """The bytes a passphrase is hashed as: UTF-8 of its NFC form (FORMAT.md §2.3), so
    the same passphrase typed on two keyboards that compose accents differently opens
    the same file."""
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _open_secret(
    passphrase: str, salt: bytes, limits: KdfLimits, nonce: bytes, ad: bytes, sealed: bytes
) -> bytes:
    tries = [normalized(passphrase)]
    if passphrase.encode("utf-8") != tries[0]:
        tries.append(passphrase.encode("utf-8"))  # a file written before NFC was settled
    for attempt in tries:
        key = p.password_key(attempt, salt, limits.opslimit, limits.memlimit)
        try:
            return p.aead_decrypt(key, nonce, ad, sealed)
        except p.AuthenticationFailed:
            continue
    raise WrongPassphraseError(
        "the identity file did not open: wrong passphrase, or the file was altered"
    )


def decode_identity(data: bytes, passphrase: PassphraseSource) -> StoredIdentity:
    """Parse an identity file; passphrase is asked for only if the file is protected."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedError("not a Testigo identity file (not JSON)") from None
    if not isinstance(document, dict):
        raise MalformedError("not a Testigo identity file")
    fields = _Fields({str(k): v for k, v in document.items()})
    version = document.get("testigo-identity")
    if type(version) is not int or version != FILE_VERSION:
        raise MalformedError("not a Testigo identity file, or an unsupported version")
    try:
        role = Role(fields.text("role"))
    except ValueError:
        raise MalformedError(f"identity file: unknown role {document.get('role')!r}") from None
    public_text = fields.text("public")
    protection = fields.text("protection")
    if protection == "none":
        if "argon2id" in document or "nonce" in document:
            raise MalformedError("identity file: an unprotected key has no argon2id or nonce")
        secret = fields.binary("secret", p.KEY_SIZE)
    elif protection == "argon2id":
        kdf = fields.nested("argon2id")
        try:
            limits = KdfLimits(kdf.integer("opslimit"), kdf.integer("memlimit"))
        except ValueError as error:
            raise MalformedError(f"identity file: {error}") from None
        salt = kdf.binary("salt", p.PWHASH_SALT_SIZE)
        nonce = fields.binary("nonce", p.AEAD_NONCE_SIZE)
        sealed = fields.binary("secret", p.KEY_SIZE + p.AEAD_TAG_SIZE)
        secret = _open_secret(
            passphrase(), salt, limits, nonce, _associated_data(role, public_text), sealed
        )
    else:
        raise MalformedError(f"identity file: unknown protection {protection!r}")
    identity = _identity_type(role)(secret)
    if str(identity.public) != public_text:
        raise MalformedError("identity file: the public key does not match the secret key")
    return StoredIdentity(role, identity)


def load_identity(path: Path, passphrase: PassphraseSource) -> StoredIdentity:
    """The identity file at path, of any role; `DeviceIdentity.load` and the like want one."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TestigoError(
            f"identity file {path} does not exist", hint="make one with: testigo keygen"
        ) from None
    except OSError as error:
        raise TestigoError(
            f"cannot read identity file {path}: {error.strerror}",
            hint="check the path and its permissions",
        ) from None
    return decode_identity(data, passphrase)


def _load_as(kind: type[_IdentityT], path: Path, passphrase: PassphraseSource) -> _IdentityT:
    stored = load_identity(path, passphrase)
    if not isinstance(stored.identity, kind):
        raise TestigoError(
            f"{path} is a {stored.role} key, not a {kind._KIND} key", hint=kind._MAKE_HINT
        )
    return stored.identity


def is_protected(path: Path) -> bool:
    """True when the identity file at path needs a passphrase (False if unreadable)."""
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and document.get("protection") == "argon2id"


def no_passphrase() -> str:
    """A PassphraseSource for callers that know the file is unprotected."""
    raise TestigoError(
        "this identity file needs a passphrase",
        hint="set TESTIGO_PASSPHRASE or pass --passphrase-fd N",
    )
