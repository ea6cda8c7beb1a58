"""Decrypt+verify throughput of a sealed recording vs raw XChaCha20-Poly1305.

Seals a recording of ~1 s chunks (190 kB each, 1.5 Mbit/s video) to disk, then times,
on the same file in the same run: (a) raw libsodium AEAD decryption of every chunk's
ciphertext, the floor; (b) `vault.verify_file` with an identity (parse, hash, signature,
chain, decrypt) on one thread and on the default thread pool. Target: (b)/(a) >= 0.7.
"""

import argparse
import itertools
import os
import tempfile
import time
from pathlib import Path

from vault import _primitives as p
from vault.archive import iter_chunks, read_header, verify_file
from vault.format import Chunk, ChunkKind, payload_key
from vault.identity import DeviceIdentity, RecipientIdentity
from vault.seal import RecordingSealer
from vault.seal_file import PlainChunk, seal_to_file
from vault.verify import RawChunk

CHUNK_BYTES = 190_000
ROUNDS = 3


def make_recording(path: Path, size_mb: int) -> RecipientIdentity:
    lawyer = RecipientIdentity.generate()
    device = DeviceIdentity.generate()
    sealer = RecordingSealer.start(device, [lawyer.public], 'video/mp4; codecs="avc1.42E01E"')
    payload = os.urandom(CHUNK_BYTES)
    count = size_mb * 1_000_000 // CHUNK_BYTES
    init = PlainChunk(ChunkKind.INIT, b"ftyp-moov", 0)  # a real recording starts with one
    media = (PlainChunk(ChunkKind.MEDIA, payload, i * 1000) for i in range(count))
    chunks = itertools.chain([init], media)
    seal_to_file(sealer, chunks, path)
    return lawyer


def raw_decrypt_seconds(path: Path, lawyer: RecipientIdentity) -> float:
    """Only AEAD decryption of each chunk (the file is parsed before the clock starts)."""
    with path.open("rb") as stream:
        header, leftover = read_header(stream)
        raws = [r for r in iter_chunks(stream, leftover) if isinstance(r, RawChunk)]
    file_key = next(k for s in header.stanzas if (k := lawyer.unwrap(s)) is not None)
    key = payload_key(file_key, header.recording_id)
    header_hash = header.header_hash
    jobs = []
    for raw in raws:
        chunk = Chunk.from_parts(raw.preamble, raw.ciphertext)
        jobs.append((chunk.nonce(), chunk.associated_data(header_hash), chunk.ciphertext))
    start = time.perf_counter()
    for nonce, ad, ciphertext in jobs:
        p.aead_decrypt(key, nonce, ad, ciphertext)
    return time.perf_counter() - start


def verify_seconds(path: Path, lawyer: RecipientIdentity, workers: int | None) -> float:
    start = time.perf_counter()
    report = verify_file(path, [lawyer], sink=lambda _c, _p: None, workers=workers)
    elapsed = time.perf_counter() - start
    assert report.status.value == "complete", report.status
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=500)
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="testigo-bench-") as directory:
        path = Path(directory) / "bench.tgr"
        start = time.perf_counter()
        lawyer = make_recording(path, arguments.size_mb)
        seal_time = time.perf_counter() - start
        megabytes = path.stat().st_size / 1e6
        # Interleaved rounds, best of each: the machine's speed drifts between runs.
        raws, singles, pooleds = [], [], []
        for _round in range(ROUNDS):
            raws.append(raw_decrypt_seconds(path, lawyer))
            singles.append(verify_seconds(path, lawyer, workers=1))
            pooleds.append(verify_seconds(path, lawyer, workers=None))
        raw, single, pooled = min(raws), min(singles), min(pooleds)
    rows = [
        ("seal (hash+encrypt+sign+write)", seal_time, None),
        ("raw XChaCha20-Poly1305 decrypt", raw, None),
        ("decrypt+verify, 1 thread", single, raw / single),
        ("decrypt+verify, thread pool", pooled, raw / pooled),
    ]
    print(
        f"verify_throughput: {megabytes:.0f} MB recording, {CHUNK_BYTES:,}-byte chunks, "
        f"best of {ROUNDS} interleaved rounds"
    )
    for label, seconds, ratio in rows:
        suffix = "" if ratio is None else f"  ratio {ratio:.2f}"
        print(f"  {label:34} {megabytes / seconds:7.0f} MB/s{suffix}")
    print("  target ratio >= 0.70")


if __name__ == "__main__":
    main()
