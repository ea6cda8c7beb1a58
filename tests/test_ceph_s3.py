"""What the relay's S3 backend relies on, asserted against a real Ceph RGW (plain boto3).

The cluster (tests/ceph_rgw.py) runs as separate processes, once for the whole session.
Without the Ceph packages these tests skip, unless TESTIGO_REQUIRE_CEPH=1 (CI): then they
fail. Install the packages with .ci/install-ceph.sh.

Found on Ceph 16.2 and asserted below: `If-None-Match: *` is atomic on an unversioned
bucket, but IGNORED on a versioned bucket, and an Object Lock bucket is always versioned.
There a second PUT of the same key succeeds and adds a version; the first version stays
(and, under COMPLIANCE retention, can be neither deleted nor shortened).
"""

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.ceph_rgw import CephRgw, CephStartError, require_ceph

# Importing the fixture function registers the session fixture `ceph_rgw` here.

PUT_SIZE = 200_000
PR_SET_CHILD_SUBREAPER = 36


class Error(NamedTuple):
    code: str
    status: int


def _error(call: Callable[[], object]) -> Error:
    """Run an S3 call that must fail; return its error code and HTTP status."""
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return Error(
        str(response["Error"]["Code"]), int(response["ResponseMetadata"]["HTTPStatusCode"])
    )


def _retain_until(hours: float) -> datetime:
    # S3 keeps whole seconds; drop the rest so dates compare exactly.
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)


def _key() -> str:
    return f"relay/{uuid.uuid4().hex}/000001"


# ------------------------------------------------------------------ If-None-Match: *


def test_if_none_match_refuses_a_second_put(ceph_rgw: CephRgw) -> None:
    s3 = boto3.client("s3", **ceph_rgw.client_kwargs())
    bucket, key = ceph_rgw.new_bucket(), _key()
    s3.put_object(Bucket=bucket, Key=key, Body=b"first", IfNoneMatch="*")
    second = _error(lambda: s3.put_object(Bucket=bucket, Key=key, Body=b"2nd", IfNoneMatch="*"))
    assert second == Error("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"first"


def test_if_none_match_is_atomic_under_concurrent_puts(ceph_rgw: CephRgw) -> None:
    bucket, key = ceph_rgw.new_bucket(), _key()
    writers = 8
    barrier = threading.Barrier(writers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def put(i: int) -> None:
        s3 = boto3.client("s3", **ceph_rgw.client_kwargs())
        barrier.wait(timeout=30)
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=f"writer {i}".encode(), IfNoneMatch="*")
            outcome = f"stored {i}"
        except ClientError as error:
            outcome = str(error.response["Error"]["Code"])
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stored = [o for o in outcomes if o.startswith("stored")]
    # Exactly one winner; the losers get 412 (or 409 ConditionalRequestConflict, which
    # AWS answers to a write racing another; the relay asks again after it).
    assert len(stored) == 1, outcomes
    assert set(outcomes) - set(stored) <= {"PreconditionFailed", "ConditionalRequestConflict"}
    winner = stored[0].removeprefix("stored ")
    s3 = boto3.client("s3", **ceph_rgw.client_kwargs())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == f"writer {winner}".encode()


def test_if_none_match_is_ignored_on_an_object_lock_bucket(ceph_rgw: CephRgw) -> None:
    """Ceph 16 behaviour the relay must cope with: on a versioned (so on every Object Lock)
    bucket the second PUT succeeds as a new version. The first version is still there."""
    s3 = boto3.client("s3", **ceph_rgw.client_kwargs())
    bucket, key = ceph_rgw.new_bucket(object_lock=True), _key()
    first = s3.put_object(Bucket=bucket, Key=key, Body=b"first", IfNoneMatch="*")
    second = s3.put_object(Bucket=bucket, Key=key, Body=b"second", IfNoneMatch="*")
    assert second["VersionId"] != first["VersionId"]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"second"
    original = s3.get_object(Bucket=bucket, Key=key, VersionId=first["VersionId"])
    assert original["Body"].read() == b"first"
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert {v["VersionId"] for v in versions} == {first["VersionId"], second["VersionId"]}


# ------------------------------------------------------------------ Object Lock, COMPLIANCE


def _locked_object(ceph_rgw: CephRgw, until: datetime) -> tuple[str, str, str]:
    """A COMPLIANCE-locked object: (bucket, key, version id)."""
    s3 = boto3.client("s3", **ceph_rgw.client_kwargs())
    bucket, key = ceph_rgw.new_bucket(object_lock=True), _key()
    assert (
        s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"][
            "ObjectLockEnabled"
        ]
        == "Enabled"
    )
    put = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=b"sealed chunk",
        IfNoneMatch="*",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )
    return bucket, key, str(put["VersionId"])


def test_compliance_retention_is_reported(ceph_rgw: CephRgw) -> None:
    s3 = boto3.client("s3", **ceph_rgw.client_kwargs())
    until = _retain_until(1)
    bucket, key, version = _locked_object(ceph_rgw, until)
    retention = s3.get_object_retention(Bucket=bucket, Key=key, VersionId=version)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert retention["RetainUntilDate"] == until
    head = s3.head_object(Bucket=bucket, Key=key, VersionId=version)
    assert head["ObjectLockMode"] == "COMPLIANCE"


