"""tests/vectors/live.json through both readers of live messages: vault.wire.live (and
vault.wire.live_auth) here, lib/wire/live.js in a real Chromium (PROTOCOL.md §12, §12.1)."""

from pathlib import Path

import pytest

from stream.demo.local_relay import LocalRelay
from tests.browser import chromium_or_skip, chromium_page
from tests.vectors import generate_live as gen
from vault.errors import MalformedError
from vault.wire.live import (
    LiveChunk,
    LiveDropped,
    LiveEnd,
    LiveHeader,
    LiveSilent,
    parse_live_message,
)
from vault.wire.live_auth import LiveAuth

VECTORS = gen.load()

RUN = """
async (vectors) => {
  const live = await import("/app/lib/wire/live.js");
  const { fromHex, toHex } = await import("/app/lib/bytes.js");
  const plain = (m) => {
    switch (m.type) {
      case "header": return { type: m.type, bytes: toHex(m.header) };
      case "chunk": return { type: m.type, bytes: toHex(m.chunk) };
      case "dropped": return { type: m.type, count: m.count };
      case "end": return { type: m.type, reason: m.reason, text: m.text };
      default: return { type: m.type, recording_id: toHex(m.recordingId),
                        since_ms: m.sinceMs, silent_ms: m.silentMs };
    }
  };
  const attempt = (f) => { try { return { ok: f() }; } catch (e) { return { error: e.name }; } };
  const read = (v) => attempt(() => plain(live.parseLiveMessage(fromHex(v.hex))));
  return {
    messages: vectors.messages.map(read),
    malformed: vectors.malformed.map(read),
    auth_valid: vectors.auth_valid.map((v) => attempt(() => live.parseLiveAuth(v.text))),
    auth_invalid: vectors.auth_invalid.map((v) => attempt(() => live.parseLiveAuth(v.text))),
    made: vectors.auth_valid.map((v) => live.liveAuthMessage(v.token)),
  };
}
"""


def python_fields(data: bytes) -> dict[str, object]:
    message = parse_live_message(data)
    match message:
        case LiveHeader(header=header):
            return {"type": "header", "bytes": header.hex()}
        case LiveChunk(chunk=chunk):
            return {"type": "chunk", "bytes": chunk.hex()}
        case LiveDropped(count=count):
            return {"type": "dropped", "count": count}
        case LiveEnd(reason=reason, text=text):
            return {"type": "end", "reason": reason, "text": text}
        case LiveSilent(recording_id=rid, since_ms=since, silent_ms=silent):
            return {
                "type": "silent",
                "recording_id": rid.hex(),
                "since_ms": since,
                "silent_ms": silent,
            }
    raise AssertionError(message)


def test_the_file_is_its_generators() -> None:
    assert gen.VECTORS_FILE.read_text() == gen.render()


@pytest.mark.parametrize("vector", VECTORS["messages"], ids=lambda v: str(v["fields"]["type"]))
def test_python_reads_every_message(vector: gen.Message) -> None:
    assert python_fields(bytes.fromhex(vector["hex"])) == vector["fields"]


@pytest.mark.parametrize("vector", VECTORS["malformed"], ids=lambda v: v["why"])
def test_python_rejects_every_malformed_message(vector: gen.Malformed) -> None:
    with pytest.raises(MalformedError):
        parse_live_message(bytes.fromhex(vector["hex"]))


def test_python_reads_the_first_messages_alike() -> None:
    for valid in VECTORS["auth_valid"]:
        assert LiveAuth.parse(valid["text"]).token == valid["token"]
        assert str(LiveAuth(valid["token"])) == valid["text"]
    for invalid in VECTORS["auth_invalid"]:
        with pytest.raises(MalformedError):
            LiveAuth.parse(invalid["text"])


def test_the_browser_reads_every_vector_as_python_does(tmp_path: Path) -> None:
    chromium_or_skip()
    with LocalRelay(tmp_path / "relay") as relay, chromium_page(tmp_path / "profile") as page:
        page.goto(relay.url + "/app/phone/")
        results = page.evaluate(RUN, VECTORS)
    assert [r.get("ok") for r in results["messages"]] == [v["fields"] for v in VECTORS["messages"]]
    assert [r.get("error") for r in results["malformed"]] == ["MalformedError"] * len(
        VECTORS["malformed"]
    )
    assert [r.get("ok") for r in results["auth_valid"]] == [
        v["token"] for v in VECTORS["auth_valid"]
    ]
    assert [r.get("error") for r in results["auth_invalid"]] == ["MalformedError"] * len(
        VECTORS["auth_invalid"]
    )
    assert results["made"] == [v["text"] for v in VECTORS["auth_valid"]]
