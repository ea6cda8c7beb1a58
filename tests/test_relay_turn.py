"""GET /v1/webrtc/config gives TURN logins only to enrolled devices proving themselves
(docs/PROTOCOL.md §3.1): strangers, forgers and replayers get the STUN URLs alone."""

import base64
import hashlib
import hmac
import logging
import re
import time
from pathlib import Path

import aiohttp
import pytest

from relay_server import enrollment as enrollment_module
from relay_server import operator
from relay_server.app import create_app
from relay_server.ice_logins import turn_login
from relay_server.settings import Settings, SettingsError
from relay_server.state import DEVICE_PROOFS
from stream.phone.transports import DeviceProver, WebRTCTransport
from tests.relay_fixtures import Client, StartRelay
from vault import DeviceIdentity, RelayIdentity
from vault.errors import MalformedError
from vault.keys import DeviceKey
from vault.wire.device_proof import PROOF_WINDOW_MS, DeviceProof
from vault.wire.documents import IceConfig

SECRET = b"coturn static-auth-secret"
URLS = "stun:turn.example:3478,turn:turn.example:3478?transport=udp,turns:turn.example:5349"
STUN_ONLY = {"ice_servers": [{"urls": ["stun:turn.example:3478"]}]}
TTL_S = 600


@pytest.fixture
def turn_settings(relay_settings: Settings, tmp_path: Path) -> Settings:
    secret_file = tmp_path / "turn.secret"
    secret_file.write_bytes(SECRET + b"\n")
    return relay_settings.replace(
        ice_servers=URLS, turn_secret_file=str(secret_file), turn_credential_seconds=TTL_S
    )


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def proof(device: DeviceIdentity, relay: RelayIdentity, time_ms: int | None = None) -> str:
    when = now_ms() if time_ms is None else time_ms
    return DeviceProof.sign(device, relay.public, when).header_value()


async def config(client: Client, authorization: str | None = None) -> dict[str, object]:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await client.get("/v1/webrtc/config", headers=headers)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    document: dict[str, object] = await response.json()
    IceConfig.parse(await response.read())  # what the client parses
    return document


def login_of(document: dict[str, object]) -> tuple[str, str]:
    servers = document["ice_servers"]
    assert isinstance(servers, list)
    assert len(servers) == 1
    server = servers[0]
    assert server["urls"] == URLS.split(",")
    return server["username"], server["credential"]


@pytest.mark.asyncio
async def test_a_stranger_gets_the_stun_urls_and_no_login(
    start_relay: StartRelay, turn_settings: Settings
) -> None:
    client = await start_relay(turn_settings)
    assert await config(client) == STUN_ONLY
    assert await config(client, "Bearer tg-token-nothing") == STUN_ONLY
    assert await config(client, "Testigo-Device junk") == STUN_ONLY


@pytest.mark.asyncio
async def test_an_enrolled_device_gets_a_login_whose_hmac_verifies_and_that_expires(
    start_relay: StartRelay,
    turn_settings: Settings,
    device_identity: DeviceIdentity,
    relay_identity: RelayIdentity,
) -> None:
    client = await start_relay(turn_settings)
    before = int(time.time())
    username, credential = login_of(await config(client, proof(device_identity, relay_identity)))
    after = int(time.time())
    expiry, _, opaque = username.partition(":")
    assert before + TTL_S <= int(expiry) <= after + TTL_S
    assert re.fullmatch("[0-9a-f]{16}", opaque)  # random: it names no device
    expected = hmac.new(SECRET, username.encode(), hashlib.sha1).digest()
    assert base64.b64decode(credential) == expected
    # a second proof, later, gets a login of its own
    second, _ = login_of(await config(client, proof(device_identity, relay_identity)))
    assert second != username


@pytest.mark.asyncio
async def test_a_forged_proof_gets_no_login(
    start_relay: StartRelay,
    turn_settings: Settings,
    device_identity: DeviceIdentity,
    relay_identity: RelayIdentity,
) -> None:
    client = await start_relay(turn_settings)
    when = now_ms()
    genuine = DeviceProof.sign(device_identity, relay_identity.public, when)
    impostor = DeviceProof.sign(DeviceIdentity.generate(), relay_identity.public, when)
    forged = [
        DeviceProof.sign(device_identity, RelayIdentity.generate().public, when),  # elsewhere
        DeviceProof(device_identity.public, when, bytes(64)),
        DeviceProof(device_identity.public, when, impostor.signature),  # another key's
        DeviceProof(device_identity.public, when + 1, genuine.signature),  # another time
    ]
    for value in forged:
        assert await config(client, value.header_value()) == STUN_ONLY
    # none of them used the genuine proof up
    login_of(await config(client, genuine.header_value()))


@pytest.mark.asyncio
async def test_a_replayed_proof_gets_no_second_login(
    start_relay: StartRelay,
    turn_settings: Settings,
    device_identity: DeviceIdentity,
    relay_identity: RelayIdentity,
) -> None:
    client = await start_relay(turn_settings)
    value = proof(device_identity, relay_identity)
    login_of(await config(client, value))
    assert await config(client, value) == STUN_ONLY
    # nor does an older one, recorded earlier and kept back
    assert await config(client, proof(device_identity, relay_identity, now_ms() - 5000)) == (
        STUN_ONLY
    )


@pytest.mark.asyncio
async def test_an_expired_or_future_proof_gets_no_login(
    start_relay: StartRelay,
    turn_settings: Settings,
    device_identity: DeviceIdentity,
    relay_identity: RelayIdentity,
) -> None:
    client = await start_relay(turn_settings)
    for time_ms in (now_ms() - PROOF_WINDOW_MS - 5000, now_ms() + PROOF_WINDOW_MS + 5000, 0):
        assert await config(client, proof(device_identity, relay_identity, time_ms)) == STUN_ONLY


