"""The contact book sealed at rest (FORMAT.md §2.4, THREAT_MODEL.md A): what an unlocked
phone shows without the passphrase is how many contacts there are and their public keys,
never their names; recording needs no passphrase; the sealed part refuses a wrong
passphrase and a changed file clearly; a version 1 book (names in the clear) is read and
sealed on its first change."""

import base64
import json
from pathlib import Path

import pytest

from tests.cli_run import BOOK, assert_clean_error, public_key, run_testigo
from vault import errors, generate_identity
from vault.contacts import ContactBook, ContactRole
from vault.errors import MalformedError, TamperedError, WrongPassphraseError
from vault.identity import KdfLimits, Role
from vault.keys import RecipientKey

FAST = KdfLimits(opslimit=1, memlimit=8 * 1024 * 1024)  # the format's minimum: quick tests
# every word long enough not to occur by chance in base64
NAMES = ("Anabel Quintero", "Licenciada Núñez")


def passphrase() -> str:
    return "owner words"


def never() -> str:
    raise AssertionError("the passphrase was asked for")


def new_key() -> RecipientKey:
    return RecipientKey.parse(generate_identity(Role.CONTACT).public_text)


def every_byte(root: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


def assert_no_names(root: Path) -> None:
    data = every_byte(root)
    for name in NAMES:
        for word in name.split():
            for form in (word, word.lower(), word.upper()):
                assert form.encode("utf-8") not in data, form
                assert form.encode("utf-16-le") not in data, form


@pytest.fixture
def book_path(tmp_path: Path) -> Path:
    path = tmp_path / "home" / "contacts.json"
    book = ContactBook.load(path, FAST)
    book.add(NAMES[0], ContactRole.CONTACT, new_key(), passphrase)
    book.add(NAMES[1], ContactRole.LAWYER, new_key(), passphrase)
    return path


def test_names_are_in_no_byte_of_the_data_directory(book_path: Path) -> None:
    assert_no_names(book_path.parent)
    book = ContactBook.load(book_path)
    assert [c.name for c in book.read(passphrase)] == list(NAMES)
    assert [c.role for c in book.read(passphrase)] == [ContactRole.CONTACT, ContactRole.LAWYER]
    assert book.path.stat().st_mode & 0o777 == 0o600


def test_the_recipients_need_no_passphrase(book_path: Path) -> None:
    book = ContactBook.load(book_path)
    assert book.is_sealed
    assert book.recipients == [c.recipient for c in book.read(passphrase)]


def test_a_program_adds_and_removes_contacts(book_path: Path) -> None:
    """What pairing by link will call: the same API as the command line."""
    book = ContactBook.load(book_path)
    key = new_key()
    added = book.add("Paired", ContactRole.CONTACT, key, passphrase)
    assert added.recipient == key
    assert ContactBook.load(book_path).recipients[-1] == key
    assert ContactBook.load(book_path).remove(NAMES[0], passphrase).name == NAMES[0]
    reopened = ContactBook.load(book_path)
    assert [c.name for c in reopened.read(passphrase)] == [NAMES[1], "Paired"]
    with pytest.raises(errors.TestigoError, match="already in the book"):
        reopened.add("Other", ContactRole.CONTACT, key, passphrase)


def test_the_size_says_nothing_of_the_names(tmp_path: Path) -> None:
    sizes = set()
    for name in ("A", "N" * 64, "ñ" * 64):
        path = tmp_path / name[:1] / "contacts.json"
        ContactBook.load(path, FAST).add(name, ContactRole.CONTACT, new_key(), passphrase)
        sizes.add(len(json.loads(path.read_text())["sealed"]["ciphertext"]))
    assert len(sizes) == 1


def test_a_wrong_passphrase_is_refused(book_path: Path) -> None:
    book = ContactBook.load(book_path)
    with pytest.raises(WrongPassphraseError, match="wrong passphrase"):
        book.read(lambda: "not it")
    with pytest.raises(WrongPassphraseError):
        book.add("Eve", ContactRole.CONTACT, new_key(), lambda: "not it")
    assert ContactBook.load(book_path).recipients == book.recipients


def test_a_changed_sealed_part_is_refused(book_path: Path) -> None:
    document = json.loads(book_path.read_text())
    sealed = bytearray(base64.b64decode(document["sealed"]["ciphertext"]))
    sealed[40] ^= 1
    document["sealed"]["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    book_path.write_text(json.dumps(document))
    with pytest.raises(WrongPassphraseError, match="altered"):
        ContactBook.load(book_path).read(passphrase)


def test_a_key_slipped_into_the_clear_part_is_refused(book_path: Path) -> None:
    """Whoever holds the unlocked phone can edit the keys recordings are sealed to; the
    owner's next look at the book says so."""
    document = json.loads(book_path.read_text())
    document["recipients"][1] = str(new_key())
    book_path.write_text(json.dumps(document))
    book = ContactBook.load(book_path)
    with pytest.raises(TamperedError, match="changed outside Testigo"):
        book.read(passphrase)
    with pytest.raises(TamperedError):
        book.add("Eve", ContactRole.CONTACT, new_key(), passphrase)


@pytest.mark.parametrize(
    ("part", "value"),
    [("nonce", "AAAA"), ("ciphertext", "AAAA"), ("ciphertext", "not base64!")],
)
def test_a_broken_sealed_part_is_malformed(book_path: Path, part: str, value: str) -> None:
    document = json.loads(book_path.read_text())
    document["sealed"][part] = value
    book_path.write_text(json.dumps(document))
    with pytest.raises(MalformedError, match="contact book"):
        ContactBook.load(book_path)


def write_version_1(path: Path, keys: list[RecipientKey]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [
        {"name": name, "role": "contact", "recipient": str(key), "added": "2026-11-01T00:00:00Z"}
        for name, key in zip(NAMES, keys, strict=True)
    ]
    path.write_text(json.dumps({"testigo-contacts": 1, "contacts": entries}))


def test_a_version_1_book_is_read_then_sealed_on_its_first_change(tmp_path: Path) -> None:
    path = tmp_path / "home" / "contacts.json"
    keys = [new_key(), new_key()]
    write_version_1(path, keys)
    old = ContactBook.load(path, FAST)
    assert not old.is_sealed
    assert old.recipients == keys
    assert [c.name for c in old.read(never)] == list(NAMES)
    old.add("Third", ContactRole.LAWYER, new_key(), passphrase)
    assert json.loads(path.read_text())["testigo-contacts"] == 2
    assert_no_names(tmp_path)
    migrated = ContactBook.load(path)
    assert migrated.is_sealed
    contacts = migrated.read(passphrase)
    assert [c.name for c in contacts] == [*NAMES, "Third"]
    assert contacts[0].added == "2026-11-01T00:00:00Z"
    assert migrated.recipients[:2] == keys


def test_a_book_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "contacts.json"
    path.write_text(json.dumps({"testigo-contacts": 3}))
    with pytest.raises(MalformedError, match="newer version"):
        ContactBook.load(path)


# The command line: the passphrase from TESTIGO_PASSPHRASE, --passphrase-fd or the prompt.


def contact_key(tmp_path: Path, name: str) -> str:
    return public_key(
        run_testigo("keygen", "--role", "contact", "-o", name, "--no-passphrase", cwd=tmp_path)
    )


def test_the_command_line_lists_names_only_with_the_passphrase(
    tmp_path: Path, synthetic_clip: Path
) -> None:
    key = contact_key(tmp_path, "ana.key")
    first = run_testigo("contacts", "add", NAMES[0], key, cwd=tmp_path)
    assert_clean_error(first, 1, "the contact book needs a passphrase")
    added = run_testigo("contacts", "add", NAMES[0], key, cwd=tmp_path, env=BOOK)
    assert added.code == 0, added.err
    assert "sealed" in added.err
    assert run_testigo("keygen", "--role", "device", "--no-passphrase", cwd=tmp_path).code == 0
    sealed = run_testigo("seal", str(synthetic_clip), "-o", "clip.tgr", cwd=tmp_path)
    assert sealed.code == 0, sealed.err  # recording: no passphrase
    assert_no_names(tmp_path / "home")

    refused = run_testigo("contacts", "list", cwd=tmp_path)
    assert_clean_error(refused, 1, "passphrase")
    assert "--keys-only" in refused.err
    assert NAMES[0] not in refused.out + refused.err
    keys = run_testigo("contacts", "list", "--keys-only", "--json", cwd=tmp_path)
    assert keys.code == 0, keys.err
    assert json.loads(keys.out) == [
        {"recipient": key, "fingerprint": RecipientKey.parse(key).fingerprint}
    ]
    wrong = run_testigo("contacts", "list", cwd=tmp_path, env={"TESTIGO_PASSPHRASE": "nope"})
    assert_clean_error(wrong, 1, "wrong passphrase")
    listed = run_testigo("contacts", "list", cwd=tmp_path, env=BOOK)
    assert listed.code == 0, listed.err
    assert NAMES[0] in listed.out
    assert_clean_error(run_testigo("contacts", "remove", NAMES[0], cwd=tmp_path), 1, "passphrase")


def test_the_command_line_seals_a_version_1_book(tmp_path: Path) -> None:
    path = tmp_path / "home" / "contacts.json"
    write_version_1(path, [new_key(), new_key()])
    listed = run_testigo("contacts", "list", cwd=tmp_path)
    assert listed.code == 0, listed.err
    assert "in the clear" in listed.err
    assert NAMES[1] in listed.out
    removed = run_testigo("contacts", "remove", NAMES[1], cwd=tmp_path, env=BOOK)
    assert removed.code == 0, removed.err
    assert_no_names(tmp_path / "home")
    after = run_testigo("contacts", "list", "--json", cwd=tmp_path, env=BOOK)
    assert [c["name"] for c in json.loads(after.out)] == [NAMES[0]]


def test_a_changed_book_is_one_clear_error(tmp_path: Path) -> None:
    key = contact_key(tmp_path, "ana.key")
    assert run_testigo("contacts", "add", "Ana", key, cwd=tmp_path, env=BOOK).code == 0
    path = tmp_path / "home" / "contacts.json"
    document = json.loads(path.read_text())
    document["recipients"] = [contact_key(tmp_path, "eve.key")]
    path.write_text(json.dumps(document))
    result = run_testigo("contacts", "list", cwd=tmp_path, env=BOOK)
    assert_clean_error(result, 1, "changed outside Testigo")
