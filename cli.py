"""The `testigo` command. It parses flags and calls the library; nothing else.

Its parts are in stream/terminal/: the value types (params.py), the options several
commands share (options.py) and the one way every error is shown (errors.py).
"""

import functools
import json
import re
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from capture.settings import SEAL_FRAGMENT_SECONDS
from stream.terminal.errors import EXIT_USAGE, TestigoGroup, fail, failure_for, warn
from stream.terminal.options import (
    device_key_file_option,
    device_public_key_option,
    home_option,
    https_only_option,
    identity_option,
    insecure_option,
    json_option,
    no_passphrase_option,
    output_option,
    passphrase_fd_option,
    recorder_option,
    relay_public_key_option,
    relay_url_option,
    resolution_option,
    token_fd_option,
)
from stream.terminal.params import (
    Assignment,
    Duration,
    LocationSpec,
    MicrophoneSpec,
    PublicKeyType,
    SourceSpec,
)
from vault import (
    DeviceIdentity,
    MalformedError,
    RecipientIdentity,
    Role,
    TamperedError,
    TestigoError,
    WrongPassphraseError,
    generate_identity,
    save_identity,
)
from vault.contacts import ContactBook, ContactRole
from vault.device_config import CONFIG_FILE, DeviceConfig
from vault.identity import PassphraseSource
from vault.keys import DeviceKey, RecipientKey, RelayKey
from vault.passphrase import existing_passphrase, new_passphrase
from vault.paths import data_home
from vault.report_text import format_report
from vault.verify import Status
from vault.wire.errors import RelayError
from vault.wire.invite import DEFAULT_EXPIRY_S, MAX_EXPIRY_S, MIN_EXPIRY_S

if TYPE_CHECKING:
    from relay_server.settings import Settings
    from stream.contact.watch import WatchEvent
    from stream.phone.session import RecordingSummary, RelayTarget

T = TypeVar("T")
EXIT_NOT_SAFE = 3
PROGRESS_THRESHOLD_BYTES = 64 * 1024 * 1024
SHORT_PASSPHRASE = 8
"""Passphrases shorter than this many characters get a warning at keygen."""
DEVICE_KEY_FILE = "device.key"


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


def echo_json(document: object) -> None:
    click.echo(json.dumps(document, indent=2))


def refuse_existing(path: Path, what: str = "files") -> None:
    if path.exists():
        fail(f"{path} already exists", f"choose another -o path; {what} are never overwritten")


def load_recipient_identity(path: Path, passphrase_fd: int | None) -> RecipientIdentity:
    return RecipientIdentity.load(path, existing_passphrase(passphrase_fd, str(path)))


def _refuse_token_in_clear(relay_url: str, insecure: bool) -> None:
    from stream.relay_http import crosses_the_network_in_clear

    if crosses_the_network_in_clear(relay_url) and not insecure:
        fail(
            f"{relay_url} is plain http://: the token would cross the network unencrypted",
            "use the relay's https:// URL (only on a network you trust: --insecure)",
            EXIT_USAGE,
        )


def _capability_token(token_fd: int | None) -> str:
    """The relay read token: from a file descriptor or $TESTIGO_TOKEN, never argv."""
    import os

    from stream.contact.fetch import TOKEN_VARIABLE
    from vault.passphrase import read_secret_fd

    if token_fd is not None:
        token = read_secret_fd(token_fd, what="capability token", option="--token-fd")
    else:
        token = os.environ.get(TOKEN_VARIABLE, "")
    if not token:
        fail("no capability token", f"set {TOKEN_VARIABLE} or pass --token-fd N")
    return token


