"""A relay process on this machine: for `make demo`, the tests and the benchmarks.

Runs the real `testigo relay serve` as a separate process on a loopback port, with
on-disk storage, and stops it (or kills it, to test crashes) on request. Everything it
starts, it stops. With `tls=(cert, key)` it serves HTTPS and its `url` is
`https://127.0.0.1:PORT`: a certificate for it must name the IP address 127.0.0.1.
"""

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Final

from vault.identity import Role, generate_identity, save_identity
from vault.keys import DeviceKey, RelayKey

READY_TIMEOUT_S: Final = 30.0
READY_PREFIX: Final = "relay listening on "


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (for a relay that must know its URL)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("testigo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


class LocalRelay:
    """A relay process; `url` and `key` are known once `start()` returns."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int = 0,
        settings: tuple[str, ...] = (),
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.workdir = workdir
        self.tls = tls
        self.storage = workdir / "relay-storage"
        self.key_path = workdir / "relay.key"
        self.log_path = workdir / "relay.log"
        # every peer of a local relay is on this machine: let it try loopback candidates
        self._settings = ("remote_candidates=any", *settings)
        self._process: subprocess.Popen[str] | None = None
        self.port = port
        self.url = ""
        workdir.mkdir(parents=True, exist_ok=True)
        if not self.key_path.exists():
            save_identity(self.key_path, generate_identity(Role.RELAY), None)
        self.key = RelayKey.parse(self._public_key())

    def _public_key(self) -> str:
        import json

        return str(json.loads(self.key_path.read_text())["public"])

    def _run(self, *arguments: str) -> str:
        settings = [part for setting in self._settings for part in ("--set", setting)]
        done = subprocess.run(
            [*cli_command(), "relay", *arguments, "--storage", str(self.storage), *settings],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"testigo relay {arguments[0]} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def enroll(self, device: DeviceKey) -> None:
        self._run("enroll", str(device))

    def invite(self, *arguments: str) -> dict[str, str]:
        """`testigo relay invite --json` for this relay (started: its URL is in the link)."""
        import json

        output = self._run(
            "invite", "--json", "--url", self.url, "--relay-key", str(self.key_path), *arguments
        )
        document: dict[str, str] = json.loads(output)
        return document

    def operate(self, *arguments: str) -> str:
        """Any operator command (`testigo relay ARGUMENTS…`) on this relay's storage."""
        return self._run(*arguments)

    def token(self, device: DeviceKey) -> str:
        return self._run("token", str(device)).splitlines()[-1]

    def add_alert(self, device: DeviceKey, kind: str, target: str) -> None:
        self._run("alert", str(device), kind, target)

    def start(self) -> "LocalRelay":
        """Start (or restart, on the same port) the relay and wait until it listens."""
        if self._process is not None and self._process.poll() is None:
            raise RuntimeError("the relay is already running")
        log = self.log_path.open("a")
        command = [
            *cli_command(), "relay", "serve",
            "--port", str(self.port), "--storage", str(self.storage),
            "--relay-key", str(self.key_path),
        ]  # fmt: skip
        for setting in self._settings:
            command += ["--set", setting]
        if self.tls is not None:
            command += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        environment = {k: v for k, v in os.environ.items() if k != "TESTIGO_PASSPHRASE"}
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, text=True, env=environment
        )
        log.close()
        line = self._read_ready_line()
        self.url = line.removeprefix(READY_PREFIX).split()[0]
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def _read_ready_line(self) -> str:
        assert self._process is not None
        assert self._process.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._process.stdout], [], [], 0.5)
            if ready:
                line = self._process.stdout.readline()
                if line.startswith(READY_PREFIX):
                    return line.strip()
                if not line:
                    break
            elif self._process.poll() is not None:
                break
        self.kill()
        tail = self.log_path.read_text()[-2000:] if self.log_path.exists() else ""
        raise RuntimeError(f"the relay did not start; its log ends with:\n{tail}")

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def kill(self) -> None:
        """SIGKILL: the crash case. The relay gets no chance to clean up."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> "LocalRelay":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
