"""The `testigo` command as a user runs it: real processes, real files, real media."""

import json
import os
import subprocess
from pathlib import Path

import av
import pytest

from capture.synthetic import write_synthetic_clip
from tests.cli_run import BOOK, TESTIGO, assert_clean_error, public_key, run_testigo
from vault.keys import RecipientKey


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "camera.mp4"
    write_synthetic_clip(path, seconds=4.0, width=320, height=240, fps=15)
    return path


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory, clip: Path) -> Path:
    """A workspace with a device, a contact, a protected lawyer key and a sealed clip."""
    work = tmp_path_factory.mktemp("work")
    run_testigo("keygen", "--role", "device", "-o", "home/device.key", "--no-passphrase", cwd=work)
    contact = public_key(
        run_testigo("keygen", "--role", "contact", "-o", "ana.key", "--no-passphrase", cwd=work)
    )
    lawyer = public_key(
        run_testigo(
            "keygen",
            "--role",
            "lawyer",
            "-o",
            "lawyer.key",
            cwd=work,
            env={"TESTIGO_PASSPHRASE": "s3cret words"},
        )
    )
    assert run_testigo("contacts", "add", "Ana", contact, cwd=work, env=BOOK).code == 0
    assert (
        run_testigo(
            "contacts", "add", "Counsel", lawyer, "--role", "lawyer", cwd=work, env=BOOK
        ).code
        == 0
    )
    result = run_testigo("seal", str(clip), "-o", "clip.tgr", cwd=work)
    assert result.code == 0, result.err
    return work


def test_keygen_prints_key_and_fingerprint_and_protects_file(tmp_path: Path) -> None:
    passphrase = "a long passphrase"  # spaces: cannot occur by chance in the file's base64
    result = run_testigo(
        "keygen", "--role", "lawyer", "-o", "l.key", cwd=tmp_path,
        env={"TESTIGO_PASSPHRASE": passphrase},
    )  # fmt: skip
    assert public_key(result).startswith("tg-recipient-")
    assert "fingerprint:" in result.out
    assert (tmp_path / "l.key").stat().st_mode & 0o777 == 0o600
    document = json.loads((tmp_path / "l.key").read_text())
    assert document["protection"] == "argon2id"
    assert passphrase not in (tmp_path / "l.key").read_text()


def test_keygen_without_terminal_or_passphrase_refuses(tmp_path: Path) -> None:
    result = run_testigo("keygen", "--role", "lawyer", "-o", "l.key", cwd=tmp_path)
    assert_clean_error(result, 1, "passphrase")
    assert not (tmp_path / "l.key").exists()


def test_keygen_reads_passphrase_from_fd(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"from a pipe\n")
    os.close(write_end)
    done = subprocess.run(
        [*TESTIGO, "keygen", "--role", "contact", "-o", "c.key", "--passphrase-fd", str(read_end)],
        cwd=tmp_path,
        pass_fds=(read_end,),
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "TESTIGO_PASSPHRASE"},
    )
    os.close(read_end)
    assert done.returncode == 0, done.stderr
    result = run_testigo(
        "decrypt",
        "nothing.tgr",
        "--identity",
        "c.key",
        "-o",
        "o.mp4",
        cwd=tmp_path,
        env={"TESTIGO_PASSPHRASE": "wrong"},
    )
    assert_clean_error(result, 1, "wrong passphrase")


def test_keygen_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("precious")
    result = run_testigo("keygen", "--role", "device", "-o", "k", "--no-passphrase", cwd=tmp_path)
    assert_clean_error(result, 1, "already exists")
    assert (tmp_path / "k").read_text() == "precious"


