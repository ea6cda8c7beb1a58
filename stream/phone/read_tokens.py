"""Read tokens the device mints itself for its contacts (docs/PROTOCOL.md §1.1).

The device asks its relay for a new capability token with a fresh proof by its device
key, and withdraws one contact's token the same way, without the operator and without
touching the other contacts' tokens.
"""

import time

from stream.relay_http import client_timeout, relay_session
from vault.errors import MalformedError
from vault.identity import DeviceIdentity
from vault.keys import RelayKey
from vault.wire import routes
from vault.wire.device_proof import MINT_TOKEN_CONTEXT, REVOKE_TOKEN_CONTEXT, DeviceProof
from vault.wire.documents import MintedToken
from vault.wire.errors import ErrorBody, ErrorCode, RelayError

REQUEST_SECONDS = 30.0


def _refusal(status: int, body: bytes) -> RelayError:
    try:
        answer = ErrorBody.parse(body)
    except MalformedError:
        return RelayError(ErrorCode.MALFORMED, f"the relay answered {status}")
    return RelayError(answer.code, answer.message)


def _proof(identity: DeviceIdentity, relay_key: RelayKey, purpose: bytes, subject: bytes) -> str:
    now = time.time_ns() // 1_000_000
    return DeviceProof.sign(
        identity, relay_key, now, purpose=purpose, subject=subject
    ).header_value()


async def mint_read_token(
    relay_url: str, identity: DeviceIdentity, relay_key: RelayKey
) -> MintedToken:
    """A new read token for one contact; RelayError when the relay refuses."""
    url = routes.TOKENS.url(relay_url, device=str(identity.public))
    headers = {"Authorization": _proof(identity, relay_key, MINT_TOKEN_CONTEXT, b"")}
    async with (
        relay_session(client_timeout(REQUEST_SECONDS)) as session,
        session.post(url, headers=headers) as response,
    ):
        body = await response.read()
        if response.status != 200:
            raise _refusal(response.status, body)
    return MintedToken.parse(body)


async def withdraw_read_token(
    relay_url: str, identity: DeviceIdentity, relay_key: RelayKey, token_id: str
) -> None:
    """Withdraw the token with this id; RelayError (not_found) when there is none."""
    url = routes.TOKEN.url(relay_url, device=str(identity.public), token_id=token_id)
    proof = _proof(identity, relay_key, REVOKE_TOKEN_CONTEXT, token_id.encode("ascii"))
    async with (
        relay_session(client_timeout(REQUEST_SECONDS)) as session,
        session.delete(url, headers={"Authorization": proof}) as response,
    ):
        body = await response.read()
        if response.status != 204:
            raise _refusal(response.status, body)
