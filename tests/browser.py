"""A real Chromium for the browser tests (stream/demo/chromium.py launches it).

Each browser test calls `chromium_or_skip()`: it skips with a one-line reason when
Chromium (or Playwright) is missing, or fails when TESTIGO_REQUIRE_BROWSER=1 (CI
installs Chromium, so there the browser tests must run). No browser is downloaded.
"""

import os
from typing import Final

import pytest

from stream.demo.chromium import chromium_page, chromium_path, chromium_pids, missing_browser

REQUIRE_ENV: Final = "TESTIGO_REQUIRE_BROWSER"

__all__ = ["chromium_or_skip", "chromium_page", "chromium_pids"]


def chromium_or_skip() -> str:
    """The Chromium executable, or a skip (a failure in CI) saying what is missing."""
    missing = missing_browser()
    path = chromium_path()
    if missing is None and path is not None:
        return path
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{missing}, and {REQUIRE_ENV}=1")
    pytest.skip(missing or "no browser")
