"""Filesystem storage: temp file, fsync, link (no overwrite), fsync directory (vault.atomic)."""

import contextlib
import errno
import os
from pathlib import Path

from relay_server.errors import StorageError
from relay_server.storage.base import BlobStorage, describe_key
from vault.atomic import fsync_directory, write_file_atomically


def _describe(error: OSError) -> str:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    return error.strerror or type(error).__name__


class FilesystemStorage(BlobStorage):
    """Objects as files below root. A write has returned only once it is durable."""

    def __init__(self, root: str | Path, *, threads: int = 8) -> None:
        super().__init__(threads)
        self.root = Path(root)
        self._known_dirs: set[Path] = set()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(f"cannot create the storage directory: {_describe(error)}") from None

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def _ensure_directory(self, directory: Path) -> None:
        """Create directory and its missing parents, each fsynced into its parent."""
        if directory in self._known_dirs:
            return
        missing = []
        current = directory
        while current != self.root and not current.is_dir():
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):
                path.mkdir()
            fsync_directory(path.parent)
        self._known_dirs.add(directory)

    def _put_new(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        try:
            self._ensure_directory(path.parent)
            return write_file_atomically(path, data, mode=0o640, overwrite=False)
        except OSError as error:
            raise StorageError(f"storing {describe_key(key)} failed: {_describe(error)}") from None

    def _confirm(self, key: str) -> None:
        try:
            fsync_directory(self._path(key).parent)
        except OSError as error:
            raise StorageError(f"storing {describe_key(key)} failed: {_describe(error)}") from None

    def _get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StorageError(f"reading {describe_key(key)} failed: {_describe(error)}") from None

    def _children(self, prefix: str) -> list[str]:
        directory = self._path(prefix.rstrip("/"))
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise StorageError(
                f"listing {describe_key(prefix)} failed: {_describe(error)}"
            ) from None
        return sorted(n for n in names if not n.startswith("."))

    def _replace(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            self._ensure_directory(path.parent)
            write_file_atomically(path, data, mode=0o640)
        except OSError as error:
            raise StorageError(f"storing {describe_key(key)} failed: {_describe(error)}") from None
