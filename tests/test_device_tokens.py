"""Read tokens the device mints and withdraws itself (PROTOCOL.md §1.1), against a real
relay process: what the device can do, and what a stranger with the URL, another device,
or a replayed or misdirected proof cannot."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from stream.demo.local_relay import LocalRelay, free_port
from stream.phone.read_tokens import mint_read_token, withdraw_read_token
from tests.cli_run import assert_clean_error, run_testigo
from vault import DeviceIdentity
from vault.identity import RelayIdentity, no_passphrase
from vault.wire import routes
from vault.wire.device_proof import (
    ICE_PROOF_CONTEXT,
    MINT_TOKEN_CONTEXT,
    REVOKE_TOKEN_CONTEXT,
    DeviceProof,
)
from vault.wire.errors import ErrorCode, RelayError


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[LocalRelay]:
    with LocalRelay(tmp_path / "relay") as running:
        yield running


@pytest.fixture
def device(relay: LocalRelay) -> DeviceIdentity:
    identity = DeviceIdentity.generate()
    relay.enroll(identity.public)
    return identity


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def reads(relay: LocalRelay, device: DeviceIdentity, token: str) -> int:
    url = routes.RECORDINGS.url(relay.url, device=str(device.public))
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        return response.status


async def post_mint(relay: LocalRelay, path_device: str, authorization: str | None) -> int:
    url = routes.TOKENS.url(relay.url, device=path_device)
    headers = {} if authorization is None else {"Authorization": authorization}
    async with aiohttp.ClientSession() as session, session.post(url, headers=headers) as response:
        return response.status


@pytest.mark.asyncio
async def test_the_device_mints_a_token_that_reads_and_withdraws_it_alone(
    relay: LocalRelay, device: DeviceIdentity
) -> None:
    first = await mint_read_token(relay.url, device, relay.key)
    second = await mint_read_token(relay.url, device, relay.key)
    assert first.token != second.token
    assert first.token_id != second.token_id
    assert await reads(relay, device, first.token) == 200
    await withdraw_read_token(relay.url, device, relay.key, first.token_id)
    assert await reads(relay, device, first.token) == 401
    assert await reads(relay, device, second.token) == 200  # the other contact keeps theirs
    with pytest.raises(RelayError) as missing:
        await withdraw_read_token(relay.url, device, relay.key, first.token_id)
    assert missing.value.code is ErrorCode.NOT_FOUND


@pytest.mark.asyncio
async def test_strangers_and_misdirected_proofs_mint_nothing(
    relay: LocalRelay, device: DeviceIdentity
) -> None:
    path = str(device.public)
    other = DeviceIdentity.generate()
    relay.enroll(other.public)
    when = now_ms()
    refused = [
        None,  # a stranger with the URL
        "Bearer tg-token-" + "a" * 52,
        # another enrolled device's own valid proof, for this device's path
        DeviceProof.sign(other, relay.key, when, purpose=MINT_TOKEN_CONTEXT).header_value(),
        # this device's proof for another relay
        DeviceProof.sign(
            device, RelayIdentity.generate().public, when, purpose=MINT_TOKEN_CONTEXT
        ).header_value(),
        # this device's proof for a TURN login, not for a token
        DeviceProof.sign(device, relay.key, when + 1, purpose=ICE_PROOF_CONTEXT).header_value(),
        # a stale one
        DeviceProof.sign(
            device, relay.key, when - 10 * 60_000, purpose=MINT_TOKEN_CONTEXT
        ).header_value(),
    ]
    for authorization in refused:
        assert await post_mint(relay, path, authorization) == 401, authorization


@pytest.mark.asyncio
async def test_a_proof_works_once(relay: LocalRelay, device: DeviceIdentity) -> None:
    proof = DeviceProof.sign(device, relay.key, now_ms(), purpose=MINT_TOKEN_CONTEXT)
    assert await post_mint(relay, str(device.public), proof.header_value()) == 200
    assert await post_mint(relay, str(device.public), proof.header_value()) == 401  # replayed


@pytest.mark.asyncio
async def test_a_withdrawal_proof_names_its_token(
    relay: LocalRelay, device: DeviceIdentity
) -> None:
    kept = await mint_read_token(relay.url, device, relay.key)
    other = await mint_read_token(relay.url, device, relay.key)
    # signed for `other`, sent to withdraw `kept`: refused, and `kept` still reads
    proof = DeviceProof.sign(
        device, relay.key, now_ms(), purpose=REVOKE_TOKEN_CONTEXT, subject=other.token_id.encode()
    )
    url = routes.TOKEN.url(relay.url, device=str(device.public), token_id=kept.token_id)
    async with (
        aiohttp.ClientSession() as session,
        session.delete(url, headers={"Authorization": proof.header_value()}) as response,
    ):
        assert response.status == 401
    assert await reads(relay, device, kept.token) == 200


@pytest.mark.asyncio
async def test_a_revoked_device_mints_nothing(relay: LocalRelay, device: DeviceIdentity) -> None:
    relay.operate("revoke", str(device.public))
    with pytest.raises(RelayError) as refused:
        await mint_read_token(relay.url, device, relay.key)
    assert refused.value.code is ErrorCode.UNAUTHORIZED


def test_the_command_line_mints_and_withdraws(relay: LocalRelay, tmp_path: Path) -> None:
    made = run_testigo(
        "keygen", "--role", "device", "-o", "phone.key", "--no-passphrase", cwd=tmp_path
    )
    assert made.code == 0, made.err
    device = DeviceIdentity.load(tmp_path / "phone.key", no_passphrase)
    relay.enroll(device.public)
    where = ("--device", "phone.key", "--relay", relay.url, "--relay-key", str(relay.key))
    minted = run_testigo("tokens", "mint", *where, "--json", cwd=tmp_path)
    assert minted.code == 0, minted.err
    document = json.loads(minted.out)
    assert document["token"].startswith("tg-token-")
    assert "testigo tokens revoke" in minted.err
    withdrawn = run_testigo("tokens", "revoke", document["token_id"], *where, cwd=tmp_path)
    assert withdrawn.code == 0, withdrawn.err
    again = run_testigo("tokens", "revoke", document["token_id"], *where, cwd=tmp_path)
    assert_clean_error(again, 1, "the relay refused")
    bad = run_testigo("tokens", "revoke", "not-an-id", *where, cwd=tmp_path)
    assert_clean_error(bad, 2, "is not a token id")


def test_the_command_line_says_when_the_relay_is_out_of_reach(tmp_path: Path) -> None:
    made = run_testigo(
        "keygen", "--role", "device", "-o", "phone.key", "--no-passphrase", cwd=tmp_path
    )
    assert made.code == 0, made.err
    closed = f"http://127.0.0.1:{free_port()}"
    key = str(RelayIdentity.generate().public)
    result = run_testigo(
        "tokens", "mint", "--device", "phone.key", "--relay", closed, "--relay-key", key,
        cwd=tmp_path,
    )  # fmt: skip
    assert_clean_error(result, 1, "out of reach")
