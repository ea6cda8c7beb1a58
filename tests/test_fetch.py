"""Downloads land whole or not at all, and never through a file planted beside them."""

import os
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from stream.contact.fetch import RelayReader
from vault.atomic import atomic_writer
from vault.keys import DeviceKey

DEVICE = DeviceKey(bytes(32))
RECORDING_ID = "00" * 16
ARCHIVE = b"archive bytes that must not reach the planted symlink's target" * 1000
RECEIPTS = b"receipts bytes that must not reach the planted symlink's target"


async def _serve(aiohttp_server: AiohttpServer) -> str:
    base = f"/v1/devices/{DEVICE}/recordings/{RECORDING_ID}"

    async def archive(_request: web.Request) -> web.Response:
        return web.Response(body=ARCHIVE)

    async def receipts(_request: web.Request) -> web.Response:
        return web.Response(body=RECEIPTS)

    app = web.Application()
    app.router.add_get(f"{base}/archive", archive)
    app.router.add_get(f"{base}/receipts", receipts)
    server = await aiohttp_server(app)
    return str(server.make_url(""))


@pytest.mark.asyncio
async def test_download_does_not_follow_a_symlink_at_the_old_temporary_name(
    aiohttp_server: AiohttpServer, tmp_path: Path
) -> None:
    url = await _serve(aiohttp_server)
    output = tmp_path / "evidence.tgr"
    victim = tmp_path / "victim"
    victim.write_bytes(b"do not touch")
    planted = {f".{name}.{os.getpid()}.partial" for name in (output.name, "evidence.tgr.receipts")}
    for name in planted:  # the names fetch.py used to pick
        (tmp_path / name).symlink_to(victim)

    async with aiohttp.ClientSession() as session:
        download = await RelayReader(session, url, "token").download(DEVICE, RECORDING_ID, output)

    assert victim.read_bytes() == b"do not touch"
    assert output.read_bytes() == ARCHIVE
    assert download.receipts.read_bytes() == RECEIPTS
    assert download.recording_bytes == len(ARCHIVE)
    assert not output.is_symlink()
    names = {path.name for path in tmp_path.iterdir()}
    assert names == {"victim", "evidence.tgr", "evidence.tgr.receipts", *planted}


def test_atomic_writer_leaves_the_old_file_when_the_block_raises(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"old")

    def cut_short() -> None:
        with atomic_writer(path) as out:
            out.write(b"new, half written")
            raise RuntimeError("cut")

    with pytest.raises(RuntimeError, match="cut"):
        cut_short()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_atomic_writer_replaces_the_file_when_the_block_ends(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"old")
    with atomic_writer(path) as out:
        out.write(b"new ")
        out.write(b"content")
    assert path.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
