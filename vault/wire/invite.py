"""Invites: how a phone's browser enrolls itself on a relay (docs/PROTOCOL.md §15).

The operator's `testigo relay invite` makes 32 random bytes, the *invite secret*, and a
link that carries it with the relay's key in the URL fragment (never sent to a server):

    <relay URL>/app/phone/#invite=<base64url(secret), 43 characters>&relay=<tg-relay-…>

Both sides derive an Ed25519 key pair from the secret; its public key is the *invite id*,
the only thing the relay stores. The page proves it holds the secret by signing, with
the invite key, this relay's key and its new device key; the relay answers with its own
signature, which the page checks against the key it pinned from the link.

    invite_seed      = KH(secret, "testigo/v1 invite-key")
    invite_pk, _sk   = Ed25519 key pair of invite_seed
    signature        = SIG(invite_sk, "testigo/v1 enroll" || relay_key || device_key)
    device_signature = SIG(device_sk, "testigo/v1 enroll-device" || relay_key || invite_pk)
    relay_signature  = SIG(relay_sk, "testigo/v1 enrolled" || device_key || invite_pk)
"""

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final, Self
from urllib.parse import urlsplit

from vault import _primitives as p
from vault.errors import MalformedError
from vault.keys import DeviceKey, RelayKey

INVITE_KEY_CONTEXT: Final = b"testigo/v1 invite-key"
ENROLL_CONTEXT: Final = b"testigo/v1 enroll"
ENROLL_DEVICE_CONTEXT: Final = b"testigo/v1 enroll-device"
ENROLLED_CONTEXT: Final = b"testigo/v1 enrolled"
SECRET_SIZE: Final = 32
APP_PATH: Final = "/app/phone/"
FRAGMENT_NAMES: Final = ("invite", "relay")
MAX_FRAGMENT_LENGTH: Final = 256
DEFAULT_EXPIRY_S: Final = 24 * 3600  # how long an invite is good for (the relay decides)
MIN_EXPIRY_S: Final = 60
MAX_EXPIRY_S: Final = 7 * 24 * 3600
_B64URL: Final = re.compile(r"^[A-Za-z0-9_-]*$")


def b64url(data: bytes) -> str:
    """base64url (RFC 4648 §5) without padding."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str, size: int, what: str) -> bytes:
    """Exactly size bytes from their canonical unpadded base64url; MalformedError for
    padding, other characters, another length or unused bits that are not zero."""
    if not _B64URL.match(text):
        raise MalformedError(f"{what} is not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise MalformedError(f"{what} is not unpadded base64url") from None
    if len(data) != size:
        raise MalformedError(f"{what} is {len(data)} bytes, not {size}")
    if b64url(data) != text:
        raise MalformedError(f"{what} is not canonical base64url (its last bits are not 0)")
    return data


def enroll_message(relay_key: RelayKey, device: DeviceKey) -> bytes:
    """What the invite key signs: this relay, this device."""
    return ENROLL_CONTEXT + relay_key.raw + device.raw


def enroll_device_message(relay_key: RelayKey, invite_public: bytes) -> bytes:
    """What the device key signs: this relay, this invite."""
    return ENROLL_DEVICE_CONTEXT + relay_key.raw + invite_public


def enrolled_message(device: DeviceKey, invite_public: bytes) -> bytes:
    """What the relay signs in its answer: this device, enrolled with this invite."""
    return ENROLLED_CONTEXT + device.raw + invite_public


class InviteKey:
    """The Ed25519 key pair derived from an invite secret (the secret half signs)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != SECRET_SIZE:
            raise ValueError(f"an invite secret is {SECRET_SIZE} bytes, got {len(secret)}")
        seed = p.keyed_hash32(secret, INVITE_KEY_CONTEXT)
        self.public, self._secret_key = p.ed25519_keypair(seed)

    def sign(self, message: bytes) -> bytes:
        return p.ed25519_sign(self._secret_key, message)

    def __repr__(self) -> str:
        return f"InviteKey({b64url(self.public)})"


