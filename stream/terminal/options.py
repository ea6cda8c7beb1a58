"""Options that several `testigo` commands share, each defined once.

The recorder's options take their bounds, defaults and help from its settings table
(capture/settings.py), so the command and the encoder cannot disagree.
"""

from pathlib import Path
from typing import Protocol

import click
from click.decorators import FC

from capture.settings import RECORDER_SETTING
from stream.terminal.params import HttpUrl, PublicKeyType, Resolution
from vault.keys import DeviceKey, RelayKey


class Decorator(Protocol):
    """What click.option returns: it decorates a command function."""

    def __call__(self, function: FC, /) -> FC: ...


home_option = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (contact book, device key, setup). Default: $TESTIGO_HOME or the "
    "platform's.",
)
passphrase_fd_option = click.option(
    "--passphrase-fd",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Read the passphrase from file descriptor N (else $TESTIGO_PASSPHRASE or a prompt).",
)
token_fd_option = click.option(
    "--token-fd",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Read the capability token from file descriptor N (else $TESTIGO_TOKEN).",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output (errors too)."
)
no_passphrase_option = click.option(
    "--no-passphrase", is_flag=True, help="Store the key unprotected (tests, demos)."
)
insecure_option = click.option(
    "--insecure",
    is_flag=True,
    help="Allow sending the token over plain http:// to another machine (never do it "
    "on a network you do not control).",
)
https_only_option = click.option(
    "--https-only", is_flag=True, help="Do not try WebRTC (UDP blocked)."
)
device_key_file_option = click.option(
    "--device",
    "device_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Device key that signs (default: HOME/device.key).",
)
device_public_key_option = click.option(
    "--device",
    "device",
    type=PublicKeyType(DeviceKey),
    required=True,
    help="Whose recordings (tg-device-...).",
)


def relay_url_option(*, required: bool, help: str) -> Decorator:
    return click.option(
        "--relay", "relay_url", type=HttpUrl(), required=required, metavar="URL", help=help
    )


def relay_public_key_option(help: str, *, required: bool = False) -> Decorator:
    return click.option(
        "--relay-key", "relay_key", type=PublicKeyType(RelayKey), required=required, help=help
    )


def identity_option(*, required: bool, help: str) -> Decorator:
    return click.option(
        "--identity", type=click.Path(dir_okay=False, path_type=Path), required=required, help=help
    )


def output_option(help: str, *, required: bool = True, directory: bool = False) -> Decorator:
    kind = click.Path(file_okay=not directory, dir_okay=directory, path_type=Path)
    return click.option("-o", "--output", type=kind, required=required, help=help)


def recorder_option(name: str, default: float | None = None) -> Decorator:
    """The `testigo record` option for one recorder setting, bounds from its table row;
    default: the row's, unless given (as `testigo seal` does for fragment_seconds)."""
    row = RECORDER_SETTING[name]
    bounds: click.FloatRange | click.IntRange
    if isinstance(row.default, float):
        bounds = click.FloatRange(row.minimum, row.maximum)
    else:
        bounds = click.IntRange(_whole(row.minimum), _whole(row.maximum))
    return click.option(
        row.option,
        name,
        type=bounds,
        default=row.default if default is None else default,
        show_default=row.default is not None or default is not None,
        help=row.help,
    )


def _whole(bound: float | None) -> int | None:
    return None if bound is None else int(bound)


def resolution_option() -> Decorator:
    width, height = RECORDER_SETTING["width"], RECORDER_SETTING["height"]
    return click.option(
        "--resolution",
        type=Resolution(),
        default=f"{width.default}x{height.default}",
        show_default=True,
        metavar="WxH",
        help=f"Video size; width and height {width.range_text}.",
    )
