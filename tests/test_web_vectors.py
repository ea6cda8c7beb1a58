"""Every vector in tests/vectors/data/ through the JavaScript reader, in a real Chromium.

The browser app's reader (relay_server/web/lib/verify.js) is loaded from a real relay
process, as a phone loads it, and must give every vector the outcome the Python readers
give (tests/test_vectors.py): the same verdict with and without the recipient's key, the
same valid chunks, the same plaintexts (by sha256), the same gaps and interruption.
"""

import base64
import json

import pytest

from stream.demo.local_relay import LocalRelay
from tests.browser import chromium_or_skip, chromium_page
from tests.vectors.kit import DATA_DIR, Vector

VECTORS = [Vector.decode(p.name, p.read_bytes()) for p in sorted(DATA_DIR.iterdir())]

# Runs in the page: each vector through verifyRecording, with the key and without.
RUN_VECTORS = """
async (vectors) => {
  const { verifyRecording } = await import("/app/lib/verify.js");
  const { RecipientIdentity } = await import("/app/lib/open.js");
  const { fromHex, toHex } = await import("/app/lib/bytes.js");
  const sodium = await import("/app/lib/sodium.js");
  await sodium.ready();
  const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const read = async (bytes, identities) => {
    try {
      const { report, valid } = verifyRecording(bytes, identities);
      const plaintexts = valid.map((v) => v.plaintext ?? new Uint8Array(0));
      const joined = new Uint8Array(plaintexts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of plaintexts) { joined.set(p, at); at += p.length; }
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
      return {
        status: report.status, decrypted: report.decrypted,
        valid: valid.map((v) => v.chunk.index),
        opened: valid.every((v) => v.plaintext !== null),
        payload: toHex(digest), missing: report.missingIndices,
        interrupted_after: report.interruptedAfter,
        problems: report.problems.length, chain_intact: report.chainIntact,
        framing_error: report.framingError,
      };
    } catch (error) {
      return { error: error.name, message: String(error.message) };
    }
  };
  const results = {};
  for (const v of vectors) {
    const bytes = fromBase64(v.recording);
    results[v.name] = {
      keyed: await read(bytes, [new RecipientIdentity(fromHex(v.identity))]),
      keyless: await read(bytes, []),
    };
  }
  return results;
}
"""

HEADER_ERRORS = {"MalformedError": {"MalformedError", "UnsupportedVersionError"},
                 "TamperedError": {"TamperedError"}}  # fmt: skip


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, object]]]:
    chromium_or_skip()
    workdir = tmp_path_factory.mktemp("web-vectors")
    with LocalRelay(workdir) as relay, chromium_page(workdir / "profile") as page:
        page.goto(relay.url + "/app/phone/")
        arguments = [
            {"name": v.name, "recording": base64.b64encode(v.recording).decode(),
             "identity": v.identity.hex()}
            for v in VECTORS
        ]  # fmt: skip
        result: dict[str, dict[str, dict[str, object]]] = page.evaluate(RUN_VECTORS, arguments)
        return result


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_javascript_reader_agrees(
    vector: Vector, outcomes: dict[str, dict[str, dict[str, object]]]
) -> None:
    keyed = outcomes[vector.name]["keyed"]
    if vector.expect == "no match":
        assert keyed.get("error") == "NotForMeError", keyed
    elif vector.expect == "header failure":
        assert keyed.get("error") in HEADER_ERRORS[vector.error or ""], keyed
    else:
        assert keyed.get("status") == vector.expect, json.dumps(keyed)
        assert keyed["decrypted"] is True
        assert tuple(keyed["valid"]) == vector.valid  # type: ignore[arg-type]
        assert keyed["opened"] is True
        assert keyed["payload"] == vector.payload
        assert tuple(keyed["missing"]) == vector.missing  # type: ignore[arg-type]
        assert keyed["interrupted_after"] == vector.interrupted_after
        if vector.expect in ("complete", "incomplete"):
            assert keyed["problems"] == 0
            assert keyed["chain_intact"] is True
            assert keyed["framing_error"] is None

    keyless = outcomes[vector.name]["keyless"]
    expect = vector.expect_without_identity or vector.expect
    if expect == "header failure":
        assert keyless.get("error") in HEADER_ERRORS[vector.error or ""], keyless
        return
    assert keyless.get("status") == expect, json.dumps(keyless)
    assert keyless["decrypted"] is False
    if vector.expect_without_identity is None:
        assert tuple(keyless["valid"]) == vector.valid  # type: ignore[arg-type]
        assert tuple(keyless["missing"]) == vector.missing  # type: ignore[arg-type]
        assert keyless["interrupted_after"] == vector.interrupted_after


def test_every_vector_reached_the_browser(
    outcomes: dict[str, dict[str, dict[str, object]]],
) -> None:
    assert sorted(outcomes) == sorted(v.name for v in VECTORS)
    assert len(outcomes) >= 79
