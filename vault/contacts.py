"""The device's contact book: who every new recording is sealed to (FORMAT.md §2.4)."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Final

from vault.atomic import write_file_atomically
from vault.errors import MalformedError, TestigoError
from vault.keys import RecipientKey

BOOK_VERSION: Final = 1
MAX_NAME_LENGTH: Final = 64
MAX_CONTACTS: Final = 64  # one header stanza each; FORMAT.md allows 64


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


class ContactBook:
    """A JSON file of contacts, rewritten atomically on every change."""

    def __init__(self, path: Path, contacts: list[Contact]) -> None:
        self.path = path
        self._contacts = contacts

    @classmethod
    def load(cls, path: Path) -> "ContactBook":
        if not path.exists():
            return cls(path, [])
        try:
            document = json.loads(path.read_bytes())
        except (OSError, ValueError):
            raise MalformedError(f"contact book {path} is not readable JSON") from None
        if not isinstance(document, dict) or document.get("testigo-contacts") != BOOK_VERSION:
            raise MalformedError(f"{path} is not a Testigo contact book")
        entries = document.get("contacts")
        if not isinstance(entries, list):
            raise MalformedError(f"contact book {path} has no contact list")
        contacts = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise MalformedError(f"contact book {path} has a broken entry")
            try:
                contacts.append(
                    Contact(
                        name=str(entry["name"]),
                        role=ContactRole(str(entry["role"])),
                        recipient=RecipientKey.parse(str(entry["recipient"])),
                        added=str(entry.get("added", "")),
                    )
                )
            except (KeyError, ValueError):
                raise MalformedError(f"contact book {path} has a broken entry") from None
        return cls(path, contacts)

    @property
    def contacts(self) -> tuple[Contact, ...]:
        return tuple(self._contacts)

    @property
    def recipients(self) -> list[RecipientKey]:
        return [c.recipient for c in self._contacts]

    def add(self, name: str, role: ContactRole, recipient: RecipientKey) -> Contact:
        for existing in self._contacts:
            if existing.name == name:
                raise TestigoError(
                    f"a contact named {name!r} already exists",
                    hint=f"remove it first: testigo contacts remove {name!r}",
                )
            if existing.recipient == recipient:
                raise TestigoError(
                    f"this key is already in the book as {existing.name!r}",
                    hint="see: testigo contacts list",
                )
        if len(self._contacts) >= MAX_CONTACTS:
            raise TestigoError(
                f"the contact book holds at most {MAX_CONTACTS} contacts",
                hint="remove one first: testigo contacts remove NAME",
            )
        contact = Contact(name, role, recipient, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self._contacts.append(contact)
        self._save()
        return contact

    def remove(self, name: str) -> Contact:
        for contact in self._contacts:
            if contact.name == name:
                self._contacts.remove(contact)
                self._save()
                return contact
        raise TestigoError(f"no contact named {name!r}", hint="see: testigo contacts list")

    def _save(self) -> None:
        document = {
            "testigo-contacts": BOOK_VERSION,
            "contacts": [
                {
                    "name": c.name,
                    "role": c.role.value,
                    "recipient": str(c.recipient),
                    "added": c.added,
                }
                for c in self._contacts
            ],
        }
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_file_atomically(
            self.path, (json.dumps(document, indent=2) + "\n").encode(), mode=0o600
        )
