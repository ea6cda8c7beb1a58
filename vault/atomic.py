"""Durable writes: write a temporary file, fsync, rename or link, fsync the directory.

After `write_file_atomically` returns, the file survives a crash, whole or not at all.
The temporary file is created exclusively (O_EXCL | O_NOFOLLOW) with a random name, so a
planted file or symlink cannot receive the data.
"""

import os
import secrets
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temporary(directory: Path, data: bytes, mode: int) -> Path:
    temporary = directory / f".tmp-{secrets.token_hex(8)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(temporary, flags, mode)
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


def write_file_atomically(
    path: Path, data: bytes, *, mode: int = 0o644, overwrite: bool = True
) -> bool:
    """Write data to path durably. With overwrite=False an existing file is left alone
    and False is returned (the check and the write are one atomic link)."""
    directory = path.parent if str(path.parent) else Path(".")
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
