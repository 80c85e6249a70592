"""Issue 17, phase 2: a hostile record, a hostile local file system or a crowded disk must not
leak, hang, corrupt or lie.

Each test is named by the issue's item number and was written to fail on the code before its
fix. Every server here is a local fake (the fake NCBI E-utilities, an SMTP sink); every record is
synthetic (PMIDs 99000001 up, invented titles and journals).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.http import EutilsHTTPError, PoliteSession, RetryPolicy

# ---- DNS: a host that does not exist fails at once, with its name ----------


@pytest.fixture
def unresolvable(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Name resolution fails for hosts under .invalid (as the system resolver says for a host
    that does not exist); the list records each lookup."""
    lookups: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if isinstance(host, str) and host.endswith(".invalid"):
            lookups.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield lookups


def test_dns_a_host_name_that_does_not_resolve_is_not_retried(unresolvable: list[str]) -> None:
    session = PoliteSession(
        tool="aggregator-hardening-tests",
        email="tests@example.invalid",
        requests_per_second=50,
        retry=RetryPolicy(max_attempts=5, backoff_base=0.01, backoff_max=0.02),
    )
    with session, pytest.raises(EutilsHTTPError) as raised:
        session.get("https://eutils.no-such-host.invalid/entrez/eutils/esearch.fcgi", {"db": "x"})

    # Before: five attempts with backoff, then "esearch request to ... failed 5 times; giving
    # up (last error: host name not found)".
    assert unresolvable == ["eutils.no-such-host.invalid"]
    assert str(raised.value) == "host name not found: eutils.no-such-host.invalid"
    assert session.stats == {"esearch": 1}


def test_dns_a_harvest_says_host_name_not_found_once_per_saved_search(
    unresolvable: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NCBI_API_KEY", raising=False)
    monkeypatch.delenv("AGGREGATOR_QUERIES", raising=False)
    env = {
        "AGGREGATOR_DB": str(tmp_path / "store.sqlite"),
        "NCBI_EUTILS_URL": "https://eutils.no-such-host.invalid/entrez/eutils/",
        "NCBI_EMAIL": "tests@example.invalid",
    }
    result = CliRunner().invoke(cli, ["run", "--no-digest"], env=env)

    assert result.exit_code == 1
    assert result.stdout.splitlines()[:2] == [
        "magnesium-glycinate: FAILED: host name not found: eutils.no-such-host.invalid",
        "magnesium-migraine: FAILED: host name not found: eutils.no-such-host.invalid",
    ]
    assert unresolvable == ["eutils.no-such-host.invalid"] * 2
