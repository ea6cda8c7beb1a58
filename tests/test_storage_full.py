"""The relay's disk fills up while a WebRTC and an HTTPS recorder stream (issue 11).

Real processes: a relay whose storage is a small tmpfs, and two `testigo record --relay`
processes. When the disk is full, both keep recording into their spools, the relay
refuses (storage_failure) and receipts nothing it did not store; once space is back,
both finish uploading and every receipt they hold is the relay's, byte for byte.

Mounting a tmpfs needs root: where the test cannot (a developer's machine), it is
skipped with that reason; CI runs as root.
"""

import errno
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stream.demo.local_relay import LocalRelay, cli_command
from tests.cli_run import BOOK, public_key, run_testigo
from vault.keys import DeviceKey
from vault.spool import recordings_in
from vault.wire.receipts_file import parse_receipts_file

DEADLINE_S = 90.0


def mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    storage = tmp_path / "relay" / "relay-storage"
    if not mount_tmpfs(storage, "24m"):
        pytest.skip("mounting a tmpfs needs root: the storage-full test runs in CI")
    try:
        yield storage
    finally:
        subprocess.run(["umount", "-l", str(storage)], check=False)


def counts(spool: Path) -> tuple[int, int]:
    recordings = recordings_in(spool) if spool.exists() else []
    return sum(len(r.indices()) for r in recordings), sum(len(r.receipted()) for r in recordings)


def wait_for(condition: Callable[[], bool], what: str, *recorders: "subprocess.Popen[str]") -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if condition():
            return
        for recorder in recorders:
            if recorder.poll() is not None:
                raise AssertionError(f"a recorder exited before {what}: {recorder.communicate()}")
        time.sleep(0.05)  # polling the spools on disk, not a timing guess
    raise AssertionError(f"timed out waiting for {what}")


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; the file."""
    filler = disk / "filler"
    block = bytes(1 << 16)
    with filler.open("wb") as out:
        try:
            while True:
                out.write(block)
                out.flush()
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
    return filler


def start_recorder(
    workdir: Path, relay: LocalRelay, spool: str, *extra: str
) -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [*cli_command(), "record", "--source", "synthetic", "--resolution", "320x240",
         "--fps", "15", "--bitrate", "300000", "--fragment-seconds", "0.5",
         "--duration", "120", "-o", spool, "--relay", relay.url,
         "--relay-key", str(relay.key), *extra],
        cwd=workdir, env={**os.environ, "TESTIGO_HOME": str(workdir / "home")},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_a_full_disk_delays_receipts_and_loses_nothing(small_disk: Path, tmp_path: Path) -> None:
    run_testigo("keygen", "--role", "device", "--no-passphrase", cwd=tmp_path)
    device = DeviceKey.parse(json.loads((tmp_path / "home/device.key").read_text())["public"])
    lawyer = public_key(
        run_testigo("keygen", "--role", "lawyer", "-o", "l.key", "--no-passphrase", cwd=tmp_path)
    )
    run_testigo("contacts", "add", "Counsel", lawyer, "--role", "lawyer", cwd=tmp_path, env=BOOK)
    relay = LocalRelay(tmp_path / "relay")
    relay.enroll(device)
    token = relay.token(device)
    with relay:
        recorders = [
            start_recorder(tmp_path, relay, "webrtc"),
            start_recorder(tmp_path, relay, "https", "--https-only"),
        ]
        spools = [tmp_path / "webrtc", tmp_path / "https"]
        wait_for(lambda: all(counts(s)[1] >= 3 for s in spools), "receipts", *recorders)
        filler = fill(small_disk)
        stalled = [counts(s)[1] for s in spools]
        # both go on recording while the relay cannot store: chunks pile up unreceipted
        wait_for(
            lambda: all(counts(s)[0] >= counts(s)[1] + 6 for s in spools),
            "chunks piling up while the disk is full",
            *recorders,
        )
        assert all(counts(s)[1] <= stalled[i] + 2 for i, s in enumerate(spools))  # in flight
        filler.unlink()  # space is back
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)
        for recorder in recorders:
            out, err = recorder.communicate(timeout=DEADLINE_S)
            assert recorder.returncode == 0, (out, err)
        for spool in spools:
            (recording,) = recordings_in(spool)
            assert set(recording.indices()) == recording.receipted()
            name = f"{spool.name}.tgr"
            fetched = run_testigo(
                "fetch", "--relay", relay.url, "--device", str(device),
                "--recording", recording.directory.name, "-o", name,
                cwd=tmp_path, env={"TESTIGO_TOKEN": token},
            )  # fmt: skip
            assert fetched.code == 0, fetched.err
            verified = run_testigo(
                "verify", name, "--relay-key", str(relay.key), "--json", cwd=tmp_path
            )
            assert verified.code == 0, verified.out  # complete, every receipt valid
            receipts = parse_receipts_file((tmp_path / f"{name}.receipts").read_bytes())
            by_index = {r.index: bytes(r) for r in receipts}
            for index in recording.indices():  # nothing receipted that the relay lacks
                assert by_index[index] == recording.read_receipt(index)