@pytest.mark.asyncio
async def test_an_unknown_or_revoked_device_gets_no_login(
    start_relay: StartRelay,
    turn_settings: Settings,
    device_identity: DeviceIdentity,
    relay_identity: RelayIdentity,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(enrollment_module, "UPLOAD_CHECK_S", 0.0)  # see revocations at once
    client = await start_relay(turn_settings)
    stranger = DeviceIdentity.generate()
    assert await config(client, proof(stranger, relay_identity)) == STUN_ONLY
    login_of(await config(client, proof(device_identity, relay_identity)))
    assert await operator.revoke(turn_settings, device_identity.public)
    assert await config(client, proof(device_identity, relay_identity)) == STUN_ONLY


@pytest.mark.asyncio
async def test_a_fixed_login_goes_only_to_proven_devices(
    start_relay: StartRelay,
    relay_settings: Settings,
    device_identity: DeviceIdentity,
    relay_identity: RelayIdentity,
    tmp_path: Path,
) -> None:
    credential_file = tmp_path / "turn.credential"
    credential_file.write_text("fixed-credential\n")
    settings = relay_settings.replace(
        ice_servers=URLS, ice_username="testigo", ice_credential_file=str(credential_file)
    )
    client = await start_relay(settings)
    assert await config(client) == STUN_ONLY
    assert login_of(await config(client, proof(device_identity, relay_identity))) == (
        "testigo",
        "fixed-credential",
    )


@pytest.mark.asyncio
async def test_the_client_proves_itself_and_gets_a_login(
    start_relay: StartRelay,
    turn_settings: Settings,
    device_identity: DeviceIdentity,
    relay_identity: RelayIdentity,
) -> None:
    client = await start_relay(turn_settings)
    prover = DeviceProver(device_identity, relay_identity.public)
    first, second = prover.authorization(), prover.authorization()  # within one millisecond
    assert DeviceProof.parse(second).time_ms > DeviceProof.parse(first).time_ms
    login_of(await config(client, first))
    login_of(await config(client, second))


def test_the_turn_login_is_the_rest_api_drafts() -> None:
    # coturn's turnutils / the draft's example: HMAC-SHA1 over "expiry:id", base64
    username, credential = turn_login(b"north", 1_700_000_000, "abc")
    assert username == "1700000000:abc"
    digest = hmac.new(b"north", b"1700000000:abc", hashlib.sha1).digest()
    assert credential == base64.b64encode(digest).decode()


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Testigo-Device",
        "Testigo-Device tg-device-x 1 00",
        "Bearer a b c",
        "Testigo-Device {device} -1 " + "00" * 64,
        "Testigo-Device {device} 1 " + "zz" * 64,
        "Testigo-Device {device} 1 " + "00" * 63,
        "Testigo-Device {device} 99999999999999999999 " + "00" * 64,
        "Testigo-Device {device}  1 " + "00" * 64,
    ],
)
def test_a_malformed_proof_does_not_parse(value: str, device_identity: DeviceIdentity) -> None:
    with pytest.raises(MalformedError):
        DeviceProof.parse(value.format(device=device_identity.public))


def test_secret_files_are_checked_at_start(relay_settings: Settings, tmp_path: Path) -> None:
    relay = RelayIdentity.generate()
    with pytest.raises(SettingsError, match="cannot read"):
        create_app(relay_settings.replace(turn_secret_file=str(tmp_path / "absent")), relay=relay)
    (tmp_path / "empty").write_bytes(b"\n")
    with pytest.raises(SettingsError, match="is empty"):
        create_app(relay_settings.replace(turn_secret_file=str(tmp_path / "empty")), relay=relay)
    with pytest.raises(SettingsError, match="exclude each other"):
        relay_settings.replace(turn_secret_file="a", ice_username="u", ice_credential_file="b")
    with pytest.raises(SettingsError, match="go together"):
        relay_settings.replace(ice_username="u")


@pytest.mark.asyncio
async def test_neither_the_secret_nor_a_login_is_logged(
    start_relay: StartRelay,
    turn_settings: Settings,
    device_identity: DeviceIdentity,
    relay_identity: RelayIdentity,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = await start_relay(turn_settings)
    value = proof(device_identity, relay_identity)
    username, credential = login_of(await config(client, value))
    assert await config(client, value) == STUN_ONLY  # a refusal is logged, with its reason
    assert "ice.proof_refused" in caplog.text
    for secret in (SECRET.decode(), username, credential, value.split()[-1]):
        assert secret not in caplog.text


@pytest.mark.asyncio
async def test_the_webrtc_transport_sends_the_proof(
    start_relay: StartRelay,
    device_identity: DeviceIdentity,
    relay_identity: RelayIdentity,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = await start_relay()  # no ICE servers: the channel connects on loopback
    proofs = client.app[DEVICE_PROOFS]
    proven: list[DeviceKey | None] = []
    check = proofs.device

    async def spy(authorization: str) -> DeviceKey | None:
        proven.append(await check(authorization))
        return proven[-1]

    monkeypatch.setattr(proofs, "device", spy)
    url = str(client.make_url("/")).rstrip("/")
    prover = DeviceProver(device_identity, relay_identity.public)
    async with aiohttp.ClientSession() as session:
        for chosen in (prover, None):
            transport = await WebRTCTransport.connect(session, url, chosen)
            await transport.close()
    assert proven == [device_identity.public, None]
