"""What a seized, unlocked phone (or a shared computer) shows to other local users: every
file Testigo writes in the data directory, and every decrypted output, is its owner's
alone (0600, directories 0700)."""

import stat
from pathlib import Path

from tests.cli_run import BOOK, public_key, run_testigo


def modes(root: Path) -> dict[str, int]:
    return {
        str(path.relative_to(root)): stat.S_IMODE(path.stat().st_mode)
        for path in [root, *root.rglob("*")]
    }


def test_the_data_directory_is_private(tmp_path: Path) -> None:
    assert run_testigo("keygen", "--role", "device", "--no-passphrase", cwd=tmp_path).code == 0
    contact = public_key(
        run_testigo("keygen", "--role", "contact", "-o", "ana.key", "--no-passphrase",
                    cwd=tmp_path)
    )  # fmt: skip
    assert run_testigo("contacts", "add", "Ana", contact, cwd=tmp_path, env=BOOK).code == 0
    relay = run_testigo("relay", "keygen", "-o", "relay.key", "--no-passphrase", cwd=tmp_path)
    relay_key = next(w for w in relay.out.split() if w.startswith("tg-relay-"))
    setup = run_testigo(
        "setup", "--relay", "https://relay.example", "--relay-key", relay_key, cwd=tmp_path
    )
    assert setup.code == 0, setup.err
    home = modes(tmp_path / "home")
    assert len(home) >= 4  # the directory, the device key, the contact book, the setup
    for name, mode in home.items():
        expected = 0o700 if (tmp_path / "home" / name).is_dir() else 0o600
        assert mode == expected, (name, oct(mode))


def test_decrypted_evidence_is_private(tmp_path: Path, synthetic_clip: Path) -> None:
    contact = public_key(
        run_testigo("keygen", "--role", "lawyer", "-o", "l.key", "--no-passphrase", cwd=tmp_path)
    )
    assert run_testigo("keygen", "--role", "device", "--no-passphrase", cwd=tmp_path).code == 0
    assert run_testigo("contacts", "add", "Counsel", contact, "--role", "lawyer",
                       cwd=tmp_path, env=BOOK).code == 0  # fmt: skip
    assert run_testigo("seal", str(synthetic_clip), "-o", "clip.tgr", cwd=tmp_path).code == 0
    done = run_testigo("decrypt", "clip.tgr", "--identity", "l.key", "-o", "clip.mp4",
                       cwd=tmp_path)  # fmt: skip
    assert done.code == 0, done.err
    for name in ("clip.mp4", "clip.report.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
