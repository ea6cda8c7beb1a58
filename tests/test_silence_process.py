"""The phone goes silent, with real processes: `testigo relay serve` (LocalRelay), the real
`testigo record --relay` recorder killed with SIGKILL mid-recording, the real `testigo
watch`, and a webhook inbox (AlertInbox) as the contacts' receiver.

Waits are on the inbox and on the watcher's output lines, each with a deadline; that a
recording ended normally sends no silence alert is shown by the next recording's silence
alert (it comes `alert_silence_seconds` after that recording's last chunk, so after the
first one's would have).
"""

import json
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stream.demo.alert_inbox import AlertInbox
from stream.demo.local_relay import LocalRelay, cli_command
from tests.cli_run import BOOK, public_key, run_testigo
from tests.test_stream import Phone, finish, wait_until
from vault.keys import DeviceKey

pytestmark = pytest.mark.timeout(180)

ALERT_SILENCE_S = 2.0
LIVE_SILENCE_S = 1.0
SLACK_S = 2.0  # delivery, and the chunk that was in flight when the recorder died
DEADLINE_S = 60.0


@dataclass
class Lines:
    """A process's output lines, read on a thread, each with its arrival (monotonic)."""

    process: subprocess.Popen[str]
    arrived: "queue.Queue[tuple[float, str]]"
    seen: list[str]

    @classmethod
    def follow(cls, process: subprocess.Popen[str]) -> "Lines":
        arrived: queue.Queue[tuple[float, str]] = queue.Queue()

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                arrived.put((time.monotonic(), line.rstrip("\n")))

        threading.Thread(target=read, daemon=True).start()
        return cls(process, arrived, [])

    def wait_for(self, text: str, timeout: float = DEADLINE_S) -> float:
        """When the first line holding text (from now on) arrived."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {text!r} from the watcher; it said: {self.seen}")
            try:
                at, line = self.arrived.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return at


@pytest.fixture
def inbox() -> Iterator[AlertInbox]:
    receiver = AlertInbox()
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.fixture
def phone(tmp_path: Path, inbox: AlertInbox) -> Iterator[Phone]:
    run_testigo(
        "keygen", "--role", "device", "-o", "home/device.key", "--no-passphrase", cwd=tmp_path
    )
    device = DeviceKey.parse(json.loads((tmp_path / "home/device.key").read_text())["public"])
    contact = public_key(
        run_testigo("keygen", "--role", "contact", "-o", "ana.key", "--no-passphrase", cwd=tmp_path)
    )
    assert run_testigo("contacts", "add", "Ana", contact, cwd=tmp_path, env=BOOK).code == 0
    relay = LocalRelay(
        tmp_path / "relay",
        settings=(
            f"alert_silence_seconds={ALERT_SILENCE_S}",
            f"live_silence_seconds={LIVE_SILENCE_S}",
            "alert_dedupe_seconds=0",
        ),
    )
    relay.enroll(device)
    relay.add_alert(device, "webhook", inbox.url)
    token = relay.token(device)
    relay.start()
    try:
        yield Phone(tmp_path, device, relay, token)
    finally:
        relay.stop()


def events(alerts: list[dict[str, object]]) -> list[object]:
    return [alert.get("event") for alert in alerts]


def test_a_recorder_killed_mid_recording_alerts_the_contacts_and_the_watcher_says_no_data(
    phone: Phone, inbox: AlertInbox
) -> None:
    watcher = subprocess.Popen(
        [*cli_command(), "watch", "--relay", phone.relay.url, "--device", str(phone.device),
         "--identity", "ana.key"],
        cwd=phone.workdir, env={**phone.environment(), "TESTIGO_TOKEN": phone.token},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        lines = Lines.follow(watcher)
        lines.wait_for("connected to")

        # a recording that ends normally
        finish(phone.record("--duration", "2"))
        lines.wait_for("RECORDING complete")
        assert inbox.wait_for(lambda a: events(a) == ["recording_started"])
        ended_receipts = phone.spool_counts()[1]

        # a recording whose phone dies
        recorder = phone.record("--duration", "60")
        wait_until(lambda: phone.spool_counts()[1] >= ended_receipts + 8, "8 receipts", recorder)
        lines.wait_for("RECORDING started")
        recorder.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        recorder.wait()

        no_data = lines.wait_for("NO DATA for", timeout=LIVE_SILENCE_S + SLACK_S + 1)
        assert no_data - killed <= LIVE_SILENCE_S + SLACK_S
        assert inbox.wait_for(
            lambda a: "recording_silent" in events(a), timeout=ALERT_SILENCE_S + SLACK_S + 1
        )
        alerted = time.monotonic()
        assert alerted - killed <= ALERT_SILENCE_S + SLACK_S
    finally:
        watcher.send_signal(signal.SIGTERM)
        try:
            watcher.wait(timeout=15)
        except subprocess.TimeoutExpired:
            watcher.kill()

    received = list(inbox.received)
    # two starts, one silence (the ended recording's would have come before this one's)
    assert events(received) == ["recording_started", "recording_started", "recording_silent"]
    silent = received[-1]
    assert silent["device"] == str(phone.device)
    safe_s = silent["safe_seconds"]
    assert isinstance(safe_s, float)
    assert 1.0 <= safe_s <= 60  # at least the 8 receipted quarter-second chunks
    text = json.dumps(received)
    relay_log = phone.relay.log_path.read_text()
    for secret in [phone.token, "127.0.0.1:"]:  # no token; no client address
        assert secret not in relay_log
    assert phone.token not in text
    # the watcher's states stay distinct: no data is not "ended" nor "connection lost"
    after = lines.seen[lines.seen.index(next(s for s in lines.seen if "NO DATA" in s)) :]
    assert not any("lost the relay" in s for s in after), lines.seen
