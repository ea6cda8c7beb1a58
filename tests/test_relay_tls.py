"""HTTPS served by the relay process itself (`relay serve --tls-cert --tls-key`), and
clients that trust its certificate only when told to (`SSL_CERT_FILE`)."""

import ssl
import urllib.request
from pathlib import Path

import pytest

from relay_server.settings import Settings, SettingsError
from relay_server.tls import TlsError, server_context
from stream import relay_http
from stream.demo.local_relay import LocalRelay, free_port
from stream.phone.transports import HTTPSTransport
from tests.cli_run import Result, assert_clean_error, run_testigo
from tests.relay_fixtures import stream_until_webrtc
from tests.tls_certs import CertificateFiles, make_certificates, new_key, write_key
from vault import DeviceIdentity, RecipientIdentity
from vault.format import ChunkKind
from vault.keys import DeviceKey
from vault.seal import RecordingSealer


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def untrusting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in relay_http.CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def enrolled_device(relay: LocalRelay) -> DeviceIdentity:
    device = DeviceIdentity.generate()
    assert isinstance(device.public, DeviceKey)
    relay.enroll(device.public)
    return device


def serve(tmp_path: Path, *arguments: str) -> Result:
    """`testigo relay serve` that is expected to refuse to start."""
    relay = LocalRelay(tmp_path / "relay")  # only for its key and storage
    return run_testigo(
        "relay", "serve", "--port", "0", "--storage", str(relay.storage),
        "--relay-key", str(relay.key_path), *arguments,
        cwd=tmp_path,
    )  # fmt: skip


# -- the relay process over HTTPS --


