"""Rows for the "Glycinate over time" tables, shared by the Markdown and HTML renderers."""

from __future__ import annotations

from dataclasses import dataclass

from aggregator.digest.model import Timeline, TimelineCell, TimelineYear


@dataclass(frozen=True, slots=True)
class TimelineRow:
    year: int
    points: tuple[TimelineYear, ...]  # one per form, cumulative


@dataclass(frozen=True, slots=True)
class GroupRow:
    key: str
    label: str
    cells: tuple[TimelineCell, ...]  # one per form, cumulative to the last year


def timeline_rows(timeline: Timeline) -> tuple[TimelineRow, ...]:
    """Years in which any form's cumulative count changed (keeps the table compact)."""
    rows: list[TimelineRow] = []
    previous: tuple[int, ...] | None = None
    for index, year in enumerate(timeline.years):
        points = tuple(form.years[index] for form in timeline.forms)
        totals = tuple((p.direct, p.indirect) for p in points)
        flat = tuple(n for pair in totals for n in pair)
        if flat != previous and any(flat):
            rows.append(TimelineRow(year=year, points=points))
        previous = flat
    return tuple(rows)


def group_rows(timeline: Timeline) -> tuple[GroupRow, ...]:
    """Cumulative direct/indirect counts per study-type group at the last year."""
    rows = []
    for key, label in timeline.groups:
        cells = []
        for form in timeline.forms:
            final = form.final
            match = [c for c in final.cells if c.group == key] if final else []
            cells.append(match[0] if match else TimelineCell(group=key, direct=0, indirect=0))
        rows.append(GroupRow(key=key, label=label, cells=tuple(cells)))
    return tuple(rows)
