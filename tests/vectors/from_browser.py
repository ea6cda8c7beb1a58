"""The vector `sealed_by_javascript`: a recording sealed by the browser's sealer.

Run from the project root, with Chromium installed:

    .venv/bin/python -m tests.vectors.from_browser

It starts a relay process and a headless Chromium, seals a recording with the page's
JavaScript (relay_server/web/lib/seal.js) to the vectors' fixed recipient, and writes
it with its expectations; `tests.vectors.generate` keeps this file when it rewrites the
others. Like theirs, its stanzas are random, so it is generated once and committed.
"""

import base64
import hashlib
import tempfile
from pathlib import Path
from typing import Final

from stream.demo.local_relay import LocalRelay
from tests.browser import chromium_page
from tests.vectors.kit import DATA_DIR, Vector, payload_hash
from vault.identity import RecipientIdentity

NAME: Final = "sealed_by_javascript"

# Runs in the page: seal the given plaintexts with a new device key of the given kind.
SEAL = """
async ({ kind, recipients, items }) => {
  const sodium = await import("/app/lib/sodium.js");
  const { RecordingSealer } = await import("/app/lib/seal.js");
  const { newDeviceKey, deviceSigner } = await import("/app/lib/device_key.js");
  await sodium.ready();
  const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const toBase64 = (bytes) => btoa(String.fromCharCode(...bytes));
  let stored;
  if (kind === "webcrypto") stored = await newDeviceKey();
  else {
    const seed = sodium.randomBytes(32);
    stored = { kind: "sodium", seed, publicKey: sodium.ed25519Keypair(seed).publicKey };
  }
  const signer = deviceSigner(stored);
  const sealer = await RecordingSealer.start({
    signer, recipients: recipients.map(fromBase64),
    mediaType: 'video/mp4; codecs="avc1.42E01E,opus"', createdMs: 1795300000000,
  });
  const parts = [sealer.headerBytes];
  // sealed concurrently on purpose: the sealer keeps index order by call order
  const sealed = await Promise.all(items.map(([k, text], i) =>
    sealer.seal(k, new TextEncoder().encode(text), 1795300000000 + 1000 * i)));
  for (const s of sealed) parts.push(s.bytes);
  parts.push((await sealer.finish({ reason: "stopped" })).bytes);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return { kind: stored.kind, recording: toBase64(out) };
}
"""


ITEMS: Final = [
    (1, "ftyp+moov: the init segment, sealed in a browser"),
    (2, "moof+mdat: fragment 1"),
    (3, '{"type": "location", "lat": 19.43, "lon": -99.13, "accuracy_m": 12}'),
    (2, "moof+mdat: fragment 2"),
]


def main() -> None:
    me = RecipientIdentity(hashlib.sha256(b"testigo test vector recipient 1").digest())
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        with LocalRelay(workdir) as relay, chromium_page(workdir / "profile") as page:
            page.goto(relay.url + "/app/phone/")
            recipients = [base64.b64encode(me.public.raw).decode()]
            result = page.evaluate(SEAL, {"kind": "webcrypto", "recipients": recipients,
                                          "items": ITEMS})  # fmt: skip
    plaintexts = [text.encode() for _, text in ITEMS] + [b'{"reason":"stopped"}']
    vector = Vector(
        name=NAME,
        expect="complete",
        recording=base64.b64decode(result["recording"]),
        identity=me.secret_bytes(),
        comment="sealed by relay_server/web/lib/seal.js in Chromium, signed by a WebCrypto key",
        payload=payload_hash(plaintexts),
        valid=tuple(range(len(plaintexts))),
    )
    (DATA_DIR / NAME).write_bytes(vector.encode())
    print(f"wrote {DATA_DIR / NAME}")


if __name__ == "__main__":
    main()
