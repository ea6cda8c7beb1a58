"""Every relay setting, declared once: name, default, help, type and bounds.

`Settings` is the table (one dataclass field per setting, its help and bounds in the
field's metadata); `SETTINGS` lists it for the CLI and the docs test. Values are checked
when a `Settings` is built, so a running relay never sees an invalid one.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, TypeVar
from urllib.parse import urlsplit

from vault.errors import TestigoError

SettingValue = str | int | float
_T = TypeVar("_T", str, int, float)

REMOTE_CANDIDATES: Final = ("public", "any")
LOG_LEVELS: Final = ("debug", "info", "warning", "error")
SMTP_SECURITY: Final = ("starttls", "tls", "none")


class SettingsError(TestigoError):
    """Raised when a relay setting has a value the relay cannot use."""

    hint = "see the settings table in docs/PROTOCOL.md section 9"


def _setting(
    default: _T,
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] = (),
) -> _T:
    metadata = {"help": help, "minimum": minimum, "maximum": maximum, "choices": choices}
    result: _T = field(default=default, metadata=metadata)
    return result


@dataclass(frozen=True)
class Setting:
    """One row of the settings table."""

    name: str
    default: SettingValue
    help: str
    type: type[str] | type[int] | type[float]
    minimum: float | None
    maximum: float | None
    choices: tuple[str, ...]

    def parse(self, text: str) -> SettingValue:
        """The value of text for this setting (not yet range-checked)."""
        text = text.strip()
        try:
            if self.type is int:
                return int(text, 10)
            if self.type is float:
                return float(text)
        except ValueError:
            what = "an integer" if self.type is int else "a number"
            raise SettingsError(f"setting {self.name}: {text!r} is not {what}") from None
        return text

    def check(self, value: object) -> None:
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not self.type:
            raise SettingsError(f"setting {self.name} must be of type {self.type.__name__}")
        if isinstance(value, int | float):
            if self.minimum is not None and value < self.minimum:
                raise SettingsError(f"setting {self.name} must be at least {self.minimum:g}")
            if self.maximum is not None and value > self.maximum:
                raise SettingsError(f"setting {self.name} must be at most {self.maximum:g}")
        if self.choices and value not in self.choices:
            raise SettingsError(f"setting {self.name} must be one of {', '.join(self.choices)}")


@dataclass(frozen=True)
class FilesystemLocation:
    path: str


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str


@dataclass(frozen=True)
class Settings:
    """The relay's settings. Build with keywords, `from_strings`, or no arguments."""

    host: str = _setting(
        "127.0.0.1",
        "Address to listen on; WebRTC offers only this address too, unless it is 0.0.0.0 or ::.",
    )
    port: int = _setting(8080, "TCP port to listen on.", minimum=0, maximum=65535)
    tls_cert_file: str = _setting(
        "",
        "Path of the PEM certificate chain to serve HTTPS with (with `tls_key_file`); "
        "empty: plain HTTP (behind a TLS proxy, or on loopback).",
    )
    tls_key_file: str = _setting(
        "",
        "Path of the PEM private key of `tls_cert_file`, unencrypted; refused when anyone "
        "but its owner and group may read it.",
    )
    metrics_listen: str = _setting(
        "",
        "HOST:PORT where /metrics is served, apart from the public listener (e.g. "
        "127.0.0.1:9464); empty: nowhere. Counters tell when someone is recording.",
    )
    storage: str = _setting(
        "relay-data", "Where recordings are kept: a directory path, or `s3://bucket/prefix`."
    )
    s3_endpoint_url: str = _setting(
        "",
        "S3 endpoint URL (MinIO, Ceph RGW); empty for AWS. Credentials come from the usual "
        "AWS environment variables or files, never from settings.",
    )
    s3_region: str = _setting("us-east-1", "S3 region name.")
    s3_retention_days: int = _setting(
        0,
        "Object Lock COMPLIANCE retention for stored objects, in days; 0 disables it.",
        minimum=0,
        maximum=36500,
    )
    storage_threads: int = _setting(
        8, "Threads for blocking storage calls (fsync, boto3).", minimum=1, maximum=256
    )
    relay_key: str = _setting(
        "relay.key",
        "Path of the relay's identity file (`testigo relay keygen`); its passphrase comes "
        "from a prompt, `TESTIGO_PASSPHRASE` or `relay serve --passphrase-fd`.",
    )
    max_chunk_bytes: int = _setting(
        4 * 1024 * 1024 + 16 + 166,
        "Largest chunk accepted, preamble included (the sealer's default 4 MiB + 16 "
        "ciphertext, + 166).",
        minimum=166 + 16,
        maximum=16 * 1024 * 1024 + 16 + 166,
    )
    max_chunks_per_recording: int = _setting(
        400_000,
        "Chunks per recording (indices 0 .. this - 1); about 27 hours of the recorder's "
        "default 0.25 s chunks.",
        minimum=1,
        maximum=2**31,
    )
    max_device_bytes_per_hour: int = _setting(
        2 * 1024**3, "Bytes one device may upload per clock hour, headers included.", minimum=1
    )
    max_recordings_per_hour: int = _setting(
        120, "New recordings one device may start per clock hour.", minimum=1
    )
    max_connections: int = _setting(
        4096, "Open TCP connections in all; more are closed at once.", minimum=1
    )
    max_connections_per_address: int = _setting(
        64, "Open TCP connections from one client address; more are closed at once.", minimum=1
    )
    request_header_seconds: float = _setting(
        10.0,
        "A connection must send a request's headers within this long (of opening, or of "
        "its last answer); else it is closed.",
        minimum=0.1,
        maximum=3600,
    )
    body_read_seconds: float = _setting(
        10.0,
        "A request body must deliver each next 64 KiB within this long (a minimum rate).",
        minimum=0.1,
        maximum=3600,
    )
    max_webrtc_sessions: int = _setting(
        35,
        "Concurrent WebRTC sessions; more get `busy` (and use HTTPS). One relay process "
        "carried 43-47 streams of 2 Mbit/s on one core (bench/relay_load.py).",
        minimum=0,
        maximum=10_000,
    )
    ice_servers: str = _setting(
        "", "Comma-separated STUN/TURN URLs given to the relay and to clients."
    )
    turn_secret_file: str = _setting(
        "",
        "Path of a file holding the secret shared with the TURN server (coturn "
        "`static-auth-secret`): enrolled devices that prove themselves get TURN logins "
        "that expire; empty: none. Strangers only ever get the STUN URLs.",
    )
    turn_credential_seconds: int = _setting(
        3600,
        "Lifetime of a TURN login made with `turn_secret_file`; a WebRTC session older "
        "than this loses its TURN relay and reconnects.",
        minimum=60,
        maximum=7 * 86400,
    )
    ice_username: str = _setting(
        "",
        "A fixed TURN username instead of `turn_secret_file` (given only to devices that "
        "prove themselves).",
    )
    ice_credential_file: str = _setting(
        "", "Path of a file holding the TURN credential of `ice_username`."
    )
    session_idle_seconds: float = _setting(
        60.0,
        "Close a WebRTC session that sends nothing for this long.",
        minimum=0.1,
        maximum=86400,
    )
    remote_candidates: str = _setting(
        "public",
        "Which ICE candidates of a client the relay tries: public (its public addresses "
        "only, so the relay cannot be made to probe a private network) or any (loopback "
        "and private too: tests, a relay on a LAN).",
        choices=REMOTE_CANDIDATES,
    )
    webrtc_open_seconds: float = _setting(
        10.0,
        "Close a WebRTC connection that has not opened its testigo/v1 data channel by then.",
        minimum=0.1,
        maximum=600,
    )
    header_cache_size: int = _setting(
        4096, "Accepted headers kept in memory for the HTTPS fallback.", minimum=1
    )
    log_level: str = _setting("info", "One of debug, info, warning, error.", choices=LOG_LEVELS)
    live_queue_bytes: int = _setting(
        4 * 1024 * 1024,
        "Bytes queued for one live viewer before its backlog is dropped (it resumes from the "
        "latest fragment).",
        minimum=64 * 1024,
        maximum=1024**3,
    )
    max_live_viewers: int = _setting(
        100, "Concurrent live viewers (WebSockets); more get `busy`.", minimum=0, maximum=100_000
    )
    max_live_viewers_per_device: int = _setting(
        20, "Concurrent live viewers of one device; more get `busy`.", minimum=0, maximum=100_000
    )
    max_live_viewers_per_token: int = _setting(
        4, "Concurrent live viewers with one read token; more get `busy`.", minimum=0
    )
    live_silence_seconds: float = _setting(
        3.0,
        "Tell live viewers when the recording in progress has stored nothing for this long "
        "without its final chunk (`testigo watch` shows `no data for N s`); 0: never.",
        minimum=0.0,
        maximum=3600,
    )
    public_url: str = _setting(
        "",
        "The relay's URL as contacts reach it (`testigo watch --relay URL`), used in alerts; "
        "empty: `http://host:port` (`https://` with `tls_cert_file`).",
    )
    alert_watch_url: str = _setting(
        "",
        "A web page explaining how to watch, linked from every alert; empty: no link.",
    )
    alert_smtp_host: str = _setting(
        "", "SMTP server for email alerts; empty disables email alerts."
    )
    alert_smtp_port: int = _setting(587, "TCP port of the SMTP server.", minimum=1, maximum=65535)
    alert_smtp_security: str = _setting(
        "starttls",
        "SMTP connection security: starttls, tls (implicit TLS) or none.",
        choices=SMTP_SECURITY,
    )
    alert_smtp_username: str = _setting(
        "",
        "SMTP login name; empty: no login. The password comes from `TESTIGO_SMTP_PASSWORD`, "
        "never from settings.",
    )
    alert_email_from: str = _setting("testigo-relay@localhost", "Sender address of email alerts.")
    alert_timeout_seconds: float = _setting(
        10.0, "Time limit of one webhook or SMTP attempt.", minimum=0.1, maximum=600
    )
    alert_attempts: int = _setting(
        3, "Attempts per alert and target before giving up (logged).", minimum=1, maximum=10
    )
    alert_retry_seconds: float = _setting(
        2.0,
        "Wait before the second attempt; doubled before each next one.",
        minimum=0.0,
        maximum=3600,
    )
    alert_dedupe_seconds: float = _setting(
        60.0,
        "A device's recordings started within this long of its last alert alert nobody "
        "again (a restarted recording, or a flood of headers).",
        minimum=0.0,
        maximum=86400,
    )
    alert_silence_seconds: float = _setting(
        15.0,
        "Alert a device's targets when one of its recordings has stored nothing for this "
        "long without its final chunk (the phone went silent: seized, broken, no signal); "
        "0: never.",
        minimum=0.0,
        maximum=86400,
    )

    def __post_init__(self) -> None:
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            if setting.type is float and isinstance(value, int):
                object.__setattr__(self, setting.name, float(value))
            setting.check(getattr(self, setting.name))
        self.storage_location  # noqa: B018 - validates the storage URL
        for name in ("public_url", "alert_watch_url"):
            url = getattr(self, name)
            if url and not url.startswith(("http://", "https://")):
                raise SettingsError(f"setting {name}: {url!r} is not an http(s):// URL")
        self.metrics_address  # noqa: B018 - validates metrics_listen
        for url in self.ice_server_urls:
            if not url.startswith(("stun:", "turn:", "turns:")):
                raise SettingsError(f"setting ice_servers: {url!r} is not a stun:/turn: URL")
        if self.turn_secret_file and (self.ice_username or self.ice_credential_file):
            raise SettingsError(
                "settings turn_secret_file and ice_username/ice_credential_file exclude "
                "each other: TURN logins are either made per device or fixed"
            )
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise SettingsError(
                "settings tls_cert_file and tls_key_file go together",
                hint="give both (--tls-cert PATH --tls-key PATH), or neither for plain HTTP",
            )
        if bool(self.ice_username) != bool(self.ice_credential_file):
            raise SettingsError("settings ice_username and ice_credential_file go together")

    @classmethod
    def from_strings(cls, values: Mapping[str, str]) -> "Settings":
        """Settings from text values (command line, environment); unknown names fail."""
        by_name = {s.name: s for s in SETTINGS}
        parsed: dict[str, SettingValue] = {}
        for name, text in values.items():
            setting = by_name.get(name)
            if setting is None:
                raise SettingsError(f"unknown setting {name!r}")
            parsed[name] = setting.parse(text)
        return cls.from_values(parsed)

    @classmethod
    def from_values(cls, values: Mapping[str, SettingValue]) -> "Settings":
        defaults = {s.name: s.default for s in SETTINGS}
        unknown = set(values) - set(defaults)
        if unknown:
            raise SettingsError(f"unknown setting {sorted(unknown)[0]!r}")
        merged = {**defaults, **values}
        settings = cls()
        for name, value in merged.items():
            object.__setattr__(settings, name, value)
        settings.__post_init__()
        return settings

    def replace(self, **values: SettingValue) -> "Settings":
        return Settings.from_values({**self.as_dict(), **values})

    def as_dict(self) -> dict[str, SettingValue]:
        return {s.name: getattr(self, s.name) for s in SETTINGS}

    @property
    def relay_url(self) -> str:
        """The URL contacts give `testigo watch --relay`."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def scheme(self) -> str:
        """https when the relay serves TLS itself, else http."""
        return "https" if self.tls_cert_file else "http"

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """(host, port) of the metrics listener, or None when there is none."""
        if not self.metrics_listen:
            return None
        host, _, port = self.metrics_listen.strip("[").rpartition(":")
        host = host.rstrip("]")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(f"setting metrics_listen: {self.metrics_listen!r} is not HOST:PORT")
        return host, int(port)

    @property
    def ice_server_urls(self) -> tuple[str, ...]:
        return tuple(u.strip() for u in self.ice_servers.split(",") if u.strip())

    @property
    def storage_location(self) -> FilesystemLocation | S3Location:
        if not self.storage.strip():
            raise SettingsError("setting storage must not be empty")
        if self.storage.startswith("s3://"):
            parts = urlsplit(self.storage)
            if not parts.netloc or parts.query or parts.fragment:
                raise SettingsError("setting storage: an S3 location is s3://bucket/prefix")
            prefix = parts.path.strip("/")
            return S3Location(parts.netloc, prefix + "/" if prefix else "")
        return FilesystemLocation(self.storage)


def _table() -> tuple[Setting, ...]:
    rows = []
    for f in dataclasses.fields(Settings):
        kind, default = f.type, f.default
        if kind not in (str, int, float) or not isinstance(default, (str, int, float)):
            raise TypeError(f"setting {f.name} has an unsupported type")
        rows.append(
            Setting(
                name=f.name,
                default=default,
                help=str(f.metadata["help"]),
                type=kind,
                minimum=f.metadata["minimum"],
                maximum=f.metadata["maximum"],
                choices=tuple(f.metadata["choices"]),
            )
        )
    return tuple(rows)


SETTINGS: Final[tuple[Setting, ...]] = _table()
