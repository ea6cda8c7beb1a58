"""Recording into the spool: real synthetic frames, real x264, real libsodium, real disk."""

import itertools
import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import av
import pytest

from capture.encoder import CaptureConfig
from capture.recorder import Location, Recorder
from capture.settings import RECORDER_SETTING
from capture.sources import SyntheticSource
from stream.demo.local_relay import cli_command
from tests.cli_run import BOOK, assert_clean_error, public_key, run_testigo
from vault import DeviceIdentity, RecipientIdentity, verify_file
from vault.format import payload_key
from vault.spool import SpoolRecording, find_recording


def record_in_process(spool: Path, recipient: RecipientIdentity, seconds: float) -> SpoolRecording:
    source = SyntheticSource(320, 240, 15, seconds=seconds, realtime=False)
    recorder = Recorder(
        source,
        CaptureConfig(width=320, height=240, fps=15, bitrate=300_000, fragment_seconds=1.0),
        DeviceIdentity.generate(),
        [recipient.public],
        spool,
        location=lambda: Location(40.4168, -3.7038),
    )
    return recorder.run()


def test_spool_holds_ciphertext_only(tmp_path: Path) -> None:
    lawyer = RecipientIdentity.generate()
    recording = record_in_process(tmp_path / "spool", lawyer, seconds=3.0)
    header = recording.header()
    file_key = next(k for s in header.stanzas if (k := lawyer.unwrap(s)) is not None)
    secrets = [file_key, payload_key(file_key, header.recording_id)]
    plaintexts: list[bytes] = []
    report = verify_file(
        recording.directory, [lawyer], sink=lambda _c, plain: plaintexts.append(plain or b"")
    )
    assert report.status.value == "complete"
    assert report.locations == 1
    # Markers long enough that ciphertext cannot hold them by chance: the opening bytes of
    # every plaintext chunk (ftyp/moov, moof/mfhd boxes), the x264 stream's own banner and
    # the location. (The header names the codecs in the clear by design.)
    markers = [plain[:24] for plain in plaintexts if len(plain) >= 24]
    markers += [b"x264 - core", b'"lat": 40.4168', *secrets]
    everything = b"".join(plaintexts)
    assert b"x264 - core" in everything
    assert b"40.4168" in everything
    files = [p for p in (tmp_path / "spool").rglob("*") if p.is_file()]
    assert len(files) >= 5
    for path in files:
        data = path.read_bytes()
        for marker in markers:
            assert marker not in data, (path, marker)


def test_recorded_spool_decrypts_to_expected_frames(tmp_path: Path) -> None:
    lawyer = RecipientIdentity.generate()
    recording = record_in_process(tmp_path / "spool", lawyer, seconds=2.0)
    media = bytearray()
    verify_file(
        recording.directory,
        [lawyer],
        sink=lambda chunk, plain: media.extend(plain or b"") if chunk.kind <= 2 else None,
    )
    (tmp_path / "out.mp4").write_bytes(bytes(media))
    with av.open(str(tmp_path / "out.mp4")) as container:
        frames = [f.time for f in container.decode(video=0)]
    assert len(frames) == 30
    assert frames[-1] == pytest.approx(29 / 15, abs=0.05)


@pytest.fixture
def phone(tmp_path: Path) -> Path:
    assert (
        run_testigo(
            "keygen", "--role", "device", "-o", "home/device.key", "--no-passphrase", cwd=tmp_path
        ).code
        == 0
    )
    key = public_key(
        run_testigo("keygen", "--role", "lawyer", "-o", "l.key", "--no-passphrase", cwd=tmp_path)
    )
    assert (
        run_testigo(
            "contacts", "add", "Counsel", key, "--role", "lawyer", cwd=tmp_path, env=BOOK
        ).code
        == 0
    )
    return tmp_path