@click.group("testigo", cls=TestigoGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
@output_option("Key file; a device key goes to HOME/device.key by default.", required=False)
@no_passphrase_option
@passphrase_fd_option
@home_option
@json_option
def keygen(
    role: str,
    output: Path | None,
    no_passphrase: bool,
    passphrase_fd: int | None,
    home: Path | None,
    as_json: bool,
) -> None:
    """Make a new key; prints the public key and its fingerprint."""
    if output is None:
        if role != Role.DEVICE.value:
            fail(
                f"a {role} key needs -o/--output",
                f"for example -o {role}.key (only a device key has a default place)",
                EXIT_USAGE,
            )
        output = data_home(home) / DEVICE_KEY_FILE
        output.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if output.exists():
        fail(f"{output} already exists", "choose another -o path; keys are never overwritten")
    stored = generate_identity(Role(role))
    if no_passphrase:
        warn(f"{output} is stored WITHOUT a passphrase: anyone who copies it can use it")
        passphrase = None
    else:
        passphrase = new_passphrase(passphrase_fd)
        if len(passphrase) < SHORT_PASSPHRASE:
            warn(
                f"the passphrase has only {len(passphrase)} character(s): whoever copies "
                f"{output} can guess it; a few words are better"
            )
    save_identity(output, stored, passphrase)
    if as_json:
        echo_json(
            {
                "role": role,
                "path": str(output),
                "public_key": stored.public_text,
                "fingerprint": stored.fingerprint,
                "protected": passphrase is not None,
            }
        )
        return
    click.echo(f"# {role} key written to {output}", err=True)
    click.echo(f"public key:  {stored.public_text}")
    click.echo(f"fingerprint: {stored.fingerprint}")


@main.group()
def contacts() -> None:
    """The people every new recording is sealed to."""


CONTACT_BOOK = "the contact book"


def _book(home: Path | None) -> ContactBook:
    return ContactBook.load(data_home(home) / "contacts.json")


def _book_passphrase(book: ContactBook, passphrase_fd: int | None) -> PassphraseSource:
    """How the book's passphrase is asked for: the existing one of a sealed book, else a new
    one (asked twice), which seals it; read once however often the book asks."""
    if book.is_sealed:
        existing = existing_passphrase(passphrase_fd, CONTACT_BOOK)
        return functools.cache(existing)

    @functools.cache
    def new() -> str:
        passphrase = new_passphrase(passphrase_fd, CONTACT_BOOK, optional=False)
        if len(passphrase) < SHORT_PASSPHRASE:
            warn(
                f"the passphrase has only {len(passphrase)} character(s): whoever copies "
                "the contact book can guess it and read the names in it"
            )
        return passphrase

    return new


def _sealed_now(book: ContactBook, was_sealed: bool) -> None:
    if book.is_sealed and not was_sealed:
        click.echo(
            "the contact book is sealed: names and roles open only with its passphrase; "
            "recording needs none",
            err=True,
        )


@contacts.command("add")
@click.argument("name")
@click.argument("public_key", type=PublicKeyType(RecipientKey))
@click.option("--role", type=click.Choice([r.value for r in ContactRole]), default="contact")
@home_option
@passphrase_fd_option
def contacts_add(
    name: str, public_key: RecipientKey, role: str, home: Path | None, passphrase_fd: int | None
) -> None:
    """Add NAME with their recipient PUBLIC_KEY (tg-recipient-...).

    The book's passphrase is asked for (a new one the first time), never taken from argv.
    """
    book = _book(home)
    was_sealed = book.is_sealed
    contact = book.add(name, ContactRole(role), public_key, _book_passphrase(book, passphrase_fd))
    click.echo(
        f"added {contact.name} ({contact.role}), fingerprint {contact.recipient.fingerprint}"
    )
    _sealed_now(book, was_sealed)
    click.echo("compare the fingerprint with them aloud before you rely on it", err=True)


@contacts.command("list")
@click.option(
    "--keys-only",
    is_flag=True,
    help="Only the public keys and fingerprints (no names), without the passphrase.",
)
@home_option
@passphrase_fd_option
@json_option
def contacts_list(
    keys_only: bool, home: Path | None, passphrase_fd: int | None, as_json: bool
) -> None:
    """List the contact book (names need its passphrase)."""
    book = _book(home)
    if keys_only:
        keys = book.recipients
        if as_json:
            echo_json([{"recipient": str(k), "fingerprint": k.fingerprint} for k in keys])
        for key in [] if as_json else keys:
            click.echo(f"{key.fingerprint}  {key}")
        return
    if book.recipients and not book.is_sealed:
        warn(
            "the contact book keeps its names in the clear (an older Testigo wrote it); "
            "the next `testigo contacts add` or `remove` seals it"
        )
    asked = _book_passphrase(book, passphrase_fd)

    def passphrase() -> str:
        try:
            return asked()
        except WrongPassphraseError:
            raise
        except TestigoError as error:
            raise TestigoError(
                str(error),
                hint=f"{error.hint}; or see the keys alone: testigo contacts list --keys-only",
            ) from None

    contacts = book.read(passphrase)
    if as_json:
        entries = [
            {
                "name": c.name,
                "role": c.role.value,
                "recipient": str(c.recipient),
                "fingerprint": c.recipient.fingerprint,
            }
            for c in contacts
        ]
        echo_json(entries)
        return
    if not contacts:
        click.echo("no contacts yet; add one with: testigo contacts add NAME PUBKEY", err=True)
    for c in contacts:
        click.echo(f"{c.name:20} {c.role.value:8} {c.recipient.fingerprint}  {c.recipient}")


@contacts.command("remove")
@click.argument("name")
@home_option
@passphrase_fd_option
def contacts_remove(name: str, home: Path | None, passphrase_fd: int | None) -> None:
    """Remove NAME; recordings already sealed to them stay readable by them."""
    book = _book(home)
    was_sealed = book.is_sealed
    removed = book.remove(name, _book_passphrase(book, passphrase_fd))
    click.echo(f"removed {removed.name}")
    _sealed_now(book, was_sealed)


def _load_device(
    device_path: Path | None, home: Path | None, passphrase_fd: int | None
) -> DeviceIdentity:
    path = device_path or data_home(home) / DEVICE_KEY_FILE
    if device_path is None and not path.exists():
        fail(
            f"no device key at {path}",
            "if this device has a key elsewhere, pass --device PATH (or --home DIR); only a "
            "new device needs: testigo keygen --role device (then the relay must enroll it)",
        )
    return DeviceIdentity.load(path, existing_passphrase(passphrase_fd, str(path)))


def _recipients(home: Path | None, extra: tuple[RecipientKey, ...] = ()) -> list[RecipientKey]:
    recipients = _book(home).recipients + list(extra)
    if not recipients:
        fail("nobody to seal to", "add a contact (testigo contacts add NAME PUBKEY)")
    return recipients


@main.command()
@click.argument("media", type=click.Path(path_type=Path))
@output_option("The sealed recording to write.")
@device_key_file_option
@click.option(
    "--to",
    "extra_recipients",
    multiple=True,
    type=PublicKeyType(RecipientKey),
    help="Seal to this recipient too (repeatable); default: the contact book.",
)
@recorder_option("fragment_seconds", default=SEAL_FRAGMENT_SECONDS)
@home_option
@passphrase_fd_option
def seal(
    media: Path,
    output: Path,
    device_path: Path | None,
    extra_recipients: tuple[RecipientKey, ...],
    fragment_seconds: float,
    home: Path | None,
    passphrase_fd: int | None,
) -> None:
    """Seal an existing media file into a Testigo recording."""
    from capture.protect import protect_media_file

    refuse_existing(output, "recordings")
    recipients = _recipients(home, extra_recipients)
    device = _load_device(device_path, home, passphrase_fd)
    summary = protect_media_file(media, output, device, recipients, fragment_seconds)
    click.echo(
        f"sealed {summary.chunks} chunks ({summary.plaintext_bytes:,} bytes of media) "
        f"to {len(set(recipients))} recipient(s): {output}"
    )


def _relay_target(
    url: str | None, key: RelayKey | None, home: Path | None, *, required: bool
) -> "RelayTarget | None":
    """--relay and --relay-key, else what `testigo setup` saved, else None."""
    from stream.phone.session import RelayTarget

    if url is None and key is None:
        config = DeviceConfig.load(data_home(home) / CONFIG_FILE)
        if config is not None:
            return RelayTarget(config.relay_url, config.relay_key)
        if required:
            fail(
                "which relay? this device is not set up",
                "pass --relay URL --relay-key tg-relay-…, or save them once with: "
                "testigo setup --relay URL --relay-key tg-relay-…",
                EXIT_USAGE,
            )
        return None
    if url is None or key is None:
        fail("--relay and --relay-key go together", "the relay operator gives you both", EXIT_USAGE)
    return RelayTarget(url, key)


@main.command()
@relay_url_option(required=True, help="The relay this device streams to (https://HOST).")
@relay_public_key_option("The relay's public key (tg-relay-...), from its operator.", required=True)
@home_option
def setup(relay_url: str, relay_key: RelayKey, home: Path | None) -> None:
    """Remember the relay, so that a bare `testigo record` streams to it."""
    path = data_home(home) / CONFIG_FILE
    DeviceConfig(relay_url, relay_key).save(path)
    click.echo(f"set up: recordings stream to {relay_url} (relay {relay_key.fingerprint})")
    click.echo(
        f"saved in {path}; record without streaming with: testigo record --offline", err=True
    )


@main.command()
@click.option(
    "--source",
    type=SourceSpec(),
    default="synthetic",
    show_default=True,
    help="camera, camera:N (device index or path), synthetic, or a media FILE.",
)
@output_option("Spool directory; each recording goes in a subdirectory.", directory=True)
@click.option("--duration", type=click.FloatRange(min=0.1), default=None, help="Seconds.")
@resolution_option()
@recorder_option("fps")
@recorder_option("bitrate")
@recorder_option("fragment_seconds")
@recorder_option("keyframe_interval")
@click.option(
    "--location",
    type=LocationSpec(),
    default=None,
    metavar="SPEC",
    help="LAT,LON, gpsd[:HOST:PORT], nmea:PATH or none (default: a gpsd on this machine "
    "if one answers). Sealed like media, never sent in the clear.",
)
@click.option(
    "--microphone",
    type=MicrophoneSpec(),
    default=None,
    metavar="SPEC",
    help="With a camera: pulse:DEVICE, alsa:DEVICE or none (default: the system's, if any).",
)
@device_key_file_option
@relay_url_option(
    required=False,
    help="Stream to this relay while recording (default: the one `testigo setup` saved).",
)
@relay_public_key_option("The relay's public key (tg-relay-...); receipts are checked with it.")
@click.option("--offline", is_flag=True, help="Do not stream, even if set up.")
@https_only_option
@home_option
@passphrase_fd_option
@json_option
def record(
    source: str,
    output: Path,
    duration: float | None,
    resolution: tuple[int, int],
    fps: int,
    bitrate: int,
    fragment_seconds: float,
    keyframe_interval: int | None,
    location: str | None,
    microphone: str | None,
    device_path: Path | None,
    relay_url: str | None,
    relay_key: RelayKey | None,
    offline: bool,
    https_only: bool,
    home: Path | None,
    passphrase_fd: int | None,
    as_json: bool,
) -> None:
    """Record audio and video into sealed chunks in a spool; with a relay, stream them."""
    import asyncio

    from stream.phone.session import RecordOptions
    from stream.phone.session import record as record_session
    from stream.terminal.status_line import StatusLine

    if offline and (relay_url or relay_key):
        fail("--offline and --relay contradict each other", "give one of them", EXIT_USAGE)
    relay_target = None if offline else _relay_target(relay_url, relay_key, home, required=False)
    recipients = _recipients(home)
    device = _load_device(device_path, home, passphrase_fd)
    width, height = resolution
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
    session = record_session(
        options,
        device,
        recipients,
        _stderr_echo,
        StatusLine(_stderr_echo),
        relay=relay_target,
        webrtc=not https_only,
    )
    summary = asyncio.run(session)
    if summary.streamed:
        _report_upload(summary, as_json)
    elif as_json:
        directory = summary.recording
        echo_json(
            {"recording_id": directory.name, "recording": str(directory), **_chunks(directory)}
        )
    else:
        click.echo(f"recording: {summary.recording}")


def _chunks(directory: Path) -> dict[str, object]:
    """What an offline recording holds, from its signatures (no keys needed)."""
    from vault import verify_file

    report = verify_file(directory, None)
    return {
        "status": report.status.value,
        "chunks": report.chunks_valid,
        "final_index": report.final_index,
        "streamed": False,
    }


def _default_receipts(recording: Path) -> Path:
    """A fetched file's sidecar (RECORDING.receipts), or a spooled recording itself (its
    receipts are stored beside its chunks)."""
    if recording.is_dir():
        from vault.spool import find_recording

        return find_recording(recording).directory
    return recording.with_name(recording.name + ".receipts")


def _stderr_echo(line: str) -> None:
    click.echo(line, err=True)


def _report_upload(summary: "RecordingSummary", as_json: bool = False) -> None:
    if as_json:
        echo_json(
            {
                "recording_id": summary.recording.name,
                "recording": str(summary.recording),
                "chunks": summary.chunks,
                "receipted": summary.safe,
                "not_yet_safe": summary.unsafe,
                "first_receipt_s": summary.first_receipt_s,
                "streamed": True,
                "stopped": summary.stopped,
                "failure": None if summary.failure is None else str(summary.failure),
            }
        )
    else:
        click.echo(f"recording: {summary.recording}")
        click.echo(f"receipted: {summary.safe} of {summary.chunks} chunks")
        if summary.first_receipt_s is not None:
            click.echo(f"first receipt: {summary.first_receipt_s:.2f} s after recording started")
    failure = None if summary.failure is None else failure_for(summary.failure)
    if failure is not None and not as_json:
        failure.show(as_json=False)
    if summary.unsafe:
        click.echo(
            f"NOT YET SAFE: {len(summary.unsafe)} chunk(s) only on this device; "
            f"send them later with: testigo upload {summary.recording.parent}",
            err=True,
        )
        sys.exit(EXIT_NOT_SAFE)
    if failure is not None:
        sys.exit(failure.exit_code)


@main.group()
def tokens() -> None:
    """Read tokens this device gives its contacts: minted by the device itself, with a
    fresh proof by its key (docs/PROTOCOL.md §1.1), not by the relay's operator."""


def _device_and_relay(
    device_path: Path | None,
    relay_url: str | None,
    relay_key: RelayKey | None,
    home: Path | None,
    passphrase_fd: int | None,
) -> tuple[DeviceIdentity, "RelayTarget"]:
    target = _relay_target(relay_url, relay_key, home, required=True)
    assert target is not None
    return _load_device(device_path, home, passphrase_fd), target


def _ask_relay(request: Coroutine[object, object, T]) -> T:
    """Run a request to the relay; its refusal or its absence is one clear line."""
    import asyncio

    import aiohttp

    from stream.relay_http import failure_text

    try:
        return asyncio.run(request)
    except RelayError as refused:
        fail(f"the relay refused: {refused}", refused.hint)
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        fail(f"the relay is out of reach: {failure_text(error)}", "check the URL and the network")


@tokens.command("mint")
@device_key_file_option
@relay_url_option(required=False, help="The relay (default: the one `testigo setup` saved).")
@relay_public_key_option("The relay's public key (tg-relay-...).")
@home_option
@passphrase_fd_option
@json_option
def tokens_mint(
    device_path: Path | None,
    relay_url: str | None,
    relay_key: RelayKey | None,
    home: Path | None,
    passphrase_fd: int | None,
    as_json: bool,
) -> None:
    """Mint a read token for one contact (shown once: give it to them alone)."""
    from stream.phone.read_tokens import mint_read_token

    identity, target = _device_and_relay(device_path, relay_url, relay_key, home, passphrase_fd)
    minted = _ask_relay(mint_read_token(target.url, identity, target.key))
    if as_json:
        echo_json(
            {"device": str(identity.public), "token": minted.token, "token_id": minted.token_id}
        )
    else:
        click.echo(minted.token)
    click.echo(
        f"keep it secret: it lets its holder watch and download this device's sealed "
        f"recordings; withdraw it with: testigo tokens revoke {minted.token_id}",
        err=True,
    )


@tokens.command("revoke")
@click.argument("token_id", metavar="TOKEN_ID")
@device_key_file_option
@relay_url_option(required=False, help="The relay (default: the one `testigo setup` saved).")
@relay_public_key_option("The relay's public key (tg-relay-...).")
@home_option
@passphrase_fd_option
def tokens_revoke(
    token_id: str,
    device_path: Path | None,
    relay_url: str | None,
    relay_key: RelayKey | None,
    home: Path | None,
    passphrase_fd: int | None,
) -> None:
    """Withdraw one contact's token (TOKEN_ID, as `tokens mint` printed it); the other
    contacts keep theirs."""
    from stream.phone.read_tokens import withdraw_read_token

    if not re.fullmatch(r"[0-9a-f]{8}", token_id):
        fail(
            f"{token_id!r} is not a token id",
            "a token id is 8 hex digits, e.g. 0a1b2c3d",
            EXIT_USAGE,
        )
    identity, target = _device_and_relay(device_path, relay_url, relay_key, home, passphrase_fd)
    _ask_relay(withdraw_read_token(target.url, identity, target.key, token_id))
    click.echo(f"withdrew token {token_id}; the device's other tokens keep working", err=True)


@main.command()
@click.argument("spool", type=click.Path(file_okay=False, path_type=Path))
@relay_url_option(required=False, help="The relay (default: the one `testigo setup` saved).")
@relay_public_key_option("The relay's public key (tg-relay-...).")
@https_only_option
@home_option
def upload(
    spool: Path,
    relay_url: str | None,
    relay_key: RelayKey | None,
    https_only: bool,
    home: Path | None,
) -> None:
    """Send every chunk in SPOOL that has no relay receipt yet."""
    import asyncio

    from stream.phone.session import upload_spool

    target = _relay_target(relay_url, relay_key, home, required=True)
    assert target is not None
    summaries = asyncio.run(upload_spool(spool, target, _stderr_echo, webrtc=not https_only))
    if not summaries:
        fail(f"no recordings in {spool}", "give the directory passed to testigo record -o")
    for summary in summaries:
        _report_upload(summary)


@main.command()
@click.argument("recording", type=click.Path(path_type=Path))
@identity_option(required=True, help="Your key file.")
@output_option("The playable media file to write.")
@passphrase_fd_option
def decrypt(recording: Path, identity: Path, output: Path, passphrase_fd: int | None) -> None:
    """Decrypt RECORDING into a playable file plus a verification report."""
    from vault.decrypt import decrypt_recording

    refuse_existing(output)
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
    if result.unreadable_metadata:
        chunks = ", ".join(str(i) for i in result.unreadable_metadata)
        warn(
            f"metadata in chunk(s) {chunks} is authentic but not readable (not a JSON "
            "object): kept as unreadable in the metadata file; the media is not affected"
        )
    click.echo(f"media:    {result.media_path} ({result.media_bytes:,} bytes)")
    if result.metadata_path is not None:
        click.echo(f"metadata: {result.metadata_path}")
    click.echo(f"report:   {result.report_path}")
    sys.exit(report.status.exit_code)


@main.command()
@click.argument("recording", type=click.Path(path_type=Path))
@identity_option(
    required=False, help="Also decrypt every chunk with this key (otherwise signatures only)."
)
@relay_public_key_option("Check the relay's receipts, signed by this key (tg-relay-...).")
@click.option(
    "--receipts",
    "receipts_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Receipts file (default: RECORDING.receipts, as testigo fetch saves it).",
)
@json_option
@passphrase_fd_option
def verify(
    recording: Path,
    identity: Path | None,
    relay_key: RelayKey | None,
    receipts_path: Path | None,
    as_json: bool,
    passphrase_fd: int | None,
) -> None:
    """Check that RECORDING (a file or a spool) is authentic and complete.

    Exit codes: 0 complete, 10 incomplete but authentic, 20 tampered or malformed,
    30 not sealed to --identity, 1 other errors.
    """
    from vault import verify_file
    from vault.receipt_check import ReceiptChecker

    identities = [load_recipient_identity(identity, passphrase_fd)] if identity else None
    checker = None
    if relay_key is not None:
        path = receipts_path or _default_receipts(recording)
        checker = ReceiptChecker(relay_key, path)
    elif receipts_path is not None:
        fail(
            "--receipts needs --relay-key", "pass the relay's public key (tg-relay-...)", EXIT_USAGE
        )
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
        echo_json(document)
    else:
        click.echo(format_report(report))
        if receipts is not None:
            click.echo(receipts.text())
    sys.exit(code)


def _started(created_ms: int | None) -> str | None:
    if created_ms is None:
        return None
    return datetime.fromtimestamp(created_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@main.command()
@relay_url_option(required=True, help="The relay that holds the recordings.")
@device_public_key_option
@click.option(
    "--recording",
    "recording_id",
    default=None,
    metavar="ID",
    help="Which recording (default: the latest).",
)
@output_option("Where to save the recording (its receipts go to OUTPUT.receipts).", required=False)
@click.option("--list", "list_only", is_flag=True, help="Only list the device's recordings.")
@token_fd_option
@insecure_option
@json_option
def fetch(
    relay_url: str,
    device: DeviceKey,
    recording_id: str | None,
    output: Path | None,
    list_only: bool,
    token_fd: int | None,
    insecure: bool,
    as_json: bool,
) -> None:
    """Download a sealed recording and its receipts from a relay (for lawyers)."""
    import asyncio

    from stream.contact.fetch import fetch_recording, list_remote

    if not list_only and output is None:
        fail("-o/--output is needed to save the recording", "e.g. -o evidence.tgr", EXIT_USAGE)
    if output is not None:
        refuse_existing(output)
    _refuse_token_in_clear(relay_url, insecure)
    token = _capability_token(token_fd)
    if list_only:
        remotes = asyncio.run(list_remote(relay_url, token, device))
        rows = [
            {
                "recording_id": r.recording_id,
                "chunks": r.chunks,
                "started": _started(r.created_ms),
                "duration_s": r.duration_s,
            }
            for r in remotes
        ]
        if as_json:
            echo_json(rows)
            return
        if not rows:
            click.echo("the relay holds no recording of this device", err=True)
        for row in rows:
            started = row["started"] or "start unknown"
            duration = r"?" if row["duration_s"] is None else f"{row['duration_s']:.0f} s"
            click.echo(f"{row['recording_id']}  {started}  {duration:>7}  {row['chunks']} chunks")
        return
    assert output is not None
    fetched = asyncio.run(fetch_recording(relay_url, token, device, recording_id, output))
    chosen, download, others = fetched
    if as_json:
        echo_json(
            {
                "recording_id": chosen.recording_id,
                "bytes": download.recording_bytes,
                "recording": str(download.recording),
                "receipts": str(download.receipts),
                "others": [r.recording_id for r in others],
            }
        )
        return
    click.echo(f"recording {chosen.recording_id}: {download.recording_bytes:,} bytes")
    click.echo(f"saved:    {download.recording}")
    click.echo(f"receipts: {download.receipts}")
    if recording_id is None and others:
        click.echo(
            f"this was the recording the relay received last; it holds {len(others)} more "
            "of this device: testigo fetch --list, then --recording ID",
            err=True,
        )


def _check_new_file(path: Path) -> None:
    """A file to create: refuse what exists or cannot be made, before anything starts."""
    refuse_existing(path, "recordings")
    if not path.parent.is_dir():
        fail(f"directory {path.parent} does not exist", "create it first, or choose another -o")


@main.command()
@relay_url_option(required=True, help="The relay the device streams to.")
@device_public_key_option
@identity_option(required=True, help="Your contact or lawyer key file.")
@output_option(
    "Write a growing MP4 that a player can follow (later recordings: OUTPUT-2, ...).",
    required=False,
)
@click.option("--once", is_flag=True, help="Stop after one recording ends.")
@click.option("--show-location", is_flag=True, help="Print location updates (sensitive).")
@token_fd_option
@insecure_option
@passphrase_fd_option
def watch(
    relay_url: str,
    device: DeviceKey,
    identity: Path,
    output: Path | None,
    once: bool,
    show_location: bool,
    token_fd: int | None,
    insecure: bool,
    passphrase_fd: int | None,
) -> None:
    """Watch a device's recordings live: wait for the next one (or join one in progress)."""
    import asyncio

    from stream.contact.watch import watch as watch_live
    from stream.contact.watch_text import describe

    if output is not None:
        _check_new_file(output)
    _refuse_token_in_clear(relay_url, insecure)
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
            relay_url,
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


def _check_relay_setting(name: str, text: str) -> None:
    import difflib

    from relay_server.settings import SETTINGS, SettingsError

    by_name = {s.name: s for s in SETTINGS}
    setting = by_name.get(name)
    if setting is None:
        close = difflib.get_close_matches(name, by_name, n=1)
        hint = f"did you mean {close[0]}?" if close else "see the README's relay settings table"
        raise SettingsError(f"unknown setting {name!r}", hint=hint)
    setting.check(setting.parse(text))


def _relay_settings(
    host: str | None,
    port: int | None,
    storage: str | None,
    relay_key: Path | None,
    overrides: tuple[tuple[str, str], ...],
    **shortcuts: Path | None,
) -> "Settings":
    from relay_server.settings import FilesystemLocation, S3Location, Settings, SettingsError

    values = dict(overrides)
    given = {"host": host, "port": port, "storage": storage, "relay_key": relay_key, **shortcuts}
    values.update({name: str(value) for name, value in given.items() if value is not None})
    try:
        settings = Settings.from_strings(values)
    except SettingsError as error:  # settings that contradict each other: a usage error
        fail(str(error), error.hint, EXIT_USAGE)
    location = settings.storage_location
    if isinstance(location, FilesystemLocation) and Path(location.path).is_file():
        fail(
            f"storage {location.path} is a file",
            "give a directory (made if missing) or s3://BUCKET/PREFIX as --storage",
            EXIT_USAGE,
        )
    if isinstance(location, S3Location):
        _check_s3_credentials()
    return settings


def _check_s3_credentials() -> None:
    import boto3

    if boto3.Session().get_credentials() is None:
        fail(
            "no S3 credentials for the s3:// storage",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with "
            "~/.aws/credentials (never in settings)",
        )


storage_option = click.option(
    "--storage", default=None, metavar="DIR|s3://BUCKET/PREFIX", help="Where recordings are kept."
)
relay_key_file_option = click.option(
    "--relay-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Relay key file (default: relay.key).",
)
set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    type=Assignment(_check_relay_setting, "max_webrtc_sessions=40"),
    metavar="NAME=VALUE",
    help="Any relay setting (see the README's relay settings table).",
)


@relay.command("serve")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="0 picks a free one.")
@storage_option
@relay_key_file_option
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Serve HTTPS with this PEM certificate chain (with --tls-key).",
)
@click.option(
    "--tls-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The certificate's unencrypted PEM private key (mode 600).",
)
@set_option
@passphrase_fd_option
def relay_serve(
    host: str | None,
    port: int | None,
    storage: str | None,
    relay_key: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    overrides: tuple[tuple[str, str], ...],
    passphrase_fd: int | None,
) -> None:
    """Run the relay until Ctrl-C. A protected relay key's passphrase is asked for once.

    With --tls-cert and --tls-key it serves HTTPS itself (phones need it for the camera);
    behind a TLS proxy such as Caddy, leave them out."""
    from relay_server.serve import serve

    settings = _relay_settings(
        host, port, storage, relay_key, overrides, tls_cert_file=tls_cert, tls_key_file=tls_key
    )
    serve(settings, passphrase=existing_passphrase(passphrase_fd, settings.relay_key))


