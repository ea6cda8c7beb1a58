"""Every way `testigo` refuses: one line `testigo: error: …`, the right hint, the right code.

Most cases run in this process through click's CliRunner; `relay serve` runs as a real
process, since serving changes process-wide state (logging, aiortc's host candidates).
"""

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from cli import main
from stream.demo.local_relay import cli_command
from stream.terminal.errors import failure_for
from vault.identity import Role, generate_identity, save_identity

NO_SECRETS = {"TESTIGO_PASSPHRASE": None, "TESTIGO_TOKEN": None}
BOOK: dict[str, str | None] = {"TESTIGO_PASSPHRASE": "contact book words"}


def cli_run(*arguments: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, list(arguments), env={**NO_SECRETS, **(env or {})})


def assert_refused(result: Result, code: int, words: str, hint: str = "") -> None:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.splitlines()
    errors = [x for x in lines if x.startswith("testigo: error: ")]
    assert len(errors) == 1, result.stderr
    assert words in errors[0], errors[0]
    hints = [x for x in lines if x.startswith("hint: ")]
    assert len(hints) == 1, result.stderr
    assert hint in hints[0], hints[0]


def key_file(path: Path, role: Role, passphrase: str | None = None) -> str:
    stored = generate_identity(role)
    save_identity(path, stored, passphrase)
    return stored.public_text


@pytest.fixture
def device_text(tmp_path: Path) -> str:
    return generate_identity(Role.DEVICE).public_text


class FakeServer(BaseHTTPRequestHandler):
    """Answers every GET with the class's status and body: a web server, not a relay."""

    status = 404
    body = b"<html><body>Not Found</body></html>"
    content_type = "text/html"

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        """Silent."""


def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def web_server() -> Iterator[str]:
    yield from serving(FakeServer)


def test_a_url_without_scheme_says_how_to_write_it(device_text: str) -> None:
    result = cli_run("fetch", "--relay", "relay.example", "--device", device_text, "--list")
    assert_refused(result, 2, "has no scheme", "https://relay.example")


def test_a_bad_token_fd_is_called_a_token(device_text: str) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    os.close(write_end)
    result = cli_run(
        "fetch", "--relay", "http://127.0.0.1:9", "--device", device_text, "--list",
        "--token-fd", str(read_end),
    )  # fmt: skip
    assert_refused(result, 1, "cannot read a capability token", "--token-fd")
    assert "passphrase" not in result.stderr


def test_a_web_server_that_is_no_relay_is_named_so(web_server: str, device_text: str) -> None:
    result = cli_run(
        "fetch", "--relay", web_server, "--device", device_text, "--list",
        env={"TESTIGO_TOKEN": "tg-token-whatever"},
    )  # fmt: skip
    assert_refused(result, 1, "is not a Testigo relay", "--relay URL")
    assert "try again later" not in result.stderr


@pytest.mark.parametrize("command", ["fetch", "watch"])
def test_a_token_is_not_sent_in_clear_across_the_network(
    command: str, device_text: str, tmp_path: Path
) -> None:
    extra = ["--list"] if command == "fetch" else ["--identity", str(tmp_path / "none.key")]
    result = cli_run(
        command, "--relay", "http://relay.example:8080", "--device", device_text, *extra,
        env={"TESTIGO_TOKEN": "tg-token-whatever"},
    )  # fmt: skip
    assert_refused(result, 2, "the token would cross the network unencrypted", "https://")


def test_plain_http_is_fine_on_this_machine() -> None:
    from stream.relay_http import crosses_the_network_in_clear as in_clear

    assert not in_clear("http://127.0.0.1:8080")
    assert not in_clear("http://[::1]:8080")
    assert not in_clear("http://localhost:8080")
    assert not in_clear("https://relay.example")
    assert in_clear("http://relay.example")
    assert in_clear("http://10.0.0.2:8080")  # a LAN is a network too


class Listing(FakeServer):
    status = 200
    content_type = "application/json"
    body = json.dumps(
        {
            "recordings": [
                {
                    "recording_id": "ab" * 16,
                    "chunks": 12,
                    "created_ms": 1_700_000_000_000,
                    "last_time_ms": 1_700_000_011_000,
                }
            ]
        }
    ).encode()


def test_fetch_list_shows_start_and_duration_also_as_json(device_text: str) -> None:
    for url in serving(Listing):
        arguments = ["fetch", "--relay", url, "--device", device_text, "--list"]
        env: dict[str, str | None] = {"TESTIGO_TOKEN": "tg-token-whatever"}
        text = cli_run(*arguments, env=env)
        listed = cli_run(*arguments, "--json", env=env)
    assert text.exit_code == 0, text.output
    assert "2023-11-14T22:13:20Z" in text.stdout
    assert "11 s" in text.stdout
    assert json.loads(listed.stdout) == [
        {
            "recording_id": "ab" * 16,
            "chunks": 12,
            "started": "2023-11-14T22:13:20Z",
            "duration_s": 11.0,
        }
    ]


