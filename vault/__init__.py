"""vault: identities, the sealed recording format, and opening/verifying recordings.

The safe API is re-exported here; `vault._primitives` is the only module that touches
libsodium. See docs/FORMAT.md for the format itself.
"""

from vault.archive import RecordingWriter, read_header, verify_file, verify_stream
from vault.errors import (
    MalformedError,
    NotAChunkError,
    NotForMeError,
    TamperedError,
    TestigoError,
    UnsupportedVersionError,
    WrongPassphraseError,
)
from vault.format import Chunk, ChunkKind, Header
from vault.identity import (
    DeviceIdentity,
    RecipientIdentity,
    RelayIdentity,
    Role,
    StoredIdentity,
    generate_identity,
    load_identity,
    save_identity,
)
from vault.keys import DeviceKey, RecipientKey, RelayKey
from vault.open import RecordingOpener
from vault.seal import RecordingSealer
from vault.verify import RecordingVerifier, Status, VerifyReport

__all__ = [
    "Chunk",
    "ChunkKind",
    "DeviceIdentity",
    "DeviceKey",
    "Header",
    "MalformedError",
    "NotAChunkError",
    "NotForMeError",
    "RecipientIdentity",
    "RecipientKey",
    "RecordingOpener",
    "RecordingSealer",
    "RecordingVerifier",
    "RecordingWriter",
    "RelayIdentity",
    "RelayKey",
    "Role",
    "Status",
    "StoredIdentity",
    "TamperedError",
    "TestigoError",
    "UnsupportedVersionError",
    "VerifyReport",
    "WrongPassphraseError",
    "generate_identity",
    "load_identity",
    "read_header",
    "save_identity",
    "verify_file",
    "verify_stream",
]
