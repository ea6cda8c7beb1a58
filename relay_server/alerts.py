"""Alerts: when a device starts a recording, and when one of its recordings goes silent
without being ended, tell its registered targets (PROTOCOL.md §13).

`Alerts` is an `IngestListener`: a header stored for the first time starts a background
task and ingest goes on at once. The task reads the device's targets from its enrollment
record and sends, to each, a notice that says only that a recording started, when (relay
clock), which device (its key and fingerprint), and how to watch. Never content, location,
keys of recipients, or tokens. Webhooks get an HTTP POST of JSON; email goes out over SMTP
(smtplib on a worker thread). Each target gets `alert_attempts` tries with a doubling
wait; failures are logged (without the target, which may hold a secret) and never raised.

Every header and chunk stored also restarts its recording's silence timer
(`relay_server.silence`); the final chunk stops it. When `alert_silence_seconds` pass with
nothing stored, one silence alert goes out, the same way: the recording stopped without
being ended, when the relay last stored something of it, and how many seconds of it (by
the device's clock) the relay holds. A later chunk watches the recording again. This state
is in memory only: a recording that was silent when the relay restarted is not alerted
about; one whose device sends again after a restart is watched from then on.
"""

import asyncio
import logging
import math
import os
import smtplib
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from enum import StrEnum
from typing import ClassVar, Final

import aiohttp

from relay_server.enrollment import AlertKind, AlertTarget, Enrollment
from relay_server.ingest import AcceptedRecording
from relay_server.logs import log_event
from relay_server.settings import Settings
from relay_server.silence import Silences
from vault import Chunk, ChunkKind, DeviceKey
from vault.wire.backoff import Backoff