@pytest.mark.asyncio
async def test_a_client_that_trusts_the_ca_posts_a_header_over_https(
    tmp_path: Path, certificates: CertificateFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = LocalRelay(tmp_path / "relay", tls=(certificates.cert, certificates.key))
    device = enrolled_device(relay)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
    with relay:
        assert relay.url.startswith("https://127.0.0.1:")
        sealer = RecordingSealer.start(device, [RecipientIdentity.generate().public], "video/mp4")
        async with relay_http.relay_session() as session:
            async with session.get(relay.url + "/healthz") as response:
                assert (response.status, await response.text()) == (200, "ok\n")
            transport = HTTPSTransport(session, relay.url)
            await transport.hello(bytes(sealer.header))
            await transport.submit(0, bytes(sealer.seal(ChunkKind.MEDIA, b"frame")))
            answer = await transport.answer()
        assert answer.receipt is not None, answer
        token = relay.token(device.public)
        listed = run_testigo(
            "fetch", "--relay", relay.url, "--device", str(device.public), "--list", "--json",
            cwd=tmp_path,
            env={"TESTIGO_TOKEN": token, "SSL_CERT_FILE": str(certificates.ca)},
        )  # fmt: skip
    assert listed.code == 0, listed.err
    assert sealer.header.recording_id.hex() in listed.out


@pytest.mark.asyncio
async def test_a_recording_streams_over_webrtc_signalled_over_https(
    tmp_path: Path, certificates: CertificateFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = LocalRelay(tmp_path / "relay", tls=(certificates.cert, certificates.key))
    device = enrolled_device(relay)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
    with relay:
        safe, spool, _uploader, end = await stream_until_webrtc(relay, device, tmp_path / "spool")
    assert any(s.transport == "webrtc" for s in safe)
    assert spool.receipted() == set(range(end.index + 1))


def test_a_client_without_the_ca_names_the_certificate_problem(
    tmp_path: Path, certificates: CertificateFiles, untrusting: None
) -> None:
    relay = LocalRelay(tmp_path / "relay", tls=(certificates.cert, certificates.key))
    device = str(DeviceIdentity.generate().public)
    with relay:
        result = run_testigo(
            "fetch", "--relay", relay.url, "--device", device, "--list",
            cwd=tmp_path, env={"TESTIGO_TOKEN": "t" * 43},
        )  # fmt: skip
        other = make_certificates(tmp_path / "other", "other")
        wrong_ca = run_testigo(
            "fetch", "--relay", relay.url, "--device", device, "--list",
            cwd=tmp_path, env={"TESTIGO_TOKEN": "t" * 43, "SSL_CERT_FILE": str(other.ca)},
        )  # fmt: skip
    assert_clean_error(result, 1, "the relay's TLS certificate is not trusted")
    assert "(self-signed certificate in certificate chain)" in result.err
    assert "hint: the relay's certificate must come from a CA you trust: set SSL_CERT_FILE" in (
        result.err
    )
    assert_clean_error(wrong_ca, 1, "the relay's TLS certificate is not trusted")
    log = relay.log_path.read_text()
    assert "Traceback" not in log
    assert "127.0.0.1" not in log  # failed handshakes leave no client address
    assert f"checked against SSL_CERT_FILE {other.ca}" in wrong_ca.err


def test_https_to_a_plain_relay_says_it_does_not_speak_tls(tmp_path: Path) -> None:
    device = str(DeviceIdentity.generate().public)
    with LocalRelay(tmp_path / "relay") as relay:
        result = run_testigo(
            "fetch", "--relay", relay.url.replace("http://", "https://"), "--device", device,
            "--list", cwd=tmp_path, env={"TESTIGO_TOKEN": "t" * 43},
        )  # fmt: skip
    assert_clean_error(result, 1, "the relay does not speak TLS there (is its URL http://?)")


def test_the_metrics_listener_stays_plain_http(
    tmp_path: Path, certificates: CertificateFiles
) -> None:
    port = free_port()
    relay = LocalRelay(
        tmp_path / "relay",
        settings=(f"metrics_listen=127.0.0.1:{port}",),
        tls=(certificates.cert, certificates.key),
    )
    with relay, urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as got:
        assert got.status == 200  # plain HTTP, on loopback, by design


def test_a_key_its_group_may_read_is_served_with_a_warning(
    tmp_path: Path, certificates: CertificateFiles
) -> None:
    key = tmp_path / "group.key"
    key.write_bytes(certificates.key.read_bytes())
    key.chmod(0o640)  # Debian's ssl-cert convention
    with LocalRelay(tmp_path / "relay", tls=(certificates.cert, key)) as relay:
        assert relay.url.startswith("https://")
    assert "relay.tls_key_group_readable" in relay.log_path.read_text()


# -- refusing to start --


def test_a_certificate_without_a_key_is_a_usage_error(
    tmp_path: Path, certificates: CertificateFiles
) -> None:
    result = serve(tmp_path, "--tls-cert", str(certificates.cert))
    assert_clean_error(result, 2, "tls_cert_file and tls_key_file go together")
    alone = serve(tmp_path, "--set", f"tls_key_file={certificates.key}")
    assert_clean_error(alone, 2, "go together")


def test_a_key_of_another_certificate_is_refused(
    tmp_path: Path, certificates: CertificateFiles
) -> None:
    other = write_key(tmp_path / "other.key", new_key())
    result = serve(tmp_path, "--tls-cert", str(certificates.cert), "--tls-key", str(other))
    assert_clean_error(result, 1, "does not belong to the certificate")


def test_a_world_readable_key_is_refused(tmp_path: Path, certificates: CertificateFiles) -> None:
    key = tmp_path / "open.key"
    key.write_bytes(certificates.key.read_bytes())
    key.chmod(0o644)
    result = serve(tmp_path, "--tls-cert", str(certificates.cert), "--tls-key", str(key))
    assert_clean_error(result, 1, "readable by every user of this machine")
    assert f"chmod 600 {key}" in result.err
    assert "BEGIN" not in result.err


@pytest.mark.parametrize("missing", ["cert", "key"])
def test_a_missing_file_is_named(
    tmp_path: Path, certificates: CertificateFiles, missing: str
) -> None:
    cert = tmp_path / "nothing.pem" if missing == "cert" else certificates.cert
    key = tmp_path / "nothing.pem" if missing == "key" else certificates.key
    result = serve(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key))
    what = "certificate" if missing == "cert" else "key"
    assert_clean_error(result, 1, f"cannot read the TLS {what} {tmp_path / 'nothing.pem'}")


def test_a_file_that_is_not_pem_is_refused(tmp_path: Path, certificates: CertificateFiles) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    result = serve(tmp_path, "--tls-cert", str(junk), "--tls-key", str(certificates.key))
    assert_clean_error(result, 1, "is not a PEM certificate")
    junk.chmod(0o600)
    bad_key = serve(tmp_path, "--tls-cert", str(certificates.cert), "--tls-key", str(junk))
    assert_clean_error(bad_key, 1, "is not a usable PEM private key")


def test_an_encrypted_key_is_refused_without_a_prompt(
    tmp_path: Path, certificates: CertificateFiles
) -> None:
    from cryptography.hazmat.primitives import serialization

    loaded = serialization.load_pem_private_key(certificates.key.read_bytes(), None)
    key = tmp_path / "locked.key"
    key.write_bytes(
        loaded.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"words"),
        )
    )
    key.chmod(0o600)
    result = serve(tmp_path, "--tls-cert", str(certificates.cert), "--tls-key", str(key))
    assert_clean_error(result, 1, "is protected by a passphrase")


# -- the pieces --


def test_the_server_context_wants_tls_1_2_or_later(certificates: CertificateFiles) -> None:
    context = server_context(str(certificates.cert), str(certificates.key))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    with pytest.raises(TlsError):
        server_context(str(certificates.cert), str(certificates.cert))


def test_the_client_context_always_verifies_and_reads_ssl_cert_file_when_used(
    certificates: CertificateFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
    trusting = relay_http.client_ssl_context()
    assert trusting.verify_mode == ssl.CERT_REQUIRED
    assert trusting.check_hostname
    assert trusting.minimum_version == ssl.TLSVersion.TLSv1_2
    subjects = [str(ca["subject"]) for ca in trusting.get_ca_certs()]
    assert any("Testigo test CA (relay)" in subject for subject in subjects)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    assert relay_http.client_ssl_context() is not trusting
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
    assert relay_http.client_ssl_context() is trusting  # made once per CA file


def test_tls_settings_go_together_and_make_the_url_https() -> None:
    with pytest.raises(SettingsError, match="go together"):
        Settings(tls_cert_file="relay.pem")
    settings = Settings(tls_cert_file="relay.pem", tls_key_file="relay.key", port=8443)
    assert settings.relay_url == "https://127.0.0.1:8443"
    assert Settings().relay_url == "http://127.0.0.1:8080"
