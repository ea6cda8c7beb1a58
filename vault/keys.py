"""Public keys and their copy-pasteable text form (docs/FORMAT.md section 2.1, 2.2)."""

import base64
import binascii
from dataclasses import dataclass
from typing import ClassVar, Final, Self

from vault import _primitives as p
from vault.errors import MalformedError

CHECKSUM_SIZE = 4
FINGERPRINT_SIZE = 10
_ENCODED_LENGTH = 58  # base32 of 32 + 4 bytes, without padding


# What a key string's parser ignores around it (FORMAT.md §2.1): ASCII white space, and
# what copying from a chat or a PDF adds: no-break space, byte order mark, zero-width space.
KEY_STRING_SPACE: Final = "\t\n\v\f\r \u00a0\ufeff\u200b"


def _b32encode(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _b32decode(text: str) -> bytes:
    padded = text.upper() + "=" * (-len(text) % 8)
    return base64.b32decode(padded, casefold=False)


def _b32decode_or_none(text: str) -> bytes | None:
    try:
        return _b32decode(text)
    except (binascii.Error, ValueError):
        return None


@dataclass(frozen=True)
class PublicKey:
    """A 32-byte public key of one kind; subclasses name the kind by their prefix."""

    raw: bytes
    PREFIX: ClassVar[str] = ""
    KIND: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if len(self.raw) != p.KEY_SIZE:
            raise ValueError(f"{self.KIND} key must be {p.KEY_SIZE} bytes, got {len(self.raw)}")

    def _checksum(self) -> bytes:
        digest = p.hash32(b"testigo/v1 key-checksum" + self.PREFIX.encode() + self.raw)
        return digest[:CHECKSUM_SIZE]

    def __str__(self) -> str:
        return self.PREFIX + _b32encode(self.raw + self._checksum())

    @property
    def fingerprint(self) -> str:
        """Short form for comparing aloud, e.g. K7QD-2MXA-P4ZT-9BWC."""
        digest = p.hash32(b"testigo/v1 fingerprint" + self.PREFIX.encode() + self.raw)
        text = base64.b32encode(digest[:FINGERPRINT_SIZE]).decode("ascii")
        return "-".join(text[i : i + 4] for i in range(0, 16, 4))

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse the text form; a typo, a wrong kind or a bad length is a MalformedError."""
        text = text.strip(KEY_STRING_SPACE)
        if not text.isascii():
            raise MalformedError(
                f"{cls.KIND} key holds characters outside a-z and 2-7",
                hint="copy the key again from its source",
            )
        if not text.lower().startswith(cls.PREFIX):
            other = next((k for k in _KINDS if text.lower().startswith(k.PREFIX)), None)
            if other is not None:
                raise MalformedError(
                    f"this is a {other.KIND} key, not a {cls.KIND} key",
                    hint=f"a {cls.KIND} key starts with {cls.PREFIX}",
                )
            raise MalformedError(
                f"not a Testigo {cls.KIND} key", hint=f"a {cls.KIND} key starts with {cls.PREFIX}"
            )
        encoded = text[len(cls.PREFIX) :]
        if len(encoded) != _ENCODED_LENGTH:
            raise MalformedError(
                f"{cls.KIND} key has {len(encoded)} characters after the prefix, "
                f"expected {_ENCODED_LENGTH}",
                hint="copy the whole key, on one line",
            )
        if (
            not encoded.isascii()
            or _b32encode(_b32decode_or_none(encoded) or b"") != encoded.lower()
        ):
            raise MalformedError(
                f"{cls.KIND} key holds characters outside a-z and 2-7, or a typo at its end",
                hint="check for typos (0/o, 1/l, 8/b are not used)",
            )
        try:
            data = _b32decode(encoded)
        except (binascii.Error, ValueError):
            raise MalformedError(
                f"{cls.KIND} key holds characters outside a-z and 2-7",
                hint="check for typos (0/o, 1/l, 8/b are not used)",
            ) from None
        key = cls(data[: p.KEY_SIZE])
        if not p.constant_time_equal(key._checksum(), data[p.KEY_SIZE :]):
            raise MalformedError(
                f"{cls.KIND} key checksum does not match (a typo?)",
                hint="copy the key again from its source",
            )
        key._validate_point()
        return key

    def _validate_point(self) -> None:
        """Subclasses reject byte strings that are not usable keys of their kind."""


class RecipientKey(PublicKey):
    """X25519 public key of a contact or lawyer."""

    PREFIX = "tg-recipient-"
    KIND = "recipient"


class _SigningPublicKey(PublicKey):
    def _validate_point(self) -> None:
        if not p.ed25519_public_is_valid(self.raw):
            raise MalformedError(f"{self.KIND} key is not a valid Ed25519 public key")

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when signature is this key's Ed25519 signature of message."""
        return p.ed25519_verify(self.raw, message, signature)


class DeviceKey(_SigningPublicKey):
    """Ed25519 public key of a recording device."""

    PREFIX = "tg-device-"
    KIND = "device"


class RelayKey(_SigningPublicKey):
    """Ed25519 public key of a relay (signs receipts)."""

    PREFIX = "tg-relay-"
    KIND = "relay"


_KINDS: tuple[type[PublicKey], ...] = (RecipientKey, DeviceKey, RelayKey)
