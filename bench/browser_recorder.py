"""The phone's page in a real Chromium against a real relay on loopback (issue 12).

Each phone is set up as a person sets one up: an invite link from `testigo relay invite`,
opened in a fresh Chromium profile, a contact added (tests/test_web_recorder.py's steps).
Chromium's fake camera and microphone record; its fake UI grants the permission.

Both of phone/recorder.js's captures are measured, taking turns (the page's root element's
data-capture forces one): WebCodecs encoders + mediabunny's muxer, and MediaRecorder with
the box-boundary cut; the loss window and the first receipt are then shown side by side.

* Loss window: tap record, SIGKILL every Chromium process at a random moment 3-8 s in,
  fetch what the relay holds (`testigo fetch`), verify and open it, and take the kill
  time minus the device time of the last media chunk stored (the page seals a fragment
  as the recorder hands it over), and minus the header's time plus where the stored
  video ends on its own clock (decoded with PyAV). With the page's default 0.25 s
  fragments (the tap) and 1 s (Recorder.start called from evaluate(); an "online" event
  wakes the page's uploader). Targets: p95 <= 1.5 s at 1 s, <= 0.6 s at 0.25 s.
* First receipt: from the tap (a click in the page, camera already granted) to the
  status counting the first verified receipt, and the second; with the steps between
  (camera, MediaRecorder.start, first bytes, init and first fragment cut, spooled,
  receipted), marked by wrapping the page modules' prototypes. Target <= 1.5 s.
* Sealing: RecordingSealer.seal per 250 kB chunk (libsodium signer, WebCrypto signer)
  against sodium.aeadEncrypt on the same bytes, in the same page.
* CPU and memory while recording 720p30: Chromium's processes' CPU time (/proc) per
  second of recording, PSS, and the JS heap (CDP).
* Decrypt+verify: lib/verify.js verifyRecording in the page against vault.verify_stream
  in Python on the same ~20 MB recording.
"""

import argparse
import base64
import io
import itertools
import os
import random
import signal
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import vault
from bench.end_to_end import p95
from bench.verify_throughput import make_recording
from stream.demo.browser_phone import set_up_phone, stop_and_drain
from stream.demo.chromium import chromium_page, chromium_processes, missing_browser
from stream.demo.local_relay import LocalRelay
from vault.archive import read_header
from vault.format import Chunk, ChunkKind

if TYPE_CHECKING:
    from playwright.sync_api import Page

TARGET_LOSS_S = {1.0: 1.5, 0.25: 0.6}
TARGET_FIRST_RECEIPT_S = 1.5
PAGE_FRAGMENT_S = 0.25  # phone/recorder.js DEFAULT_FRAGMENT_SECONDS: what a tap records
# phone/recorder.js's captures, forced in turn: WebCodecs encoders + mediabunny, MediaRecorder
CAPTURES = ("webcodecs", "mediarecorder")
SEAL_PLAINTEXT = 250_000
SEAL_CHUNKS = 24
CPU_SECONDS = 10.0
# The fake camera gives 20 frames a second unless told: the page asks for 720p30.
FLAGS = ("--use-fake-device-for-media-stream=fps=30",)  # the last of a switch wins


def browser_missing() -> str | None:
    """Why the browser benchmarks cannot run here, or None."""
    return missing_browser()


# ---- Chromium's processes, from /proc ------------------------------------------------


def process_kind(pid: int) -> str:
    """browser, renderer, gpu, zygote, or the utility's service (network, video_capture…)."""
    try:
        # Chromium rewrites its children's command lines as one space-separated string
        command = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return "gone"
    words = command.decode(errors="replace").split()
    kind = next((w.removeprefix("--type=") for w in words if w.startswith("--type=")), "")
    if kind == "utility":
        service = next((w for w in words if w.startswith("--utility-sub-type=")), "=utility")
        return service.split("=", 1)[1].split(".")[0]
    if kind == "":
        return "browser" if words and "crashpad" not in words[0] else "crashpad"
    return {"gpu-process": "gpu"}.get(kind, kind)


