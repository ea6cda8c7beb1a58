"""Can a stranger tell, from how long the relay takes to refuse, whether a device key is
enrolled? (issue 11: the enrollment oracle.)

A real relay process with one enrolled device. A client on loopback sends, interleaved,
read requests with a wrong token for the enrolled device and for a device the relay has
never seen, and times each answer (both are `401 unauthorized`, byte for byte). The
figures are the medians and the difference between them, against the spread of the
answers themselves: a difference well inside the spread, and under what a network adds,
tells a prober nothing usable.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from stream.demo.local_relay import LocalRelay
from vault import DeviceIdentity

WRONG = {"Authorization": "Bearer tg-token-" + "a" * 52}


async def probe(url: str, devices: list[str], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {device: [] for device in devices}
    answers: set[tuple[int, bytes]] = set()
    async with aiohttp.ClientSession() as http:
        for _ in range(rounds):
            for device in devices:
                started = time.perf_counter()
                async with http.get(f"{url}/v1/devices/{device}/recordings", headers=WRONG) as r:
                    answers.add((r.status, await r.read()))
                times[device].append(time.perf_counter() - started)
    if len(answers) != 1:
        raise SystemExit(f"bench: the answers differ: {answers}")
    return times


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3000)
    arguments = parser.parse_args(argv)
    enrolled, stranger = DeviceIdentity.generate().public, DeviceIdentity.generate().public
    with tempfile.TemporaryDirectory() as work:
        relay = LocalRelay(Path(work) / "relay")
        relay.enroll(enrolled)
        relay.token(enrolled)
        with relay:
            times = asyncio.run(probe(relay.url, [str(enrolled), str(stranger)], arguments.rounds))
    known, unknown = times[str(enrolled)], times[str(stranger)]
    median_known, median_unknown = statistics.median(known), statistics.median(unknown)
    spread = statistics.quantiles(known + unknown, n=4)
    print(f"enrollment oracle: {arguments.rounds} probes each, wrong token, same answer")
    print(f"  enrolled device: median {median_known * 1e6:7.0f} us")
    print(f"  unknown device:  median {median_unknown * 1e6:7.0f} us")
    difference = abs(median_known - median_unknown)
    iqr = spread[2] - spread[0]
    print(f"  difference {difference * 1e6:.0f} us; interquartile range of all answers "
          f"{iqr * 1e6:.0f} us")  # fmt: skip
    print(f"  difference / spread: {difference / iqr:.2f} (< 1: lost in the spread)")


if __name__ == "__main__":
    main(sys.argv[1:])
