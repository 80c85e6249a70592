"""Helpers for tests that need an outside service (PostgreSQL, Chromium, SMTP).

On a user's machine a missing service skips the test with the reason shown; under CI=true a
missing service is a failure, so CI can never go green by skipping.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(available: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when a service the test needs is missing."""
    if available:
        return
    if in_ci():
        pytest.fail(f"required service missing under CI=true: {reason}")
    pytest.skip(reason)
