"""Alerts: when a device starts a recording, tell its registered targets (PROTOCOL.md §13).

`Alerts` is an `IngestListener`: a header stored for the first time starts a background
task and ingest goes on at once. The task reads the device's targets from its enrollment
record and sends, to each, a notice that says only that a recording started, when (relay
clock), which device (its key and fingerprint), and how to watch. Never content, location,
keys of recipients, or tokens. Webhooks get an HTTP POST of JSON; email goes out over SMTP
(smtplib on a worker thread). Each target gets `alert_attempts` tries with a doubling
wait; failures are logged (without the target, which may hold a secret) and never raised.
"""

import asyncio
import logging
import math
import os
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Final

import aiohttp

from relay_server.enrollment import AlertKind, AlertTarget, Enrollment
from relay_server.ingest import AcceptedRecording
from relay_server.logs import log_event
from relay_server.settings import Settings
from vault import Chunk, DeviceKey
from vault.wire.backoff import Backoff

MAX_PENDING: Final = 256
MAX_PENDING_PER_DEVICE: Final = 4  # so one device's alerts cannot crowd out another's
MAX_REMEMBERED_DEVICES: Final = 10_000  # last alert times kept (oldest forgotten first)
SMTP_PASSWORD_VARIABLE: Final = "TESTIGO_SMTP_PASSWORD"  # noqa: S105 - a variable name
NOTICE_VERSION: Final = 1


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class AlertFailed(Exception):
    """One attempt to deliver an alert failed; the message is safe to log."""


@dataclass(frozen=True)
class Notice:
    """What an alert says. Nothing else: no content, no location, no keys but the device's."""

    device: DeviceKey
    started_ms: int
    relay_url: str
    instructions_url: str

    @property
    def started(self) -> str:
        moment = datetime.fromtimestamp(self.started_ms / 1000, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.started_ms % 1000:03d}Z"

    @property
    def watch_command(self) -> str:
        return f"testigo watch --relay {self.relay_url} --device {self.device}"

    def to_json(self) -> dict[str, str | int | None]:
        return {
            "testigo-alert": NOTICE_VERSION,
            "event": "recording_started",
            "started": self.started,
            "started_ms": self.started_ms,
            "device": str(self.device),
            "device_fingerprint": self.device.fingerprint,
            "relay": self.relay_url,
            "watch": self.watch_command,
            "instructions": self.instructions_url or None,
        }

    def text(self) -> str:
        lines = [
            "A Testigo device you are a contact of started recording.",
            "",
            f"Device:  {self.device.fingerprint}",
            f"Started: {self.started} (relay clock)",
            "",
            "To watch live, with your Testigo identity:",
            "",
            f"    {self.watch_command} --identity YOUR-KEY-FILE",
            "",
        ]
        if self.instructions_url:
            lines += [f"How to watch: {self.instructions_url}", ""]
        lines += ["This message holds nothing of the recording itself; only you can open it."]
        return "\n".join(lines) + "\n"

    def email(self, sender: str, recipient: str) -> bytes:
        """The notice as an RFC 5322 message."""
        message = EmailMessage()
        message["From"] = sender
        message["To"] = recipient
        message["Subject"] = f"Testigo: recording started ({self.device.fingerprint})"
        message.set_content(self.text())
        return message.as_bytes()


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str
    username: str
    password: str | None
    sender: str
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings, password: str | None) -> "SmtpConfig":
        return cls(
            host=settings.alert_smtp_host,
            port=settings.alert_smtp_port,
            security=settings.alert_smtp_security,
            username=settings.alert_smtp_username,
            password=password,
            sender=settings.alert_email_from,
            timeout=settings.alert_timeout_seconds,
        )


def send_email(config: SmtpConfig, recipient: str, message: bytes) -> None:
    """Send message over SMTP (blocking; run it on a worker thread)."""
    if not config.host:
        raise AlertFailed("email alerts are off (no alert_smtp_host)")
    if config.username and config.password is None:
        raise AlertFailed(f"alert_smtp_username is set but {SMTP_PASSWORD_VARIABLE} is not")
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if config.security == "tls":
            client = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=context
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with client:
            if config.security == "starttls":
                client.starttls(context=context)
            if config.username and config.password is not None:
                client.login(config.username, config.password)
            client.sendmail(config.sender, [recipient], message)
    except smtplib.SMTPResponseException as error:
        raise AlertFailed(f"SMTP {error.smtp_code}") from None
    except smtplib.SMTPRecipientsRefused:
        raise AlertFailed("SMTP recipient refused") from None
    except (smtplib.SMTPException, OSError) as error:
        raise AlertFailed(type(error).__name__) from None


