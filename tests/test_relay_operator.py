"""What an operator can see and undo (relay_server/operator.py, `testigo relay …`)."""

import pytest

from relay_server import operator
from relay_server.enrollment import parse_token, token_hash, token_id_of
from relay_server.settings import Settings
from tests.relay_fixtures import Client, StartRelay, seal_recording
from vault import DeviceIdentity, RecipientIdentity, errors

pytestmark = pytest.mark.asyncio


def token_id(token: str) -> str:
    raw = parse_token(token)
    assert raw is not None
    return token_id_of(token_hash(raw))


async def reads(client: Client, device: DeviceIdentity, token: str) -> int:
    response = await client.get(
        f"/v1/devices/{device.public}/recordings", headers={"Authorization": f"Bearer {token}"}
    )
    return response.status


async def test_one_token_is_withdrawn_and_the_others_keep_working(
    start_relay: StartRelay, relay_settings: Settings, device_identity: DeviceIdentity
) -> None:
    client = await start_relay()
    lawyer = await operator.mint_token(relay_settings, device_identity.public)
    contact = await operator.mint_token(relay_settings, device_identity.public)
    listed = await operator.devices(relay_settings)
    assert [token_id_of(h) for h in listed[0].token_hashes] == [token_id(lawyer), token_id(contact)]
    assert await operator.revoke_token(relay_settings, device_identity.public, token_id(contact))
    assert not await operator.revoke_token(relay_settings, device_identity.public, "00000000")
    assert await reads(client, device_identity, contact) == 401
    assert await reads(client, device_identity, lawyer) == 200


async def test_a_revoked_device_is_reinstated_deliberately_not_by_enrolling_again(
    start_relay: StartRelay,
    relay_settings: Settings,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    client = await start_relay()
    assert await operator.revoke(relay_settings, device_identity.public)
    with pytest.raises(errors.TestigoError, match="was revoked") as caught:
        await operator.enroll(relay_settings, device_identity.public)
    assert "reinstate" in caught.value.hint
    (record,) = await operator.devices(relay_settings)
    assert record.revoked_ms is not None
    assert await operator.reinstate(relay_settings, device_identity.public)
    assert not await operator.reinstate(relay_settings, device_identity.public)
    recording = seal_recording(device_identity, recipient, [])
    assert (await client.post("/v1/headers", data=recording.header)).status == 200


async def test_an_alert_target_is_removed(
    relay_settings: Settings, device_identity: DeviceIdentity
) -> None:
    assert await operator.enroll(relay_settings, device_identity.public)
    hook = "https://hooks.example/testigo"
    assert await operator.add_alert_target(relay_settings, device_identity.public, "webhook", hook)
    assert await operator.remove_alert_target(
        relay_settings, device_identity.public, "webhook", hook
    )
    assert not await operator.remove_alert_target(
        relay_settings, device_identity.public, "webhook", hook
    )
    (record,) = await operator.devices(relay_settings)
    assert record.alerts == ()
