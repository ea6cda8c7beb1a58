"""Fragment length: what 0.25, 0.5, 1 and 2 s fragments cost and what they buy, in one run.

For each fragment length (one sealed chunk per fragment, a keyframe starting each):

* Bit rate at equal quality: the recorder's own encoder (capture.encoder.LiveEncoder:
  its muxer, its forced keyframe per fragment, its x264 preset and `tune=zerolatency`)
  with the bit-rate target and VBV swapped for a constant-quality factor (CRF 23), so
  every length gets about the same quality and pays for its keyframes in bits. Two
  720p30 sources, not paced to the clock, video only: the synthetic test pattern
  (`--source synthetic`: flat colour bars, little motion) and a camera-like scene
  (textured, with sharp-edged objects, panning and bobbing, faint sensor noise), whose
  detailed keyframes are dear. Fragment bytes over media seconds; for the camera-like
  scene also the mean luma PSNR against the source frames, which shows the quality
  stayed equal.
* Quality at the default bit rate: the camera-like scene through the unchanged encoder
  (1.5 Mbit/s target, 1 s VBV): the price of the keyframes paid in PSNR instead.
* Relay CPU per stream: a real `testigo relay serve` process, with STREAMS real
  `testigo record --relay` processes (synthetic 720p30, the default 1.5 Mbit/s target)
  streaming to it; the relay's utime + stime from /proc/PID/stat over a window once
  every recorder has its first receipts, less the idle relay's rate, per stream.
* Receipts per second per stream: receipts landing in the recorders' spools over that
  window (from their files' times).
* Evidence-loss window and live delay p95: bench.end_to_end.loss_windows (SIGKILL the
  recorder, see what the relay gives back) and bench.live_delay.measure (glass-to-glass,
  every frame), run here against the same relay. Not run for 2 s fragments by default:
  a frame waits for its whole fragment, so 2 s is over both targets by construction.

Targets (issue 11): loss window <= 0.5 s p95, live delay <= 1.0 s p95.
"""

import argparse
import asyncio
import io
import json
import math
import os
import signal
import statistics
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Final

import av
import cv2
import numpy as np
import numpy.typing as npt

from bench.end_to_end import Phone, has_receipts, loss_windows, p95, wait_for
from bench.live_delay import measure
from bench.relay_load import cpu_seconds
from capture.encoder import CaptureConfig, LiveEncoder, _VideoState
from capture.segments import MediaSegment, SegmentKind
from capture.sources import AudioFormat, Frame, SyntheticSource, VideoFormat
from stream.demo.local_relay import LocalRelay, cli_command

LENGTHS: Final = (0.25, 0.5, 1.0, 2.0)
LATENCY_LENGTHS: Final = (0.25, 0.5, 1.0)
REFERENCE: Final = 1.0
CRF: Final = 23
WIDTH, HEIGHT, FPS = 1280, 720, 30
LOSS_TARGET_S: Final = 0.5
LIVE_TARGET_S: Final = 1.0


# -- (a) bit rate at equal quality --


class ConstantQualityEncoder(LiveEncoder):
    """The recorder's encoder with x264's rate control at a constant quality (CRF)."""

    crf: int = CRF

    def _add_video(self) -> _VideoState:
        state = super()._add_video()
        context = state.stream.codec_context
        context.bit_rate = 0
        gop = self.config.gop_frames
        context.options = {
            **context.options,
            "crf": str(self.crf),
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0",
        }
        return state