def verify_invite_signature(invite_public: bytes, message: bytes, signature: bytes) -> bool:
    """True when signature is the invite key's over message (False for a key that is not
    a valid Ed25519 point)."""
    if not p.ed25519_public_is_valid(invite_public):
        return False
    return p.ed25519_verify(invite_public, message, signature)


@dataclass(frozen=True)
class InviteLink:
    """The secret and the relay key a link carries; `url` builds it, `parse` reads it."""

    secret: bytes
    relay_key: RelayKey

    def __post_init__(self) -> None:
        if len(self.secret) != SECRET_SIZE:
            raise ValueError(f"an invite secret is {SECRET_SIZE} bytes")

    def __repr__(self) -> str:  # never the secret, in a traceback or a log
        return f"InviteLink(relay={self.relay_key.fingerprint})"

    @property
    def key(self) -> InviteKey:
        return InviteKey(self.secret)

    def fragment(self) -> str:
        """`invite=…&relay=…`, the part after '#'."""
        return f"invite={b64url(self.secret)}&relay={self.relay_key}"

    def url(self, relay_url: str) -> str:
        """The link: relay_url (http(s), no query or fragment) + /app/phone/#fragment."""
        try:
            parts = urlsplit(relay_url)
            host = parts.hostname
        except ValueError:
            raise MalformedError(f"{relay_url!r} is not an http(s):// URL") from None
        if parts.scheme not in ("http", "https") or not host:
            raise MalformedError(f"{relay_url!r} is not an http(s):// URL")
        if parts.query or parts.fragment or "#" in relay_url:
            raise MalformedError("the relay URL of an invite has no query or fragment")
        return relay_url.rstrip("/") + APP_PATH + "#" + self.fragment()

    @classmethod
    def parse_fragment(cls, fragment: str) -> Self:
        """The invite in a fragment (with or without its leading '#'). Strict: exactly
        the parameters `invite` and `relay`, each once, in either order, not
        percent-encoded; the secret's canonical base64url; a canonical relay key string."""
        text = fragment.removeprefix("#")
        if len(text) > MAX_FRAGMENT_LENGTH:
            raise MalformedError("the invite link's fragment is too long")
        values: dict[str, str] = {}
        for part in text.split("&"):
            name, equals, value = part.partition("=")
            if not equals:
                raise MalformedError(f"the invite link holds {part[:20]!r}, not name=value")
            if name not in FRAGMENT_NAMES:
                raise MalformedError(f"the invite link holds an unknown parameter {name[:20]!r}")
            if name in values:
                raise MalformedError(f"the invite link holds {name!r} twice")
            values[name] = value
        missing = [n for n in FRAGMENT_NAMES if n not in values]
        if missing:
            raise MalformedError(f"the invite link lacks {missing[0]!r}")
        secret = b64url_decode(values["invite"], SECRET_SIZE, "the invite secret")
        relay_text = values["relay"]
        relay_key = RelayKey.parse(relay_text)
        if str(relay_key) != relay_text:
            raise MalformedError("the invite link's relay key is not in its canonical form")
        return cls(secret, relay_key)

    @classmethod
    def parse(cls, link: str) -> Self:
        """The invite in a whole link (its path must be /app/phone/)."""
        try:
            parts = urlsplit(link)
            host = parts.hostname
        except ValueError:  # an unbalanced [ in the host, and the like
            raise MalformedError("an invite link is an http(s):// URL") from None
        if parts.scheme not in ("http", "https") or not host:
            raise MalformedError("an invite link is an http(s):// URL")
        if not parts.path.endswith(APP_PATH) or parts.query:
            raise MalformedError(f"an invite link's path ends with {APP_PATH}, with no query")
        return cls.parse_fragment(parts.fragment)
