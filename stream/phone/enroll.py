"""Self-enrollment with an invite link (docs/PROTOCOL.md §15), as the phone's page does it.

The browser page (relay_server/web/) is the real client; this one is for the tests and
for any Python device. It reads the link strictly, signs the request, and believes the
relay only if its answer is signed by the relay key the link pinned.
"""

from urllib.parse import urlsplit

import aiohttp

from stream.relay_http import client_timeout, failure_text, relay_session
from vault.errors import MalformedError, TestigoError
from vault.identity import DeviceIdentity
from vault.keys import RelayKey
from vault.wire import routes
from vault.wire.documents import MAX_ENROLL_BYTES, EnrollAnswer, EnrollRequest
from vault.wire.errors import ErrorBody, RelayError
from vault.wire.invite import InviteLink

ENROLL_TIMEOUT_S = 30.0


class EnrollmentFailed(TestigoError):
    """Raised when the relay could not be reached, or answered something that is not a
    valid enrollment answer signed by the relay key of the link."""

    hint = "ask the relay's operator for a new invite link"


async def enroll_with_invite(
    relay_url: str,
    link: str,
    device_identity: DeviceIdentity,
    *,
    session: aiohttp.ClientSession | None = None,
) -> RelayKey:
    """Enroll device_identity's key at relay_url with the invite in link; the relay key
    pinned from the link, checked against the relay's answer. RelayError when the relay
    refuses (invite_unusable for every unusable invite); EnrollmentFailed otherwise."""
    invite = InviteLink.parse(link)
    if urlsplit(relay_url).scheme not in ("http", "https"):
        raise MalformedError(f"{relay_url!r} is not an http(s):// URL")
    request = EnrollRequest.sign(invite, device_identity)
    own = session is None
    client = relay_session() if session is None else session
    try:
        async with client.post(
            routes.ENROLL.url(relay_url),
            data=bytes(request),
            headers={"Content-Type": "application/json"},
            timeout=client_timeout(ENROLL_TIMEOUT_S),
        ) as response:
            body = await response.content.read(MAX_ENROLL_BYTES * 8 + 1)
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        raise EnrollmentFailed(f"enrolling failed: {failure_text(error)}") from None
    finally:
        if own:
            await client.close()
    if status != 200:
        try:
            raise ErrorBody.parse(body).error()
        except MalformedError:
            raise EnrollmentFailed(f"the relay answered HTTP {status}") from None
    try:
        answer = EnrollAnswer.parse(body)
    except MalformedError:
        raise EnrollmentFailed("the relay's answer is not an enrollment answer") from None
    if not answer.verify(invite.relay_key, device_identity.public, request.invite):
        raise EnrollmentFailed(
            "the relay's answer is not signed by the relay key in the link",
            hint="this is not the relay the invite was made for; do not record to it",
        )
    return invite.relay_key


__all__ = ["EnrollmentFailed", "RelayError", "enroll_with_invite"]