def cpu_seconds(pids: list[int]) -> dict[str, float]:
    """utime + stime of each process, summed by kind (browser, renderer, gpu, utility)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for pid in pids:
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kind = process_kind(pid)
        out[kind] = out.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def memory_kb(pids: list[int], field: str) -> int:
    """A field of smaps_rollup (Pss, Rss) summed over the processes, in kB."""
    total = 0
    for pid in pids:
        try:
            text = (Path("/proc") / str(pid) / "smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(field + ":"):
                total += int(line.split()[1])
    return total


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# ---- the page ------------------------------------------------------------------------

# Recorder.start as the page calls it, with another fragment length. The page's uploader
# is not reachable from here; an "online" event is what wakes it (uploader.js listens).
START_RECORDER = """
async ({ fragmentSeconds, capture }) => {
  const { Recorder, openCamera } = await import("/app/phone/recorder.js");
  const { Spool } = await import("/app/phone/spool.js");
  const { ContactBook } = await import("/app/phone/contact_book.js");
  const { deviceSigner } = await import("/app/lib/device_key.js");
  const spool = await Spool.open();
  const book = await ContactBook.load(spool);
  const signer = deviceSigner(await spool.getConfig("device"));
  const stream = await openCamera("environment");
  const recorder = await Recorder.start({
    stream, spool, signer, recipients: book.recipients(), fragmentSeconds, capture,
    onSpooled: () => window.dispatchEvent(new Event("online")),
    onFailure: (error) => console.error(error),
  });
  window.benchRecorder = recorder;
  return recorder.recordingId;
}
"""

# Marks, in the page, of the steps between a tap and its receipts (each step's first
# time after the tap), by wrapping the prototypes the page's modules use: the app is
# not changed, only observed.
WATCH_STEPS = """
async () => {
  if (window.benchMarks !== undefined) return;
  const { Fmp4Splitter } = await import("/app/phone/fmp4_split.js");
  const { Recorder } = await import("/app/phone/recorder.js");
  const { Spool } = await import("/app/phone/spool.js");
  window.benchMarks = {};
  const mark = (what) => {
    if (!(what in window.benchMarks)) window.benchMarks[what] = performance.now();
  };
  const devices = navigator.mediaDevices;
  const getUserMedia = devices.getUserMedia.bind(devices);
  devices.getUserMedia = async (c) => {
    const s = await getUserMedia(c);
    mark("camera");
    return s;
  };
  const start = MediaRecorder.prototype.start;
  MediaRecorder.prototype.start = function (...a) {
    mark("recorder");
    return start.apply(this, a);
  };
  const encode = VideoEncoder.prototype.encode;
  VideoEncoder.prototype.encode = function (...a) {
    mark("recorder");
    return encode.apply(this, a);
  };
  const push = Fmp4Splitter.prototype.push;
  Fmp4Splitter.prototype.push = function (bytes) {
    if (bytes.length > 0) mark("bytes");
    const pieces = push.call(this, bytes);
    for (const piece of pieces) mark(`cut ${piece.kind}`);
    return pieces;
  };
  const spoolChunk = Recorder.prototype.spoolChunk;
  Recorder.prototype.spoolChunk = async function (kind, plaintext) {
    await spoolChunk.call(this, kind, plaintext);
    mark(`spooled ${kind}`);
  };
  const putReceipt = Spool.prototype.putReceipt;
  Spool.prototype.putReceipt = async function (recording, index, receipt) {
    await putReceipt.call(this, recording, index, receipt);
    mark(`receipt ${index}`);
  };
}
"""

# Tap record and time, in the page, the status's changes: the recording's id appearing,
# then the receipted count passing its value before the tap by 1 and by 2.
TAP_TO_RECEIPT = """
() => new Promise((resolve, reject) => {
  const status = document.getElementById("status");
  const before = Number(status.dataset.receipted ?? 0);
  const recordingBefore = status.dataset.recording;
  const out = { recording: null, first: null, second: null, steps: {} };
  const observer = new MutationObserver(() => {
    const now = performance.now() - tapped;
    if (out.recording === null && status.dataset.recording !== recordingBefore) out.recording = now;
    const receipted = Number(status.dataset.receipted ?? 0);
    if (out.first === null && receipted >= before + 1) out.first = now;
    if (out.second === null && receipted >= before + 2) {
      out.second = now;
      observer.disconnect();
      for (const [what, at] of Object.entries(window.benchMarks)) out.steps[what] = at - tapped;
      resolve(out);
    }
  });
  observer.observe(status, { attributes: true });
  setTimeout(() => { observer.disconnect(); reject(new Error("no receipt in 30 s")); }, 30000);
  window.benchMarks = {};
  const tapped = performance.now();
  document.getElementById("record").click();
})
"""

# The steps' names in the marks, in the order they happen, and how they are shown.
STEPS = (
    ("camera", "camera open"),
    ("recorder", "recorder start/1st frame"),
    ("bytes", "first bytes"),
    ("cut init", "init cut"),
    ("spooled 1", "init spooled"),
    ("receipt 0", "init receipted"),
    ("cut media", "1st fragment cut"),
    ("receipt 1", "its receipt"),
)

SEAL_COST = """
async ({ size, count }) => {
  const sodium = await import("/app/lib/sodium.js");
  const { RecordingSealer } = await import("/app/lib/seal.js");
  const { ChunkKind } = await import("/app/lib/format.js");
  const { newDeviceKey, deviceSigner } = await import("/app/lib/device_key.js");
  await sodium.ready();
  const webcrypto = await newDeviceKey();
  const seed = sodium.randomBytes(32);
  const signers = {
    sodium: deviceSigner({
      kind: "sodium", seed, publicKey: sodium.ed25519Keypair(seed).publicKey,
    }),
    webcrypto: deviceSigner(webcrypto),
  };
  const recipient = sodium.x25519Public(sodium.randomBytes(32));
  const plaintexts = Array.from({ length: count }, () => sodium.randomBytes(size));
  const key = sodium.randomBytes(32);
  const ad = sodium.randomBytes(66);
  const nonces = plaintexts.map(() => sodium.randomBytes(24));
  const times = { raw: [], sodium: [], webcrypto: [] };
  for (let round = 0; round < 5; round += 1) {
    let start = performance.now();
    plaintexts.forEach((p, i) => sodium.aeadEncrypt(key, nonces[i], ad, p));
    times.raw.push((performance.now() - start) / count);
    for (const name of ["sodium", "webcrypto"]) {
      const sealer = await RecordingSealer.start({
        signer: signers[name], recipients: [recipient], mediaType: "video/mp4",
      });
      start = performance.now();
      for (const p of plaintexts) await sealer.seal(ChunkKind.MEDIA, p);
      times[name].push((performance.now() - start) / count);
    }
  }
  const best = (name) => Math.min(...times[name]);
  return {
    kind: webcrypto.kind, raw: best("raw"), sodium: best("sodium"), webcrypto: best("webcrypto"),
  };
}
"""

VERIFY_IN_PAGE = """
async ({ secret, rounds }) => {
  const sodium = await import("/app/lib/sodium.js");
  const { verifyRecording } = await import("/app/lib/verify.js");
  const { RecipientIdentity } = await import("/app/lib/open.js");
  await sodium.ready();
  const data = new Uint8Array(await (await fetch("/bench/recording.tgr")).arrayBuffer());
  const identity = new RecipientIdentity(Uint8Array.from(atob(secret), (c) => c.charCodeAt(0)));
  const times = [];
  let status = null;
  for (let round = 0; round < rounds; round += 1) {
    const start = performance.now();
    const { report } = verifyRecording(data, [identity]);
    times.push(performance.now() - start);
    status = report.status;
  }
  return { bytes: data.length, ms: Math.min(...times), status };
}
"""

VIDEO_SETTINGS = """
() => {
  const stream = document.getElementById("preview").srcObject;
  const track = stream && stream.getVideoTracks()[0];
  const s = track ? track.getSettings() : {};
  return [s.width ?? 0, s.height ?? 0, s.frameRate ?? 0];
}
"""


@dataclass
class Bench:
    relay: LocalRelay
    workdir: Path
    contact: vault.RecipientIdentity
    phones: int = 0

    @contextmanager
    def phone(self, *, killed: bool = False) -> Iterator[tuple["Page", Path, str]]:
        """A set-up phone: its page, its profile directory and its device key.

        killed: the body kills the browser, so closing it may find it gone already.
        """
        from playwright.sync_api import Error as PlaywrightError

        from tests.test_web_recorder import Setup

        self.phones += 1
        setup = Setup(self.relay, self.workdir, self.contact.public)
        profile = self.workdir / f"profile-{self.phones}"
        body_done = False
        try:
            with chromium_page(profile, extra_args=FLAGS) as page:
                device = set_up_phone(page, setup.invite(), self.contact.public)
                yield page, profile, device
                body_done = True
        except PlaywrightError:
            if not (killed and body_done):
                raise

    def stored(self, device: str) -> "Stored":
        """What the relay holds of the device's recording, verified and opened."""
        from tests.test_web_recorder import Setup

        name = f"fetched-{self.phones}.tgr"
        path = Setup(self.relay, self.workdir, self.contact.public).fetch(device, name)
        opened: list[tuple[Chunk, bytes]] = []

        def keep(chunk: Chunk, plaintext: bytes | None) -> None:
            assert plaintext is not None
            opened.append((chunk, plaintext))

        with path.open("rb") as stream:
            header, _ = read_header(stream)
            stream.seek(0)
            report = vault.verify_stream(stream, [self.contact], sink=keep)
        return Stored(report.status.value, header.created_ms, opened)


