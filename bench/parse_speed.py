"""Time aggregator.pubmed.xml against Bio.Entrez.read on a PubMed XML file.

Usage:
    python bench/parse_speed.py                 # generates 2,000 synthetic records
    python bench/parse_speed.py --records 5000  # more synthetic records
    python bench/parse_speed.py FILE.xml        # a PubmedArticleSet file you have

Prints records/s for both parsers, the speed ratio, and the peak memory of each (tracemalloc
and peak RSS, each measured in a fresh child process so one run cannot inflate the other),
plus this project's parser at 1x and 4x the file size to show memory does not grow with it.
Figures only: nothing here asserts on timing. Nothing is downloaded: Bio.Entrez reads the
PubMed DTD bundled with Biopython, and its download hook is replaced by one that fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

# The DTD Biopython bundles (Bio/Entrez/DTDs/pubmed_250101.dtd), so Entrez.read needs no network.
DOCTYPE = (
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">'
)
FIRST_PMID = 99_000_000
FORMS = ("glycinate", "oxide", "citrate", "sulfate", "threonate", "malate")


def synthetic_record(index: int) -> str:
    """One invented PubmedArticle, shaped like a current efetch record."""
    pmid = FIRST_PMID + index
    form = FORMS[index % len(FORMS)]
    authors = "".join(
        f'<Author ValidYN="Y"><LastName>Testauthor{index}x{n}</LastName>'
        f"<ForeName>Fictional {chr(65 + n)}</ForeName><Initials>F{chr(65 + n)}</Initials>"
        f'<Identifier Source="ORCID">https://orcid.org/0000-0000-0000-{n:04d}</Identifier>'
        f"<AffiliationInfo><Affiliation>Department {n}, Example Institute of Invented "
        f"Studies, Nowhere.</Affiliation></AffiliationInfo></Author>"
        for n in range(6)
    )
    mesh = "".join(
        f'<MeshHeading><DescriptorName UI="D{n:06d}" MajorTopicYN="{"Y" if n == 0 else "N"}">'
        f"Heading {n}</DescriptorName>"
        f'<QualifierName UI="Q{n:06d}" MajorTopicYN="N">therapeutic use</QualifierName>'
        f"</MeshHeading>"
        for n in range(12)
    )
    cites = "".join(
        f'<CommentsCorrections RefType="Cites"><RefSource>Invented J. 20{n:02d};{n}:1-9'
        f'</RefSource><PMID Version="1">{FIRST_PMID + n}</PMID></CommentsCorrections>'
        for n in range(25)
    )
    sections = "".join(
        f'<AbstractText Label="{label}" NlmCategory="{label}">Synthetic {label.lower()} text '
        f"about magnesium {form} and migraine with <i>inline</i> markup, 10<sup>3</sup> "
        f"units and H<sub>2</sub>O. {escape('Values <5 & >2 were invented.')}</AbstractText>"
        for label in ("BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS")
    )
    return (
        '<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">'
        f'<PMID Version="1">{pmid}</PMID>'
        "<DateCompleted><Year>2024</Year><Month>02</Month><Day>03</Day></DateCompleted>"
        "<DateRevised><Year>2024</Year><Month>03</Month><Day>04</Day></DateRevised>"
        '<Article PubModel="Print-Electronic"><Journal><ISSN IssnType="Electronic">0000-0000'
        '</ISSN><JournalIssue CitedMedium="Internet"><Volume>12</Volume><Issue>3</Issue>'
        "<PubDate><Year>2024</Year><Month>Jan</Month><Day>5</Day></PubDate></JournalIssue>"
        "<Title>Journal of Invented Headache Research</Title>"
        "<ISOAbbreviation>J Invented Headache Res</ISOAbbreviation></Journal>"
        f"<ArticleTitle>Magnesium {form} for migraine: synthetic record {index}.</ArticleTitle>"
        "<Pagination><StartPage>100</StartPage><EndPage>110</EndPage>"
        "<MedlinePgn>100-110</MedlinePgn></Pagination>"
        f'<ELocationID EIdType="doi" ValidYN="Y">10.99999/synthetic.{pmid}</ELocationID>'
        f"<Abstract>{sections}</Abstract>"
        f'<AuthorList CompleteYN="Y">{authors}</AuthorList><Language>eng</Language>'
        '<GrantList CompleteYN="Y"><Grant><GrantID>X00 TEST0001</GrantID><Acronym>XX</Acronym>'
        "<Agency>Invented Agency</Agency><Country>Nowhere</Country></Grant></GrantList>"
        '<PublicationTypeList><PublicationType UI="D016428">Journal Article</PublicationType>'
        '<PublicationType UI="D016449">Randomized Controlled Trial</PublicationType>'
        "</PublicationTypeList>"
        '<ArticleDate DateType="Electronic"><Year>2023</Year><Month>12</Month><Day>20</Day>'
        "</ArticleDate></Article>"
        "<MedlineJournalInfo><Country>Nowhere</Country><MedlineTA>J Invented Headache Res"
        "</MedlineTA><NlmUniqueID>000000000</NlmUniqueID></MedlineJournalInfo>"
        "<ChemicalList><Chemical><RegistryNumber>I38ZP9992A</RegistryNumber>"
        '<NameOfSubstance UI="D008276">Magnesium Oxide</NameOfSubstance></Chemical>'
        "<Chemical><RegistryNumber>I38ZP9992A</RegistryNumber>"
        '<NameOfSubstance UI="D008274">Magnesium</NameOfSubstance></Chemical></ChemicalList>'
        f"<CommentsCorrectionsList>{cites}</CommentsCorrectionsList>"
        f"<MeshHeadingList>{mesh}</MeshHeadingList>"
        '<KeywordList Owner="NOTNLM"><Keyword MajorTopicYN="N">magnesium</Keyword>'
        f'<Keyword MajorTopicYN="N">{form}</Keyword></KeywordList></MedlineCitation>'
        "<PubmedData><History>"
        '<PubMedPubDate PubStatus="received"><Year>2023</Year><Month>10</Month><Day>1</Day>'
        "</PubMedPubDate>"
        '<PubMedPubDate PubStatus="entrez"><Year>2023</Year><Month>12</Month><Day>21</Day>'
        "<Hour>6</Hour><Minute>0</Minute></PubMedPubDate>"
        "</History><PublicationStatus>ppublish</PublicationStatus><ArticleIdList>"
        f'<ArticleId IdType="pubmed">{pmid}</ArticleId>'
        f'<ArticleId IdType="doi">10.99999/synthetic.{pmid}</ArticleId>'
        f'<ArticleId IdType="pmc">PMC{pmid}</ArticleId>'
        "</ArticleIdList></PubmedData></PubmedArticle>\n"
    )


def write_synthetic_file(path: Path, records: int) -> None:
    """Write a PubmedArticleSet of ``records`` invented records (PMIDs from 99000000)."""
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" ?>\n' + DOCTYPE + "\n")
        out.write("<!-- Synthetic benchmark data: invented records, not real PubMed. -->\n")
        out.write("<PubmedArticleSet>\n")
        for index in range(records):
            out.write(synthetic_record(index))
        out.write("</PubmedArticleSet>\n")


def _block_downloads() -> None:
    from Bio.Entrez import Parser

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("benchmark refused a download by Bio.Entrez")

    Parser.urlopen = refuse  # type: ignore[assignment]


_IMPORT_SECONDS: list[float] = []  # import timing without database creation (child process)


def run_parser(parser: str, path: str) -> int:
    """Parse ``path`` with one parser and return the number of records it produced."""
    if parser == "aggregator":
        from aggregator.pubmed.xml import iter_pubmed_xml

        return sum(1 for _ in iter_pubmed_xml(path))
    if parser == "import":
        # End to end: parse, tag and store into a fresh SQLite database, as `aggregator import`.
        from aggregator.jobs.harvest import import_file
        from aggregator.store.engine import open_engine

        with tempfile.TemporaryDirectory() as tmp:
            engine = open_engine(f"sqlite:///{tmp}/bench.sqlite")
            started = time.perf_counter()
            report = import_file(engine, Path(path))
            _IMPORT_SECONDS.append(time.perf_counter() - started)  # excludes schema creation
            engine.dispose()
        return report.new + report.revised + report.unchanged
    _block_downloads()
    from Bio import Entrez

    with open(path, "rb") as handle:
        result = Entrez.read(handle, validate=False)
    return len(result["PubmedArticle"])


def _child_main(parser: str, path: str, mode: str) -> None:
    import resource
    import tracemalloc

    # Import first so the timing is the parse, not module loading (which can include
    # compiling from source when bytecode caching is off).
    if parser in ("aggregator", "import"):
        import aggregator.jobs.harvest  # noqa: F401
        import aggregator.pubmed.xml  # noqa: F401
    else:
        from Bio import Entrez  # noqa: F401
    if mode == "memory":
        tracemalloc.start()
    started = time.perf_counter()
    count = run_parser(parser, path)
    seconds = _IMPORT_SECONDS[-1] if _IMPORT_SECONDS else time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if mode == "memory" else 0
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"count": count, "seconds": seconds, "peak": peak, "rss_kib": rss_kib}))


def measure(parser: str, path: Path, mode: str) -> dict[str, float]:
    """Run one parse in a fresh interpreter so memory figures are not shared."""
    output = subprocess.run(
        [sys.executable, __file__, "--child", parser, str(path), mode],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def best_time(parser: str, path: Path, repeats: int) -> dict[str, float]:
    runs = [measure(parser, path, "time") for _ in range(repeats)]
    return min(runs, key=lambda run: run["seconds"])


def main(argv: list[str] | None = None) -> None:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--child"]:
        _child_main(*args_in[1:4])
        return
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("file", nargs="?", help="PubMed XML file (default: synthetic)")
    options.add_argument("--records", type=int, default=2000, help="synthetic records (1x)")
    options.add_argument("--repeats", type=int, default=3, help="timing runs per parser")
    args = options.parse_args(args_in)

    with tempfile.TemporaryDirectory() as tmp:
        if args.file:
            path = Path(args.file)
        else:
            path = Path(tmp) / "synthetic-1x.xml"
            write_synthetic_file(path, max(args.records, 1000))
        size_mib = path.stat().st_size / 2**20
        print(f"file: {path.name} ({size_mib:.1f} MiB)")

        ours = best_time("aggregator", path, args.repeats)
        theirs = best_time("biopython", path, args.repeats)
        for label, run in (("aggregator.pubmed.xml", ours), ("Bio.Entrez.read", theirs)):
            rate = run["count"] / run["seconds"]
            print(f"{label:24} {run['count']:7d} records {run['seconds']:7.3f} s {rate:9.0f} rec/s")
        ratio = theirs["seconds"] / ours["seconds"] * ours["count"] / max(theirs["count"], 1)
        print(f"speed ratio (aggregator / Biopython): {ratio:.1f}x")

        imported = best_time("import", path, args.repeats)
        verdict = "faster" if imported["seconds"] < theirs["seconds"] else "SLOWER"
        print(
            f"{'aggregator import':24} {imported['count']:7d} records "
            f"{imported['seconds']:7.3f} s (parse + tag + store in SQLite): {verdict} than "
            f"Bio.Entrez.read's parse alone ({theirs['seconds']:.3f} s)"
        )

        print("peak memory (tracemalloc = Python objects; RSS = whole process incl. libxml2):")
        for label, parser in (("aggregator.pubmed.xml", "aggregator"), ("Bio.Entrez.read", "bio")):
            run = measure(parser, path, "memory")
            print(
                f"  {label:24} tracemalloc {run['peak'] / 2**20:7.1f} MiB"
                f"   peak RSS {run['rss_kib'] / 1024:7.1f} MiB"
            )

        if not args.file:
            big = Path(tmp) / "synthetic-4x.xml"
            write_synthetic_file(big, 4 * max(args.records, 1000))
            print("aggregator.pubmed.xml memory vs file size (streaming: should stay flat):")
            for label, file in (("1x", path), ("4x", big)):
                run = measure("aggregator", file, "memory")
                print(
                    f"  {label} {file.stat().st_size / 2**20:6.1f} MiB file  "
                    f"tracemalloc {run['peak'] / 2**20:6.2f} MiB   "
                    f"peak RSS {run['rss_kib'] / 1024:6.1f} MiB"
                )


if __name__ == "__main__":
    main()
