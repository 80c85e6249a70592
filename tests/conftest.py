"""Shared pytest wiring. Each real thing (fake NCBI server, databases, Chromium) has its own
plugin module under tests/plugins/, so fixtures stay next to the code that builds them."""

from __future__ import annotations

pytest_plugins = [
    "tests.plugins.services",
    "tests.plugins.fake_ncbi",
    "tests.plugins.databases",
    "tests.plugins.chromium",
    "tests.plugins.smtp",
]