def test_compliance_version_cannot_be_deleted(ceph_rgw: CephRgw) -> None:
    s3 = boto3.client("s3", **ceph_rgw.client_kwargs())
    bucket, key, version = _locked_object(ceph_rgw, _retain_until(1))
    refused = _error(lambda: s3.delete_object(Bucket=bucket, Key=key, VersionId=version))
    assert refused == Error("AccessDenied", 403)
    # The governance bypass does not apply to COMPLIANCE.
    bypass = _error(
        lambda: s3.delete_object(
            Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True
        )
    )
    assert bypass == Error("AccessDenied", 403)
    # A delete without a version only adds a delete marker: the sealed bytes stay.
    marker = s3.delete_object(Bucket=bucket, Key=key)
    assert marker["DeleteMarker"] is True
    kept = s3.get_object(Bucket=bucket, Key=key, VersionId=version)
    assert kept["Body"].read() == b"sealed chunk"


def test_compliance_retention_can_be_extended_but_not_shortened(ceph_rgw: CephRgw) -> None:
    s3 = boto3.client("s3", **ceph_rgw.client_kwargs())
    until = _retain_until(1)
    bucket, key, version = _locked_object(ceph_rgw, until)

    def retain(mode: str, date: datetime, *, bypass: bool = False) -> object:
        return s3.put_object_retention(
            Bucket=bucket,
            Key=key,
            VersionId=version,
            Retention={"Mode": mode, "RetainUntilDate": date},
            BypassGovernanceRetention=bypass,
        )

    shorter = until - timedelta(minutes=30)
    assert _error(lambda: retain("COMPLIANCE", shorter)) == Error("AccessDenied", 403)
    assert _error(lambda: retain("COMPLIANCE", shorter, bypass=True)) == Error("AccessDenied", 403)
    later = until + timedelta(hours=1)
    assert _error(lambda: retain("GOVERNANCE", later)) == Error("AccessDenied", 403)
    retain("COMPLIANCE", later)
    retention = s3.get_object_retention(Bucket=bucket, Key=key, VersionId=version)["Retention"]
    assert retention == {"Mode": "COMPLIANCE", "RetainUntilDate": later}


# ------------------------------------------------------------------ speed


def test_requests_take_milliseconds(ceph_rgw: CephRgw) -> None:
    """Guards `tcp_nodelay=1` on the beast frontend: without it, every answer with a body
    (a GET, a 412) waits for a delayed ACK, about 45 ms. Typical here: 2-6 ms."""
    s3 = boto3.client("s3", **ceph_rgw.client_kwargs())
    bucket = ceph_rgw.new_bucket()
    body = os.urandom(PUT_SIZE)
    s3.put_object(Bucket=bucket, Key="warm-up", Body=body)

    def median_seconds(request: Callable[[int], object]) -> float:
        times = []
        for i in range(10):
            began = time.perf_counter()
            request(i)
            times.append(time.perf_counter() - began)
        return sorted(times)[len(times) // 2]

    def put(i: int) -> object:
        return s3.put_object(Bucket=bucket, Key=f"chunk-{i}", Body=body, IfNoneMatch="*")

    def get(i: int) -> object:
        return s3.get_object(Bucket=bucket, Key=f"chunk-{i}", Range="bytes=0-999")["Body"].read()

    def refused(i: int) -> object:
        return _error(lambda: put(i))

    medians = {
        name: median_seconds(f) for name, f in (("put", put), ("get", get), ("412", refused))
    }
    assert all(m < 0.030 for m in medians.values()), medians


# ------------------------------------------------------------------ the harness itself


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has let go of everything, so count it as gone.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_stop_leaves_no_process_and_no_directory(tmp_path: Path) -> None:
    require_ceph()
    with CephRgw.start(tmp_path) as rgw:
        pids, directory = rgw.pids, rgw.directory
        assert len(pids) == 3
        assert all(_alive(pid) for pid in pids)
        assert rgw.start_seconds < 30
    assert not any(_alive(pid) for pid in pids)
    assert not directory.exists()
    assert rgw.pids == []


def test_a_failed_start_says_why_and_leaves_nothing_behind(tmp_path: Path) -> None:
    require_ceph()
    with pytest.raises(CephStartError, match=r"timed out|not answering") as caught:
        CephRgw.launch(tmp_path, timeout_s=0.3)
    message = str(caught.value)
    assert "--- mon.a.log" in message or "(no daemon logs)" in message
    assert _processes_using(tmp_path) == set()
    assert list(tmp_path.iterdir()) == []


def test_daemons_die_with_the_process_that_started_them(tmp_path: Path) -> None:
    """Even a SIGKILLed test run leaves no daemons behind (PR_SET_PDEATHSIG)."""
    require_ceph()
    script = (
        "import sys\n"
        "from tests.ceph_rgw import CephRgw\n"
        "rgw = CephRgw.launch(sys.argv[1])\n"
        "print(*rgw.pids, flush=True)\n"
        "sys.stdin.read()\n"
    )
    root = Path(__file__).resolve().parent.parent
    # Orphaned daemons are handed to this process (not to an init that may never reap
    # them, as in some containers), so the test can collect them.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        with subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=root,
            text=True,
        ) as launcher:
            assert launcher.stdout is not None
            pids = {int(p) for p in launcher.stdout.readline().split()}
            assert len(pids) == 3
            launcher.send_signal(signal.SIGKILL)
            launcher.wait(timeout=10)
        running = set(pids)
        deadline = time.monotonic() + 10
        while running and time.monotonic() < deadline:
            for pid in list(running):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0] == pid:
                        running.discard(pid)
                except ChildProcessError:  # not ours to reap: check it is gone
                    if not _alive(pid):
                        running.discard(pid)
            time.sleep(0.02)
    finally:
        prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    assert running == set()


def _processes_using(directory: Path) -> set[int]:
    """Pids of the processes whose command line mentions the directory."""
    found = set()
    needle = str(directory).encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if needle in cmdline and _alive(int(entry.name)):
                found.add(int(entry.name))
    return found