def test_contacts_add_list_remove(tmp_path: Path) -> None:
    key = public_key(
        run_testigo("keygen", "--role", "contact", "-o", "c.key", "--no-passphrase", cwd=tmp_path)
    )
    assert run_testigo("contacts", "add", "Ana", key, cwd=tmp_path, env=BOOK).code == 0
    listed = run_testigo("contacts", "list", "--json", cwd=tmp_path, env=BOOK)
    fingerprint = RecipientKey.parse(key).fingerprint
    assert json.loads(listed.out) == [
        {"name": "Ana", "role": "contact", "recipient": key, "fingerprint": fingerprint}
    ]
    assert_clean_error(
        run_testigo("contacts", "add", "Ana", key, cwd=tmp_path, env=BOOK), 1, "already exists"
    )
    assert run_testigo("contacts", "remove", "Ana", cwd=tmp_path, env=BOOK).code == 0
    assert json.loads(run_testigo("contacts", "list", "--json", cwd=tmp_path, env=BOOK).out) == []
    assert_clean_error(
        run_testigo("contacts", "remove", "Ana", cwd=tmp_path, env=BOOK), 1, "no contact"
    )


def test_contacts_add_catches_a_typo(tmp_path: Path) -> None:
    key = public_key(
        run_testigo("keygen", "--role", "contact", "-o", "c.key", "--no-passphrase", cwd=tmp_path)
    )
    typo = key[:-5] + ("a" if key[-5] != "a" else "b") + key[-4:]
    assert_clean_error(run_testigo("contacts", "add", "Ana", typo, cwd=tmp_path), 2, "checksum")
    device = public_key(
        run_testigo("keygen", "--role", "device", "-o", "d.key", "--no-passphrase", cwd=tmp_path)
    )
    assert_clean_error(run_testigo("contacts", "add", "X", device, cwd=tmp_path), 2, "device key")


def test_verify_without_key_reports_complete(sealed: Path) -> None:
    result = run_testigo("verify", "clip.tgr", "--json", cwd=sealed)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["status"] == "complete"
    assert report["decrypted"] is False
    assert report["recipients"] == 2
    assert report["missing"] == []
    assert report["final_index"] == report["chunks_valid"] - 1


def test_decrypt_writes_playable_mp4_with_timing(sealed: Path, clip: Path) -> None:
    result = run_testigo(
        "decrypt",
        "clip.tgr",
        "--identity",
        "lawyer.key",
        "-o",
        "lawyer.mp4",
        cwd=sealed,
        env={"TESTIGO_PASSPHRASE": "s3cret words"},
    )
    assert result.code == 0, result.err
    with av.open(str(clip)) as original, av.open(str(sealed / "lawyer.mp4")) as decrypted:
        original_times = [frame.time for frame in original.decode(video=0)]
        times = [frame.time for frame in decrypted.decode(video=0)]
    assert len(times) == len(original_times) == 60
    # Within one audio frame (1024 samples at 48 kHz): the fMP4 muxer may shift video
    # by the AAC priming delay. Frame count and spacing are what must not change.
    assert times == pytest.approx(original_times, abs=0.025)
    report = json.loads((sealed / "lawyer.report.json").read_text())
    assert report["status"] == "complete"
    assert report["decrypted"] is True


def test_verify_with_contact_identity_decrypts_every_chunk(sealed: Path) -> None:
    result = run_testigo("verify", "clip.tgr", "--identity", "ana.key", cwd=sealed)
    assert result.code == 0, result.err
    assert "every valid chunk opened" in result.out


def test_wrong_identity_is_not_for_me(sealed: Path) -> None:
    public_key(
        run_testigo(
            "keygen", "--role", "contact", "-o", "stranger.key", "--no-passphrase", cwd=sealed
        )
    )
    result = run_testigo(
        "decrypt", "clip.tgr", "--identity", "stranger.key", "-o", "x.mp4", cwd=sealed
    )
    assert_clean_error(result, 30, "not sealed to")
    assert not (sealed / "x.mp4").exists()


def test_wrong_passphrase(sealed: Path) -> None:
    result = run_testigo(
        "verify",
        "clip.tgr",
        "--identity",
        "lawyer.key",
        cwd=sealed,
        env={"TESTIGO_PASSPHRASE": "guess"},
    )
    assert_clean_error(result, 1, "wrong passphrase")


