"""The device proof (docs/PROTOCOL.md §3.1, §1.1): a device shows that it holds an
enrolled device key by a fresh Ed25519 signature over what it asks for, the relay's key
and the time (the relay chooses nothing: no extra round trip, no nonce store):

    Authorization: Testigo-Device <tg-device-…> <time_ms> <signature, 128 hex digits>
    signature = SIG(device_sk, purpose || relay_key(32) || time_ms(8) || subject)

`purpose` names the request (a TURN login, minting a read token, withdrawing one), so a
proof for one is worth nothing for another; `subject` is what it acts on (the token id
to withdraw), empty otherwise. The relay accepts a proof within PROOF_WINDOW_MS of its
own clock, once per device, purpose and time.
"""

from dataclasses import dataclass
from typing import Final, Self

from vault.errors import MalformedError
from vault.identity import DeviceIdentity
from vault.keys import DeviceKey, RelayKey

ICE_PROOF_CONTEXT: Final = b"testigo/v1 ice-request"  # GET /v1/webrtc/config
MINT_TOKEN_CONTEXT: Final = b"testigo/v1 token-request"  # POST /v1/devices/{device}/tokens
REVOKE_TOKEN_CONTEXT: Final = b"testigo/v1 token-revoke"  # DELETE …/tokens/{token_id}
PROOF_SCHEME: Final = "Testigo-Device"
PROOF_WINDOW_MS: Final = 120_000  # either side of the relay's clock
_SIGNATURE_SIZE: Final = 64
_MAX_TIME_MS: Final = 2**64 - 1


def proof_message(
    relay_key: RelayKey, time_ms: int, purpose: bytes = ICE_PROOF_CONTEXT, subject: bytes = b""
) -> bytes:
    return purpose + relay_key.raw + time_ms.to_bytes(8, "big") + subject


@dataclass(frozen=True)
class DeviceProof:
    """A device's signed claim, at time_ms (its clock), that it asks this relay."""

    device: DeviceKey
    time_ms: int
    signature: bytes

    @classmethod
    def sign(
        cls,
        identity: DeviceIdentity,
        relay_key: RelayKey,
        time_ms: int,
        *,
        purpose: bytes = ICE_PROOF_CONTEXT,
        subject: bytes = b"",
    ) -> Self:
        message = proof_message(relay_key, time_ms, purpose, subject)
        return cls(identity.public, time_ms, identity.sign(message))

    def verify(
        self, relay_key: RelayKey, *, purpose: bytes = ICE_PROOF_CONTEXT, subject: bytes = b""
    ) -> bool:
        """True when the signature is the device key's over this purpose, subject, relay
        and time."""
        message = proof_message(relay_key, self.time_ms, purpose, subject)
        return self.device.verify(message, self.signature)

    def header_value(self) -> str:
        """The value of the request's Authorization header."""
        return f"{PROOF_SCHEME} {self.device} {self.time_ms} {self.signature.hex()}"

    @classmethod
    def parse(cls, value: str) -> Self:
        """The proof in an Authorization header value; MalformedError when it is none."""
        parts = value.split(" ")
        if len(parts) != 4 or parts[0].lower() != PROOF_SCHEME.lower():
            raise MalformedError(f"not a {PROOF_SCHEME} proof")
        _, device_text, time_text, signature_hex = parts
        if not time_text.isascii() or not time_text.isdigit() or len(time_text) > 20:
            raise MalformedError("the proof's time is not a number of milliseconds")
        time_ms = int(time_text)
        if time_ms > _MAX_TIME_MS:
            raise MalformedError("the proof's time is out of range")
        try:
            signature = bytes.fromhex(signature_hex)
        except ValueError:
            raise MalformedError("the proof's signature is not hex") from None
        if len(signature) != _SIGNATURE_SIZE:
            raise MalformedError("the proof's signature is not 64 bytes")
        return cls(DeviceKey.parse(device_text), time_ms, signature)
