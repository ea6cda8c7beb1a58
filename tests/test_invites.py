"""Invites (docs/PROTOCOL.md §15): the shared vectors, the strict fragment and request
parsers, and the relay's rules for using an invite, on every storage backend."""

import asyncio
import json
from pathlib import Path
from typing import cast

import pytest

from relay_server.enrollment import Enrollment
from relay_server.invites import (
    WITHDRAWN_MARK,
    FailureLimit,
    Invites,
    InviteState,
    address_bucket,
    invite_id_of,
)
from relay_server.storage import BlobStorage
from relay_server.storage.fs import FilesystemStorage
from tests.vectors import generate_invites as gen
from vault import _primitives as p
from vault.errors import MalformedError
from vault.errors import TestigoError as Refused
from vault.identity import DeviceIdentity, RelayIdentity
from vault.keys import DeviceKey, RelayKey
from vault.wire.documents import MAX_ENROLL_BYTES, EnrollAnswer, EnrollRequest
from vault.wire.errors import ErrorCode, RelayError
from vault.wire.invite import InviteKey, InviteLink, b64url, b64url_decode

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestCollectionWarning")
VECTORS = cast(dict[str, object], json.loads(gen.VECTORS_FILE.read_text()))
NOW_MS = 1_795_300_000_000


def _text(name: str) -> str:
    return str(VECTORS[name])


def test_the_vector_file_is_what_the_generator_writes() -> None:
    assert gen.VECTORS_FILE.read_text() == gen.render()


def test_the_vectors_reproduce_through_vault() -> None:
    secret = bytes.fromhex(_text("secret_hex"))
    device = DeviceIdentity(bytes.fromhex(_text("device_seed_hex")))
    relay = RelayIdentity(bytes.fromhex(_text("relay_seed_hex")))
    link = InviteLink.parse(_text("link"))
    assert link.secret == secret
    assert link.relay_key == relay.public
    assert link.fragment() == _text("fragment")
    assert link.url(_text("relay_url")) == _text("link")
    assert InviteKey(secret).public.hex() == _text("invite_public_hex")
    assert p.keyed_hash32(secret, b"testigo/v1 invite-key").hex() == _text("invite_seed_hex")
    request = EnrollRequest.sign(link, device)
    assert request.to_json() == VECTORS["request"]
    assert EnrollRequest.parse(json.dumps(VECTORS["request"]).encode()) == request
    assert request.verify(relay.public)
    answer = EnrollAnswer.sign(relay, device.public, request.invite)
    assert answer.to_json() == VECTORS["answer"]
    assert answer.verify(relay.public, device.public, request.invite)
    assert str(device.public) == _text("device")


def test_a_request_signed_for_another_relay_does_not_verify() -> None:
    relay = RelayIdentity(bytes.fromhex(_text("relay_seed_hex")))
    other = RelayIdentity(bytes.fromhex(_text("other_relay_seed_hex")))
    body = json.dumps(VECTORS["request_signed_for_other_relay"]).encode()
    request = EnrollRequest.parse(body)
    assert request.verify(other.public)
    assert not request.verify(relay.public)


@pytest.mark.parametrize("fragment", cast(list[str], VECTORS["also_valid_fragments"]))
def test_valid_fragment_variants(fragment: str) -> None:
    assert InviteLink.parse_fragment(fragment).fragment() == _text("fragment")


@pytest.mark.parametrize(
    "case",
    cast(list[dict[str, str]], VECTORS["invalid_fragments"]),
    ids=lambda case: case["why"],
)
def test_invalid_fragments_are_rejected(case: dict[str, str]) -> None:
    with pytest.raises(MalformedError):
        InviteLink.parse_fragment(case["fragment"])


@pytest.mark.parametrize(
    "link",
    [
        "ftp://relay.example/app/phone/#" + "x",
        "https://relay.example/app/other/#invite=a&relay=b",
        "https://relay.example/app/phone/?invite=a#invite=a&relay=b",
        "https://[relay.example/app/phone/#invite=a&relay=b",  # found by bench/fuzz_parsers
    ],
)
def test_links_with_a_wrong_scheme_path_or_query_are_rejected(link: str) -> None:
    with pytest.raises(MalformedError):
        InviteLink.parse(link)


def test_the_link_never_shows_the_secret_in_repr() -> None:
    link = InviteLink.parse(_text("link"))
    assert b64url(link.secret) not in repr(link)


