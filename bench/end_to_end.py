"""End to end on loopback: evidence-loss window, time to first receipt, (live delay).

Runs the real `testigo relay serve` and `testigo record --relay` processes.

* Loss window: SIGKILL the recorder at a random moment; the footage recorded but not
  receipted is the kill time minus the capture time (burned-in time code) of the last
  frame the relay can give back. Measured with 0.25 s and 1 s fragments.
  Targets: <= 0.5 s p95 at 0.25 s fragments, <= 1.5 s at 1 s.
* First receipt: from starting `testigo record` (a new process: imports, key loading,
  encoder and WebRTC set-up included) to the first receipt in the spool. Target <= 1.5 s.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import av

from capture import timecode
from stream.contact.fetch import fetch_recording
from stream.demo.local_relay import LocalRelay, cli_command
from vault import RecipientIdentity, verify_file
from vault.format import Chunk, ChunkKind
from vault.identity import Role, StoredIdentity, generate_identity, save_identity
from vault.keys import DeviceKey


class Phone:
    def __init__(self, workdir: Path, relay: LocalRelay) -> None:
        self.workdir = workdir
        self.home = workdir / "home"
        device = generate_identity(Role.DEVICE)
        save_identity(self.home / "device.key", device, None)
        lawyer = generate_identity(Role.LAWYER)
        assert isinstance(lawyer.identity, RecipientIdentity)
        self.lawyer: RecipientIdentity = lawyer.identity
        self._add_contact(lawyer)
        self.device = DeviceKey.parse(device.public_text)
        self.relay = relay
        relay.enroll(self.device)
        self.token = relay.token(self.device)

    def _add_contact(self, lawyer: StoredIdentity) -> None:
        from vault.contacts import ContactBook, ContactRole
        from vault.keys import RecipientKey

        book = ContactBook.load(self.home / "contacts.json")
        book.add(
            "Counsel",
            ContactRole.LAWYER,
            RecipientKey.parse(lawyer.public_text),
            lambda: "bench passphrase",  # recording, which is measured, needs none
        )

    def start_recording(self, spool: Path, fragment_seconds: float) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*cli_command(), "record", "--source", "synthetic", "--resolution", "640x360",
             "--duration", "120", "--fragment-seconds", str(fragment_seconds), "-o", str(spool),
             "--relay", self.relay.url, "--relay-key", str(self.relay.key)],
            env={**os.environ, "TESTIGO_HOME": str(self.home)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def has_receipts(spool: Path, count: int) -> bool:
    return sum(1 for _ in spool.glob("*/receipts/*.receipt")) >= count


def last_relay_frame_ms(phone: Phone, spool: Path, near_ms: int) -> int:
    """Capture time of the last frame the relay gives back for the spool's recording."""
    recording_id = next(spool.glob("*/header")).parent.name
    archive = spool.parent / f"{recording_id}.tgr"
    asyncio.run(fetch_recording(phone.relay.url, phone.token, phone.device, recording_id, archive))
    media = bytearray()

    def keep_media(chunk: Chunk, plaintext: bytes | None) -> None:
        if chunk.kind in (ChunkKind.INIT, ChunkKind.MEDIA) and plaintext is not None:
            media.extend(plaintext)

    verify_file(archive, [phone.lawyer], sink=keep_media)
    path = archive.with_suffix(".mp4")
    path.write_bytes(bytes(media))
    last: timecode.TimeCode | None = None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            last = timecode.read_frame(frame) or last
    assert last is not None, "no readable frame"
    return last.unwrap(near_ms)


def loss_windows(phone: Phone, workdir: Path, fragment: float, trials: int) -> list[float]:
    losses = []
    for trial in range(trials):
        spool = workdir / f"loss-{fragment}-{trial}"
        process = phone.start_recording(spool, fragment)
        try:
            if not wait_for(partial(has_receipts, spool, 2), 30):
                raise RuntimeError("the recorder did not reach the relay")
            time.sleep(random.uniform(2.0, 5.0))  # a random kill moment
        finally:
            process.send_signal(signal.SIGKILL)
            killed_ms = time.time_ns() // 1_000_000
            process.wait()
        last = last_relay_frame_ms(phone, spool, killed_ms)
        losses.append((killed_ms - last) / 1000)
    return losses


def first_receipt_times(phone: Phone, workdir: Path, trials: int) -> list[float]:
    times = []
    for trial in range(trials):
        spool = workdir / f"first-{trial}"
        started = time.monotonic()
        process = phone.start_recording(spool, 1.0)
        try:
            if not wait_for(partial(has_receipts, spool, 1), 30):
                raise RuntimeError("no receipt within 30 s")
            times.append(time.monotonic() - started)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=10)
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="testigo-e2e-") as directory:
        workdir = Path(directory)
        with LocalRelay(workdir / "relay") as relay:
            phone = Phone(workdir / "phone", relay)
            firsts = first_receipt_times(phone, workdir, max(3, arguments.trials // 2))
            quarter = loss_windows(phone, workdir, 0.25, arguments.trials)
            second = loss_windows(phone, workdir, 1.0, arguments.trials)
    print(f"end_to_end: loopback, real relay and recorder processes, {arguments.trials} kills each")
    print(
        f"  first receipt after `testigo record`:  median {statistics.median(firsts):.2f} s, "
        f"max {max(firsts):.2f} s  (target <= 1.5 s)"
    )
    for label, values, target in (("0.25 s", quarter, 0.5), ("1 s", second, 1.5)):
        print(
            f"  loss window, {label:6} fragments:        median {statistics.median(values):.2f} s, "
            f"p95 {p95(values):.2f} s, max {max(values):.2f} s  (target p95 <= {target} s)"
        )
    print("  samples: " + json.dumps({"first": firsts, "0.25": quarter, "1": second}))


if __name__ == "__main__":
    main()