def test_a_file_is_no_storage(tmp_path: Path, device_text: str) -> None:
    (tmp_path / "storage").write_text("not a directory")
    result = cli_run("relay", "enroll", device_text, "--storage", str(tmp_path / "storage"))
    assert_refused(result, 2, "is a file", "give a directory")


def test_s3_storage_without_credentials_says_which_variables(device_text: str) -> None:
    missing = {
        name: None
        for name in (
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        )
    }  # fmt: skip
    nowhere = {
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
        "AWS_CONFIG_FILE": "/nonexistent/config",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = cli_run(
        "relay", "enroll", device_text, "--storage", "s3://bucket/prefix",
        env={**missing, **nowhere},
    )  # fmt: skip
    assert_refused(result, 1, "no S3 credentials", "AWS_ACCESS_KEY_ID")


def test_an_unknown_relay_setting_suggests_the_right_name(device_text: str) -> None:
    result = cli_run("relay", "enroll", device_text, "--set", "max_webrtc_sesions=3")
    assert_refused(result, 2, "unknown setting", "max_webrtc_sessions")


def test_an_empty_media_file_is_called_empty_not_an_ffmpeg_errno(tmp_path: Path) -> None:
    key_file(tmp_path / "device.key", Role.DEVICE)
    recipient = generate_identity(Role.CONTACT).public_text
    (tmp_path / "empty.mp4").write_bytes(b"")
    result = cli_run(
        "seal", str(tmp_path / "empty.mp4"), "-o", str(tmp_path / "x.tgr"),
        "--to", recipient, "--home", str(tmp_path),
    )  # fmt: skip
    assert_refused(result, 1, "is empty (0 bytes)")
    assert "Errno" not in result.stderr


def test_a_jpeg_is_not_taken_for_nmea(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200))
    result = cli_run("record", "-o", "s", "--location", f"nmea:{tmp_path / 'photo.jpg'}")
    assert_refused(result, 2, "is not a file of NMEA sentences", "nmea:PATH")


def test_an_out_of_range_location_says_out_of_range(tmp_path: Path) -> None:
    result = cli_run("record", "-o", "s", "--location", "91,0")
    assert_refused(result, 2, "latitude must be within -90..90")
    assert "decimal degrees" not in result.stderr


def test_a_source_that_is_no_camera_nor_file_is_a_usage_error(tmp_path: Path) -> None:
    result = cli_run("record", "-o", "s", "--source", str(tmp_path / "nope.mp4"))
    assert_refused(result, 2, "is not camera, synthetic or an existing file", "--source camera")
    folder = cli_run("record", "-o", "s", "--source", str(tmp_path))
    assert_refused(folder, 2, "is a directory")


def test_clicks_own_usage_errors_take_the_same_form() -> None:
    assert_refused(cli_run("record", "--bogus"), 2, "no such option", "testigo record --help")
    assert_refused(cli_run("decrypt", "x.tgr"), 2, "missing option", "testigo decrypt --help")
    assert_refused(cli_run("nonsense"), 2, "no such command", "testigo --help")


def test_interrupts_and_closed_input_are_errors_with_hints() -> None:
    def aborted(cause: BaseException) -> click.Abort:
        abort = click.Abort()
        abort.__cause__ = cause
        return abort

    interrupted = failure_for(aborted(KeyboardInterrupt()))
    assert interrupted is not None
    assert (interrupted.message, interrupted.exit_code) == ("interrupted", 130)
    assert interrupted.hint
    closed = failure_for(aborted(EOFError()))
    assert closed is not None
    assert "input ended" in closed.message
    assert closed.hint


