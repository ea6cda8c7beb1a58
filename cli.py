"""The `testigo` command. It parses flags and calls the library; nothing else."""

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from vault import (
    DeviceIdentity,
    MalformedError,
    NotForMeError,
    RecipientIdentity,
    Role,
    TamperedError,
    TestigoError,
    generate_identity,
    save_identity,
)
from vault.contacts import ContactBook, ContactRole
from vault.keys import RecipientKey
from vault.passphrase import existing_passphrase, new_passphrase
from vault.paths import data_home
from vault.report_text import format_report
from vault.verify import Status

if TYPE_CHECKING:
    from relay_server.settings import Settings
    from stream.contact.watch import WatchEvent
    from stream.phone.live_session import RelayTarget, UploadSummary

EXIT_ERROR = 1
EXIT_NOT_FOR_ME = 30
EXIT_NOT_SAFE = 3
PROGRESS_THRESHOLD_BYTES = 64 * 1024 * 1024


def fail(message: str, hint: str = "", code: int = EXIT_ERROR) -> NoReturn:
    click.echo(f"testigo: error: {message}", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)
    sys.exit(code)


def warn(message: str) -> None:
    click.echo(f"testigo: warning: {message}", err=True)


def exit_code_for(error: TestigoError) -> int:
    return EXIT_NOT_FOR_ME if isinstance(error, NotForMeError) else EXIT_ERROR


