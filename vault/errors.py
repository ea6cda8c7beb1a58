"""The exceptions vault/ raises.

One base, `TestigoError`, and a subclass only where a caller reacts differently. The
docstring of each class is the text the CLI shows as a hint.
"""


class TestigoError(Exception):
    """Something went wrong; the message says what."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class NotForMeError(TestigoError):
    """No stanza of this recording opens with the given identity."""

    hint = "this recording was sealed to other keys; try the identity it was sealed to"


class MalformedError(TestigoError):
    """The data is not in the format the spec requires (framing, sizes, version)."""

    hint = "the file is damaged or is not a Testigo recording or key"


class TamperedError(TestigoError):
    """An authentication check failed. Deliberately does not say which one."""

    hint = "the data was altered, corrupted, or does not belong to this recording"


class WrongPassphraseError(TestigoError):
    """The identity file did not open with this passphrase (or it was altered)."""

    hint = "check the passphrase (TESTIGO_PASSPHRASE, --passphrase-fd or the prompt)"
