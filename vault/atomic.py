"""Durable writes: write a temporary file, fsync, rename or link, fsync the directory.

After `write_file_atomically` returns, or the block of `atomic_writer` ends without an
exception, the file survives a crash, whole or not at all. The temporary file is created
in the target's directory, exclusively (O_EXCL | O_NOFOLLOW) and with a random name, so a
planted file or symlink cannot receive the data.
"""

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_temporary(directory: Path, mode: int) -> tuple[Path, int]:
    """A new, empty file with a random name in directory, and its open descriptor."""
    temporary = directory / f".tmp-{secrets.token_hex(8)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    return temporary, os.open(temporary, flags, mode)


def _write_temporary(directory: Path, data: bytes, mode: int) -> Path:
    temporary, fd = _create_temporary(directory, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temporary.unlink(missing_ok=True)
        raise
    os.close(fd)
    return temporary


def _directory_of(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


@contextlib.contextmanager
def atomic_writer(path: Path, *, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A file to write path's new content into, for content that arrives in pieces.

    When the block ends normally the file is fsynced and renamed over path, and the
    directory fsynced; when it raises, the temporary file is removed and path is left
    as it was.
    """
    directory = _directory_of(path)
    temporary, fd = _create_temporary(directory, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_directory(directory)


def write_file_atomically(
    path: Path, data: bytes, *, mode: int = 0o644, overwrite: bool = True
) -> bool:
    """Write data to path durably. With overwrite=False an existing file is left alone
    and False is returned (the check and the write are one atomic link)."""
    directory = _directory_of(path)
    temporary = _write_temporary(directory, data, mode)
    try:
        if overwrite:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)  # unlike rename, fails if path exists
            except FileExistsError:
                return False
    finally:
        temporary.unlink(missing_ok=True)
    fsync_directory(directory)
    return True