@contextmanager
def reading_recording() -> Iterator[None]:
    """A recording whose header is unusable exits like a tampered one (20)."""
    try:
        yield
    except (MalformedError, TamperedError) as error:
        fail(str(error), error.hint, Status.TAMPERED.exit_code)


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for long inputs on a terminal; None otherwise."""
    if total < PROGRESS_THRESHOLD_BYTES or not sys.stderr.isatty():
        yield None
        return
    columns = (BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda size: progress.advance(task, size)


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def load_recipient_identity(path: Path, passphrase_fd: int | None) -> RecipientIdentity:
    return RecipientIdentity.load(path, existing_passphrase(passphrase_fd, str(path)))


home_option = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (contact book, device key). Default: $TESTIGO_HOME or the platform's.",
)
passphrase_fd_option = click.option(
    "--passphrase-fd",
    type=int,
    default=None,
    metavar="N",
    help="Read the passphrase from file descriptor N (else $TESTIGO_PASSPHRASE or a prompt).",
)


token_fd_option = click.option(
    "--token-fd",
    type=int,
    default=None,
    metavar="N",
    help="Read the capability token from file descriptor N (else $TESTIGO_TOKEN).",
)


def _capability_token(token_fd: int | None) -> str:
    """The relay read token: from a file descriptor or $TESTIGO_TOKEN, never argv."""
    import os

    from stream.contact.fetch import TOKEN_VARIABLE
    from vault.passphrase import read_secret_fd

    token = read_secret_fd(token_fd) if token_fd is not None else os.environ.get(TOKEN_VARIABLE)
    if not token:
        fail("no capability token", f"set {TOKEN_VARIABLE} or pass --token-fd N")
    return token


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="testigo")
def main() -> None:
    """Testigo: end-to-end encrypted evidence recorder."""


@main.command()
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    required=True,
    help="contact or lawyer (can open recordings), device (records), relay (signs receipts).",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Key file.")
@click.option("--no-passphrase", is_flag=True, help="Store the key unprotected (tests, demos).")
@passphrase_fd_option
def keygen(role: str, output: Path, no_passphrase: bool, passphrase_fd: int | None) -> None:
    """Make a new key; prints the public key and its fingerprint."""
    if output.exists():
        fail(f"{output} already exists", "choose another -o path; keys are never overwritten")
    stored = generate_identity(Role(role))
    if no_passphrase:
        warn(f"{output} is stored WITHOUT a passphrase: anyone who copies it can use it")
        passphrase = None
    else:
        passphrase = new_passphrase(passphrase_fd)
    save_identity(output, stored, passphrase)
    click.echo(f"# {role} key written to {output}", err=True)
    click.echo(f"public key:  {stored.public_text}")
    click.echo(f"fingerprint: {stored.fingerprint}")


@main.group()
def contacts() -> None:
    """The people every new recording is sealed to."""


def _book(home: Path | None) -> ContactBook:
    return ContactBook.load(data_home(home) / "contacts.json")


@contacts.command("add")
@click.argument("name")
@click.argument("public_key")
@click.option("--role", type=click.Choice([r.value for r in ContactRole]), default="contact")
@home_option
def contacts_add(name: str, public_key: str, role: str, home: Path | None) -> None:
    """Add NAME with their recipient PUBLIC_KEY (tg-recipient-...)."""
    book = _book(home)
    contact = book.add(name, ContactRole(role), RecipientKey.parse(public_key))
    click.echo(
        f"added {contact.name} ({contact.role}), fingerprint {contact.recipient.fingerprint}"
    )
    click.echo("compare the fingerprint with them aloud before you rely on it", err=True)


@contacts.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def contacts_list(home: Path | None, as_json: bool) -> None:
    """List the contact book."""
    book = _book(home)
    if as_json:
        entries = [
            {"name": c.name, "role": c.role.value, "recipient": str(c.recipient)}
            for c in book.contacts
        ]
        click.echo(json.dumps(entries, indent=2))
        return
    if not book.contacts:
        click.echo("no contacts yet; add one with: testigo contacts add NAME PUBKEY", err=True)
    for c in book.contacts:
        click.echo(f"{c.name:20} {c.role.value:8} {c.recipient.fingerprint}  {c.recipient}")


@contacts.command("remove")
@click.argument("name")
@home_option
def contacts_remove(name: str, home: Path | None) -> None:
    """Remove NAME; recordings already sealed to them stay readable by them."""
    removed = _book(home).remove(name)
    click.echo(f"removed {removed.name}")


def _load_device(path: Path, passphrase_fd: int | None) -> DeviceIdentity:
    return DeviceIdentity.load(path, existing_passphrase(passphrase_fd, str(path)))


@main.command()
@click.argument("media", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.option(
    "--device",
    "device_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Device key that signs (default: HOME/device.key).",
)
@click.option(
    "--to",
    "extra_recipients",
    multiple=True,
    metavar="PUBKEY",
    help="Seal to this recipient too (repeatable); default: the contact book.",
)
@click.option("--fragment-seconds", type=click.FloatRange(0.25, 10.0), default=1.0)
@home_option
@passphrase_fd_option
def seal(
    media: Path,
    output: Path,
    device_path: Path | None,
    extra_recipients: tuple[str, ...],
    fragment_seconds: float,
    home: Path | None,
    passphrase_fd: int | None,
) -> None:
    """Seal an existing media file into a Testigo recording."""
    from capture.protect import protect_media_file

    if output.exists():
        fail(f"{output} already exists", "choose another -o path; recordings are never overwritten")
    recipients = _book(home).recipients + [RecipientKey.parse(k) for k in extra_recipients]
    if not recipients:
        fail("nobody to seal to", "add a contact (testigo contacts add) or pass --to PUBKEY")
    device = _load_device(device_path or data_home(home) / "device.key", passphrase_fd)
    summary = protect_media_file(media, output, device, recipients, fragment_seconds)
    click.echo(
        f"sealed {summary.chunks} chunks ({summary.plaintext_bytes:,} bytes of media) "
        f"to {len(set(recipients))} recipient(s): {output}"
    )


def _parse_resolution(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()):
        fail(f"resolution {text!r} is not WIDTHxHEIGHT", "for example --resolution 1280x720")
    return int(width), int(height)


@main.command()
@click.option(
    "--source",
    default="synthetic",
    show_default=True,
    help="camera, camera:N (device index or path), synthetic, or a media FILE.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Spool directory; each recording goes in a subdirectory.",
)
@click.option("--duration", type=click.FloatRange(min=0.1), default=None, help="Seconds.")
@click.option("--resolution", default="1280x720", show_default=True)
@click.option("--fps", type=click.IntRange(1, 120), default=30, show_default=True)
@click.option(
    "--bitrate",
    type=click.IntRange(10_000, 100_000_000),
    default=1_500_000,
    show_default=True,
    help="Video bits per second.",
)
@click.option(
    "--fragment-seconds",
    type=click.FloatRange(0.25, 10.0),
    default=1.0,
    show_default=True,
    help="Length of each sealed chunk.",
)
@click.option(
    "--keyframe-interval",
    type=click.IntRange(1, 1000),
    default=None,
    help="Frames between keyframes (default: one per fragment).",
)
@click.option(
    "--location",
    default=None,
    metavar="SPEC",
    help="LAT,LON, gpsd[:HOST:PORT], nmea:PATH or none (default: a gpsd on this machine "
    "if one answers). Sealed like media, never sent in the clear.",
)
@click.option(
    "--microphone",
    default=None,
    metavar="SPEC",
    help="With a camera: pulse:DEVICE, alsa:DEVICE or none (default: the system's, if any).",
)
@click.option(
    "--device",
    "device_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Device key that signs (default: HOME/device.key).",
)
@click.option(
    "--relay",
    "relay_url",
    default=None,
    metavar="URL",
    help="Stream to this relay while recording (http://HOST:PORT).",
)
@click.option(
    "--relay-key",
    "relay_key_text",
    default=None,
    metavar="KEY",
    help="The relay's public key (tg-relay-...); receipts are checked with it.",
)
@click.option("--https-only", is_flag=True, help="Do not try WebRTC (UDP blocked).")
@home_option
@passphrase_fd_option
def record(
    source: str,
    output: Path,
    duration: float | None,
    resolution: str,
    fps: int,
    bitrate: int,
    fragment_seconds: float,
    keyframe_interval: int | None,
    location: str | None,
    microphone: str | None,
    device_path: Path | None,
    relay_url: str | None,
    relay_key_text: str | None,
    https_only: bool,
    home: Path | None,
    passphrase_fd: int | None,
) -> None:
    """Record audio and video into sealed chunks in a spool; with --relay, stream them."""
    from capture.recording_session import RecordOptions, record_to_spool

    width, height = _parse_resolution(resolution)
    relay_target = _relay_target(relay_url, relay_key_text)
    recipients = _book(home).recipients
    if not recipients:
        fail("nobody to seal to", "add a contact first: testigo contacts add NAME PUBKEY")
    device = _load_device(device_path or data_home(home) / "device.key", passphrase_fd)
    options = RecordOptions(
        source=source,
        spool=output,
        duration_s=duration,
        width=width,
        height=height,
        fps=fps,
        bitrate=bitrate,
        fragment_seconds=fragment_seconds,
        keyframe_interval=keyframe_interval,
        location=location,
        microphone=microphone,
    )
    echo = _stderr_echo
    if relay_target is None:
        click.echo(f"recording: {record_to_spool(options, device, recipients, echo)}")
        return
    import asyncio

    from stream.phone.live_session import record_and_stream

    summary = asyncio.run(
        record_and_stream(options, device, recipients, relay_target, echo, webrtc=not https_only)
    )
    _report_upload(summary)


def _stderr_echo(line: str) -> None:
    click.echo(line, err=True)


def _relay_target(url: str | None, key_text: str | None) -> "RelayTarget | None":
    from stream.phone.live_session import RelayTarget
    from vault.keys import RelayKey

    if url is None and key_text is None:
        return None
    if url is None or key_text is None:
        fail("--relay and --relay-key go together", "the relay operator gives you both")
    if not url.startswith(("http://", "https://")):
        fail(f"relay URL {url!r} must start with http:// or https://")
    return RelayTarget(url.rstrip("/"), RelayKey.parse(key_text))


def _report_upload(summary: "UploadSummary") -> None:
    click.echo(f"recording: {summary.recording}")
    click.echo(f"receipted: {summary.safe} of {summary.chunks} chunks")
    if summary.first_receipt_s is not None:
        click.echo(f"first receipt: {summary.first_receipt_s:.2f} s after recording started")
    if summary.unsafe:
        click.echo(
            f"NOT YET SAFE: {len(summary.unsafe)} chunk(s) only on this device; "
            f"send them later with: testigo upload {summary.recording.parent}",
            err=True,
        )
        sys.exit(EXIT_NOT_SAFE)


@main.command()
@click.argument("spool", type=click.Path(path_type=Path))
@click.option("--relay", "relay_url", required=True, metavar="URL")
@click.option("--relay-key", "relay_key_text", required=True, metavar="KEY")
@click.option("--https-only", is_flag=True, help="Do not try WebRTC (UDP blocked).")
def upload(spool: Path, relay_url: str, relay_key_text: str, https_only: bool) -> None:
    """Send every chunk in SPOOL that has no relay receipt yet."""
    import asyncio

    from stream.phone.live_session import upload_spool

    target = _relay_target(relay_url, relay_key_text)
    assert target is not None
    summaries = asyncio.run(upload_spool(spool, target, _stderr_echo, webrtc=not https_only))
    if not summaries:
        fail(f"no recordings in {spool}", "give the directory passed to testigo record -o")
    for summary in summaries:
        _report_upload(summary)


@main.command()
@click.argument("recording", type=click.Path(path_type=Path))
@click.option("--identity", type=click.Path(path_type=Path), required=True, help="Your key file.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Media out.")
@passphrase_fd_option
def decrypt(recording: Path, identity: Path, output: Path, passphrase_fd: int | None) -> None:
    """Decrypt RECORDING into a playable file plus a verification report."""
    from vault.decrypt import decrypt_recording

    if output.exists():
        fail(f"{output} already exists", "choose another -o path")
    opener = load_recipient_identity(identity, passphrase_fd)
    with reading_recording(), progress_bar(file_size(recording), "decrypting") as advance:
        result = decrypt_recording(recording, [opener], output, progress=advance)
    report = result.report
    click.echo(format_report(report), err=True)
    if not result.init_present:
        warn("the init segment is missing: players cannot decode the fragments without it")
    if report.gaps:
        missing = ", ".join(f"{g.first}-{g.last}" for g in report.gaps)
        warn(f"missing chunks {missing}: the media has gaps there")
    click.echo(f"media:    {result.media_path} ({result.media_bytes:,} bytes)")
    if result.metadata_path is not None:
        click.echo(f"metadata: {result.metadata_path}")
    click.echo(f"report:   {result.report_path}")
    sys.exit(report.status.exit_code)


@main.command()
@click.argument("recording", type=click.Path(path_type=Path))
@click.option(
    "--identity",
    type=click.Path(path_type=Path),
    default=None,
    help="Also decrypt every chunk with this key (otherwise signatures only).",
)
@click.option(
    "--relay-key",
    "relay_key_text",
    default=None,
    metavar="KEY",
    help="Check the relay's receipts, signed by this key (tg-relay-...).",
)
@click.option(
    "--receipts",
    "receipts_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Receipts file (default: RECORDING.receipts, as testigo fetch saves it).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@passphrase_fd_option
def verify(
    recording: Path,
    identity: Path | None,
    relay_key_text: str | None,
    receipts_path: Path | None,
    as_json: bool,
    passphrase_fd: int | None,
) -> None:
    """Check that RECORDING (a file or a spool) is authentic and complete.

    Exit codes: 0 complete, 10 incomplete but authentic, 20 tampered or malformed,
    30 not sealed to --identity, 1 other errors.
    """
    from vault import verify_file
    from vault.keys import RelayKey
    from vault.receipt_check import ReceiptChecker

    identities = [load_recipient_identity(identity, passphrase_fd)] if identity else None
    checker = None
    if relay_key_text is not None:
        path = receipts_path or recording.with_name(recording.name + ".receipts")
        checker = ReceiptChecker(RelayKey.parse(relay_key_text), path)
    elif receipts_path is not None:
        fail("--receipts needs --relay-key", "pass the relay's public key (tg-relay-...)")
    with reading_recording(), progress_bar(file_size(recording), "verifying") as advance:
        report = verify_file(recording, identities, sink=checker, progress=advance)
    receipts = checker.report() if checker is not None else None
    code = report.status.exit_code
    if receipts is not None and code == 0 and not receipts.complete:
        code = Status.TAMPERED.exit_code if receipts.invalid else Status.INCOMPLETE.exit_code
    if as_json:
        document = report.to_json()
        if receipts is not None:
            document["receipts"] = receipts.to_json()
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(format_report(report))
        if receipts is not None:
            click.echo(receipts.text())
    sys.exit(code)


@main.command()
@click.option("--relay", "relay_url", required=True, metavar="URL")
@click.option(
    "--device",
    "device_text",
    required=True,
    metavar="KEY",
    help="Whose recordings (tg-device-...).",
)
@click.option(
    "--recording",
    "recording_id",
    default=None,
    metavar="ID",
    help="Which recording (default: the latest).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to save the recording (its receipts go to OUTPUT.receipts).",
)
@click.option("--list", "list_only", is_flag=True, help="Only list the device's recordings.")
@token_fd_option
def fetch(
    relay_url: str,
    device_text: str,
    recording_id: str | None,
    output: Path | None,
    list_only: bool,
    token_fd: int | None,
) -> None:
    """Download a sealed recording and its receipts from a relay (for lawyers)."""
    import asyncio

    from stream.contact.fetch import fetch_recording, list_remote
    from vault.keys import DeviceKey

    device = DeviceKey.parse(device_text)
    token = _capability_token(token_fd)
    if list_only:
        for remote in asyncio.run(list_remote(relay_url, token, device)):
            click.echo(f"{remote.recording_id}  {remote.chunks} chunks")
        return
    if output is None:
        fail("-o/--output is needed to save the recording", "for example -o evidence.tgr")
    if output.exists():
        fail(f"{output} already exists", "choose another -o path")
    chosen, download = asyncio.run(fetch_recording(relay_url, token, device, recording_id, output))
    click.echo(f"recording {chosen.recording_id}: {download.recording_bytes:,} bytes")
    click.echo(f"saved:    {download.recording}")
    click.echo(f"receipts: {download.receipts}")


@main.command()
@click.option("--relay", "relay_url", required=True, metavar="URL")
@click.option(
    "--device",
    "device_text",
    required=True,
    metavar="KEY",
    help="Whose recordings to watch (tg-device-...).",
)
@click.option(
    "--identity",
    type=click.Path(path_type=Path),
    required=True,
    help="Your contact or lawyer key file.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write a growing MP4 that a player can follow.",
)
@click.option("--once", is_flag=True, help="Stop after one recording ends.")
@click.option("--show-location", is_flag=True, help="Print location updates (sensitive).")
@token_fd_option
@passphrase_fd_option
def watch(
    relay_url: str,
    device_text: str,
    identity: Path,
    output: Path | None,
    once: bool,
    show_location: bool,
    token_fd: int | None,
    passphrase_fd: int | None,
) -> None:
    """Watch a device's recordings live: wait for the next one (or join one in progress)."""
    import asyncio

    from stream.contact.watch import watch as watch_live
    from stream.contact.watch_text import describe
    from vault.keys import DeviceKey

    device = DeviceKey.parse(device_text)
    token = _capability_token(token_fd)
    opener = load_recipient_identity(identity, passphrase_fd)

    def on_event(event: "WatchEvent") -> None:
        line = describe(event, show_location=show_location)
        if line is not None:
            click.echo(line)

    async def follow() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        import signal

        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stop.set)
        summary = await watch_live(
            relay_url.rstrip("/"),
            token,
            device,
            [opener],
            output,
            on_event=on_event,
            stop=stop,
            max_recordings=1 if once else None,
        )
        if summary.delays_ms:
            delays = sorted(summary.delays_ms)
            click.echo(
                f"delay behind the phone: median {delays[len(delays) // 2] / 1000:.2f} s, "
                f"max {delays[-1] / 1000:.2f} s"
            )

    asyncio.run(follow())


