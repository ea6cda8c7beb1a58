"""Live glass-to-glass delay: camera frame captured -> frame decodable at a watcher.

A real relay process, a real `testigo record --relay` process (synthetic source, whose
picture carries its capture time as a machine-readable time code) and an in-process
`stream.contact.watch.watch` client. For every frame: the wall-clock time at which the fragment
holding it reached the watcher (decrypted and verified), minus the capture time burned
into the picture. A frame waits for the rest of its fragment, so the delay grows with the
fragment length; the figures are given per frame, and for the newest frame of each
fragment (what a player showing fragments as they come shows first).
Target: <= 1.0 s p95.
"""

import argparse
import asyncio
import io
import os
import signal
import subprocess
import tempfile
from pathlib import Path

import av

from bench.end_to_end import Phone, p95
from capture import timecode
from capture.boxes import SegmentStream
from capture.segments import SegmentKind
from stream.contact.watch import ChunkReceived, Connected, WatchEvent, watch
from stream.demo.local_relay import LocalRelay, cli_command
from vault.format import ChunkKind


async def measure(phone: Phone, workdir: Path, fragment: float, seconds: float) -> list[list[int]]:
    """Per fragment, the delays (ms) of its frames, oldest first."""
    arrivals: list[int] = []
    connected = asyncio.Event()

    def on_event(event: WatchEvent) -> None:
        if isinstance(event, Connected):
            connected.set()
        if isinstance(event, ChunkReceived) and event.kind is ChunkKind.MEDIA:
            arrivals.append(event.received_ms)

    output = workdir / f"live-{fragment}.mp4"
    watcher = asyncio.ensure_future(
        watch(phone.relay.url, phone.token, phone.device, [phone.lawyer], output,
              on_event=on_event, max_recordings=1, reconnect=False)
    )  # fmt: skip
    await asyncio.wait_for(connected.wait(), timeout=30)
    recorder = subprocess.Popen(
        [*cli_command(), "record", "--source", "synthetic", "--resolution", "1280x720",
         "--duration", str(seconds), "--fragment-seconds", str(fragment),
         "-o", str(workdir / f"spool-{fragment}"),
         "--relay", phone.relay.url, "--relay-key", str(phone.relay.key)],
        env={**os.environ, "TESTIGO_HOME": str(phone.home)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.wait_for(watcher, timeout=seconds + 60)
    finally:
        if recorder.poll() is None:
            recorder.send_signal(signal.SIGINT)
        await asyncio.to_thread(recorder.wait)
    return _frame_delays(output.read_bytes(), arrivals)


def _frame_delays(media: bytes, arrivals: list[int]) -> list[list[int]]:
    stream = SegmentStream()
    segments = stream.feed(media)
    stream.close()
    init = next(s.data for s in segments if s.kind is SegmentKind.INIT)
    fragments = [s.data for s in segments if s.kind is SegmentKind.FRAGMENT]
    result = []
    for data, arrived_ms in zip(fragments, arrivals, strict=False):
        with av.open(io.BytesIO(init + data), mode="r") as container:
            codes = [timecode.read_frame(f) for f in container.decode(video=0)]
        result.append([arrived_ms - c.unwrap(arrived_ms) for c in codes if c is not None])
    return result


def _summary(label: str, per_fragment: list[list[int]]) -> str:
    frames = [d / 1000 for fragment in per_fragment for d in fragment]
    newest = [min(fragment) / 1000 for fragment in per_fragment if fragment]
    return (
        f"  {label:16} every frame: median {sorted(frames)[len(frames) // 2]:.2f} s, "
        f"p95 {p95(frames):.2f} s;  newest frame of each fragment: p95 {p95(newest):.2f} s"
        f"  ({len(frames)} frames)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="testigo-live-") as directory:
        workdir = Path(directory)
        with LocalRelay(workdir / "relay") as relay:
            phone = Phone(workdir / "phone", relay)
            quarter = asyncio.run(measure(phone, workdir, 0.25, arguments.seconds))
            second = asyncio.run(measure(phone, workdir, 1.0, arguments.seconds))
    print("live_delay: glass-to-glass, 720p30 synthetic camera -> relay -> watcher (loopback)")
    print(_summary("0.25 s fragments", quarter))
    print(_summary("1 s fragments", second))
    print("  target: <= 1.0 s p95")


if __name__ == "__main__":
    main()
