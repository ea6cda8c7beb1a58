"""Relay capacity: how many 2 Mbit/s device streams one relay core takes with receipt p99 < 1 s.

For increasing N, runs N simulated devices against ONE relay process (`testigo relay
serve --port 0 --storage DIR --relay-key KEY`, filesystem storage with its fsyncs, on
127.0.0.1). Each device streams a sealed recording of 1 s chunks of 250 kB (2 Mbit/s),
paced in real time, one chunk per second, the devices spread evenly over each second.
Sealing happens before the clock starts, in the client processes (bench/relay_load_client.py),
so the clients measure the relay, not themselves.

The relay is pinned to its own CPU(s) (default: the last one) and the client processes
to the others; the relay's CPU use is read from /proc/PID/stat (utime + stime, every
thread) over the paced window, the clients' likewise, so a step where the clients ran
out of CPU is flagged instead of blamed on the relay.

A step passes when every device connected, every chunk got its receipt within the
drain time and no error came back, receipt latency p99 < 1 s and sending never fell
1 s behind the schedule (WebRTC flow control holding chunks back). Latency is per
chunk: WebRTC from handing the last frame to the data channel to the RECEIPT; HTTPS
from starting the POST to the receipt body. The search climbs a ladder of N until a
step fails, then bisects between the last pass and the first failure while the time
budget lasts. The largest passing N divided by the relay's pinned cores is the capacity
per core (target from issue 4: >= 25 WebRTC, >= 200 HTTPS); divided by the cores the
relay actually used at that N, it is the CPU cost per stream.
"""

import argparse
import asyncio
import contextlib
import ctypes
import json
import math
import os
import re
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from relay_server.operator import enroll
from relay_server.settings import Settings
from vault import DeviceIdentity, DeviceKey, Role, generate_identity, save_identity

CHUNK_BYTES: Final = 250_000  # 1 s at 2 Mbit/s
STREAM_MBIT_S: Final = CHUNK_BYTES * 8 / 1e6
TARGETS: Final = {"webrtc": 25, "https": 200}
LADDERS: Final = {
    "webrtc": (10, 20, 30, 40, 50, 60, 75, 90, 110, 130),
    "https": (100, 200, 300, 400, 500, 650, 800, 1000, 1250),
}
QUICK_LADDERS: Final = {"webrtc": (15, 30, 45, 60), "https": (150, 300, 450, 600)}
RESOLUTION: Final = {"webrtc": 2, "https": 20}  # stop bisecting below this gap
DEFAULT_MAX_STREAMS: Final = {"webrtc": 130, "https": 1250}
P99_LIMIT_S: Final = 1.0
DRAIN_S: Final = 3.0  # receipts later than this after the last chunk are lost
START_DELAY_S: Final = 1.0
RELAY_START_TIMEOUT_S: Final = 30.0
SEAL_TIMEOUT_S: Final = 180.0
STOP_TIMEOUT_S: Final = 10.0
ADMISSION_HEADROOM: Final = 0.8
PR_SET_PDEATHSIG: Final = 1
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
LISTENING: Final = re.compile(r"relay listening on (http://\S+)")


class BenchError(Exception):
    """The benchmark could not run a step (a process failed to start or answer)."""


