"""Opening a recording's chunks with a recipient identity."""

from collections.abc import Sequence

from vault import _primitives as p
from vault.errors import NotForMeError, TamperedError
from vault.format import Chunk, Header, payload_key
from vault.identity import RecipientIdentity


class RecordingOpener:
    """Holds the payload key of one recording and opens its chunks one at a time.

    Every chunk opens on its own, so a missing chunk does not stop the next one.
    """

    def __init__(self, header: Header, identities: Sequence[RecipientIdentity]) -> None:
        if not header.signature_is_valid():
            raise TamperedError("the recording header failed authentication")
        file_key = None
        for identity in identities:
            for stanza in header.stanzas:
                candidate = identity.unwrap(stanza)
                if candidate is not None and len(candidate) == p.KEY_SIZE:
                    file_key = candidate
                    break
            if file_key is not None:
                break
        if file_key is None:
            raise NotForMeError("this recording was not sealed to the given identity")
        self._header = header
        self._header_hash = header.header_hash
        self._payload_key = payload_key(file_key, header.recording_id)

    def open(self, chunk: Chunk) -> bytes:
        """The chunk's plaintext; TamperedError if it fails authentication.

        This checks only the AEAD; the signature and hash checks are the verifier's.
        """
        if chunk.recording_id != self._header.recording_id:
            raise TamperedError("the chunk failed authentication")
        try:
            return p.aead_decrypt(
                self._payload_key,
                chunk.nonce(),
                chunk.associated_data(self._header_hash),
                chunk.ciphertext,
            )
        except p.AuthenticationFailed:
            raise TamperedError("the chunk failed authentication") from None
