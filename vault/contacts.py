"""The device's contact book: who every new recording is sealed to (FORMAT.md §2.4).

The book is one file with two parts. The recipients' public keys are in the clear, so that
recording needs no passphrase; everything else (names, roles, when each was added, and the
list of keys again) is sealed with XChaCha20-Poly1305 under a key derived from the
owner's passphrase with Argon2id. Whoever holds the unlocked phone but not the
passphrase sees how many contacts there are and their public keys, never who they are.

Reading the recipients (`ContactBook.load(...).recipients`) needs nothing; reading the
names (`read`) and every change (`add`, `remove`) take a `PassphraseSource`, so that a
program (pairing by link) adds contacts as the command line does. A change checks the
passphrase against the sealed part first; the first change of a new book, or of a
version 1 book (names in the clear, read as before), seals it with the passphrase given.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Final

from vault import _primitives as p
from vault.atomic import write_file_atomically
from vault.errors import MalformedError, TamperedError, TestigoError, WrongPassphraseError
from vault.identity import KdfLimits, PassphraseSource, normalized
from vault.keys import RecipientKey

PLAIN_VERSION: Final = 1
"""Names in the clear (written before the book was sealed); read, and sealed on a change."""
BOOK_VERSION: Final = 2
MAX_NAME_LENGTH: Final = 64
MAX_CONTACTS: Final = 64  # one header stanza each; FORMAT.md allows 64
ENTRY_SIZE: Final = 512
"""The sealed part is padded to this many bytes per contact, so its size says how many
contacts there are (the clear keys say so anyway) but nothing of their names."""
AD: Final = b"testigo/v1 contact-book"

_LIST_HINT = "see: testigo contacts list"


class ContactRole(StrEnum):
    CONTACT = "contact"
    LAWYER = "lawyer"


@dataclass(frozen=True)
class Contact:
    name: str
    role: ContactRole
    recipient: RecipientKey
    added: str

    def __post_init__(self) -> None:
        if not self.name.strip() or len(self.name) > MAX_NAME_LENGTH:
            raise TestigoError(
                f"a contact name must be 1..{MAX_NAME_LENGTH} characters",
                hint='use a short name you will recognise, e.g. "Ana"',
            )
        if any(not c.isprintable() for c in self.name):
            raise TestigoError(
                "a contact name must be printable", hint="leave out tabs and control characters"
            )

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "role": self.role.value,
            "recipient": str(self.recipient),
            "added": self.added,
        }


@dataclass(frozen=True)
class _Sealed:
    """The sealed part as stored: Argon2id parameters, nonce and ciphertext."""

    limits: KdfLimits
    salt: bytes
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class _Key:
    """The book key derived from the passphrase, with the parameters it was derived with."""

    limits: KdfLimits
    salt: bytes
    key: bytes


class ContactBook:
    """The contact book file; rewritten atomically, and sealed, on every change."""

    def __init__(
        self,
        path: Path,
        recipients: list[RecipientKey],
        sealed: _Sealed | None = None,
        plain: list[Contact] | None = None,
        limits: KdfLimits | None = None,
    ) -> None:
        self.path = path
        self._recipients = recipients
        self._sealed = sealed
        self._plain = plain
        self._limits = limits or KdfLimits()

    @classmethod
    def load(cls, path: Path, limits: KdfLimits | None = None) -> "ContactBook":
        """The book at path (none there: an empty one); no passphrase is needed.

        limits are the Argon2id costs used when this book is sealed for the first time.
        """
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return cls(path, [], limits=limits)
        except OSError as error:
            raise TestigoError(
                f"cannot read the contact book {path}: {error.strerror}",
                hint="check the data directory's permissions (--home)",
            ) from None
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):
            raise MalformedError(f"contact book {path} is not readable JSON") from None
        version = document.get("testigo-contacts") if isinstance(document, dict) else None
        if type(version) is not int or version not in (PLAIN_VERSION, BOOK_VERSION):
            raise MalformedError(f"{path} is not a Testigo contact book, or a newer version")
        if version == PLAIN_VERSION:
            plain = _plain_contacts(path, document.get("contacts"))
            return cls(path, [c.recipient for c in plain], plain=plain, limits=limits)
        return cls(
            path,
            _recipient_list(path, document.get("recipients")),
            sealed=_sealed_part(path, document.get("sealed")),
            limits=limits,
        )

    @property
    def recipients(self) -> list[RecipientKey]:
        """Every contact's public key, in the order they were added: what recordings need."""
        return list(self._recipients)

    @property
    def is_sealed(self) -> bool:
        """True when reading or changing the book needs its passphrase; False when the book
        is new or a version 1 book, and its first change seals it with a new passphrase."""
        return self._sealed is not None

    def read(self, passphrase: PassphraseSource) -> tuple[Contact, ...]:
        """The contacts with their names; passphrase is asked for only if the book is sealed."""
        if self._sealed is None:
            return tuple(self._plain or [])
        _key, contacts = self._open(self._sealed, passphrase)
        return tuple(contacts)

    def add(
        self, name: str, role: ContactRole, recipient: RecipientKey, passphrase: PassphraseSource
    ) -> Contact:
        """Add a contact and seal the book. passphrase opens a sealed book, or seals an
        unsealed one for the first time."""
        key, contacts = self._unlock(passphrase)
        for existing in contacts:
            if existing.name == name:
                raise TestigoError(
                    f"a contact named {name!r} already exists",
                    hint=f"remove it first: testigo contacts remove {name!r}",
                )
            if existing.recipient == recipient:
                raise TestigoError(
                    f"this key is already in the book as {existing.name!r}", hint=_LIST_HINT
                )
        if len(contacts) >= MAX_CONTACTS:
            raise TestigoError(
                f"the contact book holds at most {MAX_CONTACTS} contacts",
                hint="remove one first: testigo contacts remove NAME",
            )
        contact = Contact(name, role, recipient, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self._save(key, [*contacts, contact])
        return contact

    def remove(self, name: str, passphrase: PassphraseSource) -> Contact:
        """Remove the contact named name and seal the book (as `add` does)."""
        key, contacts = self._unlock(passphrase)
        for contact in contacts:
            if contact.name == name:
                self._save(key, [c for c in contacts if c is not contact])
                return contact
        raise TestigoError(f"no contact named {name!r}", hint=_LIST_HINT)

    def _unlock(self, passphrase: PassphraseSource) -> tuple[_Key, list[Contact]]:
        if self._sealed is not None:
            return self._open(self._sealed, passphrase)
        salt = p.random_bytes(p.PWHASH_SALT_SIZE)
        limits = self._limits
        secret = p.password_key(normalized(passphrase()), salt, limits.opslimit, limits.memlimit)
        return _Key(limits, salt, secret), list(self._plain or [])

    def _open(self, sealed: _Sealed, passphrase: PassphraseSource) -> tuple[_Key, list[Contact]]:
        typed = passphrase()
        tries = [normalized(typed)]
        if typed.encode("utf-8") != tries[0]:
            tries.append(typed.encode("utf-8"))
        for attempt in tries:
            secret = p.password_key(
                attempt, sealed.salt, sealed.limits.opslimit, sealed.limits.memlimit
            )
            try:
                plaintext = p.aead_decrypt(secret, sealed.nonce, AD, sealed.ciphertext)
            except p.AuthenticationFailed:
                continue
            contacts = _sealed_contacts(self.path, plaintext)
            if [c.recipient for c in contacts] != self._recipients:
                raise TamperedError(
                    f"the public keys in the contact book {self.path} were changed outside "
                    "Testigo: they do not match its sealed part",
                    hint="new recordings may be sealed to a key you never added; move the "
                    "file away and add your contacts again, comparing fingerprints aloud",
                )
            return _Key(sealed.limits, sealed.salt, secret), contacts
        raise WrongPassphraseError(
            f"the contact book {self.path} did not open: wrong passphrase, or its sealed "
            "part was altered"
        )

    def _save(self, key: _Key, contacts: list[Contact]) -> None:
        inner = json.dumps({"contacts": [c.to_json() for c in contacts]}, ensure_ascii=False)
        padded = inner.encode("utf-8").ljust(ENTRY_SIZE * max(1, len(contacts)), b"\0")
        if len(padded) != ENTRY_SIZE * max(1, len(contacts)):
            raise ValueError("a contact entry is longer than its padded size")
        nonce = p.random_bytes(p.AEAD_NONCE_SIZE)
        document = {
            "testigo-contacts": BOOK_VERSION,
            "recipients": [str(c.recipient) for c in contacts],
            "sealed": {
                "argon2id": {
                    "opslimit": key.limits.opslimit,
                    "memlimit": key.limits.memlimit,
                    "salt": _b64(key.salt),
                },
                "nonce": _b64(nonce),
                "ciphertext": _b64(p.aead_encrypt(key.key, nonce, AD, padded)),
            },
        }
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_file_atomically(
            self.path, (json.dumps(document, indent=2) + "\n").encode(), mode=0o600
        )
        self._recipients = [c.recipient for c in contacts]
        self._sealed = _sealed_part(self.path, document["sealed"])
        self._plain = None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _binary(path: Path, value: object, name: str, size: int | None = None) -> bytes:
    if isinstance(value, str):
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            data = None
        if data is not None and _b64(data) == value and (size is None or len(data) == size):
            return data
    raise MalformedError(f"contact book {path}: '{name}' is missing or not valid base64")


def _integer(path: Path, value: object, name: str) -> int:
    if type(value) is not int:
        raise MalformedError(f"contact book {path}: '{name}' is missing or not an integer")
    return value


def _sealed_part(path: Path, value: object) -> _Sealed:
    if not isinstance(value, dict) or not isinstance(value.get("argon2id"), dict):
        raise MalformedError(f"contact book {path} has no sealed part")
    kdf = value["argon2id"]
    try:
        limits = KdfLimits(
            _integer(path, kdf.get("opslimit"), "opslimit"),
            _integer(path, kdf.get("memlimit"), "memlimit"),
        )
    except ValueError as error:
        raise MalformedError(f"contact book {path}: {error}") from None
    ciphertext = _binary(path, value.get("ciphertext"), "ciphertext")
    if len(ciphertext) < ENTRY_SIZE + p.AEAD_TAG_SIZE or (
        (len(ciphertext) - p.AEAD_TAG_SIZE) % ENTRY_SIZE
    ):
        raise MalformedError(f"contact book {path}: the sealed part has the wrong size")
    return _Sealed(
        limits,
        _binary(path, kdf.get("salt"), "salt", p.PWHASH_SALT_SIZE),
        _binary(path, value.get("nonce"), "nonce", p.AEAD_NONCE_SIZE),
        ciphertext,
    )


def _recipient_list(path: Path, value: object) -> list[RecipientKey]:
    if not isinstance(value, list) or len(value) > MAX_CONTACTS:
        raise MalformedError(f"contact book {path} has no list of recipients")
    try:
        keys = [RecipientKey.parse(item) for item in value if isinstance(item, str)]
    except MalformedError:
        raise MalformedError(f"contact book {path} holds a broken recipient key") from None
    if len(keys) != len(value) or [str(k) for k in keys] != value or len(set(keys)) != len(keys):
        raise MalformedError(f"contact book {path} holds a broken or repeated recipient key")
    return keys


def _contact(path: Path, entry: object) -> Contact:
    if not isinstance(entry, dict):
        raise MalformedError(f"contact book {path} has a broken entry")
    try:
        return Contact(
            name=str(entry["name"]),
            role=ContactRole(str(entry["role"])),
            recipient=RecipientKey.parse(str(entry["recipient"])),
            added=str(entry.get("added", "")),
        )
    except (KeyError, ValueError):
        raise MalformedError(f"contact book {path} has a broken entry") from None


def _plain_contacts(path: Path, entries: object) -> list[Contact]:
    if not isinstance(entries, list):
        raise MalformedError(f"contact book {path} has no contact list")
    return [_contact(path, entry) for entry in entries]


def _sealed_contacts(path: Path, plaintext: bytes) -> list[Contact]:
    try:
        document = json.loads(plaintext.rstrip(b"\0").decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedError(f"contact book {path}: the sealed part is not JSON") from None
    if not isinstance(document, dict):
        raise MalformedError(f"contact book {path}: the sealed part has no contact list")
    return _plain_contacts(path, document.get("contacts"))