# -- processes --


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of a process, in seconds (proc(5))."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        raise BenchError(f"process {pid} exited during the measurement") from None
    fields = data[data.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def child_setup(cpus: frozenset[int]) -> Callable[[], None]:
    """Run in the child before exec: pin it to cpus, raise its open-file limit to the hard
    limit, and have it die with us."""

    def setup() -> None:
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one socket per stream
        if cpus:
            os.sched_setaffinity(0, cpus)
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return setup


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL if it has not exited after STOP_TIMEOUT_S."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        async with asyncio.timeout(STOP_TIMEOUT_S):
            await process.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def relay_command() -> list[str]:
    script = Path(sys.executable).with_name("testigo")
    if not script.exists():
        raise BenchError(f"{script} is missing: pip install -e . in this venv")
    return [str(script), "relay", "serve"]


class Worker:
    """One client process (bench/relay_load_client.py), talking JSON lines."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, cpus: frozenset[int], log: Path) -> "Worker":
        with log.open("ab") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.relay_load_client",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                preexec_fn=child_setup(cpus),
                limit=64 * 1024 * 1024,
            )
        return cls(process)

    async def send(self, message: dict[str, object]) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(json.dumps(message).encode() + b"\n")
        await stdin.drain()

    async def expect(self, event: str, timeout: float) -> dict[str, object]:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            async with asyncio.timeout(timeout):
                line = await stdout.readline()
        except TimeoutError:
            raise BenchError(
                f"a client process did not answer {event} in {timeout:.0f} s"
            ) from None
        if not line:
            raise BenchError(f"a client process exited (code {await self.process.wait()})")
        message = json.loads(line)
        if not isinstance(message, dict) or message.get("event") != event:
            raise BenchError(f"a client process answered {line[:200]!r}, expected {event}")
        return message


# -- statistics --


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; inf for an empty list."""
    if not values:
        return math.inf
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def as_floats(value: object) -> list[float]:
    assert isinstance(value, list)
    return [float(v) for v in value]


@dataclass
class Step:
    transport: str
    streams: int
    seconds: int
    connected: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    offered: int = 0
    receipted: int = 0
    receipted_bytes: int = 0
    latencies: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    relay_cores: float = 0.0
    relay_cpus: int = 1
    client_cores: float = 0.0
    client_cpus: int = 1
    start: float = 0.0
    last_receipt: float = -math.inf
    wall_s: float = 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else math.inf

    @property
    def p99(self) -> float:
        """p99 over every offered chunk: a chunk without receipt counts as infinitely late."""
        lost = self.offered - self.receipted
        return percentile(self.latencies + [math.inf] * lost, 0.99)

    @property
    def lag_p99(self) -> float:
        return percentile(self.lags, 0.99) if self.lags else 0.0

    @property
    def mbit_s(self) -> float:
        """Stored throughput over the paced window, or until the last receipt if later."""
        span = max(float(self.seconds), self.last_receipt - self.start)
        return self.receipted_bytes * 8 / 1e6 / span

    @property
    def passed(self) -> bool:
        return (
            self.connected == self.streams
            and self.receipted == self.offered
            and not self.errors
            and self.p99 < P99_LIMIT_S
            and self.lag_p99 < P99_LIMIT_S
        )

    @property
    def relay_saturated(self) -> bool:
        return self.relay_cores >= 0.9 * self.relay_cpus

    @property
    def client_bound(self) -> bool:
        return self.client_cores >= 0.85 * self.client_cpus

    def add(self, result: dict[str, object]) -> None:
        self.latencies += as_floats(result["latencies"])
        self.lags += as_floats(result["lags"])
        self.offered += int(str(result["offered"]))
        self.receipted += int(str(result["receipted"]))
        self.receipted_bytes += int(str(result["receipted_bytes"]))
        errors = result["errors"]
        assert isinstance(errors, dict)
        self.errors.update({str(k): int(v) for k, v in errors.items()})
        if isinstance(last := result["last_receipt"], float):
            self.last_receipt = max(self.last_receipt, last)


# -- the harness --


@dataclass
class Options:
    transports: list[str]
    max_streams: dict[str, int]
    seconds: int
    budget_s: float
    quick: bool
    relay_cpus: frozenset[int]
    client_cpus: frozenset[int]
    client_procs: int
    workdir: Path | None  # None: a temporary directory, removed afterwards


class Harness:
    """Keys, enrolled devices and storage shared by every step; one relay per step."""

    def __init__(self, options: Options, workdir: Path) -> None:
        self.options = options
        self.storage = workdir / "storage"
        self.relay_key = workdir / "relay.key"
        self.logs = workdir / "logs"
        self.logs.mkdir()
        save_identity(self.relay_key, generate_identity(Role.RELAY), None)
        self.settings = Settings.from_strings(
            {"storage": str(self.storage), "relay_key": str(self.relay_key)}
        )
        self.seeds: list[bytes] = []
        self.processes: list[asyncio.subprocess.Process] = []
        self.drains: list[asyncio.Future[bytes]] = []

    async def enroll_devices(self, count: int) -> None:
        while len(self.seeds) < count:
            seed = os.urandom(32)
            await enroll(self.settings, DeviceKey(DeviceIdentity(seed).public.raw))
            self.seeds.append(seed)

    async def start_relay(self, transport: str, streams: int) -> tuple[int, str]:
        sessions = streams if transport == "webrtc" else 0
        with (self.logs / "relay.log").open("ab") as stderr:
            process = await asyncio.create_subprocess_exec(
                *relay_command(),
                "--port",
                "0",
                "--storage",
                str(self.storage),
                "--relay-key",
                str(self.relay_key),
                "--set",
                f"max_webrtc_sessions={sessions}",
                "--set",
                "remote_candidates=any",  # the load clients are on loopback ...
                "--set",
                "max_connections_per_address=100000",  # ... all from the one address
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                preexec_fn=child_setup(self.options.relay_cpus),
            )
        self.processes.append(process)
        stdout = process.stdout
        assert stdout is not None
        try:
            async with asyncio.timeout(RELAY_START_TIMEOUT_S):
                line = await stdout.readline()
        except TimeoutError:
            raise BenchError("the relay did not start listening in time") from None
        match = LISTENING.search(line.decode(errors="replace"))
        if match is None:
            raise BenchError(f"the relay did not start (see {self.logs / 'relay.log'})")
        self.drains.append(asyncio.ensure_future(stdout.read()))  # keep its pipe from filling
        return process.pid, match.group(1)

    async def start_workers(self, transport: str, streams: int) -> list[Worker]:
        count = min(self.options.client_procs, streams)
        workers = [
            await Worker.start(self.options.client_cpus, self.logs / f"client-{i}.log")
            for i in range(count)
        ]
        self.processes += [w.process for w in workers]
        for number, worker in enumerate(workers):
            devices = range(number, streams, count)
            await worker.send(
                {
                    "transport": transport,
                    "seeds": [self.seeds[d].hex() for d in devices],
                    "offsets": [d / streams for d in devices],
                    "chunk_bytes": CHUNK_BYTES,
                    "chunks": self.options.seconds,
                    "drain_s": DRAIN_S,
                }
            )
        return workers

    async def stop_all(self) -> None:
        processes, self.processes = self.processes, []
        await asyncio.gather(*(stop(p) for p in processes))
        drains, self.drains = self.drains, []
        for drain in drains:
            drain.cancel()

    async def run_step(self, transport: str, streams: int) -> Step:
        began = time.monotonic()
        step = Step(
            transport,
            streams,
            self.options.seconds,
            relay_cpus=len(self.options.relay_cpus) or os.cpu_count() or 1,
            client_cpus=len(self.options.client_cpus) or os.cpu_count() or 1,
        )
        await self.enroll_devices(streams)
        shutil.rmtree(self.storage / "recordings", ignore_errors=True)
        try:
            workers = await self.start_workers(transport, streams)
            relay_pid, url = await self.start_relay(transport, streams)
            for worker in workers:
                await worker.expect("sealed", SEAL_TIMEOUT_S)
            for worker in workers:
                await worker.send({"url": url})
            connect_timeout = 60.0 + streams * 0.5
            for worker in workers:
                ready = await worker.expect("ready", connect_timeout)
                step.connected += int(str(ready["connected"]))
                refused = ready["refused"]
                assert isinstance(refused, dict)
                step.refused.update({str(k): int(v) for k, v in refused.items()})
            start = step.start = time.monotonic() + START_DELAY_S
            for worker in workers:
                await worker.send({"start": start})
            pids = [w.process.pid for w in workers]
            await asyncio.sleep(max(0.0, start - time.monotonic()))
            relay_before, clients_before = cpu_seconds(relay_pid), sum(map(cpu_seconds, pids))
            measured_from = time.monotonic()
            await asyncio.sleep(max(0.0, start + self.options.seconds - time.monotonic()))
            window = time.monotonic() - measured_from
            step.relay_cores = (cpu_seconds(relay_pid) - relay_before) / window
            step.client_cores = (sum(map(cpu_seconds, pids)) - clients_before) / window
            for worker in workers:
                step.add(await worker.expect("result", DRAIN_S + 30.0))
        finally:
            await self.stop_all()
        step.wall_s = time.monotonic() - began
        return step


# -- the search and the report --


def milliseconds(seconds: float) -> str:
    return "lost" if math.isinf(seconds) else f"{seconds * 1000:.0f}"


TABLE_HEADER: Final = (
    f"{'transport':<9} {'N':>5} {'conn':>5} {'rcpt %':>7} {'p50 ms':>7} {'p99 ms':>7} "
    f"{'lag99':>6} {'relay':>6} {'client':>6} {'Mbit/s':>7} {'offer':>6}  verdict"
)


def describe(step: Step) -> str:
    share = 100.0 * step.receipted / step.offered if step.offered else 0.0
    notes = []
    if step.refused:
        notes.append("refused " + ", ".join(f"{k}={v}" for k, v in step.refused.items()))
    if step.errors:
        notes.append("errors " + ", ".join(f"{k}={v}" for k, v in step.errors.items()))
    if step.relay_saturated:
        notes.append("relay CPU saturated")
    if step.client_bound:
        notes.append("CLIENT-BOUND")
    verdict = "pass" if step.passed else "FAIL"
    return (
        f"{step.transport:<9} {step.streams:>5} {step.connected:>5} {share:>7.1f} "
        f"{milliseconds(step.p50):>7} {milliseconds(step.p99):>7} "
        f"{milliseconds(step.lag_p99):>6} {step.relay_cores:>6.2f} {step.client_cores:>6.2f} "
        f"{step.mbit_s:>7.1f} {step.streams * STREAM_MBIT_S:>6.0f}  {verdict}"
        + (f" ({'; '.join(notes)})" if notes else "")
    )


async def search(harness: Harness, transport: str, deadline: float, steps: list[Step]) -> None:
    """Climb the ladder until a step fails, then bisect while the budget lasts; every
    step run is appended to steps."""
    options = harness.options
    ladder = QUICK_LADDERS[transport] if options.quick else LADDERS[transport]
    ceiling = options.max_streams[transport]
    candidates = [n for n in ladder if n <= ceiling] or [ceiling]
    estimate = options.seconds + 6.0  # refined after each step

    async def attempt(streams: int) -> Step | None:
        nonlocal estimate
        if time.monotonic() + estimate > deadline:
            print(f"  (time budget: N={streams} skipped)", flush=True)
            return None
        step = await harness.run_step(transport, streams)
        estimate = max(estimate, step.wall_s)
        steps.append(step)
        print(describe(step), flush=True)
        return step

    best, worst = 0, None
    for streams in candidates:
        step = await attempt(streams)
        if step is None:
            return
        if not step.passed:
            worst = streams
            break
        best = streams
    while worst is not None and worst - best > RESOLUTION[transport]:
        middle = (best + worst) // 2
        step = await attempt(middle)
        if step is None:
            break
        if step.passed:
            best = middle
        else:
            worst = middle


def summarize(transport: str, steps: list[Step]) -> Step | None:
    """Print the capacity figures; return the largest passing step."""
    passing = [s for s in steps if s.passed]
    failing = [s for s in steps if not s.passed]
    target = TARGETS[transport]
    name = "WebRTC" if transport == "webrtc" else "HTTPS"
    if not passing:
        print(f"{name}: no N passed (p99 < 1 s with every receipt); target {target}/core")
        return None
    best = max(passing, key=lambda s: s.streams)
    above = min((s for s in failing if s.streams > best.streams), key=lambda s: s.streams,
                default=None)  # fmt: skip
    per_pinned = best.streams / best.relay_cpus
    per_used = best.streams / best.relay_cores if best.relay_cores > 0 else math.inf
    print(
        f"{name}: largest N with p99 < 1 s = {best.streams} streams "
        f"(p99 {milliseconds(best.p99)} ms, relay {best.relay_cores:.2f} of "
        f"{best.relay_cpus} pinned core(s), {best.mbit_s:.0f} Mbit/s stored)"
    )
    print(
        f"  capacity per pinned relay core: {per_pinned:.1f} streams "
        f"= {per_pinned / target:.2f} x the target of {target}/core "
        f"({'MET' if per_pinned >= target else 'NOT met'})"
    )
    cost = 100.0 * best.relay_cores / (best.streams * STREAM_MBIT_S)
    print(
        f"  per relay core actually used: {per_used:.1f} streams/core "
        f"({cost:.2f}% of a core per Mbit/s; {per_used / target:.2f} x target)"
    )
    if above is None:
        print(f"  no failing N measured above {best.streams}: capacity is at least this")
    else:
        why = []
        if above.relay_saturated:
            why.append(f"relay CPU saturated ({above.relay_cores:.2f} cores)")
        if above.client_bound:
            why.append(
                f"clients out of CPU ({above.client_cores:.2f} of {above.client_cpus} cores): "
                "the relay figure is a lower bound"
            )
        print(
            f"  first failure at N={above.streams}: p99 {milliseconds(above.p99)} ms, "
            f"{above.receipted}/{above.offered} receipts, {above.mbit_s:.0f} of "
            f"{above.streams * STREAM_MBIT_S:.0f} Mbit/s offered"
            + (f"; {'; '.join(why)}" if why else "")
        )
    return best


def recommend(best: Step | None, steps: list[Step]) -> None:
    if best is None:
        print("max_webrtc_sessions: no WebRTC step passed; keep it low (e.g. 5) and measure again")
        return
    failed_above = any(not s.passed and s.streams > best.streams for s in steps)
    value = max(1, math.floor(ADMISSION_HEADROOM * best.streams))
    print(
        f"Recommended max_webrtc_sessions default: {value} per relay process "
        f"({ADMISSION_HEADROOM:.0%} of the {best.streams} sessions one relay core carried "
        "with p99 < 1 s; the relay is one event loop, so this is per process, not per "
        "machine core; the headroom leaves CPU for HTTPS uploads and signaling; the current "
        f"default is {Settings().max_webrtc_sessions})."
    )
    if not failed_above:
        print("  (no failing WebRTC step was measured, so the true limit may be higher)")


async def run(options: Options, workdir: Path) -> None:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # stop what we started, then exit
        loop.add_signal_handler(signum, task.cancel)
    harness = Harness(options, workdir)
    cpus = os.cpu_count() or 1
    print(
        f"relay: 1 process pinned to CPU(s) {sorted(options.relay_cpus) or 'all'}; "
        f"clients: {options.client_procs} process(es) pinned to CPU(s) "
        f"{sorted(options.client_cpus) or 'all'} (with this orchestrator); {cpus} CPUs in all."
    )
    if len(options.client_cpus) <= len(options.relay_cpus):
        print(
            "note: the clients have no more CPU than the relay; the WebRTC client side (aiortc "
            "SCTP) costs about as much as the relay side, so steps marked CLIENT-BOUND measure "
            "the clients too: the relay's figures there are lower bounds."
        )
    print(
        f"each device: {CHUNK_BYTES // 1000} kB sealed chunk per second "
        f"({STREAM_MBIT_S:.0f} Mbit/s), {options.seconds} s per step, receipts drained "
        f"{DRAIN_S:.0f} s; storage: filesystem with fsync in {workdir}"
    )
    print("columns: receipts received, receipt latency p50/p99 (ms), send lag p99 (ms), CPU "
          "cores used by relay / clients, stored Mbit/s, offered Mbit/s")  # fmt: skip
    print(TABLE_HEADER, flush=True)
    started = time.monotonic()
    steps: dict[str, list[Step]] = {}
    try:
        for number, transport in enumerate(options.transports):
            share = (options.budget_s - (time.monotonic() - started)) / (
                len(options.transports) - number
            )
            steps[transport] = []
            await search(harness, transport, time.monotonic() + share, steps[transport])
    except BenchError as error:
        print(f"stopped: {error}")
        for log in sorted(harness.logs.iterdir()):
            tail = log.read_text(errors="replace").splitlines()[-5:]
            if tail:
                print(f"--- last lines of {log.name}:", *tail, sep="\n  ")
    finally:
        await harness.stop_all()
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    best: dict[str, Step | None] = {t: summarize(t, s) for t, s in steps.items()}
    if "webrtc" in steps:
        recommend(best["webrtc"], steps["webrtc"])


def split_cpus(relay_cpus: str | None) -> tuple[frozenset[int], frozenset[int]]:
    available = frozenset(os.sched_getaffinity(0))
    if relay_cpus is not None:
        relay = frozenset(int(c) for c in relay_cpus.split(","))
        if not relay <= available:
            raise SystemExit(f"--relay-cpus {relay_cpus}: not all of them are available")
    elif len(available) >= 2:
        relay = frozenset({max(available)})
    else:
        return frozenset(), frozenset()  # one CPU: nothing to pin
    return relay, available - relay or available


def parse_options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transport", choices=("webrtc", "https", "both"), default="both")
    parser.add_argument(
        "--max-streams", type=int, default=None, help="Largest N to try (default 130 / 1250)."
    )
    parser.add_argument("--seconds-per-step", type=int, default=None, help="Default 10 (quick 5).")
    parser.add_argument(
        "--budget", type=float, default=None, help="Total seconds (default 300, quick 60)."
    )
    parser.add_argument("--quick", action="store_true", help="A ~1 minute run.")
    parser.add_argument("--relay-cpus", default=None, help="e.g. 1 or 2,3 (default: last CPU).")
    parser.add_argument("--client-procs", type=int, default=None, help="Default: 2 per client CPU.")
    parser.add_argument("--workdir", type=Path, default=None, help="Default: a temp directory.")
    arguments = parser.parse_args(argv)
    transports = ["webrtc", "https"] if arguments.transport == "both" else [arguments.transport]
    seconds = arguments.seconds_per_step or (5 if arguments.quick else 10)
    if seconds < 2:
        parser.error("--seconds-per-step must be at least 2")
    relay_cpus, client_cpus = split_cpus(arguments.relay_cpus)
    limit = arguments.max_streams
    return Options(
        transports=transports,
        max_streams={t: limit or DEFAULT_MAX_STREAMS[t] for t in transports},
        seconds=seconds,
        budget_s=arguments.budget or (60.0 if arguments.quick else 300.0),
        quick=arguments.quick,
        relay_cpus=relay_cpus,
        client_cpus=client_cpus,
        client_procs=arguments.client_procs or 2 * max(1, len(client_cpus)),
        workdir=arguments.workdir,
    )


def main(argv: list[str] | None = None) -> None:
    options = parse_options(argv)
    with contextlib.ExitStack() as stack:
        if options.workdir is None:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="testigo-load-"))
            workdir = Path(directory)
        else:
            workdir = options.workdir
            workdir.mkdir(parents=True, exist_ok=False)
        if options.client_cpus:
            os.sched_setaffinity(0, options.client_cpus)
        try:
            asyncio.run(run(options, workdir))
        except asyncio.CancelledError:
            interrupted = True
        else:
            interrupted = False
    if interrupted:
        raise SystemExit("relay_load: interrupted; the relay and client processes were stopped")


if __name__ == "__main__":
    main()