def test_canonical_base64url_only() -> None:
    assert b64url_decode(b64url(bytes(32)), 32, "x") == bytes(32)
    for text in (b64url(bytes(32)) + "=", b64url(bytes(32))[:-1] + "B", "+" * 43, ""):
        with pytest.raises(MalformedError):
            b64url_decode(text, 32, "x")


def _request_fields() -> dict[str, object]:
    return dict(cast(dict[str, object], VECTORS["request"]))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b"not json",
        json.dumps({**_request_fields(), "extra": "x"}).encode(),
        json.dumps({k: v for k, v in _request_fields().items() if k != "device"}).encode(),
        json.dumps({**_request_fields(), "invite": 5}).encode(),
        json.dumps({**_request_fields(), "device": _text("device").upper()}).encode(),
        json.dumps({**_request_fields(), "device": _text("relay")}).encode(),
        json.dumps({**_request_fields(), "signature": "AAAA"}).encode(),
        # a field twice (JSON parsers disagree on which one counts: refuse both)
        json.dumps(_request_fields())[:-1].encode() + b', "invite": "x"}',
        b" " * (MAX_ENROLL_BYTES - 1) + json.dumps(_request_fields()).encode(),
    ],
)
def test_malformed_requests_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedError):
        EnrollRequest.parse(body)


def test_the_request_fits_the_body_limit() -> None:
    assert len(json.dumps(VECTORS["request"], indent=2).encode()) < MAX_ENROLL_BYTES


# -- the relay's rules (relay_server/invites.py), on every storage backend --


class Clock:
    def __init__(self, now_ms: int = NOW_MS) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def _invites(storage: BlobStorage, clock: Clock) -> Invites:
    return Invites(storage, Enrollment(storage), clock_ms=clock)


def _request(secret: bytes, relay: RelayIdentity, device: DeviceIdentity) -> EnrollRequest:
    return EnrollRequest.sign(InviteLink(secret, relay.public), device)


async def _refused(invites: Invites, request: EnrollRequest, relay: RelayIdentity) -> str:
    with pytest.raises(RelayError) as refused:
        await invites.enroll(request, relay)
    assert refused.value.code is ErrorCode.INVITE_UNUSABLE
    return str(refused.value)


@pytest.mark.asyncio
async def test_an_invite_enrolls_one_device_once(
    storage: BlobStorage, relay_identity: RelayIdentity
) -> None:
    clock = Clock()
    invites = _invites(storage, clock)
    secret, record = await invites.create(3600)
    first, second = DeviceIdentity.generate(), DeviceIdentity.generate()
    request = _request(secret, relay_identity, first)
    answer = await invites.enroll(request, relay_identity)
    assert answer.verify(relay_identity.public, first.public, record.invite)
    enrollment = Enrollment(storage)
    assert await enrollment.may_upload(first.public.raw)
    # the same request again (a lost answer) is answered again, and enrolls nobody new
    assert await invites.enroll(request, relay_identity) == answer
    used = await _refused(invites, _request(secret, relay_identity, second), relay_identity)
    assert not await enrollment.is_enrolled(second.public.raw)
    info = await invites.info(record.invite)
    assert info is not None
    assert info.state is InviteState.USED
    assert info.used_by == first.public
    # unknown, expired, withdrawn and forged all get the same refusal
    unknown = await _refused(
        invites, _request(p.random_bytes(32), relay_identity, second), relay_identity
    )
    expiring, _ = await invites.create(60)
    clock.now_ms += 60_000
    expired = await _refused(invites, _request(expiring, relay_identity, second), relay_identity)
    withdrawn_secret, withdrawn_record = await invites.create(3600)
    before = await invites.withdraw(invite_id_of(withdrawn_record.invite))
    assert before.state is InviteState.OPEN
    withdrawn = await _refused(
        invites, _request(withdrawn_secret, relay_identity, second), relay_identity
    )
    open_secret, _ = await invites.create(3600)
    good = _request(open_secret, relay_identity, second)
    forged = EnrollRequest(good.invite, good.device, bytes(64), good.device_signature)
    forged_text = await _refused(invites, forged, relay_identity)
    other_relay = await _refused(
        invites, _request(open_secret, RelayIdentity.generate(), second), relay_identity
    )
    assert len({used, unknown, expired, withdrawn, forged_text, other_relay}) == 1
    # what was refused did not use the open invite up
    await invites.enroll(good, relay_identity)


