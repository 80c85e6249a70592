"""Issue 17, phase 2: a hostile record, a hostile local file system or a crowded disk must not
leak, hang, corrupt or lie.

Each test is named by the issue's item number and was written to fail on the code before its
fix. Every server here is a local fake (the fake NCBI E-utilities, an SMTP sink); every record is
synthetic (PMIDs 99000001 up, invented titles and journals).
"""

from __future__ import annotations

import errno
import json
import os
import re
import resource
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape as xml_escape

import psycopg
import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

import aggregator
from aggregator import atomic
from aggregator.cli import cli
from aggregator.errors import ConfigError, StoreError
from aggregator.http import EutilsHTTPError, PoliteSession, RetryPolicy
from aggregator.jobs.delivery import SmtpSettings
from aggregator.pubmed.fake import BASE_TODAY, FakeEutils
from aggregator.store import engine as store_engine
from aggregator.store.engine import open_engine, store_errors
from aggregator.timeutil import utc_now
from aggregator.weeks import current_week
from tests.plugins.smtp import PASSWORD as SMTP_PASSWORD
from tests.plugins.smtp import USER as SMTP_USER
from tests.plugins.smtp import SmtpServer

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
    result = CliRunner().invoke(
        cli, ["run", "--no-digest", "--no-registry", "--format", "text"], env=env
    )

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


# ---- item 16: a full disk is said as such, not as a damaged database ----------


