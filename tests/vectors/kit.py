"""The vector file format, after the age test kit (C2SP/CCTV age/).

A vector file is text header lines `name: value`, an empty line, then the recording bytes
exactly as a recording file holds them (docs/FORMAT.md section 3):

    expect: incomplete
    payload: 5d0c...            sha256 of the plaintexts of the valid chunks, in index order
    identity: 9f1e...           the recipient secret (hex) the test opens with
    valid: 0, 1, 3, 4           indices of the chunks that count as valid
    missing: 2                  indices the reader must name as gaps (absent: none)
    interrupted after: 4        last index of a recording without a final chunk
    expect without identity: complete    when checking without a key differs
    error: TamperedError        the exception class, for `header failure`
    comment: chunk 2 was dropped

    testigo/v1
    ...binary...
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"

EXPECTATIONS = ("complete", "incomplete", "tampered", "malformed", "header failure", "no match")
HEADER_ERRORS = ("MalformedError", "TamperedError")


def payload_hash(plaintexts: Sequence[bytes]) -> str:
    return hashlib.sha256(b"".join(plaintexts)).hexdigest()


def _indices(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _indices_text(values: Sequence[int]) -> str:
    return ", ".join(str(v) for v in values)


@dataclass(frozen=True)
class Vector:
    name: str
    expect: str
    recording: bytes
    identity: bytes
    comment: str
    payload: str | None = None
    valid: tuple[int, ...] = ()
    missing: tuple[int, ...] = ()
    interrupted_after: int | None = None
    expect_without_identity: str | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.expect not in EXPECTATIONS:
            raise ValueError(f"{self.name}: unknown expectation {self.expect!r}")
        if self.expect_without_identity not in (None, *EXPECTATIONS):
            raise ValueError(f"{self.name}: unknown expectation {self.expect_without_identity!r}")
        opens = self.expect not in ("header failure", "no match")
        if opens != (self.payload is not None):
            raise ValueError(f"{self.name}: a payload goes with, and only with, a readable file")
        if (self.expect == "header failure") != (self.error in HEADER_ERRORS):
            raise ValueError(f"{self.name}: a header failure names its error, and only it")
        if len(self.identity) != 32:
            raise ValueError(f"{self.name}: the identity is a 32-byte secret")

    def encode(self) -> bytes:
        lines = [f"expect: {self.expect}"]
        if self.payload is not None:
            lines.append(f"payload: {self.payload}")
        lines.append(f"identity: {self.identity.hex()}")
        if self.expect not in ("header failure", "no match"):
            lines.append(f"valid: {_indices_text(self.valid)}")
        if self.missing:
            lines.append(f"missing: {_indices_text(self.missing)}")
        if self.interrupted_after is not None:
            lines.append(f"interrupted after: {self.interrupted_after}")
        if self.expect_without_identity is not None:
            lines.append(f"expect without identity: {self.expect_without_identity}")
        if self.error is not None:
            lines.append(f"error: {self.error}")
        lines.append(f"comment: {self.comment}")
        return ("\n".join(lines) + "\n\n").encode("utf-8") + self.recording

    @classmethod
    def decode(cls, name: str, data: bytes) -> "Vector":
        text, separator, recording = data.partition(b"\n\n")
        if not separator:
            raise ValueError(f"{name}: no empty line after the header lines")
        fields: dict[str, str] = {}
        for line in text.decode("utf-8").split("\n"):
            key, colon, value = line.partition(": ")
            if not colon or key in fields:
                raise ValueError(f"{name}: bad or repeated header line {line!r}")
            fields[key] = value
        known = {
            "expect",
            "payload",
            "identity",
            "valid",
            "missing",
            "interrupted after",
            "expect without identity",
            "error",
            "comment",
        }
        if not fields.keys() <= known:
            raise ValueError(f"{name}: unknown header lines {sorted(fields.keys() - known)}")
        interrupted = fields.get("interrupted after")
        return cls(
            name=name,
            expect=fields["expect"],
            recording=recording,
            identity=bytes.fromhex(fields["identity"]),
            comment=fields["comment"],
            payload=fields.get("payload"),
            valid=_indices(fields.get("valid", "")),
            missing=_indices(fields.get("missing", "")),
            interrupted_after=None if interrupted is None else int(interrupted),
            expect_without_identity=fields.get("expect without identity"),
            error=fields.get("error"),
        )


def load_all() -> list[Vector]:
    return [Vector.decode(path.name, path.read_bytes()) for path in sorted(DATA_DIR.iterdir())]


def render_json(document: object) -> str:
    """A JSON vector file's text, as every JSON generator writes it (and its test compares)."""
    return json.dumps(document, indent=2) + "\n"


def write_json_vectors(path: Path, document: object) -> None:
    path.write_text(render_json(document))
    print(f"wrote {path}")
