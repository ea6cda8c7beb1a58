"""A flood of forged headers: does the relay's memory stay bounded?

A real relay process. A client sends it headers over the HTTPS path, as fast as it takes
them: first with broken signatures (a stranger who knows only device keys), then validly
signed by devices the relay never enrolled (a stranger who makes up keys). Every one is
refused; the relay's resident memory (VmRSS) is read before and after each flood.
Target: after 100 000 forged headers, RSS within 1.5 x of where it started.
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from stream.demo.local_relay import LocalRelay
from vault import ChunkKind, DeviceIdentity, RecipientIdentity, RecordingSealer

CONCURRENCY = 32
TARGET_RATIO = 1.5


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit("bench: no VmRSS in /proc (Linux only)")


def forged(count: int, *, signed: bool) -> list[bytes]:
    recipient = RecipientIdentity.generate().public
    headers = []
    for _ in range(count):
        with RecordingSealer.start(DeviceIdentity.generate(), [recipient], "video/mp4") as sealer:
            sealer.seal(ChunkKind.INIT, b"")
            header = bytearray(bytes(sealer.header))
        if not signed:
            header[-1] ^= 1
        headers.append(bytes(header))
    return headers


async def flood(url: str, headers: list[bytes]) -> dict[int, int]:
    """POST every header; how many answers of each HTTP status."""
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for header in headers:
        queue.put_nowait(header)

    async def worker(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            header = queue.get_nowait()
            async with http.post(f"{url}/v1/headers", data=header) as answer:
                await answer.read()
                statuses[answer.status] = statuses.get(answer.status, 0) + 1

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(worker(http) for _ in range(CONCURRENCY)))
    return statuses


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    arguments = parser.parse_args(argv)
    half = arguments.count // 2
    print(f"forged_headers: sealing {arguments.count} headers by made-up devices ...", flush=True)
    broken, unknown = forged(half, signed=False), forged(arguments.count - half, signed=True)
    with tempfile.TemporaryDirectory() as work, LocalRelay(Path(work) / "relay") as relay:
        started = rss_kib(relay.pid)
        moment = time.monotonic()
        bad_signature = asyncio.run(flood(relay.url, broken))
        after_broken = rss_kib(relay.pid)
        unknown_device = asyncio.run(flood(relay.url, unknown))
        after_unknown = rss_kib(relay.pid)
        seconds = time.monotonic() - moment
    print(f"  relay RSS at start:                         {started / 1024:7.1f} MiB")
    print(f"  after {half:6d} headers with broken signatures: {after_broken / 1024:7.1f} MiB "
          f"(answers {bad_signature})")  # fmt: skip
    print(f"  after {arguments.count - half:6d} more by unenrolled devices:  "
          f"{after_unknown / 1024:7.1f} MiB (answers {unknown_device})")  # fmt: skip
    print(f"  {arguments.count / seconds:.0f} forged headers refused per second")
    ratio = after_unknown / started
    print(f"  RSS after / at start: {ratio:.2f} (target <= {TARGET_RATIO}: "
          f"{'met' if ratio <= TARGET_RATIO else 'NOT met'})")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