MAX_PENDING: Final = 256
MAX_PENDING_PER_DEVICE: Final = 4  # so one device's alerts cannot crowd out another's
MAX_REMEMBERED_DEVICES: Final = 10_000  # last alert times kept (oldest forgotten first)
MAX_WATCHED: Final = 10_000  # recordings whose silence is watched (oldest dropped first)
MAX_ENDED: Final = 10_000  # recordings remembered as ended (their final chunk stored)
SMTP_PASSWORD_VARIABLE: Final = "TESTIGO_SMTP_PASSWORD"  # noqa: S105 - a variable name
NOTICE_VERSION: Final = 1


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def utc_text(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _closing_lines(instructions_url: str) -> list[str]:
    """How every notice ends: where to read how to watch, and what it does not hold."""
    lines = [f"How to watch: {instructions_url}", ""] if instructions_url else []
    return [*lines, "This message holds nothing of the recording itself; only you can open it."]


def _email(sender: str, recipient: str, subject: str, text: str) -> bytes:
    """A notice as an RFC 5322 message."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(text)
    return message.as_bytes()


class AlertFailed(Exception):
    """One attempt to deliver an alert failed; the message is safe to log."""


class Event(StrEnum):
    STARTED = "recording_started"
    SILENT = "recording_silent"


@dataclass(frozen=True)
class Notice:
    """What an alert says. Nothing else: no content, no location, no keys but the device's."""

    device: DeviceKey
    started_ms: int
    relay_url: str
    instructions_url: str

    event: ClassVar[Event] = Event.STARTED

    @property
    def started(self) -> str:
        return utc_text(self.started_ms)

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
        lines += _closing_lines(self.instructions_url)
        return "\n".join(lines) + "\n"

    def email(self, sender: str, recipient: str) -> bytes:
        subject = f"Testigo: recording started ({self.device.fingerprint})"
        return _email(sender, recipient, subject, self.text())


@dataclass(frozen=True)
class SilentNotice:
    """What a silence alert says: that a recording of device stopped without being ended,
    when the relay last stored something of it, and how much of it the relay holds.
    Nothing else: no recording id, content, location or keys but the device's."""

    device: DeviceKey
    last_ms: int  # relay clock: the last chunk (or header) of the recording stored
    silent_s: float  # how long nothing had come when the alert was made
    safe_s: float  # device clock: the last stored chunk's time minus the recording's start
    relay_url: str
    instructions_url: str

    event: ClassVar[Event] = Event.SILENT

    @property
    def last_data(self) -> str:
        return utc_text(self.last_ms)

    @property
    def watch_command(self) -> str:
        return f"testigo watch --relay {self.relay_url} --device {self.device}"

    @property
    def fetch_command(self) -> str:
        return f"testigo fetch --relay {self.relay_url} --device {self.device}"

    def to_json(self) -> dict[str, str | int | float | None]:
        return {
            "testigo-alert": NOTICE_VERSION,
            "event": "recording_silent",
            "last_data": self.last_data,
            "last_data_ms": self.last_ms,
            "silent_seconds": round(self.silent_s, 1),
            "safe_seconds": round(self.safe_s, 1),
            "device": str(self.device),
            "device_fingerprint": self.device.fingerprint,
            "relay": self.relay_url,
            "watch": self.watch_command,
            "fetch": self.fetch_command,
            "instructions": self.instructions_url or None,
        }

    def text(self) -> str:
        lines = [
            "A recording of a Testigo device you are a contact of STOPPED WITHOUT BEING ENDED:",
            f"the relay has received nothing of it for {self.silent_s:.0f} s. The phone may",
            "have been taken, switched off or broken, or lost its signal.",
            "",
            f"Device:     {self.device.fingerprint}",
            f"Last data:  {self.last_data} (relay clock)",
            f"Safe:       {self.safe_s:.0f} s of the recording are safe on the relay "
            "(from its start to the last part received, by the phone's clock)",
            "",
            "To get what is safe, with your Testigo token:",
            "",
            f"    {self.fetch_command} -o recording.tgr",
            "",
            "If the phone comes back, it goes on sending; to watch live:",
            "",
            f"    {self.watch_command} --identity YOUR-KEY-FILE",
            "",
        ]
        lines += _closing_lines(self.instructions_url)
        return "\n".join(lines) + "\n"

    def email(self, sender: str, recipient: str) -> bytes:
        subject = f"Testigo: recording stopped without being ended ({self.device.fingerprint})"
        return _email(sender, recipient, subject, self.text())


AnyNotice = Notice | SilentNotice
RecordingKey = tuple[bytes, bytes]  # device, recording_id


@dataclass
class _Progress:
    """What the silence alert needs of a recording whose silence is watched."""

    created_ms: int  # the header's (device clock)
    last_ms: int  # relay clock of the last stored header or chunk
    last_device_ms: int | None = None  # the latest device_time_ms of a stored chunk

    @property
    def safe_s(self) -> float:
        if self.last_device_ms is None:
            return 0.0
        return max(0, self.last_device_ms - self.created_ms) / 1000


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
        self._last_alert_ms: dict[tuple[Event, bytes], int] = {}  # per event and device
        self._progress: OrderedDict[RecordingKey, _Progress] = OrderedDict()
        self._ended: OrderedDict[RecordingKey, None] = OrderedDict()
        self._known_ended: Callable[[bytes, bytes], bool] = lambda device, recording: False
        self._silences: Silences[RecordingKey] = Silences(
            settings.alert_silence_seconds, self._silent, max_keys=MAX_WATCHED + 1
        )
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

    def use_ended(self, known_ended: Callable[[bytes, bytes], bool]) -> None:
        """Where to learn that a recording ended before this relay run (`Ingest.known_ended`,
        from the stored chunks): a late chunk of such a recording starts no silence watch."""
        self._known_ended = known_ended

    # -- IngestListener --

    def header_stored(self, accepted: AcceptedRecording, data: bytes, *, new: bool) -> None:
        now = self._clock_ms()
        if new:
            self.recording_started(DeviceKey(accepted.device), now)
        self._heard(accepted, now)

    def chunk_stored(self, accepted: AcceptedRecording, chunk: Chunk, data: bytes) -> None:
        key = (accepted.device, accepted.recording_id)
        if chunk.kind is ChunkKind.END or self._known_ended(*key):
            self._silences.forget(key)
            self._progress.pop(key, None)
            self._ended[key] = None
            self._ended.move_to_end(key)
            while len(self._ended) > MAX_ENDED:
                self._ended.popitem(last=False)
            return
        progress = self._heard(accepted, self._clock_ms())
        if progress is not None:
            last = progress.last_device_ms
            if last is None or chunk.device_time_ms > last:
                progress.last_device_ms = chunk.device_time_ms

    # -- silence --

    def _heard(self, accepted: AcceptedRecording, now: int) -> _Progress | None:
        """Something of the recording was stored: its silence starts again (unless it ended
        or silence alerts are off)."""
        key = (accepted.device, accepted.recording_id)
        if not self._silences.enabled or key in self._ended:
            return None
        progress = self._progress.get(key)
        if progress is None:
            progress = self._progress[key] = _Progress(accepted.header.created_ms, now)
            while len(self._progress) > MAX_WATCHED:
                oldest, _ = self._progress.popitem(last=False)
                self._silences.forget(oldest)
        else:
            progress.last_ms = now
            self._progress.move_to_end(key)
        self._silences.touch(key)
        return progress

    def _silent(self, key: RecordingKey, silent_s: float) -> None:
        progress = self._progress.pop(key, None)
        if progress is None:
            return
        device = DeviceKey(key[0])
        log_event(
            logging.WARNING, "alert.silence", device=device.fingerprint, seconds=round(silent_s)
        )
        self.recording_silent(
            SilentNotice(
                device,
                progress.last_ms,
                silent_s,
                progress.safe_s,
                self._settings.relay_url,
                self._settings.alert_watch_url,
            )
        )

    def watching(self, device: bytes, recording_id: bytes) -> bool:
        """Whether this recording's silence is being watched (tests)."""
        return (device, recording_id) in self._silences

    # -- sending --

    def recording_started(self, device: DeviceKey, started_ms: int) -> None:
        """Alert device's targets in the background (returns at once), unless it was
        alerted for less than alert_dedupe_seconds, or too many of its alerts (or of all)
        are still being sent."""
        notice = Notice(
            device, started_ms, self._settings.relay_url, self._settings.alert_watch_url
        )
        self._queue(notice, started_ms)

    def recording_silent(self, notice: SilentNotice) -> None:
        """Alert that a recording stopped without being ended: as `recording_started`
        (the same dedupe window, counted apart from start alerts, and the same caps)."""
        self._queue(notice, self._clock_ms())

    def _queue(self, notice: AnyNotice, at_ms: int) -> None:
        device = notice.device
        dedupe_key = (notice.event, device.raw)
        last = self._last_alert_ms.get(dedupe_key)
        if last is not None and at_ms - last < self._settings.alert_dedupe_seconds * 1000:
            log_event(
                logging.INFO,
                "alert.deduplicated",
                device=device.fingerprint,
                alert=notice.event.value,
            )
            return
        if len(self._tasks) >= MAX_PENDING:
            log_event(logging.ERROR, "alert.dropped", device=device.fingerprint, why="backlog")
            return
        if self._pending.get(device.raw, 0) >= MAX_PENDING_PER_DEVICE:
            log_event(
                logging.WARNING, "alert.dropped", device=device.fingerprint, why="device_backlog"
            )
            return
        self._last_alert_ms.pop(dedupe_key, None)
        self._last_alert_ms[dedupe_key] = at_ms
        while len(self._last_alert_ms) > 2 * MAX_REMEMBERED_DEVICES:
            del self._last_alert_ms[next(iter(self._last_alert_ms))]
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

    async def _notify(self, notice: AnyNotice) -> None:
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

    async def _deliver(self, notice: AnyNotice, target: AlertTarget, number: int) -> None:
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
                    alert=notice.event.value,
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

    async def _send(self, notice: AnyNotice, target: AlertTarget) -> None:
        if target.kind is AlertKind.WEBHOOK:
            await self._post(notice, target.target)
        else:
            message = notice.email(self._smtp.sender, target.target)
            await asyncio.to_thread(send_email, self._smtp, target.target, message)

    async def _post(self, notice: AnyNotice, url: str) -> None:
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
        """Stop sending: wait up to grace seconds for what is in flight, then cancel it.
        Silence timers stop at once (a recording silent at shutdown is not alerted)."""
        self._silences.close()
        self._progress.clear()
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
