"""Issue 17, phase 2: a hostile record, a hostile local file system or a crowded disk must not
leak, hang, corrupt or lie.

Each test is named by the issue's item number and was written to fail on the code before its
fix. Every server here is a local fake (the fake NCBI E-utilities, an SMTP sink); every record is
synthetic (PMIDs 99000001 up, invented titles and journals).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.errors import ConfigError
from aggregator.http import EutilsHTTPError, PoliteSession, RetryPolicy
from aggregator.jobs.delivery import SmtpSettings

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


# ---- item 5: an SMTP password is never shown, whatever characters it holds ----------

SMTP_PASSWORDS = [
    f"{head}{char}{tail}"
    for char in ("/", "?", "#", "@", ":", "%", "&", "=", " ")
    for head, tail in (("Zq4v", "9xKw"), ("1234", "9xKw"))
] + ["Zq/4v?9x#Kw", "12?from=Zq4v", "12?starttls=Zq4v", "Zq@9x/Kw", "Zq4v%2"]
SMTP_URL_FORMS = [
    "smtps://digest:{password}@mail.example.org:465?from=digest@example.org",
    "smtps://digest:{password}@mail.example.org?from=digest@example.org&timeout=5",
    "smtp://digest:{password}@mail.example.org:587?starttls=1&from=digest@example.org",
    "ftp://digest:{password}@mail.example.org",
]


def fragments(password: str) -> list[str]:
    """The password and every run of 4 or more of its letters and digits."""
    return [password, *(part for part in re.split(r"[^A-Za-z0-9]", password) if len(part) >= 4)]


@pytest.mark.parametrize("form", SMTP_URL_FORMS)
@pytest.mark.parametrize("password", SMTP_PASSWORDS)
def test_item05_no_part_of_an_smtp_password_appears_in_an_error(form: str, password: str) -> None:
    url = form.format(password=password)
    try:
        settings = SmtpSettings.from_url(url, ["alice@example.org"])
    except ConfigError as exc:
        message = str(exc)
        # Before: "AGGREGATOR_SMTP_URL is not a valid URL (Port could not be cast to integer
        # value as 'Zq4v')", or unknown parameter '9xKw@mail.example.org:465?from', ...
        assert [part for part in fragments(password) if part in message] == [], message
        assert message.startswith("AGGREGATOR_SMTP_URL")
        return
    # Accepted: then it was read right (never a piece of the password taken as the host).
    assert (settings.host, settings.password, settings.username) == (
        "mail.example.org",
        unquote(password),
        "digest",
    )
    assert [part for part in fragments(password) if part in repr(settings)] == []


@pytest.mark.parametrize("char", ["/", "?", "#"])
def test_item05_the_cli_never_shows_an_smtp_password(
    char: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    password = f"Zq4v{char}9xKw"
    env = {
        "AGGREGATOR_DB": str(tmp_path / "store.sqlite"),
        "AGGREGATOR_OUT": str(tmp_path / "out"),
        "AGGREGATOR_SMTP_URL": f"smtps://digest:{password}@mail.example.org?from=d@example.org",
        "AGGREGATOR_SMTP_TO": "alice@example.org",
    }
    result = CliRunner().invoke(cli, ["-vv", "digest"], env=env)

    assert result.exit_code == 1
    (last,) = result.stderr.splitlines()[-1:]
    assert last.startswith("error: AGGREGATOR_SMTP_URL is not a valid URL")
    assert [part for part in fragments(password) if part in result.output] == []
