"""HTML digest structure, escaping and self-containment (BeautifulSoup). SYNTHETIC inputs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from bs4 import BeautifulSoup

from aggregator.digest import DigestArticle, build_digest, render_html
from tests.test_digest_corpus import (
    RCT,
    W48,
    article,
    corpus_digest,
)

SCRIPT_TITLE = "Magnesium <script>alert(1)</script> & headache (synthetic)"


def soup_for(
    week: str, articles: Sequence[DigestArticle] | None = None, *, demo: bool = False
) -> BeautifulSoup:
    return BeautifulSoup(render_html(corpus_digest(week, articles, demo=demo)), "html.parser")


def test_document_head_and_sections() -> None:
    soup = soup_for("2026-W48")
    assert soup.html is not None and soup.html["lang"] == "en"
    viewport = soup.find("meta", attrs={"name": "viewport"})
    assert viewport is not None and "width=device-width" in viewport["content"]
    assert soup.title is not None
    assert soup.title.string == "Magnesium and migraine evidence digest, 2026-W48"
    style = soup.find("style")
    assert style is not None and "@media print" in style.text and "overflow-x: auto" in style.text
    assert [s["id"] for s in soup.find_all("section")] == [
        "headline",
        "new",
        "glycinate-over-time",
        "evidence-map",
        "registered-trials",
        "revised",
        "run-health",
    ]


def test_headings_are_in_order() -> None:
    soup = soup_for("2026-W48")
    levels = [int(h.name[1]) for h in soup.find_all(re.compile(r"^h[1-6]$"))]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False))


def test_self_contained_without_scripts_or_external_resources() -> None:
    soup = soup_for("2026-W48")
    assert soup.find_all("script") == []
    assert soup.find_all(["link", "img", "iframe", "object", "embed"]) == []
    assert not any(attr.startswith("on") for tag in soup.find_all(True) for attr in tag.attrs)
    # Only PubMed, DOI and ClinicalTrials.gov links leave the page.
    hosts = {re.sub(r"^(https://[^/]+/).*$", r"\1", str(a["href"])) for a in soup.find_all("a")}
    assert hosts == {
        "https://pubmed.ncbi.nlm.nih.gov/",
        "https://doi.org/",
        "https://clinicaltrials.gov/",
    }


def test_milestone_and_new_article_links() -> None:
    soup = soup_for("2026-W48")
    milestone = soup.select_one("p.milestone")
    assert milestone is not None
    assert milestone.a is not None and milestone.a["href"] == (
        "https://pubmed.ncbi.nlm.nih.gov/99000019/"
    )
    first = soup.select("#new li.article")[0]
    assert first["data-pmid"] == "99000019"
    assert [(a.text, a["href"]) for a in first.select(".meta a")] == [
        ("PubMed 99000019", "https://pubmed.ncbi.nlm.nih.gov/99000019/"),
        ("DOI 10.99999/synthetic.99000019", "https://doi.org/10.99999/synthetic.99000019"),
    ]
    snippet = first.select_one(".snippet")
    assert snippet is not None
    assert snippet.text == "Glycinate tag (abstract): “randomised to magnesium glycinate 400 mg”"


def test_chart_svg_has_title_desc_and_a_data_table() -> None:
    soup = soup_for("2026-W48")
    svg = soup.select_one("#glycinate-over-time svg")
    assert svg is not None and svg["role"] == "img"
    assert svg.title is not None
    assert svg.title.string == "Cumulative articles by year: glycinate, oxide, citrate"
    desc = svg.find("desc")
    assert desc is not None and "glycinate: 1 direct and 6 indirect" in desc.text
    assert len(svg.find_all("rect")) > 20
    table = soup.select_one("#chart-data")
    assert table is not None
    header = [th.text for th in table.select("thead th")]
    assert header == ["Year", "glycinate", "oxide", "citrate"]
    last = [cell.text for cell in table.select("tbody tr")[-1].find_all(["th", "td"])]
    assert last == ["2026", "7 (1)", "7 (6)", "6 (4)"]


def test_evidence_map_marks_changes() -> None:
    soup = soup_for("2026-W48")
    rows = soup.select("#evidence-map-table tbody tr")
    glycinate = [cell.text for cell in rows[0].find_all(["th", "td"])]
    assert glycinate[:3] == ["glycinate", "7 (+1)", "1 (+1)"]
    assert glycinate[-1] == "2"


def test_retraction_section() -> None:
    soup = soup_for("2026-W47")
    items = soup.select("#revised li")
    assert [li.get("class") for li in items] == [["retraction"]]
    assert items[0].a is not None
    assert items[0].a["href"] == "https://pubmed.ncbi.nlm.nih.gov/99000007/"
    assert "retraction seen 2026-11-16" in items[0].text


def test_script_in_a_title_is_shown_as_text() -> None:
    hostile = article(
        99000501,
        SCRIPT_TITLE,
        forms=("glycinate",),
        study_type=RCT,
        seen=W48,
        snippet="<img src=x onerror=alert(2)> glycinate",
        field="abstract",
    )
    hostile = replace(hostile, journal="<b>Journal</b>", doi='10.99999/"><script>x</script>')
    soup = soup_for("2026-W48", [hostile])
    assert soup.find_all("script") == []
    assert soup.find_all("img") == []
    assert soup.find_all("b") == []
    heading = soup.select_one("#new li.article h3")
    assert heading is not None and heading.text == SCRIPT_TITLE
    cells = soup.select("#glycinate-articles tbody td")
    assert cells[2].text == SCRIPT_TITLE
    raw = render_html(build_digest("2026-W48", [hostile], [], []))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw


def test_empty_week_says_so_instead_of_empty_sections() -> None:
    soup = soup_for("2026-W49")
    empty = soup.select_one("#empty-week")
    assert empty is not None
    assert empty.text == "No new articles this week. No articles were revised or retracted."
    assert soup.select("#new, #revised") == []


def test_demo_digest_says_so_first() -> None:
    soup = soup_for("2026-W48", demo=True)
    assert soup.h1 is not None and soup.h1.text.endswith("(DEMO: synthetic data)")
    first_paragraph = soup.find("p")
    assert first_paragraph is not None and first_paragraph["class"] == ["demo"]
    assert "synthetic corpus" in first_paragraph.text


def test_no_direct_glycinate_sentence_is_emphasised() -> None:
    soup = soup_for("2026-W45")
    absent = soup.select_one("#headline li.absent")
    assert absent is not None
    assert absent.text == (
        "No published study has tested magnesium glycinate for migraine or headache yet."
    )