@relay.command("keygen")
@output_option("Key file.")
@no_passphrase_option
@passphrase_fd_option
@json_option
@click.pass_context
def relay_keygen(
    context: click.Context,
    output: Path,
    no_passphrase: bool,
    passphrase_fd: int | None,
    as_json: bool,
) -> None:
    """Make the relay's own signing key (same as keygen --role relay)."""
    context.invoke(
        keygen,
        role=Role.RELAY.value,
        output=output,
        no_passphrase=no_passphrase,
        passphrase_fd=passphrase_fd,
        home=None,
        as_json=as_json,
    )


device_argument = click.argument("device", metavar="DEVICE_KEY", type=PublicKeyType(DeviceKey))


OperatorArguments = ParamSpec("OperatorArguments")


def operator_command(
    name: str,
) -> Callable[[Callable[Concatenate["Settings", OperatorArguments], None]], click.Command]:
    """A `testigo relay NAME` command that acts on the relay's storage: --storage,
    --relay-key and --set, given once here, become its first argument, the Settings."""

    def decorate(
        function: Callable[Concatenate["Settings", OperatorArguments], None],
    ) -> click.Command:
        @relay.command(name, help=function.__doc__)
        @storage_option
        @relay_key_file_option
        @set_option
        @functools.wraps(function)
        def command(
            storage: str | None,
            relay_key: Path | None,
            overrides: tuple[tuple[str, str], ...],
            *arguments: OperatorArguments.args,
            **named: OperatorArguments.kwargs,
        ) -> None:
            settings = _relay_settings(None, None, storage, relay_key, overrides)
            function(settings, *arguments, **named)

        return command

    return decorate


