"""How the `testigo` command fails: one line `testigo: error: …`, then `hint: …`.

Every way a command can end badly comes through `TestigoGroup.main`: a `TestigoError`
from the library, a `CommandError` from a command body, click's own usage errors (a bad
value, a missing option), Ctrl-C, a closed prompt, an `OSError`. With `--json` on the
command line the same failure is also written to stdout as one JSON object, for scripts.
"""

import errno
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

import click

from vault.errors import NotForMeError, TestigoError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOR_ME = 30
EXIT_INTERRUPTED = 130


class CommandError(TestigoError):
    """Raised when a command refuses to go on; the message says why, and the raise site
    gives the hint of what to do."""

    hint = "see: testigo COMMAND --help"

    def __init__(self, message: str, *, hint: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code


class BadValue(click.BadParameter):
    """A command-line value that cannot be used (exit 2), with a hint of what would do."""

    def __init__(
        self,
        message: str,
        hint: str,
        ctx: click.Context | None = None,
        param: click.Parameter | None = None,
    ) -> None:
        super().__init__(message, ctx, param)
        self.hint = hint


def fail(message: str, hint: str, code: int = EXIT_ERROR) -> NoReturn:
    """Refuse to go on: one line saying why, and a hint saying what to do instead."""
    raise CommandError(message, hint=hint, exit_code=code)


def warn(message: str) -> None:
    click.echo(f"testigo: warning: {message}", err=True)


@dataclass(frozen=True)
class Failure:
    """What the person is told when a command fails, and the exit code."""

    message: str
    hint: str
    exit_code: int

    def to_json(self) -> dict[str, object]:
        return {"error": self.message, "hint": self.hint, "exit_code": self.exit_code}

    def show(self, as_json: bool) -> None:
        click.echo(f"testigo: error: {self.message}", err=True)
        if self.hint:
            click.echo(f"hint: {self.hint}", err=True)
        if as_json:
            click.echo(json.dumps(self.to_json(), indent=2))


def _usage_failure(error: click.UsageError) -> Failure:
    message = error.format_message().strip()
    message = message[:1].lower() + message[1:]
    hint = getattr(error, "hint", "")
    if not hint:
        command = error.ctx.command_path if error.ctx is not None else "testigo"
        hint = f"see: {command} --help"
    return Failure(message.rstrip("."), hint, EXIT_USAGE)


def _aborted(error: click.Abort) -> Failure:
    if isinstance(error.__cause__ or error.__context__, EOFError):
        return Failure("the input ended before an answer", "run it again at a terminal", 1)
    return Failure("interrupted", "run the command again to start over", EXIT_INTERRUPTED)


def _os_failure(error: OSError) -> Failure:
    where = f" ({error.filename})" if error.filename else ""
    if error.errno == errno.EISDIR:
        hint = "give a file path, not a directory"
    elif error.errno in (errno.EACCES, errno.EPERM):
        hint = "check the permissions of the path"
    elif error.errno == errno.ENOSPC:
        hint = "free some space and run it again"
    else:
        hint = "check the path, permissions and free space"
    return Failure(f"{error.strerror or error}{where}", hint, EXIT_ERROR)


def failure_for(error: BaseException) -> Failure | None:
    """The failure to show for error; None for what is not a failure (SystemExit)."""
    if isinstance(error, CommandError):
        return Failure(str(error), error.hint, error.exit_code)
    if isinstance(error, TestigoError):
        code = EXIT_NOT_FOR_ME if isinstance(error, NotForMeError) else EXIT_ERROR
        return Failure(str(error), error.hint, code)
    if isinstance(error, click.UsageError):
        return _usage_failure(error)
    if isinstance(error, click.Abort):
        return _aborted(error)
    if isinstance(error, KeyboardInterrupt):
        return Failure("interrupted", "run the command again to start over", EXIT_INTERRUPTED)
    if isinstance(error, click.ClickException):  # every failure says what to do next
        return Failure(error.format_message(), "see: testigo --help", error.exit_code)
    if isinstance(error, OSError):
        return _os_failure(error)
    return None


def json_requested(arguments: Sequence[str]) -> bool:
    """--json among the options (decided before parsing, so usage errors honour it too)."""
    options = arguments[: arguments.index("--")] if "--" in arguments else arguments
    return "--json" in options


class TestigoGroup(click.Group):
    """The top-level group: runs a command and turns every failure into a `Failure`."""

    def main(  # type: ignore[override]  # reason: click's overloads; same parameters
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: object,
    ) -> object:
        arguments = list(sys.argv[1:] if args is None else args)
        try:
            result = super().main(
                arguments,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except BrokenPipeError:
            if not standalone_mode:
                raise
            # The reader left (… | head): nothing to tell it, and no flush error at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_ERROR)
        except (Exception, KeyboardInterrupt) as error:
            failure = failure_for(error)
            if failure is None or not standalone_mode:
                raise
            failure.show(json_requested(arguments))
            sys.exit(failure.exit_code)
        if standalone_mode:
            sys.exit(result if isinstance(result, int) else 0)
        return result
