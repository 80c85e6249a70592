"""Which registered trials a publication names: NCT ids in its title, abstract and databank list.

Pure functions over an article's stored text. Three places count:

* the title and the abstract (including "TRIAL REGISTRATION: ClinicalTrials.gov
  NCT01234567" sections, and ids written with a space or hyphen, "NCT 01234567");
* the PubMed XML ``DataBankList`` (``<DataBank><DataBankName>ClinicalTrials.gov</DataBankName>
  <AccessionNumberList><AccessionNumber>NCT01234567</AccessionNumber>...``), read from the
  stored record (``Article.raw_xml``): NLM adds it when indexing;
* a MEDLINE export's secondary source ids (``SI  - ClinicalTrials.gov/NCT01234567``).

The rest of the record is not read: a reference list may cite other trials' NCT ids, and those
are not publications of them. The raw record is searched with regular expressions on these
elements only (never parsed), so nothing here can expand entities or fetch anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# NCT and 8 digits, not inside a longer token; "NCT 01234567" and "NCT-01234567" are common.
NCT_MENTION = re.compile(r"(?<![A-Za-z0-9])NCT[\s\-]?(\d{8})(?!\d)")
_DATABANK_LIST = re.compile(r"<DataBankList\b[^>]*>(.*?)</DataBankList>", re.DOTALL)
_DATABANK = re.compile(r"<DataBank\b[^>]*>(.*?)</DataBank>", re.DOTALL)
_DATABANK_NAME = re.compile(r"<DataBankName\b[^>]*>\s*([^<]*?)\s*</DataBankName>")
_ACCESSION = re.compile(r"<AccessionNumber\b[^>]*>\s*([^<]*?)\s*</AccessionNumber>")
_MEDLINE_SI = re.compile(r"^SI\s*-\s*ClinicalTrials\.gov/(\S+)\s*$", re.MULTILINE)
CLINICALTRIALS_GOV = "clinicaltrials.gov"


def nct_ids_in_text(*texts: str | None) -> set[str]:
    """NCT ids written in running text (title, abstract), normalised to ``NCT01234567``."""
    found: set[str] = set()
    for text in texts:
        if text:
            found.update(f"NCT{digits}" for digits in NCT_MENTION.findall(text))
    return found


def nct_ids_in_databanks(raw: str | None) -> set[str]:
    """NCT ids in a PubMed XML record's ClinicalTrials.gov databank entries, or in a MEDLINE
    record's ``SI - ClinicalTrials.gov/...`` lines."""
    if not raw:
        return set()
    accessions: list[str] = []
    for databanks in _DATABANK_LIST.findall(raw):
        for bank in _DATABANK.findall(databanks):
            name = _DATABANK_NAME.search(bank)
            if name is not None and name.group(1).strip().lower() == CLINICALTRIALS_GOV:
                accessions.extend(_ACCESSION.findall(bank))
    accessions.extend(_MEDLINE_SI.findall(raw))
    return nct_ids_in_text(*accessions)


def nct_mentions(title: str | None, abstract: str | None, raw: str | None) -> set[str]:
    """Every NCT id an article names in its title, abstract or databank list."""
    return nct_ids_in_text(title, abstract) | nct_ids_in_databanks(raw)


def may_mention(texts: Iterable[str | None]) -> bool:
    """Cheap pre-check: could any of these texts name an NCT id?"""
    return any(text and "NCT" in text for text in texts)
