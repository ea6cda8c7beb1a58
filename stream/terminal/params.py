"""Click value types for the `testigo` command: a bad value is a usage error (exit 2).

Each type turns the text into the value the command needs, or fails with one message and
a hint, so command bodies never parse.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import urlsplit

import click

from capture.settings import RECORDER_SETTING
from stream.terminal.errors import BadValue
from vault.errors import TestigoError
from vault.keys import PublicKey

K = TypeVar("K", bound=PublicKey)


class PublicKeyType(click.ParamType[K, object], Generic[K]):
    """A key string (tg-recipient-…, tg-device-…, tg-relay-…) of one kind."""

    def __init__(self, kind: type[K]) -> None:
        self.kind = kind
        self.name = f"{kind.KIND} key"

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return self.kind.PREFIX + "…"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> K:
        if isinstance(value, self.kind):
            return value
        try:
            return self.kind.parse(str(value))
        except TestigoError as error:
            raise BadValue(str(error), error.hint, ctx, param) from None


class Resolution(click.ParamType[tuple[int, int], object]):
    """WIDTHxHEIGHT, within the recorder's bounds (capture/settings.py)."""

    name = "resolution"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, int]:
        if isinstance(value, tuple):
            width, height = value
            return int(width), int(height)
        text = str(value)
        width_text, _, height_text = text.lower().partition("x")
        if not (width_text.isdigit() and height_text.isdigit()):
            raise BadValue(f"{text!r} is not WIDTHxHEIGHT", "for example 1280x720", ctx, param)
        width, height = int(width_text), int(height_text)
        for name, number in (("width", width), ("height", height)):
            try:
                RECORDER_SETTING[name].check(number)
            except ValueError as error:
                raise BadValue(str(error), "for example 1280x720 or 640x480", ctx, param) from None
        return width, height


class HttpUrl(click.ParamType[str, object]):
    """An http:// or https:// URL with a host; returned without a trailing slash."""

    name = "url"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        text = str(value).strip()
        parts = urlsplit(text)
        if "://" not in text:
            raise BadValue(
                f"{text!r} has no scheme",
                f"write the URL in full, for example https://{text.lstrip('/')}",
                ctx,
                param,
            )
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadValue(
                f"{text!r} is not an http:// or https:// URL with a host",
                "for example https://relay.example or http://127.0.0.1:8080",
                ctx,
                param,
            )
        return text.rstrip("/")


Check = Callable[[str, str], None]
"""Raises TestigoError (with a hint) if NAME cannot have VALUE."""


class Assignment(click.ParamType[tuple[str, str], object]):
    """NAME=VALUE, checked by the command's own table of names."""

    name = "NAME=VALUE"

    def __init__(self, check: Check, example: str) -> None:
        self.check = check
        self.example = example

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, str]:
        if isinstance(value, tuple):
            name, text = value
            return str(name), str(text)
        name, sep, text = str(value).partition("=")
        if not sep:
            raise BadValue(
                f"{value!r} is not NAME=VALUE", f"for example {self.example}", ctx, param
            )
        try:
            self.check(name.strip(), text)
        except TestigoError as error:
            raise BadValue(str(error), error.hint, ctx, param) from None
        return name.strip(), text


class LocationSpec(click.ParamType[str, object]):
    """--location: none, LAT,LON, gpsd, gpsd:HOST:PORT or nmea:PATH (checked up front)."""

    name = "location"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        from capture.location import check_location_spec

        text = str(value)
        try:
            check_location_spec(text)
        except ValueError as error:
            hint = "LAT,LON (e.g. 40.4168,-3.7038), gpsd, gpsd:HOST:PORT, nmea:PATH or none"
            raise BadValue(str(error), hint, ctx, param) from None
        return text


class MicrophoneSpec(click.ParamType[str, object]):
    """--microphone: none, or pulse or alsa, with an optional :DEVICE."""

    name = "microphone"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        text = str(value)
        backend, colon, device = text.partition(":")
        if text == "none" or (backend in ("pulse", "alsa") and (not colon or device)):
            return text
        raise BadValue(
            f"{text!r} is not a microphone",
            "none, pulse, pulse:DEVICE, alsa or alsa:DEVICE (e.g. alsa:hw:1)",
            ctx,
            param,
        )


class SourceSpec(click.ParamType[str, object]):
    """--source: camera, camera:N or camera:PATH, synthetic, or an existing media file."""

    name = "source"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        text = str(value)
        if text in ("camera", "synthetic") or text.startswith("camera:"):
            return text
        path = Path(text)
        if not path.is_file():
            what = "a directory" if path.is_dir() else "not camera, synthetic or an existing file"
            raise BadValue(
                f"source {text!r} is {what}",
                "use --source camera, --source synthetic or --source PATH-OF-A-MEDIA-FILE",
                ctx,
                param,
            )
        return text


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Duration(click.ParamType[int, object]):
    """A duration as a number and a unit (90s, 30m, 24h, 7d), in seconds, within
    [minimum, maximum]."""

    name = "duration"

    def __init__(self, minimum: int, maximum: int) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower()
        number, unit = text[:-1], text[-1:]
        if unit not in _DURATION_UNITS or not number.isascii() or not number.isdigit():
            raise BadValue(f"{text!r} is not a duration", "for example 30m, 24h or 7d", ctx, param)
        seconds = int(number) * _DURATION_UNITS[unit]
        if not self.minimum <= seconds <= self.maximum:
            raise BadValue(
                f"{text!r} is outside {self.minimum} s to {self.maximum // 86400} days",
                "for example 30m, 24h or 7d",
                ctx,
                param,
            )
        return seconds
