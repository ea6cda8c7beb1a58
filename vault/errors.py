"""The root of every exception Testigo raises, and the format's own exceptions.

Every package (vault, capture, stream, relay_server) raises subclasses of one base,
`TestigoError`, and adds a subclass only where a caller reacts differently. Each class
says two things, kept apart:

- its docstring says when it is raised (for the reader of the code);
- its `hint` class attribute is the one line the CLI prints under the error as
  ``hint: ...``: what the person can do about it. A raise site that knows better passes
  ``hint=`` to override it for that one error.

The message (``str(error)``) says what went wrong; no code branches on its text: a case a
caller must tell apart gets its own subclass.
"""


class TestigoError(Exception):
    """Raised for anything the person can fix or must know; the message says what."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class NotForMeError(TestigoError):
    """Raised when no stanza of a recording opens with the given identities."""

    hint = "this recording was sealed to other keys; try the identity it was sealed to"


class MalformedError(TestigoError):
    """Raised when data is not in the format the spec requires (framing, sizes, version)."""

    hint = "the file is damaged or is not a Testigo recording or key"


class UnsupportedVersionError(MalformedError):
    """Raised when a header starts with a testigo/ version line other than testigo/v1."""

    hint = "this Testigo reads testigo/v1; a newer version may read it"


class NotAChunkError(MalformedError):
    """Raised when the bytes where a chunk should start do not begin with a chunk's magic.

    A reader that has read chunks before this point has found bytes after the last chunk.
    """

    hint = "the file has bytes after its last chunk, or is not a Testigo recording"


class TamperedError(TestigoError):
    """Raised when an authentication check fails. Deliberately does not say which one."""

    hint = "the data was altered, corrupted, or does not belong to this recording"


class WrongPassphraseError(TestigoError):
    """Raised when an identity file does not open with the passphrase (or was altered)."""

    hint = "check the passphrase (TESTIGO_PASSPHRASE, --passphrase-fd or the prompt)"
