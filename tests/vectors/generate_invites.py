"""Write tests/vectors/invites.json: the bytes of an invite, its link and its enrollment
(docs/PROTOCOL.md §15), for every implementation (Python here, the page's JavaScript).

Run from the project root:

    .venv/bin/python -m tests.vectors.generate_invites

Everything is fixed (the secret, the device and relay seeds; Ed25519 signatures are
deterministic), so the file is the same at every run; tests/test_invites.py checks that.
Every expectation written here is what PROTOCOL.md §15 requires, not what vault/ happens
to do.
"""

import hashlib
from pathlib import Path

from tests.vectors.kit import render_json, write_json_vectors
from vault import _primitives as p
from vault.identity import DeviceIdentity, RelayIdentity
from vault.keys import DeviceKey, RelayKey
from vault.wire.invite import (
    ENROLL_CONTEXT,
    ENROLL_DEVICE_CONTEXT,
    ENROLLED_CONTEXT,
    INVITE_KEY_CONTEXT,
    b64url,
)

VECTORS_FILE = Path(__file__).with_name("invites.json")
RELAY_URL = "https://relay.example"


def _fixed(label: str) -> bytes:
    return hashlib.sha256(b"testigo test vector " + label.encode()).digest()


SECRET = _fixed("invite secret")
DEVICE = DeviceIdentity(_fixed("invite device"))
RELAY = RelayIdentity(_fixed("invite relay"))
OTHER_RELAY = RelayIdentity(_fixed("invite other relay"))


def _keyed_blake2b(key: bytes, message: bytes) -> bytes:
    """KH of FORMAT.md §1, here by hashlib: an independent check of vault's libsodium."""
    return hashlib.blake2b(message, digest_size=32, key=key).digest()


def _bad_checksum(key: RelayKey) -> str:
    text = str(key)
    last = "a" if text[-2] != "a" else "b"
    return text[:-2] + last + text[-1]  # a changed checksum character (still base32)


def _invalid_fragments(secret_text: str, relay_text: str) -> list[dict[str, str]]:
    good = f"invite={secret_text}&relay={relay_text}"
    # 32 bytes are 43 characters: the last one carries 4 bits, its 2 lowest are unused
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    noncanonical = secret_text[:-1] + alphabet[alphabet.index(secret_text[-1]) ^ 1]
    cases = [
        ("", "empty: no invite, no relay"),
        (f"relay={relay_text}", "no invite parameter"),
        (f"invite={secret_text}", "no relay parameter"),
        (f"{good}&relay={relay_text}", "relay given twice"),
        (f"invite={secret_text}&{good}", "invite given twice"),
        (f"{good}&v=1", "an unknown parameter"),
        (f"{good}&", "an empty part (trailing '&')"),
        (f"invite&relay={relay_text}", "a part without '='"),
        (f"invite={secret_text}=&relay={relay_text}", "the secret with base64 padding"),
        (
            f"invite={secret_text[:-2]}+/&relay={relay_text}",
            "the secret in standard base64 ('+', '/'), not base64url",
        ),
        (f"invite={secret_text[:-1]}%41&relay={relay_text}", "percent-encoding"),
        (f"invite={b64url(SECRET[:31])}&relay={relay_text}", "a 31-byte secret"),
        (f"invite={b64url(SECRET + b'x')}&relay={relay_text}", "a 33-byte secret"),
        (
            f"invite={noncanonical}&relay={relay_text}",
            "the secret's last character has unused bits that are not 0 (not canonical)",
        ),
        (f"invite={secret_text}&relay=", "an empty relay key"),
        (
            f"invite={secret_text}&relay={_bad_checksum(RELAY.public)}",
            "a relay key whose checksum does not match",
        ),
        (f"invite={secret_text}&relay={relay_text.upper()}", "the relay key in upper case"),
        (
            f"invite={secret_text}&relay={DeviceKey(RELAY.public.raw)}",
            "a device key (tg-device-) where the relay key goes",
        ),
        (f"invite={secret_text}&relay=%20{relay_text}", "white space around the relay key"),
        (f"Invite={secret_text}&relay={relay_text}", "parameter names are lower case"),
        (f"invite={secret_text}&relay={relay_text}{'a' * 200}", "longer than 256 characters"),
    ]
    return [{"fragment": fragment, "why": why} for fragment, why in cases]


def vectors() -> dict[str, object]:
    seed = _keyed_blake2b(SECRET, INVITE_KEY_CONTEXT)
    invite, invite_secret_key = p.ed25519_keypair(seed)
    relay, device = RELAY.public, DEVICE.public
    secret_text, relay_text = b64url(SECRET), str(relay)
    fragment = f"invite={secret_text}&relay={relay_text}"
    enroll = ENROLL_CONTEXT + relay.raw + device.raw
    enroll_device = ENROLL_DEVICE_CONTEXT + relay.raw + invite
    enrolled = ENROLLED_CONTEXT + device.raw + invite
    request = {
        "invite": b64url(invite),
        "device": str(device),
        "signature": b64url(p.ed25519_sign(invite_secret_key, enroll)),
        "device_signature": b64url(DEVICE.sign(enroll_device)),
    }
    other_relay_request = dict(
        request,
        signature=b64url(
            p.ed25519_sign(invite_secret_key, ENROLL_CONTEXT + OTHER_RELAY.public.raw + device.raw)
        ),
        device_signature=b64url(
            DEVICE.sign(ENROLL_DEVICE_CONTEXT + OTHER_RELAY.public.raw + invite)
        ),
    )
    return {
        "testigo-vectors": "invites",
        "version": 1,
        "spec": "docs/PROTOCOL.md section 15",
        "relay_url": RELAY_URL,
        "secret_hex": SECRET.hex(),
        "device_seed_hex": DEVICE.secret_bytes().hex(),
        "device": str(device),
        "relay_seed_hex": RELAY.secret_bytes().hex(),
        "relay": relay_text,
        "fragment": fragment,
        "link": f"{RELAY_URL}/app/phone/#{fragment}",
        "also_valid_fragments": [
            f"#{fragment}",
            f"relay={relay_text}&invite={secret_text}",
        ],
        "invite_seed_hex": seed.hex(),
        "invite_public_hex": invite.hex(),
        "enroll_message_hex": enroll.hex(),
        "enroll_device_message_hex": enroll_device.hex(),
        "request": request,
        "enrolled_message_hex": enrolled.hex(),
        "answer": {"relay_signature": b64url(RELAY.sign(enrolled))},
        "other_relay_seed_hex": OTHER_RELAY.secret_bytes().hex(),
        "request_signed_for_other_relay": other_relay_request,
        "invalid_fragments": _invalid_fragments(secret_text, relay_text),
    }


def render() -> str:
    return render_json(vectors())


def main() -> None:
    write_json_vectors(VECTORS_FILE, vectors())


if __name__ == "__main__":
    main()
