"""Capture pipeline cost: synthetic 720p30 -> x264/AAC fMP4 -> seal -> durable spool.

Runs the recorder in a child process on a synthetic source that is not paced to the
clock, and reports the real-time factor (media seconds per wall second), CPU seconds
per media second (share of one core when recording live) and the child's peak RSS.
Targets: <= 35% of one core and <= 150 MB RSS at 720p30.
"""

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from capture.encoder import CaptureConfig
from capture.recorder import Recorder
from capture.sources import SyntheticSource
from vault.identity import DeviceIdentity, RecipientIdentity


def record(spool: Path, seconds: float, width: int, height: int, fps: int) -> None:
    source = SyntheticSource(width, height, fps, seconds=seconds, realtime=False)
    config = CaptureConfig(width=width, height=height, fps=fps)
    recipients = [RecipientIdentity.generate().public for _ in range(3)]
    Recorder(source, config, DeviceIdentity.generate(), recipients, spool).run()


def _peak_rss_kb() -> int:
    """This process's own high-water RSS (VmHWM; ru_maxrss would count the parent's pages
    a forked child shares before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--resolution", default="1280x720")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    width, height = (int(x) for x in arguments.resolution.split("x"))
    if arguments.child is not None:
        record(arguments.child, arguments.seconds, width, height, arguments.fps)
        print(f"peak_rss_kb={_peak_rss_kb()}")
        return
    with tempfile.TemporaryDirectory(prefix="testigo-bench-") as directory:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-m", "bench.capture_pipeline", "--child", directory,
             "--seconds", str(arguments.seconds), "--resolution", arguments.resolution,
             "--fps", str(arguments.fps)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spooled = sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    media = arguments.seconds
    print(f"capture_pipeline: synthetic {arguments.resolution}@{arguments.fps}, {media:.0f} s")
    print(f"  real-time factor:          {media / wall:6.2f}x  (wall {wall:.1f} s, incl. start-up)")
    print(f"  CPU per media second:      {cpu / media:6.1%} of one core  (target <= 35%)")
    peak_kb = int(child.stdout.rsplit("peak_rss_kb=", 1)[1])
    print(f"  peak RSS of the recorder:  {peak_kb / 1024:6.0f} MB  (target <= 150 MB)")
    print(f"  spooled:                   {spooled * 8 / media / 1e6:6.2f} Mbit/s sealed")


if __name__ == "__main__":
    main()
