"""End to end on loopback with real processes: recorder + uploader -> relay -> lawyer.

Each test runs the real `testigo record --relay` and `testigo relay serve` processes,
kills and restarts them, and checks what a lawyer finally gets from the relay.
"""

import asyncio
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from capture import timecode
from stream.demo.local_relay import LocalRelay, cli_command, free_port
from tests.cli_run import BOOK, public_key, run_testigo
from vault import RelayIdentity, verify_file
from vault.keys import DeviceKey
from vault.spool import recordings_in
from vault.wire.receipts_file import parse_receipts_file

DEADLINE_S = 90.0


@dataclass
class Phone:
    """A device with a contact book, enrolled on a relay, plus the lawyer's keys."""

    workdir: Path
    device: DeviceKey
    relay: LocalRelay
    token: str

    def environment(self) -> dict[str, str]:
        return {**os.environ, "TESTIGO_HOME": str(self.workdir / "home")}

    def record(
        self, *extra: str, relay_url: str | None = None, spool: str = "spool"
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*cli_command(), "record", "--source", "synthetic", "--resolution", "320x240",
             "--fps", "15", "--bitrate", "300000", "-o", spool,
             "--relay", relay_url or self.relay.url, "--relay-key", str(self.relay.key), *extra],
            cwd=self.workdir, env=self.environment(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def record_offline(self, *, seconds: float) -> None:
        """Record into the spool without streaming (--offline: even if set up)."""
        offline = subprocess.run(
            [*cli_command(), "record", "--source", "synthetic", "--resolution", "320x240",
             "--fps", "15", "--duration", str(seconds), "-o", "spool", "--offline"],
            cwd=self.workdir, env=self.environment(), capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        assert offline.returncode == 0, offline.stderr

    def fetch(self, name: str) -> Path:
        result = run_testigo(
            "fetch", "--relay", self.relay.url, "--device", str(self.device), "-o", name,
            cwd=self.workdir, env={"TESTIGO_TOKEN": self.token},
        )  # fmt: skip
        assert result.code == 0, result.err
        return self.workdir / name

    def verify(self, name: str) -> tuple[int, dict[str, object]]:
        result = run_testigo(
            "verify", name, "--relay-key", str(self.relay.key), "--json", cwd=self.workdir
        )
        return result.code, json.loads(result.out)

    def spool_counts(self) -> tuple[int, int]:
        recordings = (
            recordings_in(self.workdir / "spool") if (self.workdir / "spool").exists() else []
        )
        chunks = sum(len(r.indices()) for r in recordings)
        receipts = sum(len(r.receipted()) for r in recordings)
        return chunks, receipts


@pytest.fixture
def phone(tmp_path: Path) -> Iterator[Phone]:
    run_testigo(
        "keygen", "--role", "device", "-o", "home/device.key", "--no-passphrase", cwd=tmp_path
    )
    device = DeviceKey.parse(json.loads((tmp_path / "home/device.key").read_text())["public"])
    lawyer = public_key(
        run_testigo("keygen", "--role", "lawyer", "-o", "l.key", "--no-passphrase", cwd=tmp_path)
    )
    assert (
        run_testigo(
            "contacts", "add", "Counsel", lawyer, "--role", "lawyer", cwd=tmp_path, env=BOOK
        ).code
        == 0
    )
    relay = LocalRelay(tmp_path / "relay")
    relay.enroll(device)
    token = relay.token(device)
    relay.start()
    try:
        yield Phone(tmp_path, device, relay, token)
    finally:
        relay.stop()


def wait_until(condition: Callable[[], bool], what: str, process: subprocess.Popen[str]) -> None:
    """Poll a condition with a deadline (file-system state; not a timing guess)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"recorder exited before {what}: {process.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def finish(process: subprocess.Popen[str]) -> str:
    """Wait for the recorder to end; its stderr (notes, status)."""
    out, err = process.communicate(timeout=DEADLINE_S)
    assert process.returncode == 0, (out, err)
    return err


def test_record_streams_and_the_lawyer_gets_a_complete_receipted_archive(phone: Phone) -> None:
    notes = finish(phone.record("--duration", "3"))
    assert "using HTTPS" not in notes  # WebRTC connected (the relay offers loopback only)
    chunks, receipts = phone.spool_counts()
    assert chunks == receipts >= 5
    phone.fetch("evidence.tgr")
    code, report = phone.verify("evidence.tgr")
    assert code == 0, report
    assert report["status"] == "complete"
    receipts_report = report["receipts"]
    assert isinstance(receipts_report, dict)
    assert receipts_report["receipted"] == chunks
    assert receipts_report["unreceipted"] == []
    # the phone's own spool verifies the same way, with the receipts stored beside it
    code, spooled = phone.verify("spool")
    assert code == 0, spooled
    spooled_receipts = spooled["receipts"]
    assert isinstance(spooled_receipts, dict)
    assert spooled_receipts["receipted"] == chunks


def test_relay_killed_and_restarted_mid_recording_loses_nothing(phone: Phone) -> None:
    recorder = phone.record("--duration", "8")
    wait_until(lambda: phone.spool_counts()[1] >= 3, "3 receipts", recorder)
    phone.relay.kill()
    receipts_at_kill = phone.spool_counts()[1]
    wait_until(
        lambda: phone.spool_counts()[0] >= receipts_at_kill + 2, "2 chunks spooled", recorder
    )
    phone.relay.start()  # same port, same storage
    finish(recorder)
    chunks, receipts = phone.spool_counts()
    assert chunks == receipts
    phone.fetch("after-crash.tgr")
    code, report = phone.verify("after-crash.tgr")
    assert code == 0, report
    assert report["missing"] == []
    assert report["problems"] == []  # no duplicates, nothing out of order
    assert report["chunks_valid"] == chunks


def spooled_receipts(workdir: Path) -> dict[str, bytes]:
    """Every receipt in every spool under workdir, by its path."""
    return {
        str(path.relative_to(workdir)): path.read_bytes()
        for path in workdir.glob("spool*/*/receipts/*.receipt")
    }


def test_relay_killed_20_times_while_two_recorders_stream(phone: Phone) -> None:
    """SIGKILL at random moments, 20 times, while two recorders stream: no receipted chunk
    is lost, and every receipt a recorder holds is byte-identical to the relay's."""
    rng = random.Random(20)
    fast = ("--duration", "120", "--fragment-seconds", "0.25")  # ended by Ctrl-C below
    first = phone.record(*fast)
    second = phone.record(*fast, spool="spool2")
    held: dict[str, bytes] = {}
    for _kill in range(20):
        target = len(spooled_receipts(phone.workdir)) + rng.randint(1, 4)

        def receipted(target: int = target) -> bool:
            return len(spooled_receipts(phone.workdir)) >= target

        wait_until(receipted, "receipts", first)
        held.update(spooled_receipts(phone.workdir))
        phone.relay.kill()  # whatever it was doing: mid-chunk, mid-receipt, mid-fsync
        seen = phone.spool_counts()[0]

        def spooled_more(seen: int = seen) -> bool:
            return phone.spool_counts()[0] > seen

        wait_until(spooled_more, "a chunk spooled while the relay is down", first)
        phone.relay.start()  # same port, same storage
    for recorder in (first, second):
        recorder.send_signal(signal.SIGINT)  # end both recordings: final chunks, then upload
    finish(first)
    finish(second)
    after = spooled_receipts(phone.workdir)
    assert {k: after[k] for k in held} == held  # no receipt ever changed
    for spool in ("spool", "spool2"):
        (recording,) = recordings_in(phone.workdir / spool)
        assert set(recording.indices()) == recording.receipted()  # everything safe in the end
        name = f"{spool}.tgr"
        result = run_testigo(
            "fetch", "--relay", phone.relay.url, "--device", str(phone.device),
            "--recording", recording.directory.name, "-o", name,
            cwd=phone.workdir, env={"TESTIGO_TOKEN": phone.token},
        )  # fmt: skip
        assert result.code == 0, result.err
        code, report = phone.verify(name)
        assert code == 0, report  # complete, every receipt valid under the relay key
        relay_receipts = {
            r.index: bytes(r)
            for r in parse_receipts_file((phone.workdir / f"{name}.receipts").read_bytes())
        }
        for index in recording.indices():
            assert relay_receipts[index] == recording.read_receipt(index)


class PausableProxy:
    """A TCP proxy on loopback that can cut every connection and refuse new ones."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._loop = asyncio.new_event_loop()
        self._cut = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self._target
            )
        except OSError:
            writer.close()
            return
        self._writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    if self._cut:
                        break
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    def set_cut(self, cut: bool) -> None:
        def apply() -> None:
            self._cut = cut
            if cut:
                for writer in self._writers:
                    writer.close()
                self._writers.clear()

        self._loop.call_soon_threadsafe(apply)

    def close(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def test_network_cut_for_10_s_the_backlog_arrives_in_order(phone: Phone) -> None:
    proxy = PausableProxy(phone.relay.port)
    try:
        recorder = phone.record(
            "--duration", "14", "--https-only", relay_url=f"http://127.0.0.1:{proxy.port}"
        )
        wait_until(lambda: phone.spool_counts()[1] >= 2, "2 receipts", recorder)
        proxy.set_cut(True)
        cut_at = time.monotonic()
        _, receipts_at_cut = phone.spool_counts()
        wait_until(lambda: time.monotonic() - cut_at >= 10, "10 s of cut", recorder)
        chunks_during, receipts_during = phone.spool_counts()
        assert receipts_during <= receipts_at_cut + 2  # only answers already on their way
        assert chunks_during >= receipts_during + 8  # the backlog built up on the device
        proxy.set_cut(False)
        finish(recorder)
    finally:
        proxy.close()
    chunks, receipts = phone.spool_counts()
    assert chunks == receipts
    recording = recordings_in(phone.workdir / "spool")[0]
    phone.fetch("after-cut.tgr")
    code, report = phone.verify("after-cut.tgr")
    assert code == 0, report
    received = [
        r.received_ms
        for r in parse_receipts_file((phone.workdir / "after-cut.tgr.receipts").read_bytes())
    ]
    assert len(received) == len(recording.indices())
    assert received == sorted(received)  # the backlog was stored in index order


def test_recorder_killed_the_relay_holds_all_but_the_last_moments(phone: Phone) -> None:
    recorder = phone.record("--duration", "60")
    wait_until(lambda: phone.spool_counts()[1] >= 5, "5 receipts", recorder)
    recorder.send_signal(signal.SIGKILL)
    killed_ms = time.time_ns() // 1_000_000
    recorder.wait()
    phone.fetch("seized.tgr")
    code, report = phone.verify("seized.tgr")
    assert code == 10, report
    assert report["status"] == "incomplete"
    assert report["final_index"] is None
    assert report["missing"] == []
    decrypted = run_testigo(
        "decrypt", "seized.tgr", "--identity", "l.key", "-o", "seized.mp4", cwd=phone.workdir
    )
    assert decrypted.code == 10, decrypted.err
    with av.open(str(phone.workdir / "seized.mp4")) as container:
        codes = [timecode.read_frame(frame) for frame in container.decode(video=0)]
    last = next(code for code in reversed(codes) if code is not None)
    last_frame_ms = last.unwrap(killed_ms)
    loss_window_s = (killed_ms - last_frame_ms) / 1000
    assert 0 <= loss_window_s <= 1.5, loss_window_s


def test_a_contact_watches_live_with_the_cli(phone: Phone) -> None:
    contact = public_key(
        run_testigo(
            "keygen", "--role", "contact", "-o", "ana.key", "--no-passphrase", cwd=phone.workdir
        )
    )
    assert run_testigo("contacts", "add", "Ana", contact, cwd=phone.workdir, env=BOOK).code == 0
    watcher = subprocess.Popen(
        [*cli_command(), "watch", "--relay", phone.relay.url, "--device", str(phone.device),
         "--identity", "ana.key", "-o", "live.mp4", "--once"],
        cwd=phone.workdir, env={**phone.environment(), "TESTIGO_TOKEN": phone.token},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert watcher.stdout is not None
        first = watcher.stdout.readline()
        assert "connected to" in first, first
        finish(phone.record("--duration", "3"))
        rest, _ = watcher.communicate(timeout=DEADLINE_S)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 0, rest
    assert "RECORDING started" in rest
    assert "RECORDING complete" in rest
    with av.open(str(phone.workdir / "live.mp4")) as container:
        codes = [timecode.read_frame(frame) for frame in container.decode(video=0)]
    assert len(codes) == 45  # 3 s at 15 fps, all of it, live
    assert [c.frame for c in codes if c is not None] == list(range(45))


def test_offline_recording_is_uploaded_later(phone: Phone) -> None:
    phone.record_offline(seconds=2)
    chunks, receipts = phone.spool_counts()
    assert receipts == 0
    result = run_testigo(
        "upload", "spool", "--relay", phone.relay.url, "--relay-key", str(phone.relay.key),
        cwd=phone.workdir,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert phone.spool_counts() == (chunks, chunks)
    again = run_testigo(
        "upload", "spool", "--relay", phone.relay.url, "--relay-key", str(phone.relay.key),
        cwd=phone.workdir,
    )  # fmt: skip
    assert again.code == 0, again.err
    assert "without a receipt" not in again.err  # nothing left to send
    phone.fetch("later.tgr")
    code, report = phone.verify("later.tgr")
    assert code == 0, report


def test_upload_with_another_relays_key_is_not_safe_and_says_why(phone: Phone) -> None:
    phone.record_offline(seconds=1)
    assert run_testigo(
        "upload", "spool", "--relay", phone.relay.url, "--relay-key", str(phone.relay.key),
        cwd=phone.workdir,
    ).code == 0  # fmt: skip
    # The spool's receipts do not verify under another key: not safe, and said plainly.
    other = RelayIdentity.generate().public
    result = run_testigo(
        "upload", "spool", "--relay", phone.relay.url, "--relay-key", str(other),
        cwd=phone.workdir,
    )  # fmt: skip
    assert result.code == 3, result.err
    assert "this relay's key is not the one you set up" in result.err
    assert "NOT YET SAFE" in result.err
    assert "Traceback" not in result.err


def test_an_unenrolled_device_is_told_which_key_to_give_the_operator(phone: Phone) -> None:
    stranger = LocalRelay(phone.workdir / "stranger")  # a relay that never enrolled it
    with stranger:
        process = phone.record("--duration", "2", relay_url=stranger.url)
        out, err = process.communicate(timeout=DEADLINE_S)
    assert process.returncode == 3, (out, err)
    assert "not enrolled, or revoked" in err
    assert str(phone.device) in err
    assert "Traceback" not in err, err
    chunks, receipts = phone.spool_counts()
    assert chunks > 0
    assert receipts == 0  # nothing was deleted or pretended safe


def test_ctrl_c_ends_the_recording_and_a_second_one_gives_up(phone: Phone) -> None:
    """With the relay unreachable and a long --duration: the first Ctrl-C ends the
    recording with its final chunk, the upload goes on, the second gives up; exit 3."""
    process = phone.record("--duration", "120", relay_url=f"http://127.0.0.1:{free_port()}")
    wait_until(lambda: phone.spool_counts()[0] >= 3, "three chunks spooled", process)
    process.send_signal(signal.SIGINT)

    def ended() -> bool:
        return any(verify_file(r.directory, None).final_index is not None
                   for r in recordings_in(phone.workdir / "spool"))  # fmt: skip

    wait_until(ended, "the final chunk", process)
    assert process.poll() is None  # still trying to upload
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=DEADLINE_S)
    assert process.returncode == 3, (out, err)
    chunks, receipts = phone.spool_counts()
    assert f"receipted: 0 of {chunks} chunks" in out
    assert f"NOT YET SAFE: {chunks} chunk(s)" in err
    assert receipts == 0
    assert "Traceback" not in err


def test_when_webrtc_is_refused_the_uploader_falls_back_to_https(tmp_path: Path) -> None:
    run_testigo(
        "keygen", "--role", "device", "-o", "home/device.key", "--no-passphrase", cwd=tmp_path
    )
    device = DeviceKey.parse(json.loads((tmp_path / "home/device.key").read_text())["public"])
    lawyer = public_key(
        run_testigo("keygen", "--role", "lawyer", "-o", "l.key", "--no-passphrase", cwd=tmp_path)
    )
    run_testigo("contacts", "add", "Counsel", lawyer, "--role", "lawyer", cwd=tmp_path, env=BOOK)
    relay = LocalRelay(tmp_path / "relay", settings=("max_webrtc_sessions=0",))
    relay.enroll(device)
    with relay:
        phone = Phone(tmp_path, device, relay, relay.token(device))
        notes = finish(phone.record("--duration", "2"))
        assert "using HTTPS" in notes
        chunks, receipts = phone.spool_counts()
        assert chunks == receipts > 0