@operator_command("enroll")
@device_argument
def relay_enroll(settings: "Settings", device: DeviceKey) -> None:
    """Allow the device DEVICE_KEY (tg-device-...) to upload."""
    import asyncio

    from relay_server.operator import enroll

    added = asyncio.run(enroll(settings, device))
    click.echo(f"{'enrolled' if added else 'already enrolled'}: device {device.fingerprint}")


@operator_command("revoke")
@device_argument
def relay_revoke(settings: "Settings", device: DeviceKey) -> None:
    """Refuse every further upload by DEVICE_KEY (a seized phone whose key may be misused).

    What it uploaded before stays stored and readable with its tokens; receipts show when
    each chunk arrived.
    """
    import asyncio

    from relay_server.operator import revoke

    changed = asyncio.run(revoke(settings, device))
    click.echo(f"{'revoked' if changed else 'already revoked'}: device {device.fingerprint}")


@operator_command("reinstate")
@device_argument
def relay_reinstate(settings: "Settings", device: DeviceKey) -> None:
    """Let the revoked DEVICE_KEY upload again (its phone is back and trusted)."""
    import asyncio

    from relay_server.operator import reinstate

    changed = asyncio.run(reinstate(settings, device))
    click.echo(f"{'reinstated' if changed else 'not revoked'}: device {device.fingerprint}")


