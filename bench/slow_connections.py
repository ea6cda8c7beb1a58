"""A slowloris attack on the relay: does a genuine upload still get its receipts in time?

A real relay process (default settings). A genuine device uploads a recording over the
HTTPS fallback, one chunk after another, and the time from sending each chunk to holding
its receipt is measured: first alone, then while an attacker process, from another
loopback address (127.0.0.2), keeps opening up to 2 000 connections that send half a
request's headers and then trickle a byte a second, reconnecting whenever the relay
closes one. Target: receipt latency p99 <= 1 s under attack.
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from stream.demo.local_relay import LocalRelay
from vault import ChunkKind, DeviceIdentity, RecipientIdentity, RecordingSealer

ATTACKER_ADDRESS = "127.0.0.2"
TARGET_P99_S = 1.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def genuine_upload(url: str, device: DeviceIdentity, chunks: int) -> list[float]:
    """Seconds from sending each chunk to holding its receipt."""
    recipient = RecipientIdentity.generate().public
    latencies: list[float] = []
    with RecordingSealer.start(device, [recipient], "video/mp4") as sealer:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/v1/headers", data=bytes(sealer.header)) as answer:
                accepted = await answer.json()
            where = f"{url}/v1/recordings/{accepted['device']}/{accepted['recording_id']}/chunks"
            for index in range(chunks):
                chunk = bytes(sealer.seal(ChunkKind.MEDIA, os.urandom(20_000) + bytes([index])))
                started = time.perf_counter()
                async with http.post(where, data=chunk) as answer:
                    await answer.read()
                    if answer.status != 200:
                        raise SystemExit(f"bench: chunk {index} refused: HTTP {answer.status}")
                latencies.append(time.perf_counter() - started)
    return latencies


def attack(port: int, connections: int) -> None:
    """The attacker (its own process): hold as many half-open requests as it can."""
    held: list[socket.socket] = []
    opened = refused = 0
    while True:
        while len(held) < connections:
            conn = socket.socket()
            conn.setblocking(False)
            try:
                conn.bind((ATTACKER_ADDRESS, 0))
                conn.connect_ex(("127.0.0.1", port))
            except OSError:
                conn.close()
                break
            held.append(conn)
            opened += 1
        time.sleep(0.2)  # the attacker's pace (a trickle), not synchronisation
        alive = []
        for conn in held:
            try:
                conn.send(b"GET / HTTP/1.1\r\nX-a: " if conn.fileno() >= 0 else b"")
                alive.append(conn)
            except (BlockingIOError, InterruptedError):
                alive.append(conn)
            except OSError:
                refused += 1
                conn.close()
        held = alive
        print(f"attacker: holding {len(held)}, opened {opened}, dropped {refused}", flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--attacker", type=int, default=0, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.attacker:
        attack(arguments.attacker, arguments.connections)
        return
    device = DeviceIdentity.generate()
    with tempfile.TemporaryDirectory() as work:
        relay = LocalRelay(Path(work) / "relay")
        relay.enroll(device.public)
        with relay:
            alone = asyncio.run(genuine_upload(relay.url, device, arguments.chunks))
            port = int(relay.url.rsplit(":", 1)[1])
            attacker = subprocess.Popen(
                [sys.executable, "-m", "bench.slow_connections", "--attacker", str(port),
                 "--connections", str(arguments.connections)],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            try:
                assert attacker.stdout is not None
                for line in attacker.stdout:  # wait until the attack is in full swing
                    if int(line.split("opened ")[1].split(",")[0]) >= arguments.connections:
                        break
                attacked = asyncio.run(genuine_upload(relay.url, device, arguments.chunks))
            finally:
                attacker.terminate()
                attacker.wait()
            log = relay.log_path.read_text()
    refused = log.count("event=connection.refused")
    print("relay under a slowloris attack (HTTPS receipts of 20 kB chunks, one at a time)")
    print(f"  alone:        p50 {statistics.median(alone) * 1000:6.1f} ms   "
          f"p99 {percentile(alone, 0.99) * 1000:6.1f} ms")  # fmt: skip
    print(f"  under attack: p50 {statistics.median(attacked) * 1000:6.1f} ms   "
          f"p99 {percentile(attacked, 0.99) * 1000:6.1f} ms")  # fmt: skip
    print(f"  ({arguments.connections} attacking connections; {refused} refused at once)")
    ratio = percentile(attacked, 0.99) / TARGET_P99_S
    print(f"  p99 under attack / target {TARGET_P99_S:.1f} s: {ratio:.2f} (<= 1 meets it)")


if __name__ == "__main__":
    main(sys.argv[1:])
