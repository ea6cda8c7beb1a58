"""Where passphrases come from: a prompt, $TESTIGO_PASSPHRASE, or a file descriptor.

Never from the command line, where other users and shell histories can read it.
"""

import getpass
import os
import sys

from vault.errors import TestigoError
from vault.identity import PassphraseSource

PASSPHRASE_VARIABLE = "TESTIGO_PASSPHRASE"  # noqa: S105 (a variable name)
MAX_PASSPHRASE_BYTES = 4096


def read_secret_fd(fd: int, *, what: str = "passphrase", option: str = "--passphrase-fd") -> str:
    """One line from file descriptor fd (a passphrase or token), without its newline.

    what and option name the secret and its option in the error, if fd cannot be read.
    """
    return _read_fd(fd, what, option)


def _read_fd(fd: int, what: str = "passphrase", option: str = "--passphrase-fd") -> str:
    try:
        with os.fdopen(fd, "rb", closefd=False) as stream:
            line = stream.readline(MAX_PASSPHRASE_BYTES)
    except OSError as error:
        raise TestigoError(
            f"cannot read a {what} from file descriptor {fd}: {error.strerror}",
            hint=f"open the descriptor in the calling shell, e.g. {option} 3 3<file",
        ) from None
    return line.decode("utf-8").rstrip("\r\n")


def _check(passphrase: str, hint: str = "use --no-passphrase for no passphrase") -> str:
    if not passphrase:
        raise TestigoError("the passphrase is empty", hint=hint)
    return passphrase


def existing_passphrase(fd: int | None, what: str) -> PassphraseSource:
    """A source for the passphrase of an existing identity file, asked for lazily."""

    def source() -> str:
        if fd is not None:
            return _check(_read_fd(fd))
        from_environment = os.environ.get(PASSPHRASE_VARIABLE)
        if from_environment:
            return from_environment
        if sys.stdin.isatty():
            return _check(getpass.getpass(f"Passphrase for {what}: "))
        raise TestigoError(
            f"{what} is protected by a passphrase and there is no terminal to ask for it",
            hint=f"set {PASSPHRASE_VARIABLE} or pass --passphrase-fd N",
        )

    return source


def new_passphrase(fd: int | None, what: str = "a new key", *, optional: bool = True) -> str:
    """The passphrase for a new identity file or contact book (asked twice at a prompt).

    optional says whether the command has --no-passphrase, for the hints.
    """
    hint = "use --no-passphrase for no passphrase" if optional else "type a passphrase"
    if fd is not None:
        return _check(_read_fd(fd), hint)
    from_environment = os.environ.get(PASSPHRASE_VARIABLE)
    if from_environment:
        return from_environment
    if not sys.stdin.isatty():
        ways = f"set {PASSPHRASE_VARIABLE}, pass --passphrase-fd N"
        raise TestigoError(
            f"{what} needs a passphrase and there is no terminal to ask for it",
            hint=f"{ways}, or --no-passphrase" if optional else f"{ways}, or run it in a terminal",
        )
    prompt = "New passphrase: " if optional else f"New passphrase for {what}: "
    first = _check(getpass.getpass(prompt), hint)
    if getpass.getpass("Repeat passphrase: ") != first:
        raise TestigoError("the passphrases do not match", hint="run the command again")
    return first