@operator_command("devices")
@json_option
def relay_devices(settings: "Settings", as_json: bool) -> None:
    """List the devices this relay knows: enrolled or revoked (and every period it was),
    tokens, alert targets."""
    import asyncio

    from relay_server.enrollment import token_id_of
    from relay_server.operator import devices

    records = asyncio.run(devices(settings))
    if as_json:
        echo_json(
            [
                {
                    "device": str(r.device),
                    "fingerprint": r.device.fingerprint,
                    "enrolled": _started(r.enrolled_ms),
                    "revoked": None if r.revoked_ms is None else _started(r.revoked_ms),
                    "revocations": [
                        {"revoked": _started(p.revoked_ms), "reinstated": _started(p.reinstated_ms)}
                        for p in r.revocations
                    ],
                    "tokens": [token_id_of(h) for h in r.token_hashes],
                    "alerts": [a.to_json() for a in r.alerts],
                }
                for r in records
            ]
        )
        return
    if not records:
        click.echo("no device is enrolled on this relay", err=True)
    for record in records:
        state = (
            "enrolled" if record.revoked_ms is None else f"REVOKED {_started(record.revoked_ms)}"
        )
        tokens = ", ".join(token_id_of(h) for h in record.token_hashes) or "none"
        click.echo(
            f"{record.device.fingerprint}  {state}  since {_started(record.enrolled_ms)}  "
            f"tokens: {tokens}"
        )
        click.echo(f"  {record.device}")
        for alert in record.alerts:
            click.echo(f"  alert: {alert.kind.value} {alert.target}")
        for period in record.revocations:
            until = _started(period.reinstated_ms) or "(still revoked)"
            click.echo(f"  revoked: {_started(period.revoked_ms)} to {until}")