@main.command()
@click.option(
    "--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out")
)
def demo(workdir: Path) -> None:
    """Run the whole mission on this machine and print each step."""
    from stream.demo.mission import run_demo

    run_demo(workdir, echo=click.echo)


@main.group()
def relay() -> None:
    """Run and operate a relay (stores sealed chunks, signs receipts)."""


def _relay_settings(
    host: str | None,
    port: int | None,
    storage: str | None,
    relay_key: Path | None,
    overrides: tuple[str, ...],
) -> "Settings":
    from relay_server.settings import Settings

    values: dict[str, str] = {}
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep:
            fail(f"--set {item!r} is not NAME=VALUE", "for example --set max_webrtc_sessions=40")
        values[name.strip()] = value
    given = {"host": host, "port": port, "storage": storage, "relay_key": relay_key}
    values.update({name: str(value) for name, value in given.items() if value is not None})
    return Settings.from_strings(values)


storage_option = click.option("--storage", default=None, help="Directory, or s3://BUCKET/PREFIX.")
relay_key_option = click.option(
    "--relay-key", type=click.Path(path_type=Path), default=None, help="Relay key file."
)
set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="Any relay setting (see docs/PROTOCOL.md, settings).",
)


@relay.command("serve")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="0 picks a free one.")
@storage_option
@relay_key_option
@set_option
def relay_serve(
    host: str | None,
    port: int | None,
    storage: str | None,
    relay_key: Path | None,
    overrides: tuple[str, ...],
) -> None:
    """Run the relay until Ctrl-C."""
    from relay_server.serve import serve

    serve(_relay_settings(host, port, storage, relay_key, overrides))