@dataclass
class Stored:
    status: str
    created_ms: int
    opened: list[tuple[Chunk, bytes]]

    def media_device_times(self) -> list[int]:
        return [c.device_time_ms for c, _ in self.opened if c.kind is ChunkKind.MEDIA]

    def media_seconds(self) -> float:
        """Where the stored video ends on its own timeline (0 = the recorder's start)."""
        import av

        mp4 = b"".join(p for c, p in self.opened if c.kind in (ChunkKind.INIT, ChunkKind.MEDIA))
        end = 0.0
        with av.open(io.BytesIO(mp4), mode="r") as container:
            video = container.streams.video[0]
            for packet in container.demux(video):
                if packet.pts is not None and packet.time_base is not None:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
        return end


def settle(page: "Page") -> str:
    """Wait (up to 10 s) for the uploader's WebRTC channel, as a page open a moment has it."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with suppress(PlaywrightTimeout):
        page.locator("#status[data-network=webrtc]").wait_for(timeout=10_000)
    return str(page.get_attribute("#status", "data-network"))


@dataclass
class KillTrial:
    at_s: float  # the kill, after the tap
    loss_s: float  # the kill minus the device time of the last stored media chunk
    media_loss_s: float  # the kill minus (header's time + where the stored video ends)
    media_chunks: int
    fragment_s: float  # median device-time step between stored media chunks
    status: str


def force_capture(page: "Page", capture: str) -> None:
    """Make the page's tap record with this capture (phone/main.js reads data-capture)."""
    page.evaluate(f"() => {{ document.documentElement.dataset.capture = {capture!r}; }}")