@operator_command("token")
@device_argument
@json_option
def relay_token(settings: "Settings", device: DeviceKey, as_json: bool) -> None:
    """Mint a read token for DEVICE_KEY's recordings (shown once; give it to a lawyer)."""
    import asyncio

    from relay_server.enrollment import parse_token, token_hash, token_id_of
    from relay_server.operator import mint_token

    token = asyncio.run(mint_token(settings, device))
    raw = parse_token(token)
    assert raw is not None
    token_id = token_id_of(token_hash(raw))
    if as_json:
        echo_json(
            {
                "device": str(device),
                "fingerprint": device.fingerprint,
                "token": token,
                "token_id": token_id,
            }
        )
    else:
        click.echo(token)
    click.echo(
        f"keep it secret: it lets its holder download this device's sealed recordings; "
        f"withdraw it with: testigo relay token-revoke {device} {token_id}",
        err=True,
    )


@operator_command("token-revoke")
@device_argument
@click.argument("token_id", metavar="TOKEN_ID")
def relay_token_revoke(settings: "Settings", device: DeviceKey, token_id: str) -> None:
    """Withdraw one read token of DEVICE_KEY by its id (testigo relay devices lists them);
    the device's other tokens keep working."""
    import asyncio

    from relay_server.operator import revoke_token

    if not asyncio.run(revoke_token(settings, device, token_id)):
        fail(
            f"device {device.fingerprint} has no token {token_id}",
            "list its token ids with: testigo relay devices",
        )
    click.echo(f"withdrawn: token {token_id} of device {device.fingerprint}")