@relay.command("keygen")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.option("--no-passphrase", is_flag=True, help="Store the key unprotected.")
@passphrase_fd_option
@click.pass_context
def relay_keygen(
    context: click.Context, output: Path, no_passphrase: bool, passphrase_fd: int | None
) -> None:
    """Make the relay's own signing key (same as keygen --role relay)."""
    context.invoke(
        keygen,
        role=Role.RELAY.value,
        output=output,
        no_passphrase=no_passphrase,
        passphrase_fd=passphrase_fd,
    )


@relay.command("enroll")
@click.argument("device_key")
@storage_option
@relay_key_option
@set_option
def relay_enroll(
    device_key: str, storage: str | None, relay_key: Path | None, overrides: tuple[str, ...]
) -> None:
    """Allow the device DEVICE_KEY (tg-device-...) to upload."""
    import asyncio

    from relay_server.operator import enroll
    from vault.keys import DeviceKey

    device = DeviceKey.parse(device_key)
    settings = _relay_settings(None, None, storage, relay_key, overrides)
    added = asyncio.run(enroll(settings, device))
    click.echo(f"{'enrolled' if added else 'already enrolled'}: device {device.fingerprint}")


@relay.command("revoke")
@click.argument("device_key")
@storage_option
@relay_key_option
@set_option
def relay_revoke(
    device_key: str, storage: str | None, relay_key: Path | None, overrides: tuple[str, ...]
) -> None:
    """Refuse every further upload by DEVICE_KEY (a seized phone whose key may be misused).

    What it uploaded before stays stored and readable with its tokens; receipts show when
    each chunk arrived.
    """
    import asyncio

    from relay_server.operator import revoke
    from vault.keys import DeviceKey

    device = DeviceKey.parse(device_key)
    settings = _relay_settings(None, None, storage, relay_key, overrides)
    changed = asyncio.run(revoke(settings, device))
    click.echo(f"{'revoked' if changed else 'already revoked'}: device {device.fingerprint}")


