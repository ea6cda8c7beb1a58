"""Where Testigo keeps its files on this machine."""

import os
from pathlib import Path

import platformdirs

HOME_VARIABLE = "TESTIGO_HOME"


def data_home(override: Path | None = None) -> Path:
    """The data directory: override, else $TESTIGO_HOME, else the platform's data dir."""
    if override is not None:
        return override
    from_environment = os.environ.get(HOME_VARIABLE)
    if from_environment:
        return Path(from_environment)
    return Path(platformdirs.user_data_dir("testigo", appauthor=False))


def ensure_private_directory(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
