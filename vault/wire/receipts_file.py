"""The receipts file (docs/PROTOCOL.md §2.1): a magic line, then receipts back to back.

The relay streams it (GET …/receipts); `testigo fetch` saves it beside the recording and
`testigo verify --relay-key` reads it.
"""

from collections.abc import Iterable, Iterator
from typing import Final

from vault.errors import MalformedError
from vault.receipts import RECEIPT_SIZE, Receipt

RECEIPTS_FILE_MAGIC: Final = b"testigo-receipts/v1\n"


def encode_receipts_file(receipts: Iterable[bytes]) -> bytes:
    return RECEIPTS_FILE_MAGIC + b"".join(receipts)


def parse_receipts_file(data: bytes) -> Iterator[Receipt]:
    """The receipts of a receipts file (§2.1); MalformedError on bad framing."""
    if not data.startswith(RECEIPTS_FILE_MAGIC):
        raise MalformedError("not a Testigo receipts file")
    body = memoryview(data)[len(RECEIPTS_FILE_MAGIC) :]
    if len(body) % RECEIPT_SIZE:
        raise MalformedError("receipts file is truncated")
    for offset in range(0, len(body), RECEIPT_SIZE):
        yield Receipt.parse(bytes(body[offset : offset + RECEIPT_SIZE]))


def read_receipts_file(data: bytes) -> tuple[list[Receipt], int]:
    """Every receipt of a receipts file that parses, and how many records did not (a
    damaged record, or a cut-off tail): one bad record never costs the others. Only a
    file without the magic line is refused (MalformedError)."""
    if not data.startswith(RECEIPTS_FILE_MAGIC):
        raise MalformedError("not a Testigo receipts file")
    body = memoryview(data)[len(RECEIPTS_FILE_MAGIC) :]
    receipts: list[Receipt] = []
    bad = 1 if len(body) % RECEIPT_SIZE else 0
    for offset in range(0, len(body) - len(body) % RECEIPT_SIZE, RECEIPT_SIZE):
        try:
            receipts.append(Receipt.parse(bytes(body[offset : offset + RECEIPT_SIZE])))
        except MalformedError:
            bad += 1
    return receipts, bad