def test_device_key_cannot_open(sealed: Path) -> None:
    result = run_testigo("verify", "clip.tgr", "--identity", "home/device.key", cwd=sealed)
    assert_clean_error(result, 1, "device key")


def test_missing_file(sealed: Path) -> None:
    assert_clean_error(run_testigo("verify", "nope.tgr", cwd=sealed), 1, "does not exist")


def test_not_a_recording(sealed: Path) -> None:
    (sealed / "notes.txt").write_text("hello")
    assert_clean_error(
        run_testigo("verify", "notes.txt", cwd=sealed), 20, "not a Testigo recording"
    )


def test_corrupted_chunk_is_reported_tampered(sealed: Path) -> None:
    data = bytearray((sealed / "clip.tgr").read_bytes())
    data[len(data) // 2] ^= 0x01
    (sealed / "flipped.tgr").write_bytes(bytes(data))
    result = run_testigo("verify", "flipped.tgr", cwd=sealed)
    assert result.code == 20
    assert "TAMPERED" in result.out
    decrypted = run_testigo(
        "decrypt", "flipped.tgr", "--identity", "ana.key", "-o", "flipped.mp4", cwd=sealed
    )
    assert decrypted.code == 20
    assert (sealed / "flipped.mp4").stat().st_size > 0


def test_cut_recording_is_interrupted_and_still_decrypts(sealed: Path) -> None:
    data = (sealed / "clip.tgr").read_bytes()
    report = json.loads(run_testigo("verify", "clip.tgr", "--json", cwd=sealed).out)
    assert report["chunks_valid"] >= 4
    # Drop the final chunk and the last fragment: a phone seized before they left.
    from vault import read_header
    from vault.archive import iter_chunks
    from vault.verify import RawChunk

    with (sealed / "clip.tgr").open("rb") as stream:
        header, leftover = read_header(stream)
        sizes = [r.size for r in iter_chunks(stream, leftover) if isinstance(r, RawChunk)]
    keep = len(bytes(header)) + sum(sizes[:-2])
    (sealed / "cut.tgr").write_bytes(data[:keep])
    result = run_testigo("verify", "cut.tgr", "--json", cwd=sealed)
    assert result.code == 10
    cut = json.loads(result.out)
    assert cut["status"] == "incomplete"
    assert cut["interrupted_after"] == len(sizes) - 3
    decrypted = run_testigo(
        "decrypt", "cut.tgr", "--identity", "ana.key", "-o", "cut.mp4", cwd=sealed
    )
    assert decrypted.code == 10
    assert "interrupted after chunk" in decrypted.err
    with av.open(str(sealed / "cut.mp4")) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert 0 < frames < 60


def test_seal_refuses_without_recipients(tmp_path: Path, clip: Path) -> None:
    run_testigo(
        "keygen", "--role", "device", "-o", "home/device.key", "--no-passphrase", cwd=tmp_path
    )
    result = run_testigo("seal", str(clip), "-o", "x.tgr", cwd=tmp_path)
    assert_clean_error(result, 1, "nobody to seal to")


def test_seal_rejects_non_media(tmp_path: Path) -> None:
    run_testigo(
        "keygen", "--role", "device", "-o", "home/device.key", "--no-passphrase", cwd=tmp_path
    )
    key = public_key(
        run_testigo("keygen", "--role", "contact", "-o", "c.key", "--no-passphrase", cwd=tmp_path)
    )
    (tmp_path / "junk.mp4").write_bytes(b"this is not a video" * 100)
    result = run_testigo("seal", "junk.mp4", "-o", "x.tgr", "--to", key, cwd=tmp_path)
    assert_clean_error(result, 1, "junk.mp4")
    assert not (tmp_path / "x.tgr").exists()
    assert not list(tmp_path.glob(".x.tgr*"))