def test_json_errors_are_json_on_stdout_too() -> None:
    result = cli_run("record", "-o", "s", "--fps", "0", "--json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["exit_code"] == 2
    assert "--fps" in document["error"]
    assert document["hint"]
    assert result.stderr.startswith("testigo: error: ")


def test_keygen_warns_about_a_one_character_passphrase(tmp_path: Path) -> None:
    short = cli_run("keygen", "--role", "contact", "-o", str(tmp_path / "a.key"),
                    env={"TESTIGO_PASSPHRASE": "x"})  # fmt: skip
    assert short.exit_code == 0, short.output
    assert "testigo: warning: the passphrase has only 1 character" in short.stderr
    long = cli_run("keygen", "--role", "contact", "-o", str(tmp_path / "b.key"),
                   env={"TESTIGO_PASSPHRASE": "several plain words"})  # fmt: skip
    assert long.exit_code == 0, long.output
    assert "warning" not in long.stderr


def test_keygen_json_and_the_device_key_default_place(tmp_path: Path) -> None:
    result = cli_run("keygen", "--role", "device", "--no-passphrase", "--json",
                     "--home", str(tmp_path / "home"))  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["path"] == str(tmp_path / "home" / "device.key")
    assert document["public_key"].startswith("tg-device-")
    assert document["protected"] is False
    assert (tmp_path / "home" / "device.key").exists()
    other = cli_run("keygen", "--role", "lawyer", "--no-passphrase")
    assert_refused(other, 2, "needs -o/--output", "-o lawyer.key")


def test_a_missing_device_key_points_at_the_existing_one_first(tmp_path: Path) -> None:
    recipient = generate_identity(Role.CONTACT).public_text
    added = cli_run("contacts", "add", "Ana", recipient, "--home", str(tmp_path), env=BOOK)
    assert added.exit_code == 0, added.output
    result = cli_run("record", "-o", str(tmp_path / "s"), "--home", str(tmp_path), "--offline")
    assert_refused(result, 1, f"no device key at {tmp_path / 'device.key'}", "--device PATH")


def test_setup_is_used_by_upload_and_record(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    (tmp_path / "spool").mkdir()
    relay = generate_identity(Role.RELAY).public_text
    unset = cli_run("upload", str(tmp_path / "spool"), "--home", home)
    assert_refused(unset, 2, "not set up", "testigo setup --relay URL")
    done = cli_run("setup", "--relay", "https://relay.example/", "--relay-key", relay,
                   "--home", home)  # fmt: skip
    assert done.exit_code == 0, done.output
    saved = json.loads((tmp_path / "home" / "config.json").read_text())
    assert saved["relay_url"] == "https://relay.example"
    assert saved["relay_key"] == relay
    uploaded = cli_run("upload", str(tmp_path / "spool"), "--home", home)
    assert_refused(uploaded, 1, "no recordings in")
    half = cli_run("upload", str(tmp_path / "spool"), "--home", home, "--relay-key", relay)
    assert_refused(half, 2, "--relay and --relay-key go together")


def test_setup_refuses_a_device_key_for_the_relay(tmp_path: Path, device_text: str) -> None:
    result = cli_run("setup", "--relay", "https://r.example", "--relay-key", device_text,
                     "--home", str(tmp_path))  # fmt: skip
    assert_refused(result, 2, "this is a device key, not a relay key", "tg-relay-")
    assert not (tmp_path / "config.json").exists()


def test_watch_refuses_an_existing_output_or_a_directory_before_connecting(
    tmp_path: Path, device_text: str
) -> None:
    (tmp_path / "live.mp4").write_bytes(b"precious")
    common = ["watch", "--relay", "http://127.0.0.1:9", "--device", device_text,
              "--identity", str(tmp_path / "none.key")]  # fmt: skip
    existing = cli_run(*common, "-o", str(tmp_path / "live.mp4"))
    assert_refused(existing, 1, "already exists", "never overwritten")
    assert (tmp_path / "live.mp4").read_bytes() == b"precious"
    directory = cli_run(*common, "-o", str(tmp_path))
    assert_refused(directory, 2, "is a directory")
    nowhere = cli_run(*common, "-o", str(tmp_path / "no" / "live.mp4"))
    assert_refused(nowhere, 1, "does not exist")


def test_relay_token_json(tmp_path: Path, device_text: str) -> None:
    storage = str(tmp_path / "storage")
    assert cli_run("relay", "enroll", device_text, "--storage", storage).exit_code == 0
    result = cli_run("relay", "token", device_text, "--storage", storage, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["device"] == device_text
    assert document["token"].startswith("tg-token-")
    assert document["fingerprint"]


def serve_relay(
    tmp_path: Path, *arguments: str, passphrase: bytes | None
) -> "subprocess.CompletedProcess[str]":
    """`relay serve` on an address that cannot be bound, after opening its key."""
    read_end, write_end = os.pipe()
    os.write(write_end, passphrase or b"")
    os.close(write_end)
    try:
        return subprocess.run(
            [*cli_command(), "relay", "serve", "--storage", str(tmp_path / "storage"),
             "--relay-key", str(tmp_path / "relay.key"), *arguments,
             "--passphrase-fd", str(read_end)],
            pass_fds=(read_end,), capture_output=True, text=True, check=False, timeout=60,
            env={k: v for k, v in os.environ.items() if k != "TESTIGO_PASSPHRASE"},
        )  # fmt: skip
    finally:
        os.close(read_end)


def test_relay_serve_reads_its_passphrase_from_a_descriptor(tmp_path: Path) -> None:
    key_file(tmp_path / "relay.key", Role.RELAY, "relay passphrase words")
    wrong = serve_relay(tmp_path, "--host", "256.0.0.1", passphrase=b"guess\n")
    assert wrong.returncode == 1
    assert "wrong passphrase" in wrong.stderr
    right = serve_relay(tmp_path, "--host", "256.0.0.1", passphrase=b"relay passphrase words\n")
    assert right.returncode == 1, right.stderr
    assert "testigo: error: cannot listen on 256.0.0.1" in right.stderr
    assert "hint: --host must be an address of this machine" in right.stderr
    assert "--port" not in right.stderr


def test_relay_serve_checks_its_storage_before_it_says_it_listens(tmp_path: Path) -> None:
    key_file(tmp_path / "relay.key", Role.RELAY)
    (tmp_path / "storage").mkdir()
    (tmp_path / "storage" / "relay").write_text("a file where the relay keeps a directory")
    done = serve_relay(tmp_path, passphrase=None)
    assert done.returncode == 1, done.stderr
    assert "relay listening" not in done.stdout
    assert "testigo: error: the storage does not work" in done.stderr
    assert "hint: check --storage" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("spec", ["usb", "pulse:", "alsa:", "none:x"])
def test_a_bad_microphone_is_a_usage_error(spec: str) -> None:
    result = cli_run("record", "--source", "camera", "-o", "spool", "--microphone", spec)
    assert_refused(result, 2, "is not a microphone", "pulse:DEVICE")


@pytest.mark.parametrize(
    ("kind", "target", "words"),
    [("webhook", "ftp://example.org/x", "http:// or https://"), ("email", "nobody", "one address")],
)
def test_a_bad_alert_target_is_a_usage_error(
    tmp_path: Path, device_text: str, kind: str, target: str, words: str
) -> None:
    for command in ("alert", "alert-remove"):
        result = cli_run(
            "relay", command, device_text, kind, target, "--storage", str(tmp_path / "storage")
        )
        assert_refused(result, 2, words, "hooks.example")
    assert not (tmp_path / "storage").exists()  # refused before touching the storage


def test_relay_invite_prints_a_link_and_its_qr_code(tmp_path: Path) -> None:
    from vault.wire.invite import InviteLink

    relay_text = key_file(tmp_path / "relay.key", Role.RELAY)
    common = ["--storage", str(tmp_path / "storage"), "--relay-key", str(tmp_path / "relay.key")]
    result = cli_run("relay", "invite", "--url", "https://relay.example", *common)
    assert result.exit_code == 0, result.output
    *qr_lines, link = result.stdout.splitlines()
    assert len(qr_lines) > 10
    assert all(set(line) <= set(" █▀▄") for line in qr_lines)
    invite = InviteLink.parse(link)
    assert link.startswith("https://relay.example/app/phone/#invite=")
    assert str(invite.relay_key) == relay_text
    assert b64url_text(invite.secret) not in result.stderr  # said once, on stdout
    invite_id = result.stderr.split("invite ", 1)[1].split(":", 1)[0]
    listed = cli_run("relay", "invites", "--json", *common)
    assert [i["invite_id"] for i in json.loads(listed.stdout)] == [invite_id]
    assert cli_run("relay", "invite-revoke", invite_id, *common).exit_code == 0
    assert json.loads(cli_run("relay", "invites", "--json", *common).stdout) == []
    states = json.loads(cli_run("relay", "invites", "--all", "--json", *common).stdout)
    assert [i["state"] for i in states] == ["withdrawn"]
    assert_refused(cli_run("relay", "invite-revoke", "ffffffff", *common), 1, "no invite")


def b64url_text(data: bytes) -> str:
    from vault.wire.invite import b64url

    return b64url(data)


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (("--url", "https://relay.example", "--expires", "8d"), "outside"),
        (("--url", "https://relay.example", "--expires", "10"), "not a duration"),
        (("--url", "http://relay.example"), "plain http://"),
        ((), "no relay URL"),
    ],
)
def test_relay_invite_refuses_bad_options(
    tmp_path: Path, arguments: tuple[str, ...], words: str
) -> None:
    key_file(tmp_path / "relay.key", Role.RELAY)
    common = ["--storage", str(tmp_path / "storage"), "--relay-key", str(tmp_path / "relay.key")]
    result = cli_run("relay", "invite", *arguments, *common)
    assert_refused(result, 2, words)
    assert not (tmp_path / "storage" / "invites").exists()