def _invite_url(settings: "Settings", url: str | None) -> str:
    """The relay URL of an invite link: --url, else the public_url setting; https://
    (plain http:// only on this machine: the page needs a secure context anyway)."""
    from stream.relay_http import crosses_the_network_in_clear

    relay_url = url or settings.public_url
    if not relay_url:
        fail(
            "no relay URL for the link",
            "give --url https://RELAY (as phones reach it) or set public_url",
            EXIT_USAGE,
        )
    if not relay_url.startswith(("https://", "http://")) or "#" in relay_url or "?" in relay_url:
        fail(
            f"{relay_url!r} is not an https:// URL", "for example https://relay.example", EXIT_USAGE
        )
    if crosses_the_network_in_clear(relay_url):
        fail(
            f"{relay_url} is plain http://: the page would cross the network unencrypted",
            "use the relay's https:// URL",
            EXIT_USAGE,
        )
    return relay_url


@operator_command("invite")
@click.option(
    "--url", default=None, metavar="URL", help="The relay as phones reach it (default: public_url)."
)
@click.option(
    "--expires",
    "expires_s",
    type=Duration(MIN_EXPIRY_S, MAX_EXPIRY_S),
    default=f"{DEFAULT_EXPIRY_S // 3600}h",
    show_default=True,
    metavar="DURATION",
    help="How long the invite is good for (30m, 24h, 7d; at most 7d).",
)
@json_option
def relay_invite(settings: "Settings", url: str | None, expires_s: int, as_json: bool) -> None:
    """Make a one-time invite link (and its QR code) with which a phone enrolls itself.

    The link holds a secret: send it only to the person whose phone it is, over a channel
    you trust. It enrolls one device, once, before it expires.
    """
    import asyncio
    import io

    import segno

    from relay_server.invites import invite_id_of
    from relay_server.operator import create_invite

    relay_url = _invite_url(settings, url)
    invite = asyncio.run(create_invite(settings, relay_url, expires_s))
    invite_id = invite_id_of(invite.record.invite)
    expires = _started(invite.record.expires_ms)
    if as_json:
        echo_json(
            {
                "link": invite.link,
                "invite_id": invite_id,
                "expires": expires,
                "relay": str(invite.relay_key),
                "relay_fingerprint": invite.relay_key.fingerprint,
            }
        )
    else:
        code = io.StringIO()
        segno.make(invite.link, error="m").terminal(out=code, compact=True)
        click.echo(code.getvalue(), nl=False)
        click.echo(invite.link)
    click.echo(
        f"invite {invite_id}: one device, once, until {expires}; relay key "
        f"{invite.relay_key.fingerprint}. Keep the link secret; withdraw it with: "
        f"testigo relay invite-revoke {invite_id}",
        err=True,
    )


