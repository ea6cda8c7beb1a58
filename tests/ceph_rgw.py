"""A throw-away single-node Ceph cluster with an S3 gateway, for tests.

Starts one monitor, one OSD (the in-memory ``memstore`` object store) and radosgw (beast
frontend on 127.0.0.1) as separate processes in a private directory, with cephx and keys
generated for this run, and stops all of them again::

    with CephRgw.start(tmp_path) as rgw:   # rgw.endpoint_url, rgw.access_key, rgw.secret_key
        s3 = boto3.client("s3", **rgw.client_kwargs())
        bucket = rgw.new_bucket(object_lock=True)

In pytest, use the session fixture ``ceph_rgw`` (import ``ceph_rgw_fixture`` into the test
module): it skips when Ceph is not installed, or fails when TESTIGO_REQUIRE_CEPH=1 (CI).

Needs the Debian packages ceph-mon, ceph-osd, radosgw and ceph-common
(``.ci/install-ceph.sh``); ``ceph_available()`` says whether they are installed.
Every wait is bounded; on failure the error includes the tail of the daemon logs, and
every process started here is killed and the directory removed, whatever happened.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import boto3
import pytest

REQUIRED_BINARIES = (
    "ceph-mon",
    "ceph-osd",
    "radosgw",
    "radosgw-admin",
    "ceph-authtool",
    "monmaptool",
    "ceph",
)

START_TIMEOUT_S = 60.0
COMMAND_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 25

_PR_SET_PDEATHSIG = 1
_UNIX_SOCKET_PATH_MAX = 107


class CephStartError(RuntimeError):
    """The cluster did not come up; the message carries the tail of the daemon logs."""


def ceph_available() -> bool:
    """True when every Ceph binary the cluster needs is on PATH."""
    return all(shutil.which(name) is not None for name in REQUIRED_BINARIES)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn making the child get SIGKILL when the thread that started it dies.

    prctl is looked up here, in the parent: between fork and exec the child may only call
    it, not load anything. Only from the main thread (PR_SET_PDEATHSIG follows the
    spawning *thread*), and only where libc has prctl (Linux).
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return hook


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


_KEYRING_CAPS = {
    "mon.": {"mon": "allow *"},
    "client.admin": {"mon": "allow *", "osd": "allow *", "mgr": "allow *"},
    "osd.0": {"mon": "allow profile osd", "osd": "allow *", "mgr": "allow profile osd"},
    "client.rgw": {"mon": "allow rw", "osd": "allow rwx", "mgr": "allow rw"},
}


def _cephx_key() -> str:
    """A new cephx secret as ``ceph-authtool --gen-print-key`` prints it."""
    now = time.time_ns()
    secret = secrets.token_bytes(16)
    # CryptoKey encoding: type (1 = AES), created (seconds, nanoseconds), length, secret.
    raw = struct.pack("<HIIH", 1, now // 10**9, now % 10**9, len(secret)) + secret
    return base64.b64encode(raw).decode()


def _keyring() -> str:
    sections = []
    for entity, caps in _KEYRING_CAPS.items():
        lines = [f"[{entity}]", f"\tkey = {_cephx_key()}"]
        lines += [f'\tcaps {service} = "{cap}"' for service, cap in caps.items()]
        sections.append("\n".join(lines))
    return "\n".join(sections) + "\n"


def _config(*, fsid: str, base: Path, mon_port: int, rgw_port: int, admin_sockets: bool) -> str:
    asok = f"{base}/run/$name.asok" if admin_sockets else ""
    return f"""\
[global]
fsid = {fsid}
mon host = [v2:127.0.0.1:{mon_port}]
public addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = {base}/keyring
run dir = {base}/run
admin socket = {asok}
pid file = {base}/run/$name.pid
log file = {base}/log/$name.log
log to stderr = false
err to stderr = true
crash dir = {base}/crash
exporter sock dir = {base}/run
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
osd crush chooseleaf type = 0
paxos propose interval = 0.01
# Clients resend ops stuck on a PG not yet created at each tick (default 5 s): once in
# ~20 starts that cost 5 s; 140 starts with 0.5 s never took more than 1.6 s.
objecter tick interval = 0.5
mon data avail warn = 1
mon data avail crit = 0

[mon]
mon data = {base}/mon
mon cluster log file = {base}/log/cluster.log