def kill_trial(bench: Bench, capture: str, fragment: float, rng: random.Random) -> KillTrial:
    with bench.phone(killed=True) as (page, profile, device):
        settle(page)
        force_capture(page, capture)
        tapped = time.time()
        if fragment == PAGE_FRAGMENT_S:
            page.click("#record")  # the page's own recorder, as a person taps it
            page.locator("#status[data-recording]").wait_for()
        else:
            page.evaluate(START_RECORDER, {"fragmentSeconds": fragment, "capture": capture})
        at = rng.uniform(3.0, 8.0)
        time.sleep(max(0.0, tapped + at - time.time()))
        pids = chromium_processes(profile)
        killed_ms = time.time() * 1000
        kill_all(pids)
    time.sleep(0.5)  # anything the relay was given before the kill is stored by now
    stored = bench.stored(device)
    media = stored.media_device_times()
    steps = [b - a for a, b in itertools.pairwise(media)]
    last = media[-1] if media else tapped * 1000
    media_end_ms = stored.created_ms + 1000 * stored.media_seconds() if media else tapped * 1000
    return KillTrial(
        at_s=(killed_ms / 1000) - tapped,
        loss_s=(killed_ms - last) / 1000,
        media_loss_s=(killed_ms - media_end_ms) / 1000,
        media_chunks=len(media),
        fragment_s=statistics.median(steps) / 1000 if steps else 0.0,
        status=stored.status,
    )


@dataclass
class Receipted:
    started_s: float  # the tap → the recording's id in the status
    first_s: float  # → the status counting the first verified receipt
    second_s: float  # → the second
    steps: dict[str, float]  # → each of STEPS, in seconds


