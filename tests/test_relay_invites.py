"""Self-enrollment with an invite against the real relay process (`testigo relay serve`,
stream/demo/local_relay.py) and its operator commands (docs/PROTOCOL.md §15)."""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from relay_server.enrollment import Enrollment
from relay_server.invites import Invites
from relay_server.storage.fs import FilesystemStorage
from stream.demo.local_relay import LocalRelay
from stream.phone.enroll import enroll_with_invite
from tests.relay_fixtures import Client, StartRelay, seal_recording
from vault.identity import DeviceIdentity, RecipientIdentity, RelayIdentity
from vault.wire import routes
from vault.wire.documents import EnrollRequest
from vault.wire.errors import ErrorCode, RelayError
from vault.wire.invite import InviteLink, b64url

pytestmark = pytest.mark.asyncio
DAY_MS = 86_400_000


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[LocalRelay]:
    with LocalRelay(tmp_path / "relay") as running:
        yield running


async def _post(url: str, body: bytes) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.post(url, data=body) as response:
        return response.status, await response.read()


async def _enroll_body(relay: LocalRelay, link: str, device: DeviceIdentity) -> tuple[int, bytes]:
    request = EnrollRequest.sign(InviteLink.parse(link), device)
    return await _post(routes.ENROLL.url(relay.url), bytes(request))


async def _upload_header(relay: LocalRelay, device: DeviceIdentity) -> int:
    recording = seal_recording(device, RecipientIdentity.generate(), [10])
    status, _ = await _post(routes.HEADERS.url(relay.url), recording.header)
    return status


async def test_an_invite_enrolls_a_device_that_then_uploads(relay: LocalRelay) -> None:
    invite = relay.invite()
    assert invite["relay"] == str(relay.key)
    assert invite["link"].startswith(relay.url + "/app/phone/#invite=")
    device = DeviceIdentity.generate()
    assert await _upload_header(relay, device) == 403  # not enrolled yet
    assert await enroll_with_invite(relay.url, invite["link"], device) == relay.key
    assert await _upload_header(relay, device) == 200
    listed = json.loads(relay.operate("devices", "--json"))
    assert [d["device"] for d in listed] == [str(device.public)]
    assert json.loads(relay.operate("invites", "--json")) == []
    used = json.loads(relay.operate("invites", "--all", "--json"))
    assert [(i["invite_id"], i["state"], i["used_by"]) for i in used] == [
        (invite["invite_id"], "used", str(device.public))
    ]
    # the secret is in no stored byte and no log line
    secret = InviteLink.parse(invite["link"]).secret
    stored = b"".join(f.read_bytes() for f in relay.storage.rglob("*") if f.is_file())
    for form in (secret, b64url(secret).encode(), secret.hex().encode()):
        assert form not in stored
        assert form not in relay.log_path.read_bytes()
    assert b"127.0.0.1" not in relay.log_path.read_bytes()


async def test_every_unusable_invite_gets_one_and_the_same_answer(
    relay: LocalRelay, tmp_path: Path
) -> None:
    first, second = DeviceIdentity.generate(), DeviceIdentity.generate()
    used = relay.invite()["link"]
    assert (await _enroll_body(relay, used, first))[0] == 200
    withdrawn = relay.invite()
    relay.operate("invite-revoke", withdrawn["invite_id"])
    # an invite made two days ago for one day, written by the library with its clock
    storage = FilesystemStorage(relay.storage)
    past = Invites(storage, Enrollment(storage), clock_ms=lambda: 1_795_300_000_000 - 2 * DAY_MS)
    expired_secret, _ = await past.create(86_400)
    await storage.close()
    expired = InviteLink(expired_secret, relay.key).url(relay.url)
    unknown = InviteLink(b"\x07" * 32, relay.key).url(relay.url)
    open_link = relay.invite()["link"]
    other_relay = InviteLink(InviteLink.parse(open_link).secret, RelayIdentity.generate().public)
    good = EnrollRequest.sign(InviteLink.parse(open_link), second)
    forged = EnrollRequest(good.invite, good.device, bytes(64), good.device_signature)
    answers = {
        "used": await _enroll_body(relay, used, second),
        "withdrawn": await _enroll_body(relay, withdrawn["link"], second),
        "expired": await _enroll_body(relay, expired, second),
        "unknown": await _enroll_body(relay, unknown, second),
        "forged": await _post(routes.ENROLL.url(relay.url), bytes(forged)),
        "other relay": await _post(
            routes.ENROLL.url(relay.url), bytes(EnrollRequest.sign(other_relay, second))
        ),
    }
    assert len(set(answers.values())) == 1, answers
    status, body = answers["used"]
    assert status == 403
    assert json.loads(body)["error"]["name"] == "invite_unusable"
    # nothing refused used the open invite up, or enrolled the second device
    assert await _upload_header(relay, second) == 403
    with pytest.raises(RelayError) as refused:
        await enroll_with_invite(relay.url, used, second)
    assert refused.value.code is ErrorCode.INVITE_UNUSABLE
    assert await enroll_with_invite(relay.url, open_link, second) == relay.key


async def test_two_devices_racing_for_one_invite_one_wins(relay: LocalRelay) -> None:
    link = relay.invite()["link"]
    devices = [DeviceIdentity.generate() for _ in range(4)]
    results = await asyncio.gather(
        *(enroll_with_invite(relay.url, link, d) for d in devices), return_exceptions=True
    )
    assert sum(1 for r in results if r == relay.key) == 1
    losers = [r for r in results if r != relay.key]
    assert all(isinstance(r, RelayError) and r.code is ErrorCode.INVITE_UNUSABLE for r in losers)
    statuses = [await _upload_header(relay, d) for d in devices]
    assert sorted(statuses) == [200, 403, 403, 403]


async def test_invites_survive_a_restart_and_stay_used(relay: LocalRelay) -> None:
    used, fresh = relay.invite()["link"], relay.invite()["link"]
    device = DeviceIdentity.generate()
    await enroll_with_invite(relay.url, used, device)
    relay.kill()  # a crash: nothing flushed at shutdown
    relay.start()
    with pytest.raises(RelayError):
        await enroll_with_invite(relay.url, used, DeviceIdentity.generate())
    other = DeviceIdentity.generate()
    assert await enroll_with_invite(relay.url, fresh, other) == relay.key
    assert await _upload_header(relay, other) == 200
    assert await _upload_header(relay, device) == 200


async def test_the_answer_is_checked_against_the_pinned_relay_key(relay: LocalRelay) -> None:
    """A link naming another relay key than the relay's own: the relay refuses (the
    request is signed for that key), and a client never believes such a relay."""
    link = relay.invite()["link"]
    impostor = InviteLink(InviteLink.parse(link).secret, RelayIdentity.generate().public)
    with pytest.raises(RelayError) as refused:
        await enroll_with_invite(relay.url, impostor.url(relay.url), DeviceIdentity.generate())
    assert refused.value.code is ErrorCode.INVITE_UNUSABLE


# -- in the app (aiohttp test client): limits --


async def test_failed_attempts_are_rate_limited(start_relay: StartRelay) -> None:
    client: Client = await start_relay()
    for _ in range(10):
        response = await client.post(routes.ENROLL.path(), data=b"{}")
        assert response.status == 400
    response = await client.post(routes.ENROLL.path(), data=b"{}")
    assert response.status == 429
    assert (await response.json())["error"]["name"] == "rate_limited"


async def test_a_large_body_is_refused(start_relay: StartRelay) -> None:
    client: Client = await start_relay()
    response = await client.post(routes.ENROLL.path(), data=b"{" + b" " * 600 + b"}")
    assert response.status == 413