def start_recording(phone: Path) -> subprocess.Popen[str]:
    environment = {**os.environ, "TESTIGO_HOME": str(phone / "home")}
    return subprocess.Popen(
        [*cli_command(), "record", "--source", "synthetic", "--resolution", "320x240",
         "--fps", "15", "--duration", "60", "-o", "spool"],
        cwd=phone,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def wait_for_chunks(spool: Path, count: int, process: subprocess.Popen[str]) -> None:
    """Wait (bounded) until the recorder has durably spooled `count` chunks."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        chunks = list(spool.glob("*/chunks/*.chunk"))
        if len(chunks) >= count:
            return
        time.sleep(0.05)  # polling the file system for a condition, not a timing guess
    raise AssertionError(f"fewer than {count} chunks after 60 s")


def test_kill_9_leaves_an_interrupted_but_authentic_recording(phone: Path) -> None:
    process = start_recording(phone)
    wait_for_chunks(phone / "spool", 4, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    spooled = find_recording(phone / "spool")
    stored = spooled.indices()
    result = run_testigo("verify", "spool", "--json", cwd=phone)
    assert result.code == 10, result.err
    report = json.loads(result.out)
    assert report["status"] == "incomplete"
    assert report["interrupted_after"] == stored[-1]
    assert report["missing"] == []
    decrypted = run_testigo("decrypt", "spool", "--identity", "l.key", "-o", "cut.mp4", cwd=phone)
    assert decrypted.code == 10
    with av.open(str(phone / "cut.mp4")) as container:
        frames = sum(1 for _ in container.decode(video=0))
    # every stored media fragment (all but the init and location chunks) decodes; a
    # fragment of the default length at 15 fps holds at least this many frames
    per_fragment = math.floor(15 * float(RECORDER_SETTING["fragment_seconds"].default or 1))
    assert frames >= per_fragment * (len(stored) - 2)


def test_sigint_finishes_with_a_final_chunk(phone: Path) -> None:
    process = start_recording(phone)
    wait_for_chunks(phone / "spool", 3, process)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    result = run_testigo("verify", "spool", "--json", cwd=phone)
    assert result.code == 0, result.out + result.err
    assert json.loads(result.out)["final_index"] is not None


def test_record_json_names_the_recording_and_what_it_holds(phone: Path) -> None:
    result = run_testigo(
        "record", "--source", "synthetic", "--resolution", "320x240", "--fps", "15",
        "--duration", "1.5", "--location", "none", "-o", "spool", "--json", cwd=phone,
    )  # fmt: skip
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert (phone / "spool" / summary["recording_id"]).is_dir()
    assert summary["recording"] == str(Path("spool") / summary["recording_id"])
    assert summary["status"] == "complete"
    assert summary["streamed"] is False
    assert summary["chunks"] >= 3  # init, media, end
    assert summary["final_index"] == summary["chunks"] - 1


def test_no_camera_says_so(phone: Path) -> None:
    result = run_testigo(
        "record", "--source", "camera:/dev/video-none", "--duration", "1", "-o", "s", cwd=phone
    )
    assert_clean_error(result, 1, "no camera")
    assert "--source synthetic" in result.err


def test_bad_location_is_a_clear_error(phone: Path) -> None:
    result = run_testigo(
        "record", "--source", "synthetic", "--location", "north", "--duration", "1", "-o", "s",
        cwd=phone,
    )  # fmt: skip
    assert_clean_error(result, 2, "LAT,LON")


def test_missing_middle_chunk_leaves_a_gap_in_time_not_a_broken_file(tmp_path: Path) -> None:
    lawyer = RecipientIdentity.generate()
    recording = record_in_process(tmp_path / "spool", lawyer, seconds=4.0)
    indices = recording.indices()
    # chunk 0 is the init segment, 1 the location; drop the second media fragment.
    dropped = indices[3]
    (recording.directory / "chunks" / f"{dropped:010d}.chunk").unlink()
    media = bytearray()
    report = verify_file(
        recording.directory,
        [lawyer],
        sink=lambda chunk, plain: media.extend(plain or b"") if chunk.kind <= 2 else None,
    )
    assert report.status.value == "incomplete"
    assert report.missing_indices == [dropped]
    assert report.final_index == indices[-1]
    (tmp_path / "gap.mp4").write_bytes(bytes(media))
    with av.open(str(tmp_path / "gap.mp4")) as container:
        times = [f.time for f in container.decode(video=0)]
    assert len(times) == 45  # 60 frames recorded, one 1 s fragment (15 frames) missing
    steps = [b - a for a, b in itertools.pairwise(times)]
    assert max(steps) == pytest.approx(1 + 1 / 15, abs=0.05)  # the hole, in time
    assert times[-1] == pytest.approx(59 / 15, abs=0.05)
