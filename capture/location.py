"""Where the device is: a fixed position, a gpsd server on this machine, or NMEA sentences.

Every provider is a callable returning the latest `Location` or None; the recorder seals
what it returns as metadata (never in the clear), at most once per second and only when
it changes.
"""

import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final

from capture.recorder import Location

GPSD_PORT: Final = 2947
GPSD_CONNECT_TIMEOUT_S: Final = 0.5
LocationProvider = Callable[[], Location | None]


def _nmea_checksum_ok(sentence: str) -> bool:
    body, star, checksum = sentence.strip().lstrip("$").partition("*")
    if not star:
        return False
    value = 0
    for character in body:
        value ^= ord(character)
    try:
        return value == int(checksum[:2], 16)
    except ValueError:
        return False


def _degrees(value: str, hemisphere: str, width: int) -> float:
    """NMEA ddmm.mmmm / dddmm.mmmm to signed decimal degrees."""
    degrees = int(value[:width]) + float(value[width:]) / 60
    return -degrees if hemisphere in ("S", "W") else degrees


def parse_nmea(sentence: str) -> Location | None:
    """The position in an RMC (status A) or GGA (fix > 0) sentence with a valid checksum."""
    if not sentence.startswith("$") or not _nmea_checksum_ok(sentence):
        return None
    fields = sentence.strip().lstrip("$").split("*")[0].split(",")
    kind = fields[0][2:]
    try:
        if kind == "RMC" and len(fields) >= 7 and fields[2] == "A":
            return Location(_degrees(fields[3], fields[4], 2), _degrees(fields[5], fields[6], 3))
        if kind == "GGA" and len(fields) >= 9 and fields[6] not in ("", "0"):
            accuracy = float(fields[8]) * 5 if fields[8] else None  # HDOP x ~5 m (rough)
            return Location(
                _degrees(fields[2], fields[3], 2), _degrees(fields[4], fields[5], 3), accuracy
            )
    except (ValueError, IndexError):
        return None
    return None


NMEA_PROBE_BYTES: Final = 512


def check_nmea_file(path: Path) -> None:
    """Raise ValueError unless path is a file of NMEA text (it may still be empty).

    A device (a serial GPS) is not read ahead: its first bytes may be long in coming.
    """
    if path.exists() and not path.is_file():
        return
    try:
        with path.open("rb") as stream:
            start = stream.read(NMEA_PROBE_BYTES)
    except OSError as error:
        raise ValueError(f"cannot read NMEA file {path}: {error.strerror}") from None
    text = start.lstrip()
    printable = all(32 <= byte < 127 or byte in b"\r\n\t" for byte in text)
    if text and not (text.startswith(b"$") and printable):
        raise ValueError(f"{path} is not a file of NMEA sentences (they start with $GP or $GN)")


def check_location_spec(spec: str) -> None:
    """Raise ValueError if spec is not a --location value; connects to nothing."""
    if spec == "none" or spec == "gpsd":
        return
    if spec.startswith("gpsd:"):
        _, host, port = [*spec.split(":"), "", ""][:3]
        if spec.count(":") != 2 or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{spec!r} is not gpsd:HOST:PORT")
        return
    if spec.startswith("nmea:"):
        check_nmea_file(Path(spec[5:]))
        return
    Location.parse(spec)


class NmeaFile:
    """Positions from a file of NMEA sentences that another program appends to (or a
    serial GPS exposed as a file). Each call reads what has arrived since the last one."""

    def __init__(self, path: Path) -> None:
        check_nmea_file(path)
        try:
            self._stream = path.open("r", encoding="ascii", errors="replace")
        except OSError as error:
            raise ValueError(f"cannot read NMEA file {path}: {error.strerror}") from None
        self._latest: Location | None = None
        self._partial = ""

    def __call__(self) -> Location | None:
        text = self._partial + self._stream.read()
        lines = text.split("\n")
        self._partial = lines.pop()
        for line in lines:
            location = parse_nmea(line)
            if location is not None:
                self._latest = location
        return self._latest


class Gpsd:
    """Positions from a gpsd server (its JSON protocol), read on a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = GPSD_PORT) -> None:
        self._socket = socket.create_connection((host, port), timeout=GPSD_CONNECT_TIMEOUT_S)
        self._socket.settimeout(None)
        self._socket.sendall(b'?WATCH={"enable":true,"json":true};\n')
        self._latest: Location | None = None
        self._thread = threading.Thread(target=self._read, name="gpsd", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with self._socket.makefile("r", encoding="utf-8", errors="replace") as lines:
            for line in lines:
                location = parse_gpsd(line)
                if location is not None:
                    self._latest = location

    def __call__(self) -> Location | None:
        return self._latest

    def close(self) -> None:
        self._socket.close()


def parse_gpsd(line: str) -> Location | None:
    """The position in a gpsd TPV report with a 2D or 3D fix."""
    try:
        report = json.loads(line)
    except ValueError:
        return None
    if not isinstance(report, dict) or report.get("class") != "TPV" or report.get("mode", 0) < 2:
        return None
    lat, lon = report.get("lat"), report.get("lon")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return None
    accuracy = report.get("eph")
    try:
        return Location(
            float(lat), float(lon), float(accuracy) if isinstance(accuracy, int | float) else None
        )
    except ValueError:
        return None


def location_provider(spec: str | None) -> tuple[LocationProvider | None, str]:
    """The provider for --location, and a line saying where positions come from.

    spec: None (a gpsd on this machine if one answers, else none), "none", "LAT,LON",
    "gpsd" or "gpsd:HOST:PORT", or "nmea:PATH".
    """
    if spec == "none":
        return None, "no location (--location none)"
    if spec is None or spec.startswith("gpsd"):
        host, port = "127.0.0.1", GPSD_PORT
        if spec and spec.count(":") == 2:
            _, host, port_text = spec.split(":")
            port = int(port_text)
        try:
            return Gpsd(host, port), f"location from gpsd at {host}:{port} (sealed)"
        except OSError:
            if spec is not None:
                raise ValueError(f"no gpsd answers at {host}:{port}") from None
            return None, "no location: no gpsd on this machine (use --location LAT,LON)"
    if spec.startswith("nmea:"):
        return NmeaFile(Path(spec[5:])), f"location from NMEA file {spec[5:]} (sealed)"
    fixed = Location.parse(spec)
    return (lambda: fixed), "fixed location (sealed)"