def first_receipts(page: "Page", capture: str, runs: int) -> list[Receipted]:
    """Tap, time the receipts, stop, let everything drain; runs times."""
    page.evaluate(WATCH_STEPS)
    force_capture(page, capture)
    out = []
    for _ in range(runs):
        timed = page.evaluate(TAP_TO_RECEIPT)
        steps = {str(k): float(v) / 1000 for k, v in timed["steps"].items()}
        out.append(
            Receipted(
                timed["recording"] / 1000, timed["first"] / 1000, timed["second"] / 1000, steps
            )
        )
        time.sleep(1.0)
        stop_and_drain(page)
    return out


@dataclass
class Load:
    seconds: float
    idle_cpu: dict[str, float]  # CPU seconds per second, before the tap
    cpu: dict[str, float]  # CPU seconds per second of recording
    pss_mb: float
    renderer_pss_mb: float
    heap_mb: tuple[float, float]
    heap_idle_mb: tuple[float, float]
    video: tuple[int, int, float]


def heap_mb(page: "Page") -> tuple[float, float]:
    """The page's JS heap in use after a collection, and its ArrayBuffers' backing stores."""
    session = page.context.new_cdp_session(page)
    try:
        session.send("HeapProfiler.collectGarbage")
        usage = session.send("Runtime.getHeapUsage")
    finally:
        session.detach()
    return float(usage["usedSize"]) / 1e6, float(usage.get("backingStorageSize", 0)) / 1e6


def load_while_recording(page: "Page", profile: Path, seconds: float) -> Load:
    pids = chromium_processes(profile)
    heap_idle = heap_mb(page)
    idle_start, idle_clock = cpu_seconds(pids), time.monotonic()
    time.sleep(3.0)
    idle_end, idle_elapsed = cpu_seconds(pids), time.monotonic() - idle_clock
    page.click("#record")
    page.locator("#record[data-state=recording]").wait_for()
    pids = chromium_processes(profile)  # the camera may have started a process
    start, clock = cpu_seconds(pids), time.monotonic()
    time.sleep(seconds)
    end, elapsed = cpu_seconds(chromium_processes(profile)), time.monotonic() - clock
    pids = chromium_processes(profile)
    renderer = [pid for pid in pids if process_kind(pid) == "renderer"]
    pss = memory_kb(pids, "Pss") / 1000
    renderer_pss = memory_kb(renderer, "Pss") / 1000
    heap = heap_mb(page)
    width, height, rate = page.evaluate(VIDEO_SETTINGS)
    stop_and_drain(page)

    def per_second(a: dict[str, float], b: dict[str, float], wall: float) -> dict[str, float]:
        return {k: (b.get(k, 0.0) - a.get(k, 0.0)) / wall for k in sorted(set(a) | set(b))}

    return Load(
        seconds=elapsed,
        idle_cpu=per_second(idle_start, idle_end, idle_elapsed),
        cpu=per_second(start, end, elapsed),
        pss_mb=pss,
        renderer_pss_mb=renderer_pss,
        heap_mb=heap,
        heap_idle_mb=heap_idle,
        video=(int(width), int(height), float(rate)),
    )


def verify_speeds(
    bench: Bench, page: "Page", size_mb: int, rounds: int
) -> tuple[float, float, float, float]:
    """(MB, JS MB/s, Python 1-thread MB/s, Python default-pool MB/s) on one recording."""
    path = bench.workdir / "throughput.tgr"
    lawyer = make_recording(path, size_mb)
    data = path.read_bytes()
    page.route(
        "**/bench/recording.tgr",
        lambda route: route.fulfill(status=200, body=data, content_type="application/octet-stream"),
    )
    secret = base64.b64encode(lawyer.secret_bytes()).decode()
    timed = page.evaluate(VERIFY_IN_PAGE, {"secret": secret, "rounds": rounds})
    assert timed["status"] == "complete", timed
    assert timed["bytes"] == len(data), timed
    python: dict[int | None, float] = {}
    for workers in (1, None):
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            report = vault.verify_stream(io.BytesIO(data), [lawyer], workers=workers)
            best = min(best, time.perf_counter() - start)
            assert report.status is vault.Status.COMPLETE
        python[workers] = best
    megabytes = len(data) / 1e6
    return (
        megabytes,
        megabytes / (float(timed["ms"]) / 1000),
        megabytes / python[1],
        megabytes / python[None],
    )


