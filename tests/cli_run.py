"""Running the `testigo` command as a user does, in a subprocess, for every test module."""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from stream.demo.local_relay import cli_command

TESTIGO = cli_command()
BOOK = {"TESTIGO_PASSPHRASE": "contact book words"}
"""The environment that gives `testigo contacts` the contact book's passphrase."""


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def run_testigo(
    *arguments: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> Result:
    environment = {k: v for k, v in os.environ.items() if k != "TESTIGO_PASSPHRASE"}
    environment["TESTIGO_HOME"] = str(cwd / "home")
    environment.update(env or {})
    done = subprocess.run(
        [*TESTIGO, *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        input=stdin,
        check=False,
        timeout=120,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def public_key(result: Result) -> str:
    assert result.code == 0, result.err
    line = next(x for x in result.out.splitlines() if x.startswith("public key:"))
    return line.split(":", 1)[1].strip()


def assert_clean_error(result: Result, code: int, words: str) -> None:
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err
    errors = [x for x in result.err.splitlines() if x.startswith("testigo: error: ")]
    assert len(errors) == 1, result.err
    first = errors[0]
    assert words in first, first
    assert "hint:" in result.err
