"""Recordings sealed by the browser's JavaScript sealer, read by the Python readers.

The page (loaded from a real relay process, in a real Chromium) seals a recording with
each kind of device key it can hold, a WebCrypto Ed25519 key and a libsodium one;
`vault` must find it complete, open every chunk to the same plaintexts, and refuse it
when a byte is changed. The committed vector `sealed_by_javascript` is one such
recording, so every reader runs it too (tests/test_vectors.py, tests/test_web_vectors.py).
"""

import base64
import io

import pytest

import vault
from stream.demo.local_relay import LocalRelay
from tests.browser import chromium_or_skip, chromium_page
from tests.vectors.from_browser import SEAL

ITEMS = [
    (1, "ftyp…moov: the init segment"),
    (2, "moof+mdat: fragment 1"),
    (3, '{"type": "location", "lat": 19.43, "lon": -99.13, "accuracy_m": 12}'),
    (2, "moof+mdat: fragment 2"),
]


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, bytes]]:
    chromium_or_skip()
    workdir = tmp_path_factory.mktemp("web-seal")
    with LocalRelay(workdir) as relay, chromium_page(workdir / "profile") as page:
        page.goto(relay.url + "/app/phone/")
        out = {}
        for kind in ("webcrypto", "sodium"):
            result = page.evaluate(
                SEAL,
                {"kind": kind, "recipients": [base64.b64encode(r.public.raw).decode()
                                             for r in RECIPIENTS], "items": ITEMS},
            )  # fmt: skip
            out[kind] = (str(result["kind"]), base64.b64decode(result["recording"]))
        return out


RECIPIENTS = (vault.RecipientIdentity.generate(), vault.RecipientIdentity.generate())


class Kept:
    def __init__(self) -> None:
        self.plaintexts: list[bytes | None] = []

    def __call__(self, _chunk: vault.Chunk, plaintext: bytes | None) -> None:
        self.plaintexts.append(plaintext)


@pytest.mark.parametrize("kind", ["webcrypto", "sodium"])
def test_python_reads_what_the_browser_sealed(
    sealed: dict[str, tuple[str, bytes]], kind: str
) -> None:
    used, recording = sealed[kind]
    assert used == kind  # this Chromium has WebCrypto Ed25519: the key cannot leave it
    for recipient in RECIPIENTS:
        kept = Kept()
        report = vault.verify_stream(io.BytesIO(recording), [recipient], sink=kept)
        assert report.status is vault.Status.COMPLETE, report.to_json()
        assert report.locations == 1
        assert kept.plaintexts == [
            *(text.encode() for _, text in ITEMS),
            b'{"reason":"stopped"}',
        ]
    keyless = vault.verify_stream(io.BytesIO(recording))
    assert keyless.status is vault.Status.COMPLETE


@pytest.mark.parametrize("kind", ["webcrypto", "sodium"])
def test_a_changed_byte_is_caught(sealed: dict[str, tuple[str, bytes]], kind: str) -> None:
    recording = bytearray(sealed[kind][1])
    recording[-20] ^= 1  # inside the end chunk's ciphertext
    report = vault.verify_stream(io.BytesIO(bytes(recording)), [RECIPIENTS[0]])
    assert report.status is vault.Status.TAMPERED


def test_a_stranger_cannot_open_it(sealed: dict[str, tuple[str, bytes]]) -> None:
    with pytest.raises(vault.NotForMeError):
        vault.verify_stream(io.BytesIO(sealed["sodium"][1]), [vault.RecipientIdentity.generate()])
