"""`make demo`: the mission end to end on this machine, printing every step.

Until live streaming lands, this runs the offline path: keys for a device, a contact and a
lawyer; a synthetic 10 s camera clip sealed chunk by chunk; signature-only verification
(what a relay or court expert can do); the lawyer's decrypt and verify; and a seized-phone
cut, which still verifies as authentic and decrypts up to where it stopped.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from vault.format import CHUNK_PREAMBLE_SIZE, HEADER_MAX_SIZE, Chunk, Header

Echo = Callable[[str], None]
MARKER = ".testigo-demo"
DEMO_PASSPHRASE = "correct horse battery staple"  # noqa: S105 (printed demo value)


def _testigo() -> list[str]:
    script = Path(sys.executable).with_name("testigo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


class DemoRunner:
    def __init__(self, workdir: Path, echo: Echo) -> None:
        self.workdir = workdir
        self.echo = echo
        self.environment = {**os.environ, "TESTIGO_HOME": str(workdir / "phone")}

    def step(self, title: str) -> None:
        self.echo(f"\n== {title}")

    def run(self, arguments: Sequence[str], *, expect: int = 0, secret: bool = False) -> str:
        shown = " ".join(arguments)
        self.echo(f"$ testigo {shown}" + ("   (TESTIGO_PASSPHRASE set)" if secret else ""))
        environment = dict(self.environment)
        if secret:
            environment["TESTIGO_PASSPHRASE"] = DEMO_PASSPHRASE
        completed = subprocess.run(
            [*_testigo(), *arguments],
            cwd=self.workdir,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        for line in (completed.stdout + completed.stderr).splitlines():
            self.echo(f"  {line}")
        if completed.returncode != expect:
            raise SystemExit(
                f"demo failed: 'testigo {shown}' exited {completed.returncode}, expected {expect}"
            )
        return completed.stdout


def _public_key(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("public key:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit("demo failed: keygen printed no public key")


def _cut_after(recording: Path, destination: Path, keep_chunks: int) -> None:
    """Copy the header and the first keep_chunks chunks: a phone seized mid-recording."""
    data = recording.read_bytes()
    _header, offset = Header.parse_prefix(data[:HEADER_MAX_SIZE])
    for _ in range(keep_chunks):
        _index, length = Chunk.parse_preamble(data[offset : offset + CHUNK_PREAMBLE_SIZE])
        offset += CHUNK_PREAMBLE_SIZE + length
    destination.write_bytes(data[:offset])


def _describe_media(path: Path) -> str:
    import av

    with av.open(str(path)) as container:
        frames = sum(1 for packet in container.demux(video=0) if packet.size)
        duration = (container.duration or 0) / 1_000_000
    return f"{frames} video frames, {duration:.1f} s"


def run_demo(workdir: Path, echo: Echo = print) -> None:
    if workdir.exists():
        if not (workdir / MARKER).exists():
            raise SystemExit(f"{workdir} exists and was not made by the demo; remove it first")
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / MARKER).touch()
    demo = DemoRunner(workdir, echo)

    demo.step("1. Keys: the phone's device key, an emergency contact, a lawyer")
    demo.run(["keygen", "--role", "device", "-o", "phone/device.key", "--no-passphrase"])
    contact = _public_key(
        demo.run(["keygen", "--role", "contact", "-o", "ana.key", "--no-passphrase"])
    )
    lawyer = _public_key(demo.run(["keygen", "--role", "lawyer", "-o", "lawyer.key"], secret=True))
    demo.run(["contacts", "add", "Ana", contact, "--role", "contact"])
    demo.run(["contacts", "add", "Counsel", lawyer, "--role", "lawyer"])
    demo.run(["contacts", "list"])

    demo.step("2. Record: 10 s from the synthetic camera (no camera on this machine)")
    from capture.synthetic import write_synthetic_clip

    clip = workdir / "camera.mp4"
    write_synthetic_clip(clip, seconds=10.0)
    echo(f"  synthetic clip with burned-in clock: {clip} ({_describe_media(clip)})")
    demo.run(["seal", "camera.mp4", "-o", "recording.tgr"])

    demo.step("3. Anyone with the device key checks it (no decryption key needed)")
    demo.run(["verify", "recording.tgr"])

    demo.step("4. The lawyer decrypts and verifies")
    demo.run(
        ["decrypt", "recording.tgr", "--identity", "lawyer.key", "-o", "evidence.mp4"], secret=True
    )
    echo(f"  decoded: {_describe_media(workdir / 'evidence.mp4')}")

    demo.step("5. The phone is seized after 6 s: what reached safety still verifies")
    _cut_after(workdir / "recording.tgr", workdir / "seized.tgr", keep_chunks=7)
    demo.run(["verify", "seized.tgr"], expect=10)
    demo.run(["decrypt", "seized.tgr", "--identity", "ana.key", "-o", "seized.mp4"], expect=10)
    echo(f"  decoded: {_describe_media(workdir / 'seized.mp4')}")

    demo.step("Done")
    echo(f"  evidence: {workdir / 'evidence.mp4'}")
    echo(f"  report:   {workdir / 'evidence.report.json'}")
