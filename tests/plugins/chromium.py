"""Headless Chromium for rendering tests: the `chromium_binary` fixture.

Finds /usr/bin/chromium (Debian package `chromium`) or `chromium` on PATH; when missing, the
test is skipped locally and fails under CI=true (tests/plugins/services.require_service).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.plugins.services import require_service

DEBIAN_PATH = Path("/usr/bin/chromium")


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    if DEBIAN_PATH.exists():
        return str(DEBIAN_PATH)
    return shutil.which("chromium")


@pytest.fixture
def chromium_binary() -> str:
    """Path of the Chromium binary (skip or CI failure when not installed)."""
    binary = find_chromium()
    require_service(binary is not None, "chromium not installed (apt-get install -y chromium)")
    assert binary is not None
    return binary
