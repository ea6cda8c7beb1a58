"""One error tree: every exception Testigo raises is a TestigoError that says when it is
raised (its docstring) and what the person can do (its `hint`), as vault/errors.py says."""

import importlib
import pkgutil

import pytest

import capture
import relay_server
import stream
import vault
from capture.errors import MediaError
from vault import errors

PACKAGES = (vault, capture, stream, relay_server)


def every_module() -> list[str]:
    names = ["cli"]
    for package in PACKAGES:
        names.append(package.__name__)
        prefix = package.__name__ + "."
        names += [info.name for info in pkgutil.walk_packages(package.__path__, prefix)]
    return names


def subclasses(base: type[errors.TestigoError]) -> list[type[errors.TestigoError]]:
    found = []
    for child in base.__subclasses__():
        found += [child, *subclasses(child)]
    return found


def all_errors() -> list[type[errors.TestigoError]]:
    for name in every_module():
        importlib.import_module(name)
    return sorted(set(subclasses(errors.TestigoError)), key=lambda c: c.__qualname__)


ERRORS = all_errors()


def test_every_package_raises_into_the_one_tree() -> None:
    modules = {error.__module__.partition(".")[0] for error in ERRORS}
    assert {"vault", "capture", "stream", "relay_server"} <= modules


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: error.__qualname__)
def test_docstring_says_when_and_hint_says_what_to_do(error: type[errors.TestigoError]) -> None:
    docstring = error.__dict__.get("__doc__") or ""
    assert docstring.startswith("Raised "), f"{error.__qualname__}: {docstring!r}"
    hint = error.__dict__.get("hint")
    assert isinstance(hint, str), f"{error.__qualname__} has no hint of its own"
    assert hint.strip()
    assert "\n" not in hint
    assert hint != docstring


def test_a_raise_site_can_give_a_better_hint() -> None:
    assert errors.MalformedError("x").hint == errors.MalformedError.hint
    assert errors.MalformedError("x", hint="do y").hint == "do y"


def test_media_errors_are_testigo_errors_and_value_errors() -> None:
    error = MediaError("no such file: x.mp4")
    assert isinstance(error, errors.TestigoError)
    assert isinstance(error, ValueError)
    assert error.hint