@operator_command("invites")
@click.option("--all", "show_all", is_flag=True, help="Also used, expired and withdrawn ones.")
@json_option
def relay_invites(settings: "Settings", show_all: bool, as_json: bool) -> None:
    """List the open invites (with --all: every invite, and its state)."""
    import asyncio

    from relay_server.invites import InviteState
    from relay_server.operator import invites

    found = [i for i in asyncio.run(invites(settings)) if show_all or i.state is InviteState.OPEN]
    if as_json:
        echo_json(
            [
                {
                    "invite_id": i.invite_id,
                    "state": i.state.value,
                    "created": _started(i.record.created_ms),
                    "expires": _started(i.record.expires_ms),
                    "used_by": None if i.used_by is None else str(i.used_by),
                }
                for i in found
            ]
        )
        return
    if not found:
        click.echo("no open invite on this relay" if not show_all else "no invite", err=True)
    for info in found:
        used = f"  by {info.used_by.fingerprint}" if info.used_by is not None else ""
        expires = _started(info.record.expires_ms)
        click.echo(f"{info.invite_id}  {info.state.value}{used}  expires {expires}")


@operator_command("invite-revoke")
@click.argument("invite_id", metavar="INVITE_ID")
def relay_invite_revoke(settings: "Settings", invite_id: str) -> None:
    """Withdraw the invite INVITE_ID (testigo relay invites lists them): its link enrolls
    nobody from now on."""
    import asyncio

    from relay_server.invites import InviteState
    from relay_server.operator import withdraw_invite

    before = asyncio.run(withdraw_invite(settings, invite_id))
    if before.state in (InviteState.OPEN, InviteState.EXPIRED):
        click.echo(f"withdrawn: invite {before.invite_id}")
    elif before.state is InviteState.USED:
        who = before.used_by.fingerprint if before.used_by is not None else "a device"
        fail(
            f"invite {before.invite_id} was already used, by {who}",
            "to stop that device: testigo relay revoke DEVICE_KEY",
        )
    else:
        click.echo(f"already withdrawn: invite {before.invite_id}")


def _check_alert_target(kind: str, target: str) -> None:
    """A target that cannot be one is a usage error, before any storage is touched."""
    from relay_server.enrollment import AlertTarget, AlertTargetError

    try:
        AlertTarget.make(kind, target)
    except AlertTargetError as error:
        fail(str(error), "for example https://hooks.example/testigo or ana@example.org", EXIT_USAGE)


alert_arguments = (
    click.argument("kind", type=click.Choice(["webhook", "email"])),
    click.argument("target"),
)


@operator_command("alert")
@device_argument
@alert_arguments[0]
@alert_arguments[1]
def relay_alert(settings: "Settings", device: DeviceKey, kind: str, target: str) -> None:
    """Alert TARGET (a webhook URL or an email address) when DEVICE_KEY starts recording.

    The alert says only that a recording started and how to watch it: no content, no
    location.
    """
    import asyncio

    from relay_server.operator import add_alert_target

    _check_alert_target(kind, target)

    added = asyncio.run(add_alert_target(settings, device, kind, target))
    click.echo(f"{'added' if added else 'already there'}: {kind} alert for {device.fingerprint}")


@operator_command("alert-remove")
@device_argument
@alert_arguments[0]
@alert_arguments[1]
def relay_alert_remove(settings: "Settings", device: DeviceKey, kind: str, target: str) -> None:
    """Stop alerting TARGET when DEVICE_KEY starts recording."""
    import asyncio

    from relay_server.operator import remove_alert_target

    _check_alert_target(kind, target)

    removed = asyncio.run(remove_alert_target(settings, device, kind, target))
    click.echo(
        f"{'removed' if removed else 'was not there'}: {kind} alert for {device.fingerprint}"
    )


def run() -> None:
    """Entry point: every failure becomes a one-line error with a hint (TestigoGroup)."""
    main()


if __name__ == "__main__":
    run()