def _row(label: str, figure: str, note: str = "") -> None:
    print(f"  {label:44} {figure:>22}  {note}".rstrip())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer trials and runs")
    parser.add_argument("--trials", type=int, help="kill trials per fragment length")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--fragments", type=float, nargs="+", default=[1.0, 0.25], help="fragment lengths (s)"
    )
    arguments = parser.parse_args(argv)
    missing = browser_missing()
    if missing is not None:
        print(f"browser_recorder: skipped: {missing}")
        return
    trials = arguments.trials or (3 if arguments.quick else 8)
    runs = 3 if arguments.quick else 6
    size_mb = 8 if arguments.quick else 20
    rng = random.Random(arguments.seed)
    with tempfile.TemporaryDirectory(prefix="testigo-bench-browser-") as directory:
        workdir = Path(directory)
        contact = vault.RecipientIdentity.generate()
        with LocalRelay(workdir / "relay") as relay:
            bench = Bench(relay, workdir, contact)
            # the captures take turns, so a slower moment of the machine hits both alike
            kills: dict[tuple[str, float], list[KillTrial]] = {}
            for fragment in arguments.fragments:
                for _ in range(trials):
                    for capture in CAPTURES:
                        trial = kill_trial(bench, capture, fragment, rng)
                        kills.setdefault((capture, fragment), []).append(trial)
            receipts: dict[str, list[Receipted]] = {}
            with bench.phone() as (page, profile, _device):
                settle(page)
                for capture in CAPTURES:
                    receipts[capture] = first_receipts(page, capture, runs)
                force_capture(page, "auto")
                load = load_while_recording(page, profile, CPU_SECONDS)
                seal = page.evaluate(SEAL_COST, {"size": SEAL_PLAINTEXT, "count": SEAL_CHUNKS})
                speeds = verify_speeds(bench, page, size_mb, 3)
    report(kills, receipts, load, seal, speeds)


def report(
    kills: dict[tuple[str, float], list[KillTrial]],
    receipts: dict[str, list[Receipted]],
    load: Load,
    seal: dict[str, float | str],
    speeds: tuple[float, float, float, float],
) -> None:
    print("browser_recorder: the phone's page in Chromium (fake camera), a relay on loopback")
    for (capture, fragment), found in kills.items():
        losses = [t.loss_s for t in found]
        how = "the page's tap" if fragment == PAGE_FRAGMENT_S else "Recorder.start from evaluate()"
        print(
            f" loss window, {capture}, {fragment:g} s fragments ({how}), {len(found)} kills at "
            f"{min(t.at_s for t in found):.1f}-{max(t.at_s for t in found):.1f} s"
        )
        _row(
            "kill → last stored media's device time, med / p95",
            f"{statistics.median(losses):.2f} / {p95(losses):.2f} s",
            f"target p95 <= {TARGET_LOSS_S.get(fragment, fragment * 2.4):g} s",
        )
        _row("  each trial (s)", "", " ".join(f"{x:.2f}" for x in losses))
        by_media = [t.media_loss_s for t in found]
        _row(
            "kill → created + stored video's end, med / p95",
            f"{statistics.median(by_media):.2f} / {p95(by_media):.2f} s",
            "(the video's own clock)",
        )
        steps = [t.fragment_s for t in found if t.fragment_s > 0]
        _row(
            "  stored media chunks / fragment step (median)",
            f"{statistics.median(t.media_chunks for t in found):.0f} / "
            f"{statistics.median(steps) if steps else 0:.2f} s",
            "statuses: " + ",".join(sorted({t.status for t in found})),
        )
    for capture, runs in receipts.items():
        report_receipts(capture, runs)
    compare(kills, receipts)
    report_rest(load, seal, speeds)


def report_receipts(capture: str, receipts: list[Receipted]) -> None:
    started = [r.started_s for r in receipts]
    first = [r.first_s for r in receipts]
    second = [r.second_s for r in receipts]
    print(f" tap → receipt, {capture} ({len(receipts)} runs, camera permission granted)")
    _row(
        "tap → recording started, median / p95",
        f"{statistics.median(started):.2f} / {p95(started):.2f} s",
    )
    _row(
        "tap → first verified receipt, median / p95",
        f"{statistics.median(first):.2f} / {p95(first):.2f} s",
        f"target <= {TARGET_FIRST_RECEIPT_S} s",
    )
    _row(
        "tap → second receipt, median / p95",
        f"{statistics.median(second):.2f} / {p95(second):.2f} s",
    )
    marks = []
    for key, label in STEPS:
        times = [r.steps[key] for r in receipts if key in r.steps]
        if times:
            marks.append(f"{label} {statistics.median(times):.2f}")
    _row("  steps after the tap (median s)", "", ", ".join(marks))


