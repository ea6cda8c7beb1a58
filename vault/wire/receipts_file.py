"""The receipts file (docs/PROTOCOL.md §2.1): a magic line, then receipts back to back.

The relay streams it (GET …/receipts); `testigo fetch` saves it beside the recording and
`testigo verify --relay-key` reads it.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from vault.errors import MalformedError
from vault.receipts import RECEIPT_SIZE, REVOCATION_MAGIC, Receipt, RevocationStatement

RECEIPTS_FILE_MAGIC: Final = b"testigo-receipts/v1\n"


def encode_receipts_file(receipts: Iterable[bytes]) -> bytes:
    return RECEIPTS_FILE_MAGIC + b"".join(receipts)


def parse_receipts_file(data: bytes) -> Iterator[Receipt]:
    """The receipts of a receipts file (§2.1), its revocation statements checked for form
    and skipped; MalformedError on bad framing or a damaged record."""
    if not data.startswith(RECEIPTS_FILE_MAGIC):
        raise MalformedError("not a Testigo receipts file")
    body = memoryview(data)[len(RECEIPTS_FILE_MAGIC) :]
    if len(body) % RECEIPT_SIZE:
        raise MalformedError("receipts file is truncated")
    for offset in range(0, len(body), RECEIPT_SIZE):
        record = bytes(body[offset : offset + RECEIPT_SIZE])
        if record.startswith(REVOCATION_MAGIC):
            RevocationStatement.parse(record)
        else:
            yield Receipt.parse(record)


@dataclass(frozen=True)
class ReceiptsFile:
    """What a receipts file holds: receipts, the relay's revocation statements for the
    device (one per period it had it revoked), and how many records were damaged."""

    receipts: tuple[Receipt, ...]
    revocations: tuple[RevocationStatement, ...]
    damaged: int


def read_receipts_file(data: bytes) -> ReceiptsFile:
    """Every record of a receipts file that parses, and how many did not (a damaged
    record, or a cut-off tail): one bad record never costs the others. Only a file
    without the magic line is refused (MalformedError)."""
    if not data.startswith(RECEIPTS_FILE_MAGIC):
        raise MalformedError("not a Testigo receipts file")
    body = memoryview(data)[len(RECEIPTS_FILE_MAGIC) :]
    receipts: list[Receipt] = []
    revocations: list[RevocationStatement] = []
    bad = 1 if len(body) % RECEIPT_SIZE else 0
    for offset in range(0, len(body) - len(body) % RECEIPT_SIZE, RECEIPT_SIZE):
        record = bytes(body[offset : offset + RECEIPT_SIZE])
        try:
            if record.startswith(REVOCATION_MAGIC):
                revocations.append(RevocationStatement.parse(record))
            else:
                receipts.append(Receipt.parse(record))
        except MalformedError:
            bad += 1
    return ReceiptsFile(tuple(receipts), tuple(revocations), bad)