def sqlite_error(message: str, name: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorname = name  # type: ignore[attr-defined]
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


def store_message(url: str, driver_error: Exception) -> str:
    """The StoreError message store_errors makes of ``driver_error`` (as SQLAlchemy wraps it)."""
    with pytest.raises(StoreError) as raised, store_errors(url):
        raise sa_exc.OperationalError("INSERT INTO article ...", {}, driver_error)
    return str(raised.value)


def full_disk_message(where: str) -> str:
    return (
        f"the disk holding database {where} is full; nothing was lost (the unfinished change "
        "was rolled back): free some space, then run the command again"
    )


@pytest.mark.parametrize(
    "driver_error",
    [
        # What SQLite says when a write finds no space (also for a max_page_count limit).
        sqlite_error("database or disk is full", "SQLITE_FULL", 13),
        # What opening a WAL database says on a full disk: the WAL index cannot grow.
        sqlite_error("disk I/O error", "SQLITE_IOERR_SHMSIZE", 4874),
    ],
    ids=["SQLITE_FULL", "SQLITE_IOERR_SHMSIZE"],
)
def test_item16_a_full_disk_under_sqlite_is_said_as_such(
    driver_error: Exception, tmp_path: Path
) -> None:
    path = tmp_path / "store.sqlite"
    # Before: "database ... is damaged or not an SQLite database: disk I/O error" and
    # "cannot use database ...: database or disk is full".
    assert store_message(f"sqlite:///{path}", driver_error) == full_disk_message(str(path))


def test_item16_a_disk_io_error_on_a_disk_with_no_space_left_is_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.sqlite"
    url = f"sqlite:///{path}"
    write_error = sqlite_error("disk I/O error", "SQLITE_IOERR_WRITE", 778)
    damaged = f"database {path} is damaged or not an SQLite database: disk I/O error"
    assert store_message(url, write_error) == damaged  # with space left: not a full disk

    monkeypatch.setattr(shutil, "disk_usage", lambda _path: shutil._ntuple_diskusage(10, 10, 0))  # type: ignore[attr-defined]

    assert store_message(url, write_error) == full_disk_message(str(path))


@pytest.mark.parametrize(
    "driver_error",
    [
        psycopg.errors.DiskFull(
            'could not extend file "base/16384/16402": No space left on device'
        ),
        psycopg.OperationalError(
            'could not write to file "pg_wal/xlogtemp.123": No space left on device'
        ),
    ],
    ids=["DiskFull", "No space left on device"],
)
def test_item16_a_full_disk_on_the_postgresql_server_is_said_as_such(
    driver_error: Exception,
) -> None:
    url = "postgresql+psycopg://aggregator:pw-not-shown@db.example.org/evidence"
    where = "postgresql+psycopg://aggregator:***@db.example.org/evidence"
    message = store_message(url, driver_error)
    # Before: "cannot use database ...: could not extend file ...".
    assert message == (
        f"the disk of the database server is full (database {where}); nothing was lost (the "
        "unfinished change was rolled back): free space on the server, then run the command "
        "again"
    )


def test_item16_an_import_into_a_database_that_cannot_grow_says_disk_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real SQLITE_FULL from the driver: the database may not grow past the pages it has (as
    # on a disk with no space left).
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "store.sqlite"
    env = {"AGGREGATOR_DB": str(database)}
    open_engine(f"sqlite:///{database}").dispose()  # an empty database of the current schema
    records = "".join(
        f"<PubmedArticle><MedlineCitation><PMID>{99000900 + n}</PMID><Article><ArticleTitle>"
        f"Magnesium citrate and migraine {n} {'filler words ' * 200}</ArticleTitle></Article>"
        "</MedlineCitation></PubmedArticle>"
        for n in range(40)
    )
    (tmp_path / "many.xml").write_text(
        f"<PubmedArticleSet>{records}</PubmedArticleSet>", encoding="utf-8"
    )
    original = store_engine.create_store_engine

    def capped(url: str, **kwargs: Any) -> Any:
        engine = original(url, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def cap(dbapi_connection: sqlite3.Connection, _record: object) -> None:
            (pages,) = dbapi_connection.execute("PRAGMA page_count").fetchone()
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

        return engine

    monkeypatch.setattr(store_engine, "create_store_engine", capped)

    result = CliRunner().invoke(cli, ["import", "many.xml"], env=env)

    assert (result.exit_code, result.stderr) == (
        1,
        f"error: {full_disk_message(str(database))}\n",
    )


# ---- a small synthetic database for the digest and export tests ----------

WEEK = current_week(utc_now())  # imported articles are first seen this week
ATOM = "http://www.w3.org/2005/Atom"
RECORD = (
    '<PubmedArticle><MedlineCitation Status="Publisher" Owner="NLM">'
    '<PMID Version="1">{pmid}</PMID><Article PubModel="Print"><Journal><JournalIssue>'
    "<PubDate><Year>2025</Year></PubDate></JournalIssue><Title>{journal}</Title></Journal>"
    "<ArticleTitle>{title}</ArticleTitle><Abstract><AbstractText>{abstract}</AbstractText>"
    "</Abstract><AuthorList><Author><LastName>Fakename</LastName><ForeName>Testy</ForeName>"
    "</Author></AuthorList></Article></MedlineCitation><PubmedData><History>"
    '<PubMedPubDate PubStatus="entrez"><Year>2025</Year><Month>3</Month><Day>1</Day>'
    '</PubMedPubDate></History><ArticleIdList><ArticleId IdType="pubmed">{pmid}</ArticleId>'
    "{doi}</ArticleIdList></PubmedData></PubmedArticle>"
)


def record_xml(
    pmid: int,
    title: str = "Magnesium glycinate and migraine: an open-label pilot study",
    *,
    journal: str = "Journal of Synthetic Neurology",
    doi: str | None = None,
    abstract: str = "Magnesium glycinate was given to adults with migraine.",
) -> str:
    doi_xml = f'<ArticleId IdType="doi">{xml_escape(doi)}</ArticleId>' if doi else ""
    return RECORD.format(
        pmid=pmid,
        title=xml_escape(title),
        journal=xml_escape(journal),
        abstract=xml_escape(abstract),
        doi=doi_xml,
    )


def import_records(tmp_path: Path, env: dict[str, str], *records: str) -> None:
    path = tmp_path / f"records-{len(list(tmp_path.glob('records-*')))}.xml"
    path.write_text(
        f'<?xml version="1.0"?>\n<PubmedArticleSet>{"".join(records)}</PubmedArticleSet>\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["import", str(path)], env=env)
    assert result.exit_code == 0, result.output


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The CLI environment of a database holding a few synthetic articles."""
    monkeypatch.chdir(tmp_path)
    for name in ("NCBI_API_KEY", "AGGREGATOR_QUERIES", "AGGREGATOR_SMTP_URL"):
        monkeypatch.delenv(name, raising=False)
    env = {"AGGREGATOR_DB": str(tmp_path / "store.sqlite"), "AGGREGATOR_OUT": str(tmp_path / "out")}
    import_records(
        tmp_path,
        env,
        record_xml(99000901, doi="10.1000/synthetic.901"),
        record_xml(99000902, "Magnesium oxide for migraine prophylaxis: a randomized trial"),
    )
    return env


def digest_names(week: str = WEEK) -> list[str]:
    return [f"digest-{week}.md", f"digest-{week}.html", f"digest-{week}.json", "feed.xml"]


def check_complete(folder: Path, week: str = WEEK) -> None:
    """Each digest file and the feed is whole: JSON parses, HTML and the feed end properly."""
    json.loads((folder / f"digest-{week}.json").read_text(encoding="utf-8"))
    assert (folder / f"digest-{week}.html").read_text(encoding="utf-8").endswith("</html>\n")
    assert (folder / f"digest-{week}.md").read_text(encoding="utf-8").endswith("\n")
    feed = etree.fromstring((folder / "feed.xml").read_bytes())
    links = {link.get("href") for link in feed.iter(f"{{{ATOM}}}link")}
    assert links == {f"digest-{week}.{fmt}" for fmt in ("md", "html")}


# ---- item 12: no fixed temporary names; planted links are never followed ----------


def test_item12_links_planted_at_the_old_temporary_names_and_the_targets_are_not_followed(
    library: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victims = {}
    for name in digest_names():
        # The names the writer used before (digest-2026-W48.md.tmp, feed.xml.tmp) and the
        # targets themselves, each a link to a file of someone else's.
        for planted in (f"{name}.tmp", name):
            victim = tmp_path / f"victim-{planted}"
            victim.write_text(f"precious {planted}\n", encoding="utf-8")
            (out / planted).symlink_to(victim)
            victims[victim] = f"precious {planted}\n"

    result = CliRunner().invoke(cli, ["digest", "--week", WEEK, "--out", "out"], env=library)

    # Before the atomic writer: the digest was written through digest-2026-W48.md.tmp into
    # the file it pointed to.
    assert result.exit_code == 0, result.output
    assert {v: v.read_text(encoding="utf-8") for v in victims} == victims
    for name in digest_names():
        assert not (out / name).is_symlink()
        assert (out / f"{name}.tmp").is_symlink()  # left alone, never written through
    check_complete(out)
    planted = {f"{name}.tmp" for name in digest_names()}
    assert sorted(p.name for p in out.iterdir() if p.name not in planted) == sorted(digest_names())


# A real `aggregator digest`, with every rename slowed down (as on a slow or busy disk), so
# that two processes started together are between writing and renaming at the same time.
SLOW_RENAME_DIGEST = (
    "import os, time\n"
    "rename = os.replace\n"
    "def slow(*args, **kwargs):\n"
    "    time.sleep(0.4)\n"
    "    return rename(*args, **kwargs)\n"
    "os.replace = slow\n"
    "from aggregator.cli import main\n"
    "main()\n"
)


def test_item12_digest_processes_writing_the_same_week_at_once_all_succeed_with_whole_files(
    library: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    package_root = Path(aggregator.__file__).resolve().parent.parent
    env = {**os.environ, **library, "PYTHONPATH": str(package_root)}
    command = [
        sys.executable,
        "-c",
        SLOW_RENAME_DIGEST,
        "digest",
        "--week",
        WEEK,
        "--out",
        str(out),
    ]
    seen_incomplete: list[str] = []
    stop = threading.Event()

    def read_while_written() -> None:
        while not stop.is_set():
            try:
                check_complete(out)
            except FileNotFoundError:
                continue  # not written yet
            except Exception as exc:  # a half-written file
                seen_incomplete.append(repr(exc))

    reader = threading.Thread(target=read_while_written, daemon=True)
    reader.start()
    try:
        for _round in range(2):
            runs = [
                subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for _ in range(2)
            ]
            outcomes = [run.communicate(timeout=120) for run in runs]
            # Before: both wrote digest-<week>.md.tmp; the first renamed it away under the
            # second, whose rename then failed (FileNotFoundError, a traceback, exit 1).
            # (stderr lists the files written, "wrote ...", and nothing else)
            assert [
                (
                    run.returncode,
                    [line for line in err.decode().splitlines() if "wrote " not in line],
                )
                for run, (_, err) in zip(runs, outcomes, strict=True)
            ] == [(0, [])] * 2
    finally:
        stop.set()
        reader.join()
    assert seen_incomplete[:3] == []
    check_complete(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(digest_names())


# ---- item 17: files are written with the permissions the umask allows ----------


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    original = os.umask(0o022)
    os.umask(original)
    yield lambda mask: os.umask(mask) and None
    os.umask(original)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_item17_export_and_digest_files_get_the_mode_the_umask_allows(
    mask: int, mode: int, library: dict[str, str], tmp_path: Path, umask: Callable[[int], None]
) -> None:
    umask(mask)
    exported = CliRunner().invoke(
        cli, ["export", "--format", "ris", "--out", "all.ris"], env=library
    )
    written = CliRunner().invoke(cli, ["digest", "--week", WEEK, "--out", "out"], env=library)

    assert (exported.exit_code, written.exit_code) == (0, 0)
    files = [tmp_path / "all.ris", *((tmp_path / "out" / name) for name in digest_names())]
    # Before: 0600 whatever the umask (the temporary file's mode from mkstemp).
    assert {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in files} == {
        path.name: oct(mode) for path in files
    }


# ---- item 2: no link injection in any output format ----------

HOSTILE_DOI = "10.1/x) [Click](javascript:alert(1)) <img src=x onerror=alert(1)>"
HOSTILE_TITLE = (
    "Magnesium glycinate](javascript:alert(2)) <img src=x onerror=alert(2)> "
    "[Click](javascript:alert(3)) <script>alert(4)</script> for migraine"
)
HOSTILE_JOURNAL = "J Synth [x](javascript:alert(5)) <iframe src=javascript:alert(6)>"
# A link target as it may stand in every format: http(s), nothing a Markdown or HTML parser
# would end it at or read as markup (percent-encoded instead).
SAFE_TARGET = re.compile(r"https?://[A-Za-z0-9\-._~:/?#@!$&*+,;=%]+")


def markdown_link_targets(markdown: str) -> list[str]:
    """The destination of every inline link ``[text](destination)``, read as CommonMark reads
    it: from an unescaped ``](`` to the first unbalanced ``)`` or whitespace."""
    targets = []
    for match in re.finditer(r"(?<!\\)\]\(", markdown):
        start = index = match.end()
        depth = 0
        while index < len(markdown):
            char = markdown[index]
            if char == "\\":
                index += 2
                continue
            if char.isspace() or (char == ")" and depth == 0):
                break
            depth += {"(": 1, ")": -1}.get(char, 0)
            index += 1
        targets.append(markdown[start:index] + markdown[index : index + 1])
    return targets


def check_markdown(markdown: str) -> None:
    targets = markdown_link_targets(markdown)
    assert targets, "no links at all"
    assert [t for t in targets if not (SAFE_TARGET.fullmatch(t[:-1]) and t.endswith(")"))] == []
    assert re.findall(r"(?<!\\)<[^>]*>?", markdown) == []  # no raw HTML or autolink
    assert "javascript:alert(1)" not in "".join(targets)


def check_html(html: str) -> None:
    soup = BeautifulSoup(html, "html.parser")
    assert [tag.name for tag in soup.find_all(["script", "img", "iframe"])] == []
    assert [t.name for t in soup.find_all(True) if any(a.startswith("on") for a in t.attrs)] == []
    hrefs = [a["href"] for a in soup.find_all(href=True)]
    assert hrefs and [h for h in hrefs if not SAFE_TARGET.fullmatch(h)] == []
    assert HOSTILE_TITLE in soup.get_text()  # the text itself is shown, as text


@pytest.fixture
def hostile_library(library: dict[str, str], tmp_path: Path) -> dict[str, str]:
    import_records(
        tmp_path,
        library,
        record_xml(99000911, HOSTILE_TITLE, journal=HOSTILE_JOURNAL, doi=HOSTILE_DOI),
        record_xml(99000912, doi="10.1002/(SICI)1097-4636(199706)35:4<417::AID-JBM1>3.0.CO;2-F"),
    )
    return library


def test_item02_hostile_doi_title_and_journal_stay_text_in_markdown_html_and_json(
    hostile_library: dict[str, str], tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        cli, ["digest", "--week", WEEK, "--out", "out"], env=hostile_library
    )

    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    markdown = (out / f"digest-{WEEK}.md").read_text(encoding="utf-8")
    # Before: "[DOI 10.1/x) ...](https://doi.org/10.1/x) [Click](javascript:alert(1)) <img
    # src=x onerror=alert(1)>)": a javascript: link and an <img> in the Markdown.
    check_markdown(markdown)
    check_html((out / f"digest-{WEEK}.html").read_text(encoding="utf-8"))
    articles = {
        a["pmid"]: a
        for a in json.loads((out / f"digest-{WEEK}.json").read_text(encoding="utf-8"))[
            "new_articles"
        ]
    }
    hostile = articles[99000911]
    assert hostile["doi"] == HOSTILE_DOI  # the DOI itself is kept as it is...
    assert SAFE_TARGET.fullmatch(hostile["doi_url"])  # ...and its link is percent-encoded
    assert hostile["doi_url"] == "https://doi.org/" + quote(HOSTILE_DOI, safe="/:;@!$&*+,=")
    # A real DOI with parentheses and angle brackets still resolves: encoded, not dropped.
    assert articles[99000912]["doi_url"] == (
        "https://doi.org/10.1002/%28SICI%291097-4636%28199706%2935:4%3C417::AID-JBM1%3E3.0.CO;2-F"
    )


def test_item02_the_digest_email_carries_no_injected_link(
    hostile_library: dict[str, str], smtp_server: SmtpServer
) -> None:
    url = f"smtp://{SMTP_USER}:{quote(SMTP_PASSWORD, safe='')}@127.0.0.1:{smtp_server.port}"
    env = {
        **hostile_library,
        "AGGREGATOR_SMTP_URL": f"{url}?from=digest@example.org&timeout=5",
        "AGGREGATOR_SMTP_TO": "alice@example.org",
    }
    result = CliRunner().invoke(cli, ["digest", "--week", WEEK, "--out", "out"], env=env)

    assert result.exit_code == 0, result.output
    (received,) = smtp_server.handler.received
    parts = {p.get_content_type(): str(p.get_content()) for p in received.message.iter_parts()}
    check_markdown(parts["text/plain"])
    check_html(parts["text/html"])


def test_item02_the_feed_keeps_only_its_own_file_names_and_http_links(
    library: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    # An older entry whose links someone changed: javascript:, data:, a file elsewhere.
    (out / "feed.xml").write_text(
        f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="{ATOM}"><id>x</id><title>t</title>'
        "<updated>2026-01-05T00:00:00Z</updated><entry><id>y</id><title>Old week</title>"
        "<updated>2026-01-05T00:00:00Z</updated>"
        '<link rel="alternate" type="text/html" href="digest-2026-W01.html"/>'
        '<link rel="alternate" type="text/html" href="javascript:alert(1)"/>'
        '<link rel="alternate" type="text/html" href="data:text/html,&lt;b&gt;x&lt;/b&gt;"/>'
        '<link rel="alternate" type="text/html" href="file:///etc/passwd"/>'
        '<link rel="alternate" type="text/html" href="https://example.org/digest-2026-W01.html"/>'
        "<summary>old</summary></entry></feed>\n",
        encoding="utf-8",
    )

    result = CliRunner().invoke(cli, ["digest", "--week", WEEK, "--out", "out"], env=library)

    assert result.exit_code == 0, result.output
    feed = etree.fromstring((out / "feed.xml").read_bytes())
    hrefs = sorted(link.get("href") for link in feed.iter(f"{{{ATOM}}}link"))
    # Before: the javascript:, data: and file: links were written back into the feed.
    assert hrefs == sorted(
        [
            "digest-2026-W01.html",
            "https://example.org/digest-2026-W01.html",
            f"digest-{WEEK}.html",
            f"digest-{WEEK}.md",
        ]
    )


# ---- item 13: a digest that cannot be written fails the run's digest step, cleanly ----------


def unwritable_out(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """An output folder that cannot take the digest, and the reason the error must give."""
    if kind == "missing":  # cannot be created: its parent is a file
        (tmp_path / "afile").write_text("synthetic\n", encoding="utf-8")
        return tmp_path / "afile" / "out", "Not a directory"
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    if kind == "read-only":  # simulated: root writes to a folder whatever its mode says

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise OSError(errno.EROFS, "Read-only file system", str(out))

        monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
        return out, "Read-only file system"

    def full(fd: int) -> None:  # a full disk shows when the data is flushed
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    return out, "No space left on device"


FAILURES = ["missing", "read-only", "full"]


@pytest.mark.parametrize("kind", FAILURES)
def test_item13_digest_command_into_an_unwritable_folder_is_one_error_line_and_leaves_nothing(
    kind: str, library: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, reason = unwritable_out(kind, tmp_path, monkeypatch)
    before = sorted(out.iterdir()) if out.is_dir() else []

    result = CliRunner().invoke(cli, ["digest", "--week", WEEK, "--out", str(out)], env=library)

    # Before: a traceback (NotADirectoryError, OSError), and for a full disk a 0-byte
    # .digest-<week>.md.<random>.tmp left in the folder.
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: cannot write the digest to {out}: {reason}\n",
    )
    assert (sorted(out.iterdir()) if out.is_dir() else []) == before


def run_health_failures(markdown: str) -> list[str]:
    lines = markdown.split("## Run health", 1)[1].splitlines()
    return [line.strip()[2:] for line in lines if line.startswith("  - ")]


@pytest.mark.parametrize("kind", FAILURES)
def test_item13_run_whose_digest_cannot_be_written_is_a_failed_run_and_says_why(
    kind: str,
    library: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: SmtpServer,
) -> None:
    url = f"smtp://{SMTP_USER}:{quote(SMTP_PASSWORD, safe='')}@127.0.0.1:{smtp_server.port}"
    env = {
        **library,
        "NCBI_EMAIL": "tests@example.invalid",
        "AGGREGATOR_SMTP_URL": f"{url}?from=digest@example.org&timeout=5",
        "AGGREGATOR_SMTP_TO": "alice@example.org",
    }
    with FakeEutils(today=BASE_TODAY, rate_limit=None, rate_limit_with_key=None) as fake:
        env["NCBI_EUTILS_URL"] = fake.url
        with monkeypatch.context() as patch:
            out, reason = unwritable_out(kind, tmp_path, patch)
            run = CliRunner().invoke(
                cli, ["run", "--out", str(out), "--no-registry", "--format", "text"], env=env
            )
    error = f"cannot write the digest to {out}: {reason}"

    # Before: a traceback, exit 1, the run recorded as "success", no e-mail, and for a full
    # disk a 0-byte temporary file left behind.
    assert run.exit_code == 1
    assert [line for line in run.stderr.splitlines() if "error" in line.lower()] == [
        f"error: {error}"
    ]
    assert "Traceback" not in run.output
    assert run.stdout.splitlines()[-1] == f"digest: FAILED: {error}"
    assert not out.is_dir() or list(out.iterdir()) == []
    # The run row says the digest step failed.
    ((status, run_error, details),) = sqlite3.connect(tmp_path / "store.sqlite").execute(
        "SELECT status, error, details FROM run WHERE kind = 'run'"
    )
    assert (status, run_error) == ("failed", f"digest: {error}")
    assert json.loads(details)["digest"] == {"ok": False, "error": error}
    assert [q["ok"] for q in json.loads(details)["queries"]] == [True, True]
    # The e-mail still went out: the digest was built, only its files could not be written.
    assert len(smtp_server.handler.received) == 1
    # `status` and the next digest's run health show it.
    status = CliRunner().invoke(cli, ["status", "--format", "text"], env=library)
    assert "failed: " in status.stdout and f"      error: digest: {error}" in status.stdout
    good = CliRunner().invoke(cli, ["digest", "--out", "good"], env=library)
    assert good.exit_code == 0, good.output
    (markdown,) = (tmp_path / "good").glob("digest-*.md")
    assert run_health_failures(markdown.read_text(encoding="utf-8")) == [
        f"digest: {error}".replace("_", "\\_")
    ]


# ---- item 15: `sql` has a time budget and a row cap ----------

ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
MEMORY_CAP = 2 << 30  # bytes of address space for the `sql` process (before: it grew forever)


def sql_database(backend: str, url: str) -> str:
    if backend == "sqlite":  # `sql` opens an existing file only
        path = Path(str(make_url(url).database))
        path.parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(path).close()
    return url


def run_sql(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`aggregator sql` as its own process, with a memory cap, stopped after 120 s."""
    package_root = Path(aggregator.__file__).resolve().parent.parent
    env = {**os.environ, "AGGREGATOR_DB": url, "PYTHONPATH": str(package_root)}

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    return subprocess.run(
        [sys.executable, "-c", "from aggregator.cli import main; main()", "sql", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=cap_memory,
    )


def row_cap_note(rows: int) -> str:
    return (
        f"note: stopped after {rows:,} rows (--max-rows {rows}); ask for more with "
        "--max-rows N (0: no limit)\n"
    )


def test_item15_sql_stops_an_endless_result_at_10000_rows_with_a_note(
    blank_db_url: str, backend: str
) -> None:
    url = sql_database(backend, blank_db_url)

    result = run_sql(url, f"{ENDLESS} SELECT x FROM c", "--format", "json")

    # Before: the rows were all fetched first: the process grew until the memory cap
    # stopped it (MemoryError) or ran for ever.
    assert (result.returncode, result.stderr) == (0, row_cap_note(10_000))
    assert [row["x"] for row in json.loads(result.stdout)] == list(range(1, 10_001))


def test_item15_sql_max_rows_is_the_cap(blank_db_url: str, backend: str) -> None:
    url = sql_database(backend, blank_db_url)

    capped = run_sql(url, f"{ENDLESS} SELECT x FROM c", "--max-rows", "3", "--format", "csv")
    under = run_sql(
        url,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3) "
        "SELECT x FROM c",
        "--max-rows",
        "3",
    )

    assert (capped.returncode, capped.stdout, capped.stderr) == (0, "x\n1\n2\n3\n", row_cap_note(3))
    assert (under.returncode, under.stderr) == (0, "")  # exactly the cap: nothing left out
    assert json.loads(under.stdout) == [{"x": 1}, {"x": 2}, {"x": 3}]


def test_item15_sql_stops_a_statement_that_runs_too_long(blank_db_url: str, backend: str) -> None:
    url = sql_database(backend, blank_db_url)
    started = time.monotonic()

    result = run_sql(url, f"{ENDLESS} SELECT count(*) FROM c", "--timeout", "1")

    # Before: no --timeout, and the statement ran until stopped from outside.
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "error: SQL stopped after 1 s (--timeout 1); raise it with --timeout SECONDS "
        "(0: no limit)\n",
    )
    assert time.monotonic() - started < 30