def compare(
    kills: dict[tuple[str, float], list[KillTrial]], receipts: dict[str, list[Receipted]]
) -> None:
    """The two captures side by side: median / p95 of each, and WebCodecs ÷ MediaRecorder."""
    codecs, recorder = CAPTURES
    print(f" {codecs} vs {recorder} (median / p95, s; ratio {codecs} ÷ {recorder} of p95)")
    rows: list[tuple[str, list[float], list[float]]] = []
    for fragment in sorted({f for _, f in kills}):
        if (codecs, fragment) in kills and (recorder, fragment) in kills:
            rows.append(
                (
                    f"loss window, {fragment:g} s fragments",
                    [t.loss_s for t in kills[codecs, fragment]],
                    [t.loss_s for t in kills[recorder, fragment]],
                )
            )
    if codecs in receipts and recorder in receipts:
        rows.append(
            (
                "tap → first verified receipt",
                [r.first_s for r in receipts[codecs]],
                [r.first_s for r in receipts[recorder]],
            )
        )
        rows.append(
            (
                "tap → second (first media's, 0.25 s) receipt",
                [r.second_s for r in receipts[codecs]],
                [r.second_s for r in receipts[recorder]],
            )
        )
    for label, a, b in rows:
        ratio = p95(a) / p95(b) if p95(b) > 0 else float("nan")
        _row(
            label,
            f"{statistics.median(a):.2f}/{p95(a):.2f} vs {statistics.median(b):.2f}/{p95(b):.2f}",
            f"ratio {ratio:.2f}",
        )


def report_rest(
    load: Load, seal: dict[str, float | str], speeds: tuple[float, float, float, float]
) -> None:
    raw = float(seal["raw"])
    print(f" sealing a {SEAL_PLAINTEXT // 1000} kB chunk in the page (best of 5 x {SEAL_CHUNKS})")
    _row("sodium.aeadEncrypt alone", f"{raw:.2f} ms")
    for name in ("sodium", "webcrypto"):
        ms = float(seal[name])
        made = (
            "" if name != "webcrypto" or seal["kind"] == name else f" (fell back: {seal['kind']})"
        )
        _row(f"RecordingSealer.seal, {name} signer{made}", f"{ms:.2f} ms", f"{ms / raw:.2f}x raw")
    width, height, rate = load.video
    print(
        f" recording {width}x{height}@{rate:g} for {load.seconds:.0f} s "
        "(CPU s per s; 2 shared cores)"
    )
    total = sum(load.cpu.values())
    idle = sum(load.idle_cpu.values())
    _row("all Chromium processes, recording / idle", f"{total:.2f} / {idle:.2f}")
    _row(
        "  by process",
        "",
        ", ".join(f"{k} {v:.2f}" for k, v in sorted(load.cpu.items(), key=lambda kv: -kv[1])),
    )
    _row("PSS, all processes / renderer", f"{load.pss_mb:.0f} / {load.renderer_pss_mb:.0f} MB")
    (heap, buffers), (heap_idle, buffers_idle) = load.heap_mb, load.heap_idle_mb
    _row("JS heap used, recording / before", f"{heap:.1f} / {heap_idle:.1f} MB")
    _row("ArrayBuffer stores, recording / before", f"{buffers:.1f} / {buffers_idle:.1f} MB")
    megabytes, js, single, pooled = speeds
    print(f" decrypt+verify, one {megabytes:.0f} MB recording (190 kB chunks, best of 3)")
    _row("lib/verify.js verifyRecording in the page", f"{js:.0f} MB/s")
    _row("vault.verify_stream, 1 thread", f"{single:.0f} MB/s", f"JS ratio {js / single:.2f}")
    _row("vault.verify_stream, thread pool", f"{pooled:.0f} MB/s", f"JS ratio {js / pooled:.2f}")


if __name__ == "__main__":
    main()
