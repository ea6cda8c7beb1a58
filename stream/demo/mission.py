"""`make demo`: the whole mission on this machine, printing every step.

A local relay with on-disk storage; keys for a phone, an emergency contact and a lawyer;
the contact watching live; 10 s recorded (camera if there is one, else the synthetic test
pattern) and streamed to the relay as it is recorded; the alert the relay sent; the
lawyer fetches the archive, checks the relay's receipts, decrypts and verifies it; then a
phone seized mid-recording, which still verifies as authentic and decrypts up to where it
stopped. Everything it starts, it stops.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from capture import timecode
from stream.demo.alert_inbox import AlertInbox
from stream.demo.browser_phone import (
    receipted,
    set_up_phone,
    start_recording,
    stop_and_drain,
    wait_for_receipts,
    wait_for_sealed,
)
from stream.demo.chromium import chromium_page, missing_browser
from stream.demo.local_relay import LocalRelay, cli_command, free_port
from vault.keys import DeviceKey, RecipientKey

Echo = Callable[[str], None]
MARKER = ".testigo-demo"
DEMO_PASSPHRASE = "correct horse battery staple"  # noqa: S105 (printed demo value)


class DemoFailed(SystemExit):
    pass


class DemoRunner:
    def __init__(self, workdir: Path, echo: Echo) -> None:
        self.workdir = workdir
        self.echo = echo
        self.environment = {**os.environ, "TESTIGO_HOME": str(workdir / "phone")}
        self.environment.pop("TESTIGO_PASSPHRASE", None)

    def step(self, title: str) -> None:
        self.echo(f"\n== {title}")

    def _environment(self, secret: bool, extra: dict[str, str] | None) -> dict[str, str]:
        environment = dict(self.environment)
        if secret:
            environment["TESTIGO_PASSPHRASE"] = DEMO_PASSPHRASE
        environment.update(extra or {})
        return environment

    def run(
        self,
        arguments: Sequence[str],
        *,
        expect: int = 0,
        secret: bool = False,
        extra_env: dict[str, str] | None = None,
        shown_env: str = "",
    ) -> str:
        shown = " ".join(arguments)
        note = "   (TESTIGO_PASSPHRASE set)" if secret else shown_env
        self.echo(f"$ testigo {shown}{note}")
        completed = subprocess.run(
            [*cli_command(), *arguments],
            cwd=self.workdir,
            env=self._environment(secret, extra_env),
            capture_output=True,
            text=True,
            check=False,
        )
        for line in (completed.stdout + completed.stderr).splitlines():
            self.echo(f"  {line}")
        if completed.returncode != expect:
            raise DemoFailed(
                f"demo failed: 'testigo {shown}' exited {completed.returncode}, expected {expect}"
            )
        return completed.stdout


def _public_key(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("public key:"):
            return line.split(":", 1)[1].strip()
    raise DemoFailed("demo failed: keygen printed no public key")


def _decoded_frames(path: Path) -> list[timecode.TimeCode | None]:
    import av

    with av.open(str(path)) as container:
        return [timecode.read_frame(frame) for frame in container.decode(video=0)]


def _source() -> str:
    return "camera" if Path("/dev/video0").exists() else "synthetic"


def run_demo(workdir: Path, echo: Echo = print) -> None:
    workdir = workdir.resolve()
    if workdir.exists():
        if not (workdir / MARKER).exists():
            raise DemoFailed(f"{workdir} exists and was not made by the demo; remove it first")
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / MARKER).touch()
    demo = DemoRunner(workdir, echo)
    figures: dict[str, str] = {}

    demo.step("1. Keys: the phone's device key, an emergency contact, a lawyer")
    device = DeviceKey.parse(
        _public_key(
            demo.run(["keygen", "--role", "device", "-o", "phone/device.key", "--no-passphrase"])
        )
    )
    demo.echo(
        "  WARNING: this demo's device and contact keys have NO passphrase, so that it runs\n"
        "  unattended. Anyone who can read demo-out/ can sign as this phone or open Ana's\n"
        "  recordings. Never use them for real; a real device key gets a passphrase."
    )
    contact = _public_key(
        demo.run(["keygen", "--role", "contact", "-o", "ana.key", "--no-passphrase"])
    )
    lawyer = _public_key(demo.run(["keygen", "--role", "lawyer", "-o", "lawyer.key"], secret=True))
    demo.run(["contacts", "add", "Ana", contact, "--role", "contact"], secret=True)
    demo.run(["contacts", "add", "Counsel", lawyer, "--role", "lawyer"], secret=True)
    demo.echo("  the names are sealed under the passphrase; recording needs only the keys:")
    demo.run(["contacts", "list", "--keys-only"])

    demo.step("2. A relay on this machine (on-disk storage); the phone is enrolled")
    relay = LocalRelay(workdir / "relay", port=free_port())
    inbox = AlertInbox()
    echo(f"  relay key {relay.key} (fingerprint {relay.key.fingerprint})")
    relay.enroll(device)
    token = relay.token(device)
    echo("  enrolled the phone; minted a read token for Ana and the lawyer")
    relay.add_alert(device, "webhook", inbox.url)
    echo(f"  Ana's alert webhook: {inbox.url}")
    try:
        with relay:
            echo(f"  relay listening on {relay.url} (log: {relay.log_path})")
            _record_watch_fetch(demo, relay, device, token, inbox, figures)
            _seized_phone(demo, relay, device, token, figures)
            _browser_phone(demo, relay, RecipientKey.parse(contact), figures)
    finally:
        inbox.close()

    demo.step("Done: figures measured in this run")
    for name, value in figures.items():
        echo(f"  {name:38} {value}")
    echo(f"  evidence MP4:  {workdir / 'evidence.mp4'}")
    echo(f"  report:        {workdir / 'evidence.report.json'}")


def _record_watch_fetch(
    demo: DemoRunner,
    relay: LocalRelay,
    device: DeviceKey,
    token: str,
    inbox: AlertInbox,
    figures: dict[str, str],
) -> None:
    demo.step("3. Ana starts watching; she will see the next recording live")
    demo.echo(
        f"$ testigo watch --relay {relay.url} --device {device} --identity ana.key "
        "-o ana-live.mp4 --once   (TESTIGO_TOKEN set; in the background)"
    )
    watcher = subprocess.Popen(
        [*cli_command(), "watch", "--relay", relay.url, "--device", str(device),
         "--identity", "ana.key", "-o", "ana-live.mp4", "--once"],
        cwd=demo.workdir, env={**demo.environment, "TESTIGO_TOKEN": token},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        _wait_for_line(watcher, "connected to")
        source = _source()
        demo.step(f"4. Record 10 s from the {source} camera, streaming as it records")
        output = demo.run(
            ["record", "--source", source, "--resolution", "640x360", "--duration", "10",
             "-o", "phone/spool", "--relay", relay.url, "--relay-key", str(relay.key)]
        )  # fmt: skip
        match = re.search(r"first receipt: ([0-9.]+) s", output)
        if match:
            figures["time from record to first receipt"] = f"{float(match.group(1)):.2f} s"
        watched, _ = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    demo.step("5. What Ana saw, live")
    for line in watched.splitlines():
        demo.echo(f"  {line}")
    match = re.search(r"delay behind the phone: median ([0-9.]+) s", watched)
    if match:
        figures["live delay, phone to watcher (median)"] = f"{float(match.group(1)):.2f} s"
    live = _decoded_frames(demo.workdir / "ana-live.mp4")
    demo.echo(f"  ana-live.mp4 decodes to {len(live)} video frames")
    demo.step("6. The alert the relay sent when the recording started (no content, no location)")
    if inbox.wait():
        for line in inbox.pretty().splitlines():
            demo.echo(f"  {line}")
        figures["alerts delivered"] = str(len(inbox.received))
    else:
        demo.echo("  no alert arrived (see the relay log)")

    demo.step("7. The lawyer fetches the sealed archive and the relay's receipts")
    demo.run(
        ["fetch", "--relay", relay.url, "--device", str(device), "-o", "evidence.tgr"],
        extra_env={"TESTIGO_TOKEN": token},
        shown_env="   (TESTIGO_TOKEN set)",
    )
    demo.step("8. Anyone checks it with public keys only: signatures, order, receipts")
    demo.run(["verify", "evidence.tgr", "--relay-key", str(relay.key)])
    demo.step("9. The lawyer decrypts and verifies")
    demo.run(
        ["decrypt", "evidence.tgr", "--identity", "lawyer.key", "-o", "evidence.mp4"],
        secret=True,
    )
    codes = _decoded_frames(demo.workdir / "evidence.mp4")
    readable = [c for c in codes if c is not None]
    demo.echo(
        f"  decoded {len(codes)} video frames; burned-in frame counter runs "
        f"{readable[0].frame}..{readable[-1].frame}"
        if readable
        else f"  decoded {len(codes)} frames"
    )
    report = json.loads((demo.workdir / "evidence.report.json").read_text())
    figures["evidence status"] = str(report["status"])
    figures["frames decoded"] = str(len(codes))


def _seized_phone(
    demo: DemoRunner, relay: LocalRelay, device: DeviceKey, token: str, figures: dict[str, str]
) -> None:
    demo.step("10. A phone seized mid-recording: the recorder is killed (SIGKILL) after ~6 s")
    demo.echo("$ testigo record --source synthetic ... --relay ...   (killed after 6 s)")
    process = subprocess.Popen(
        [*cli_command(), "record", "--source", "synthetic", "--resolution", "640x360",
         "--duration", "60", "-o", "phone/seized-spool", "--relay", relay.url,
         "--relay-key", str(relay.key)],
        cwd=demo.workdir, env=demo.environment,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        recording_id = _wait_for_receipts(demo.workdir / "phone/seized-spool", 7, process)
    finally:
        process.send_signal(signal.SIGKILL)
        killed_ms = time.time_ns() // 1_000_000
        process.wait()
    demo.run(
        [
            "fetch",
            "--relay",
            relay.url,
            "--device",
            str(device),
            "--recording",
            recording_id,
            "-o",
            "seized.tgr",
        ],
        extra_env={"TESTIGO_TOKEN": token},
        shown_env="   (TESTIGO_TOKEN set)",
    )
    demo.run(["verify", "seized.tgr", "--relay-key", str(relay.key)], expect=10)
    demo.run(["decrypt", "seized.tgr", "--identity", "ana.key", "-o", "seized.mp4"], expect=10)
    codes = [c for c in _decoded_frames(demo.workdir / "seized.mp4") if c is not None]
    if codes:
        lost = (killed_ms - codes[-1].unwrap(killed_ms)) / 1000
        figures["footage lost when the phone was killed"] = f"{lost:.2f} s (burned-in clock)"
        demo.echo(f"  the relay kept everything up to {lost:.2f} s before the phone was killed")


def _browser_phone(
    demo: DemoRunner, relay: LocalRelay, contact: RecipientKey, figures: dict[str, str]
) -> None:
    """The same mission from the phone's browser, when Chromium is installed."""
    demo.step("11. The phone's browser: an invite link, one tap to record, verified")
    missing = missing_browser()
    if missing is not None:
        demo.echo(f"  skipped: {missing}; the browser recorder is at {relay.url}/app/phone/")
        return
    invite = relay.invite()
    demo.echo(f"  testigo relay invite --url {relay.url}   (a one-time link; its secret is")
    demo.echo("  in the part after '#', which the browser never sends to the relay)")
    with chromium_page(demo.workdir / "browser-profile") as page:
        phone = DeviceKey.parse(set_up_phone(page, invite["link"], contact))
        demo.echo(f"  the page made its own device key {phone} and enrolled it with the link")
        demo.echo("  added Ana by her key; tapped Record (Chromium's fake camera), 5 s ...")
        started = time.monotonic()
        start_recording(page)
        wait_for_receipts(page, 1)
        figures["browser: tap to first receipt"] = f"{time.monotonic() - started:.2f} s"
        wait_for_sealed(page, seconds=5)
        stop_and_drain(page)
        network = page.get_attribute("#status", "data-network")
        figures["browser: chunks receipted"] = f"{receipted(page)} (over {network})"
    demo.echo("  tapped Stop; every chunk is receipted. The lawyer checks it as before:")
    token = relay.token(phone)
    demo.run(
        ["fetch", "--relay", relay.url, "--device", str(phone), "-o", "browser.tgr"],
        extra_env={"TESTIGO_TOKEN": token},
        shown_env="   (TESTIGO_TOKEN set)",
    )
    demo.run(["verify", "browser.tgr", "--identity", "ana.key", "--relay-key", str(relay.key)])


def _wait_for_line(process: subprocess.Popen[str], text: str) -> None:
    """Read the process's output until a line containing text (bounded by its exit)."""
    assert process.stdout is not None
    for line in process.stdout:
        if text in line:
            return
    raise DemoFailed(f"demo failed: the watcher stopped before printing {text!r}")


def _wait_for_receipts(spool: Path, count: int, process: subprocess.Popen[bytes]) -> str:
    """Wait until the spool's one recording has count receipts; returns its id."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        for receipts in spool.glob("*/receipts"):
            if sum(1 for _ in receipts.iterdir()) >= count:
                return receipts.parent.name
        time.sleep(0.05)  # polling the spool for a condition
    raise DemoFailed("demo failed: the seized-phone recording did not reach the relay")