@relay.command("token")
@click.argument("device_key")
@storage_option
@relay_key_option
@set_option
def relay_token(
    device_key: str, storage: str | None, relay_key: Path | None, overrides: tuple[str, ...]
) -> None:
    """Mint a read token for DEVICE_KEY's recordings (shown once; give it to a lawyer)."""
    import asyncio

    from relay_server.operator import mint_token
    from vault.keys import DeviceKey

    device = DeviceKey.parse(device_key)
    settings = _relay_settings(None, None, storage, relay_key, overrides)
    click.echo(asyncio.run(mint_token(settings, device)))
    click.echo("keep it secret: it lets its holder download this device's sealed recordings",
               err=True)  # fmt: skip


@relay.command("alert")
@click.argument("device_key")
@click.argument("kind", type=click.Choice(["webhook", "email"]))
@click.argument("target")
@storage_option
@relay_key_option
@set_option
def relay_alert(
    device_key: str,
    kind: str,
    target: str,
    storage: str | None,
    relay_key: Path | None,
    overrides: tuple[str, ...],
) -> None:
    """Alert TARGET (a webhook URL or an email address) when DEVICE_KEY starts recording.

    The alert says only that a recording started and how to watch it: no content, no
    location.
    """
    import asyncio

    from relay_server.operator import add_alert_target
    from vault.keys import DeviceKey

    device = DeviceKey.parse(device_key)
    settings = _relay_settings(None, None, storage, relay_key, overrides)
    added = asyncio.run(add_alert_target(settings, device, kind, target))
    click.echo(f"{'added' if added else 'already there'}: {kind} alert for {device.fingerprint}")


def run() -> None:
    """Entry point: every TestigoError becomes a one-line error with a hint."""
    try:
        main(standalone_mode=True)
    except TestigoError as error:
        fail(str(error), error.hint, exit_code_for(error))
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        fail(f"{error.strerror or error}{where}", "check the path, permissions and free space")


if __name__ == "__main__":
    run()
