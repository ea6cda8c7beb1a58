"""Location sources: NMEA sentences and a gpsd server (a real TCP peer in the test)."""

import json
import socket
import threading
from pathlib import Path

import pytest

from capture.location import Gpsd, NmeaFile, location_provider, parse_gpsd, parse_nmea
from capture.recorder import Location

RMC = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"
GGA = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"


def test_rmc_and_gga_parse_to_decimal_degrees() -> None:
    rmc = parse_nmea(RMC)
    assert rmc is not None
    assert rmc.lat == pytest.approx(48.1173)
    assert rmc.lon == pytest.approx(11.516667)
    gga = parse_nmea(GGA)
    assert gga is not None
    assert (gga.lat, gga.lon) == pytest.approx((48.1173, 11.516667))


@pytest.mark.parametrize(
    "sentence",
    [
        RMC.replace("*6A", "*6B"),  # bad checksum
        "$GPRMC,123519,V,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*7D",  # no fix
        "GPRMC,123519,A,4807.038,N",  # no $ or checksum
        "$GPGSV,2,1,08,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45*75",  # no position
        "",
    ],
)
def test_sentences_without_a_valid_fix_are_ignored(sentence: str) -> None:
    assert parse_nmea(sentence) is None


def test_nmea_file_follows_what_is_appended(tmp_path: Path) -> None:
    path = tmp_path / "gps.nmea"
    path.write_text("")
    provider = NmeaFile(path)
    assert provider() is None
    with path.open("a") as out:
        out.write(RMC + "\n" + GGA[:20])  # a sentence still being written
    first = provider()
    assert first is not None
    with path.open("a") as out:
        out.write(GGA[20:] + "\n")
    assert provider() == parse_nmea(GGA)


def test_gpsd_reports() -> None:
    tpv = {"class": "TPV", "mode": 3, "lat": 40.4168, "lon": -3.7038, "eph": 4.5}
    assert parse_gpsd(json.dumps(tpv)) == Location(40.4168, -3.7038, 4.5)
    assert parse_gpsd(json.dumps({**tpv, "mode": 1})) is None
    assert parse_gpsd(json.dumps({"class": "SKY"})) is None
    assert parse_gpsd("not json") is None


def test_gpsd_client_against_a_real_socket() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    watched = threading.Event()
    sent = threading.Event()

    def gpsd() -> None:
        connection, _ = server.accept()
        with connection:
            request = connection.recv(1024)
            if b"?WATCH" in request:
                watched.set()
            report = {"class": "TPV", "mode": 2, "lat": 19.4326, "lon": -99.1332}
            connection.sendall((json.dumps(report) + "\n").encode())
            sent.set()
            connection.recv(1)  # until the client closes

    thread = threading.Thread(target=gpsd, daemon=True)
    thread.start()
    client = Gpsd("127.0.0.1", port)
    try:
        assert watched.wait(10)
        assert sent.wait(10)
        deadline = 100
        while client() is None and deadline:  # the reader thread parses the line
            deadline -= 1
            threading.Event().wait(0.01)
        assert client() == Location(19.4326, -99.1332)
    finally:
        client.close()
        server.close()


def test_provider_specs() -> None:
    provider, where = location_provider("40.4,-3.7")
    assert provider is not None
    assert provider() == Location(40.4, -3.7)
    assert "40.4" not in where  # the status line never shows the position
    assert location_provider("none")[0] is None
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(ValueError, match="no gpsd answers"):
        location_provider(f"gpsd:127.0.0.1:{port}")