@pytest.mark.asyncio
async def test_concurrent_enrollments_with_one_invite_one_wins(
    storage: BlobStorage, relay_identity: RelayIdentity
) -> None:
    invites = _invites(storage, Clock())
    secret, _ = await invites.create(3600)
    devices = [DeviceIdentity.generate() for _ in range(6)]
    # separate Invites (as separate processes would be) racing on one storage
    racers = [_invites(storage, Clock()) for _ in devices]
    results = await asyncio.gather(
        *(
            racer.enroll(_request(secret, relay_identity, device), relay_identity)
            for racer, device in zip(racers, devices, strict=True)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, EnrollAnswer)]
    assert len(winners) == 1
    assert all(
        isinstance(r, RelayError) and r.code is ErrorCode.INVITE_UNUSABLE
        for r in results
        if not isinstance(r, EnrollAnswer)
    )
    enrollment = Enrollment(storage)
    enrolled = [d for d in devices if await enrollment.is_enrolled(d.public.raw)]
    assert len(enrolled) == 1


@pytest.mark.asyncio
async def test_a_revoked_device_cannot_come_back_with_an_invite(
    tmp_path: Path, relay_identity: RelayIdentity
) -> None:
    storage = FilesystemStorage(tmp_path / "store")
    enrollment = Enrollment(storage)
    device = DeviceIdentity.generate()
    await enrollment.enroll(device.public)
    await enrollment.revoke(device.public)
    invites = _invites(storage, Clock())
    secret, record = await invites.create(3600)
    await _refused(invites, _request(secret, relay_identity, device), relay_identity)
    info = await invites.info(record.invite)
    assert info is not None
    assert info.state is InviteState.OPEN
    await storage.close()


@pytest.mark.asyncio
async def test_withdrawing_a_used_invite_changes_nothing(
    tmp_path: Path, relay_identity: RelayIdentity
) -> None:
    storage = FilesystemStorage(tmp_path / "store")
    invites = _invites(storage, Clock())
    secret, record = await invites.create(3600)
    await invites.enroll(
        _request(secret, relay_identity, DeviceIdentity.generate()), relay_identity
    )
    before = await invites.withdraw(invite_id_of(record.invite))
    assert before.state is InviteState.USED
    assert await storage.read_invite_closing(record.invite) != WITHDRAWN_MARK
    with pytest.raises(Refused):
        await invites.withdraw("00")  # too short to name one
    await storage.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("expires_s", [59, 7 * 86400 + 1])
async def test_expiry_bounds(tmp_path: Path, expires_s: int) -> None:
    storage = FilesystemStorage(tmp_path / "store")
    with pytest.raises(Refused):
        await _invites(storage, Clock()).create(expires_s)
    await storage.close()


@pytest.mark.asyncio
async def test_the_storage_holds_no_secret(tmp_path: Path, relay_identity: RelayIdentity) -> None:
    storage = FilesystemStorage(tmp_path / "store")
    invites = _invites(storage, Clock())
    secrets = [(await invites.create(3600))[0] for _ in range(3)]
    await invites.enroll(
        _request(secrets[0], relay_identity, DeviceIdentity.generate()), relay_identity
    )
    stored = b"".join(f.read_bytes() for f in (tmp_path / "store").rglob("*") if f.is_file())
    for secret in secrets:
        seed = p.keyed_hash32(secret, b"testigo/v1 invite-key")
        for form in (
            secret,
            secret.hex().encode(),
            b64url(secret).encode(),
            seed,
            seed.hex().encode(),
        ):
            assert form not in stored
    await storage.close()


def test_failures_are_limited_per_address_and_bounded() -> None:
    now = [0.0]
    limit = FailureLimit(max_failures=3, window_s=60, max_addresses=2, clock=lambda: now[0])
    for _ in range(3):
        assert limit.allows("192.0.2.1")
        limit.failed("192.0.2.1")
    assert not limit.allows("192.0.2.1")
    assert limit.allows("192.0.2.2")
    now[0] = 61
    assert limit.allows("192.0.2.1")
    # one IPv6 /64 is one address; an IPv4-mapped address is the IPv4 address
    assert address_bucket("2001:db8::1") == address_bucket("2001:db8::ffff:1")
    assert address_bucket("::ffff:192.0.2.1") == address_bucket("192.0.2.1")
    for n in range(10):
        limit.failed(f"198.51.100.{n}")
    assert len(limit._failures) == 2


def test_keys_in_the_vectors_parse() -> None:
    assert RelayKey.parse(_text("relay"))
    assert DeviceKey.parse(_text("device"))