[osd]
osd data = {base}/osd
osd objectstore = memstore
memstore device bytes = 2147483648
osd op num shards = 2
osd op num threads per shard = 1

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:{rgw_port} tcp_nodelay=1
rgw data = {base}/rgw
rgw thread pool size = 32
rgw enable usage log = false
rgw dns name = localhost
"""


@dataclass
class CephRgw:
    """A running throw-away cluster; use ``CephRgw.start(parent_dir)`` as a context manager."""

    directory: Path
    endpoint_url: str
    access_key: str
    secret_key: str
    start_seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)
    _stopped: bool = field(default=False, repr=False)
    _last_lap: float = field(default_factory=time.monotonic, repr=False)

    @property
    def pids(self) -> list[int]:
        """Process ids of the daemons still owned by this cluster (empty once stopped)."""
        return [p.pid for p in self._processes.values()]

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client("s3", **rgw.client_kwargs())``."""
        return {
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": "us-east-1",
        }

    def new_bucket(self, *, object_lock: bool = False) -> str:
        """Create a bucket with a fresh name (Object Lock implies versioning) and return it."""
        name = f"testigo-{uuid.uuid4().hex[:16]}"
        client = boto3.client("s3", **self.client_kwargs())
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
        return name

    # ----------------------------------------------------------------- lifecycle

    @classmethod
    @contextlib.contextmanager
    def start(
        cls,
        parent: Path | str,
        *,
        timeout_s: float = START_TIMEOUT_S,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> Iterator[CephRgw]:
        """Start a cluster under a new directory inside ``parent``; stop it on exit.

        The S3 user gets ``access_key``/``secret_key`` (random when not given).
        """
        rgw = cls._launch(Path(parent), timeout_s, access_key, secret_key)
        try:
            yield rgw
        finally:
            rgw.stop()

    def __enter__(self) -> CephRgw:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @classmethod
    def launch(
        cls,
        parent: Path | str,
        *,
        timeout_s: float = START_TIMEOUT_S,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> CephRgw:
        """Start a cluster and return it running; the caller must call ``stop()``."""
        return cls._launch(Path(parent), timeout_s, access_key, secret_key)

    @classmethod
    def _launch(
        cls, parent: Path, timeout_s: float, access_key: str | None, secret_key: str | None
    ) -> CephRgw:
        if not ceph_available():
            missing = [b for b in REQUIRED_BINARIES if shutil.which(b) is None]
            raise CephStartError(f"Ceph binaries missing: {', '.join(missing)}")
        began = time.monotonic()
        parent.mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix="ceph-", dir=parent))
        rgw = cls(
            directory=base,
            endpoint_url="",
            access_key=access_key or secrets.token_hex(10).upper(),
            secret_key=secret_key or secrets.token_urlsafe(30),
        )
        try:
            rgw._bootstrap(began + timeout_s)
        except BaseException:
            rgw.stop()
            raise
        rgw.start_seconds = time.monotonic() - began
        return rgw

    def stop(self) -> None:
        """Kill every process this cluster started and remove its directory. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        # SIGKILL at once: the cluster is throw-away, and a clean shutdown would only make
        # memstore write its whole content to disk. Popen never signals a reaped pid.
        processes = list(self._processes.values())
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        stuck = []
        for process in processes:
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:  # only a process in uninterruptible sleep
                stuck.append(process.pid)
        self._processes.clear()
        shutil.rmtree(self.directory, ignore_errors=True)
        if stuck:
            raise RuntimeError(f"Ceph daemons did not die on SIGKILL: {stuck}")

    # ----------------------------------------------------------------- bootstrap

    def _bootstrap(self, deadline: float) -> None:
        base = self.directory
        for sub in ("run", "log", "mon", "osd", "rgw", "crash"):
            (base / sub).mkdir()
        mon_port = _free_port()
        rgw_port = _free_port()
        while rgw_port == mon_port:
            rgw_port = _free_port()
        self.endpoint_url = f"http://127.0.0.1:{rgw_port}"
        fsid = str(uuid.uuid4())
        osd_uuid = str(uuid.uuid4())
        admin_sockets = len(f"{base}/run/client.rgw.asok") <= _UNIX_SOCKET_PATH_MAX
        self._conf.write_text(
            _config(
                fsid=fsid,
                base=base,
                mon_port=mon_port,
                rgw_port=rgw_port,
                admin_sockets=admin_sockets,
            )
        )

        # Keys for every entity, generated for this run only. The monitor imports the
        # whole keyring (with caps) into its auth database at mkfs time, so osd.0 and
        # client.rgw need no `ceph auth` calls later.
        keyring = base / "keyring"
        keyring.write_text(_keyring())
        keyring.chmod(0o600)
        # Every tool finds ceph.conf through $CEPH_CONF (see _env).
        monmap = str(base / "monmap")
        mon_addr = f"[v2:127.0.0.1:{mon_port}]"
        self._run(
            deadline, "monmaptool", "--create", "--fsid", fsid, "--addv", "a", mon_addr, monmap
        )
        self._run(deadline, "ceph-mon", "--mkfs", "-i", "a", "--monmap", monmap)
        self._spawn("mon.a", "ceph-mon", "-f", "-i", "a")
        self._lap("mon mkfs")

        # Registers osd.0 (its key is already known); waits for the monitor to form quorum.
        self._ceph(deadline, "osd", "new", osd_uuid, "0")
        self._lap("mon quorum, osd new")
        self._run(deadline, "ceph-osd", "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
        self._spawn("osd.0", "ceph-osd", "-f", "-i", "0")
        self._lap("osd mkfs")

        # Blocks until the OSD is up, and creates the RGW pools. It runs before radosgw
        # starts on purpose: run side by side, radosgw-admin sometimes waits 5 s on a
        # cache notification to a radosgw that is still setting up its watches.
        user = ["--uid", "testigo", "--display-name", "Testigo tests"]
        keys = ["--access-key", self.access_key, "--secret", self.secret_key]
        self._run(deadline, "radosgw-admin", "user", "create", *user, *keys)
        self._lap("pools, user create")
        self._spawn("client.rgw", "radosgw", "-f", "-n", "client.rgw")
        self._wait_http(deadline)
        self._lap("radosgw answering")

    def _lap(self, stage: str) -> None:
        """Record how long the stage since the previous lap took (see stage_seconds)."""
        now = time.monotonic()
        self.stage_seconds[stage] = now - self._last_lap
        self._last_lap = now

    @property
    def _conf(self) -> Path:
        return self.directory / "ceph.conf"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CEPH_")}
        env["CEPH_CONF"] = str(self._conf)
        return env

    def _spawn(self, name: str, *argv: str) -> None:
        out = (self.directory / "log" / f"{name}.out").open("wb")
        preexec = _die_with_parent_hook()
        try:
            self._processes[name] = subprocess.Popen(
                [argv[0], "-c", str(self._conf), *argv[1:]],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self._env(),
                cwd=self.directory,
                start_new_session=True,
                preexec_fn=preexec,
            )
        finally:
            out.close()

    def _check_alive(self) -> None:
        for name, process in self._processes.items():
            code = process.poll()
            if code is not None:
                raise CephStartError(f"{name} exited with status {code}\n{self._logs()}")

    def _run(self, deadline: float, *argv: str) -> str:
        """Run a short-lived command, bounded by the deadline; raise with logs if it fails."""
        self._check_alive()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CephStartError(f"timed out before {argv[0]}\n{self._logs()}")
        try:
            done = subprocess.run(
                list(argv),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=self._env(),
                cwd=self.directory,
                timeout=min(remaining, COMMAND_TIMEOUT_S),
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CephStartError(f"timed out: {' '.join(argv)}\n{self._logs()}") from exc
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise CephStartError(
                f"failed ({done.returncode}): {' '.join(argv)}\n{output}\n{self._logs()}"
            )
        return done.stdout.decode(errors="replace")

    def _ceph(self, deadline: float, *args: str) -> str:
        timeout = max(1, int(min(deadline - time.monotonic(), COMMAND_TIMEOUT_S)))
        return self._run(deadline, "ceph", "--connect-timeout", str(timeout), *args)

    def _wait_http(self, deadline: float) -> None:
        """Poll the gateway until it answers any HTTP request."""
        while True:
            self._check_alive()
            try:
                with urllib.request.urlopen(self.endpoint_url, timeout=2):  # noqa: S310
                    return
            except urllib.error.HTTPError:
                return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise CephStartError(
                        f"radosgw not answering at {self.endpoint_url}: {exc}\n{self._logs()}"
                    ) from exc
            time.sleep(0.02)

    def _logs(self) -> str:
        parts = []
        log_dir = self.directory / "log"
        for path in sorted(log_dir.glob("*")) if log_dir.is_dir() else []:
            tail = _tail(path)
            if tail:
                parts.append(f"--- {path.name} (last {LOG_TAIL_LINES} lines) ---\n{tail}")
        return "\n".join(parts) or "(no daemon logs)"


# --------------------------------------------------------------------- pytest fixture

REQUIRE_ENV = "TESTIGO_REQUIRE_CEPH"


def require_ceph() -> None:
    """In a test: skip when Ceph is not installed, or fail if TESTIGO_REQUIRE_CEPH=1."""
    if ceph_available():
        return
    missing = ", ".join(b for b in REQUIRED_BINARIES if shutil.which(b) is None)
    reason = (
        f"Ceph is not installed (missing {missing}): the S3 tests against a real Ceph RGW"
        " are opt-in locally; run .ci/install-ceph.sh as root to enable them"
    )
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session", name="ceph_rgw")
def ceph_rgw_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CephRgw]:
    """Fixture ``ceph_rgw``: a throw-away Ceph RGW shared by the whole session.

    Make it visible to a test module by importing ``ceph_rgw_fixture`` into it (or with
    ``pytest_plugins = ["tests.ceph_rgw"]`` in the root conftest.py).

    Without the Ceph packages: skips, or fails when TESTIGO_REQUIRE_CEPH=1 (CI sets it).
    """
    require_ceph()
    # The same throw-away credentials as the moto server, so S3Storage (which reads them
    # from the environment) talks to either.
    with CephRgw.start(
        tmp_path_factory.mktemp("ceph"), access_key="testing", secret_key="testing"
    ) as rgw:
        yield rgw