class Alerts:
    """Sends alerts in the background; see the module docstring. An `IngestListener`."""

    def __init__(
        self,
        settings: Settings,
        enrollment: Enrollment,
        session: aiohttp.ClientSession,
        *,
        smtp_password: str | None = None,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._settings = settings
        self._enrollment = enrollment
        self._session = session
        self._smtp = SmtpConfig.from_settings(settings, smtp_password)
        self._clock_ms = clock_ms
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: dict[bytes, int] = {}  # alerts being sent, per device
        self._last_alert_ms: dict[bytes, int] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self.sent = 0
        self.failed = 0

    @classmethod
    def from_environment(
        cls, settings: Settings, enrollment: Enrollment, session: aiohttp.ClientSession
    ) -> "Alerts":
        return cls(
            settings, enrollment, session, smtp_password=os.environ.get(SMTP_PASSWORD_VARIABLE)
        )

    # -- IngestListener --

    def header_stored(self, accepted: AcceptedRecording, data: bytes, *, new: bool) -> None:
        if new:
            self.recording_started(DeviceKey(accepted.device), self._clock_ms())

    def chunk_stored(self, accepted: AcceptedRecording, chunk: Chunk, data: bytes) -> None:
        pass

    # -- sending --

    def recording_started(self, device: DeviceKey, started_ms: int) -> None:
        """Alert device's targets in the background (returns at once), unless it was
        alerted for less than alert_dedupe_seconds, or too many of its alerts (or of all)
        are still being sent."""
        last = self._last_alert_ms.get(device.raw)
        if last is not None and started_ms - last < self._settings.alert_dedupe_seconds * 1000:
            log_event(logging.INFO, "alert.deduplicated", device=device.fingerprint)
            return
        if len(self._tasks) >= MAX_PENDING:
            log_event(logging.ERROR, "alert.dropped", device=device.fingerprint, why="backlog")
            return
        if self._pending.get(device.raw, 0) >= MAX_PENDING_PER_DEVICE:
            log_event(
                logging.WARNING, "alert.dropped", device=device.fingerprint, why="device_backlog"
            )
            return
        self._last_alert_ms[device.raw] = started_ms
        while len(self._last_alert_ms) > MAX_REMEMBERED_DEVICES:
            del self._last_alert_ms[next(iter(self._last_alert_ms))]
        notice = Notice(
            device, started_ms, self._settings.relay_url, self._settings.alert_watch_url
        )
        self._pending[device.raw] = self._pending.get(device.raw, 0) + 1
        task = asyncio.get_running_loop().create_task(self._notify(notice))
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(lambda done: self._finished(done, device.raw))

    def _finished(self, task: asyncio.Task[None], device: bytes) -> None:
        self._tasks.discard(task)
        left = self._pending.get(device, 0) - 1
        if left > 0:
            self._pending[device] = left
        else:
            self._pending.pop(device, None)
        if not self._tasks:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Return once no alert is being sent (tests, shutdown)."""
        await self._idle.wait()

    async def _notify(self, notice: Notice) -> None:
        try:
            targets = await self._enrollment.alert_targets(notice.device.raw)
        except Exception as error:  # storage trouble: log, never raise
            log_event(
                logging.ERROR,
                "alert.failed",
                device=notice.device.fingerprint,
                error=type(error).__name__,
            )
            return
        await asyncio.gather(
            *(self._deliver(notice, target, number) for number, target in enumerate(targets, 1))
        )

    async def _deliver(self, notice: Notice, target: AlertTarget, number: int) -> None:
        attempts = self._settings.alert_attempts
        # Exactly doubling, as the settings promise: no jitter.
        backoff = Backoff(self._settings.alert_retry_seconds, math.inf)
        for attempt in range(1, attempts + 1):
            try:
                await self._send(notice, target)
            except AlertFailed as error:
                reason = str(error)
            except Exception as error:  # anything else is a failed attempt, too
                reason = type(error).__name__
            else:
                self.sent += 1
                log_event(
                    logging.INFO,
                    "alert.sent",
                    device=notice.device.fingerprint,
                    kind=target.kind.value,
                    target=number,
                    attempt=attempt,
                )
                return
            last = attempt == attempts
            log_event(
                logging.ERROR if last else logging.WARNING,
                "alert.failed",
                device=notice.device.fingerprint,
                kind=target.kind.value,
                target=number,
                attempt=attempt,
                error=reason,
                gave_up=last,
            )
            if last:
                self.failed += 1
                return
            await asyncio.sleep(backoff.next_delay())

    async def _send(self, notice: Notice, target: AlertTarget) -> None:
        if target.kind is AlertKind.WEBHOOK:
            await self._post(notice, target.target)
        else:
            message = notice.email(self._smtp.sender, target.target)
            await asyncio.to_thread(send_email, self._smtp, target.target, message)

    async def _post(self, notice: Notice, url: str) -> None:
        timeout = aiohttp.ClientTimeout(total=self._settings.alert_timeout_seconds)
        try:
            async with self._session.post(
                url, json=notice.to_json(), timeout=timeout, allow_redirects=False
            ) as response:
                if not 200 <= response.status < 300:
                    raise AlertFailed(f"HTTP {response.status}")
        except aiohttp.ClientError as error:
            raise AlertFailed(type(error).__name__) from None
        except TimeoutError:
            raise AlertFailed("timeout") from None

    async def close(self, grace: float = 0.0) -> None:
        """Stop sending: wait up to grace seconds for what is in flight, then cancel it."""
        if grace > 0 and self._tasks:
            try:
                async with asyncio.timeout(grace):
                    await self.wait_idle()
            except TimeoutError:
                pass
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