class CameraLikeSource:
    """A camera panning over a scene: smooth texture at three scales under a few hundred
    flat-shaded objects with sharp edges, moving 90 px/s and bobbing, with faint sensor
    noise (+-1). Motion everywhere, unlike the test pattern."""

    def __init__(self, width: int, height: int, fps: int, seconds: float) -> None:
        self._width, self._height, self._fps = width, height, fps
        self._count = round(seconds * fps)
        rng = np.random.default_rng(11)
        scene = np.zeros((height + 64, width * 2), dtype=np.float32)
        for scale, weight in ((64, 90.0), (16, 40.0), (4, 20.0)):
            small = rng.normal(size=(scene.shape[0] // scale + 1, scene.shape[1] // scale + 1))
            scene += weight * cv2.resize(
                small.astype(np.float32), (scene.shape[1], scene.shape[0]),
                interpolation=cv2.INTER_CUBIC,
            )  # fmt: skip
        for _ in range(300):
            x, y = int(rng.integers(0, scene.shape[1])), int(rng.integers(0, scene.shape[0]))
            size, shade = int(rng.integers(8, 80)), float(rng.normal(0, 150))
            if rng.random() < 0.5:
                cv2.circle(scene, (x, y), size // 2, shade, thickness=-1, lineType=cv2.LINE_AA)
            else:
                corner = (x + size, y + int(rng.integers(8, 80)))
                cv2.rectangle(scene, (x, y), corner, shade, thickness=-1, lineType=cv2.LINE_AA)
        self._luma = np.clip(scene / 3 + 120, 16, 235).astype(np.uint8)
        self._chroma = cv2.resize(self._luma, (width, (height + 64) // 2))  # one colour field
        self._rng = rng

    @property
    def video_format(self) -> VideoFormat:
        return VideoFormat(self._width, self._height, Fraction(self._fps))

    @property
    def audio_format(self) -> AudioFormat | None:
        return None

    def frames(self) -> Iterator[Frame]:
        w, h = self._width, self._height
        for index in range(self._count):
            x = 3 * index  # pan 90 px/s, bob up and down
            y = round(16 + 16 * math.sin(index / 20))
            luma = self._luma[y : y + h, x : x + w].astype(np.int16)
            luma += self._rng.integers(-1, 2, size=luma.shape, dtype=np.int16)
            chroma = self._chroma[y // 2 : y // 2 + h // 2, x // 2 : x // 2 + w // 2]
            chroma = chroma.astype(np.int16) - 120
            image = np.empty((h * 3 // 2, w), dtype=np.uint8)
            image[:h] = np.clip(luma, 16, 235)
            image[h : h + h // 4] = (128 + chroma // 3).reshape(h // 4, w)
            image[h + h // 4 :] = (128 - chroma // 4).reshape(h // 4, w)
            frame = av.VideoFrame.from_ndarray(image, format="yuv420p")
            frame.pts = index
            frame.time_base = Fraction(1, self._fps)
            yield frame

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Encoded:
    bits_per_s: float
    """Video bits per second of the fragments (init segment left out)."""
    psnr_db: float
    """Mean luma PSNR of the decoded fragments against the source frames; nan if not
    measured."""


def encode(
    source_name: str, fragment: float, seconds: float, *, constant_quality: bool, psnr: bool
) -> Encoded:
    """Encode seconds of a source at 720p30 in fragments of this length.

    constant_quality: x264 at CRF (ConstantQualityEncoder); else the recorder's encoder
    unchanged, at the default bit-rate target."""
    config = CaptureConfig(WIDTH, HEIGHT, FPS, fragment_seconds=fragment)
    source = (
        CameraLikeSource(WIDTH, HEIGHT, FPS, seconds)
        if source_name == "camera-like"
        else SyntheticSource(WIDTH, HEIGHT, FPS, audio=False, seconds=seconds, realtime=False)
    )
    kind = ConstantQualityEncoder if constant_quality else LiveEncoder
    encoder = kind(config, source.video_format, None)
    pending: deque[npt.NDArray[np.float32]] = deque()  # source luma planes not yet in a fragment
    scores: list[float] = []
    media = 0

    def take(segments: list[MediaSegment]) -> None:
        nonlocal media
        for segment in segments:
            if segment.kind is not SegmentKind.FRAGMENT:
                continue
            media += len(segment.data)
            if not psnr:
                continue
            data = io.BytesIO(encoder.init_segment.data + segment.data)
            with av.open(data, mode="r") as container:
                for decoded in container.decode(video=0):  # no B-frames: source order
                    luma = decoded.to_ndarray()[:HEIGHT].astype(np.float32)  # raw Y plane
                    error = float(np.mean((luma - pending.popleft()) ** 2))
                    scores.append(10 * math.log10(255**2 / max(error, 1e-6)))

    for frame in source.frames():
        if psnr:
            pending.append(frame.to_ndarray()[:HEIGHT].astype(np.float32))
        take(encoder.push(frame))
    take(encoder.finish())
    return Encoded(media * 8 / seconds, statistics.fmean(scores) if scores else math.nan)


# -- (b), (c) relay CPU and receipts --


@dataclass
class RelayCost:
    cpu_per_stream: float
    """Share of one core per stream, the idle relay's share taken off."""
    receipts_per_s: float
    """Per stream."""


def start_recorder(phone: Phone, spool: Path, fragment: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*cli_command(), "record", "--source", "synthetic",
         "--resolution", f"{WIDTH}x{HEIGHT}", "--duration", "600",
         "--fragment-seconds", str(fragment), "-o", str(spool),
         "--relay", phone.relay.url, "--relay-key", str(phone.relay.key)],
        env={**os.environ, "TESTIGO_HOME": str(phone.home)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def receipt_rate(spool: Path, start: float, end: float) -> float:
    """Receipts per second landing in a spool within [start, end] (wall-clock times):
    intervals between the first and the last, so a window that is not a whole number of
    fragments does not round the rate."""
    times = sorted(
        t for p in spool.glob("*/receipts/*.receipt") if start <= (t := p.stat().st_mtime) <= end
    )
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else math.nan


def idle_rate(relay: LocalRelay, seconds: float) -> float:
    before, started = cpu_seconds(relay.pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(relay.pid) - before) / (time.monotonic() - started)


def relay_cost(
    phone: Phone, workdir: Path, fragment: float, streams: int, window: float, idle: float
) -> RelayCost:
    spools = [workdir / f"cpu-{fragment}-{n}" for n in range(streams)]
    recorders = [start_recorder(phone, spool, fragment) for spool in spools]
    try:
        for spool in spools:
            if not wait_for(partial(has_receipts, spool, 2), 30):
                raise RuntimeError("a recorder did not reach the relay")
        time.sleep(0.5)
        cpu_before, wall_before = cpu_seconds(phone.relay.pid), time.time()
        started = time.monotonic()
        time.sleep(window)
        cpu_after, wall_after = cpu_seconds(phone.relay.pid), time.time()
        elapsed = time.monotonic() - started
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)
        for recorder in recorders:
            recorder.wait(timeout=60)
    busy = (cpu_after - cpu_before) / elapsed - idle
    rates = [receipt_rate(spool, wall_before, wall_after) for spool in spools]
    return RelayCost(busy / streams, statistics.fmean(rates))


# -- the run and the report --


@dataclass
class Row:
    fragment: float
    synthetic_bps: float = math.nan
    camera_bps: float = math.nan
    camera_crf_psnr: float = math.nan
    camera_psnr: float = math.nan
    """At the default bit-rate target, not at equal quality."""
    relay: RelayCost = field(default_factory=lambda: RelayCost(math.nan, math.nan))
    losses: list[float] = field(default_factory=list)
    live: list[float] = field(default_factory=list)
    """Every frame's glass-to-glass delay, seconds."""

    @property
    def loss_p95(self) -> float:
        return p95(self.losses) if self.losses else math.nan

    @property
    def live_p95(self) -> float:
        return p95(self.live) if self.live else math.nan

    @property
    def meets_targets(self) -> bool:
        return self.loss_p95 <= LOSS_TARGET_S and self.live_p95 <= LIVE_TARGET_S


def _cell(value: float, reference: float, scale: float, form: str, unit: str) -> str:
    """A figure and its ratio to the reference row's."""
    if math.isnan(value):
        return "-".rjust(len(format(0.0, form)) + len(unit) + 7)
    ratio = "  -   " if math.isnan(reference) or not reference else f"{value / reference:5.2f}x"
    return f"{format(value * scale, form)}{unit} {ratio}"


def _decibels(value: float, reference: float) -> str:
    """A PSNR and, against a reference, its difference."""
    if math.isnan(value):
        return "-".rjust(8)
    if math.isnan(reference):
        return f"{value:5.1f} dB"
    return f"{value:5.1f} dB {value - reference:+5.1f} dB"


def report(rows: list[Row], options: argparse.Namespace) -> None:
    ref = next((r for r in rows if r.fragment == REFERENCE), rows[-1])
    print(
        f"fragment_length: 720p30, x264 {CaptureConfig().preset}, CRF {CRF} for equal quality; "
        f"{options.streams} recorder(s) -> 1 relay on loopback, {options.trials} kills, "
        f"{options.live_seconds:g} s live per length"
    )
    bitrate = CaptureConfig().bitrate / 1e6
    print(
        f"  {'fragment':>8}  {'synthetic, CRF':>16}  {'camera-like, CRF':>16}  {'its PSNR':>8}"
        f"  {f'camera-like at {bitrate:g} Mb/s':>26}"
    )
    for row in rows:
        cells = (
            _cell(row.synthetic_bps, ref.synthetic_bps, 1e-6, "5.2f", " Mb/s"),
            _cell(row.camera_bps, ref.camera_bps, 1e-6, "5.2f", " Mb/s"),
            _decibels(row.camera_crf_psnr, math.nan),
            f"{'PSNR':>10} " + _decibels(row.camera_psnr, ref.camera_psnr),
        )
        print(f"  {row.fragment:>6g} s  " + "  ".join(cells))
    print(
        f"  {'fragment':>8}  {'relay CPU/stream':>17}  {'receipts/s':>11}"
        f"  {'loss p95':>13}  {'live p95':>13}  targets"
    )
    for row in rows:
        measured = not (math.isnan(row.loss_p95) or math.isnan(row.live_p95))
        verdict = ("met" if row.meets_targets else "missed") if measured else "-"
        cells = (
            _cell(row.relay.cpu_per_stream, ref.relay.cpu_per_stream, 100, "5.2f", "% core"),
            _cell(row.relay.receipts_per_s, ref.relay.receipts_per_s, 1, "5.2f", ""),
            _cell(row.loss_p95, ref.loss_p95, 1, "4.2f", " s"),
            _cell(row.live_p95, ref.live_p95, 1, "4.2f", " s"),
        )
        print(f"  {row.fragment:>6g} s  " + "  ".join(cells) + f"  {verdict}")
    print(
        f"  ratios (and dB) against the {ref.fragment:g} s row; targets: loss window p95 <= "
        f"{LOSS_TARGET_S} s, live delay p95 <= {LIVE_TARGET_S} s"
    )
    meeting = [r for r in rows if r.meets_targets]
    if meeting:
        best = max(meeting, key=lambda r: r.fragment)  # the longest that meets both: cheapest
        print(f"  longest fragment meeting both targets (least cost): {best.fragment:g} s")
    samples = {
        str(r.fragment): {
            "loss": r.losses,
            "live_median": statistics.median(r.live) if r.live else None,
            "live_frames": len(r.live),
        }
        for r in rows
    }  # fmt: skip
    print("  samples: " + json.dumps(samples))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Fewer and shorter trials.")
    parser.add_argument("--trials", type=int, default=None, help="Kills per length (default 5).")
    parser.add_argument("--streams", type=int, default=2, help="Recorders for the relay CPU.")
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    parser.add_argument(
        "--latency-lengths", default=",".join(map(str, LATENCY_LENGTHS)),
        help="Lengths for the loss window and live delay (the slow part).",
    )  # fmt: skip
    options = parser.parse_args(argv)
    quick = options.quick
    options.trials = options.trials or (2 if quick else 5)
    options.live_seconds = 5.0 if quick else 10.0  # the start-up backlog fades
    encode_seconds, window, idle_seconds = (4.0, 4.0, 2.0) if quick else (4.0, 6.0, 3.0)
    lengths = [float(x) for x in options.lengths.split(",")]
    latency_lengths = {float(x) for x in options.latency_lengths.split(",")}
    began = time.monotonic()
    rows = [Row(length) for length in lengths]
    for row in rows:
        synthetic = encode(
            "synthetic", row.fragment, encode_seconds, constant_quality=True, psnr=False
        )
        row.synthetic_bps = synthetic.bits_per_s
        camera = encode(
            "camera-like", row.fragment, encode_seconds, constant_quality=True, psnr=True
        )
        row.camera_bps, row.camera_crf_psnr = camera.bits_per_s, camera.psnr_db
        fixed = encode(
            "camera-like", row.fragment, encode_seconds, constant_quality=False, psnr=True
        )
        row.camera_psnr = fixed.psnr_db
    with tempfile.TemporaryDirectory(prefix="testigo-fraglen-") as directory:
        workdir = Path(directory)
        with LocalRelay(workdir / "relay") as relay:
            phone = Phone(workdir / "phone", relay)
            idle = idle_rate(relay, idle_seconds)
            for row in rows:
                row.relay = relay_cost(phone, workdir, row.fragment, options.streams, window, idle)
            # Live first, and from a device of its own: a watcher of a device whose
            # recorder was just SIGKILLed follows that dead recording instead.
            watched = Phone(workdir / "watched", relay)
            latency_rows = [row for row in rows if row.fragment in latency_lengths]
            for row in latency_rows:
                per_fragment = asyncio.run(
                    measure(watched, workdir, row.fragment, options.live_seconds)
                )
                row.live = [d / 1000 for fragment in per_fragment for d in fragment]
                if len(row.live) < 0.8 * options.live_seconds * FPS:
                    raise RuntimeError(f"the watcher saw {len(row.live)} frames only")
            for row in latency_rows:
                row.losses = loss_windows(phone, workdir, row.fragment, options.trials)
    report(rows, options)
    print(f"  ran in {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
