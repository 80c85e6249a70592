"""Inline SVG chart: cumulative articles by year, glycinate next to the two most studied forms.

Hand-written SVG (no plotting library, no scripts): one panel per form on a shared y scale so
the panels compare honestly; bars stacked by study-type group, direct evidence in full colour
and indirect evidence in a light tint of the same colour. Every text is escaped.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from aggregator.digest.model import Timeline

# Okabe-Ito colours (readable with colour-vision deficiencies): (direct, indirect tint).
GROUP_COLOURS: dict[str, tuple[str, str]] = {
    "synthesis": ("#0072b2", "#9cc9e6"),
    "rct": ("#d55e00", "#f2b48a"),
    "other_clinical": ("#009e73", "#93d9c4"),
    "other": ("#cc79a7", "#ecc5db"),
}
FALLBACK_COLOURS = ("#555555", "#bbbbbb")

WIDTH = 960
PANEL_GAP = 24
MARGIN_LEFT = 40
TOP = 44
PLOT_HEIGHT = 200
LEGEND_TOP = TOP + PLOT_HEIGHT + 40
HEIGHT = LEGEND_TOP + 56


def _nice_max(value: int) -> int:
    """Round the y-axis maximum up to 1, 2, 5 x 10^n so the ticks read well."""
    if value <= 1:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _year_ticks(years: tuple[int, ...]) -> list[int]:
    if len(years) <= 6:
        return list(years)
    stride = -(-len(years) // 5)  # ceiling division: at most ~6 labels
    ticks = list(years[::stride])
    if ticks[-1] != years[-1]:
        ticks.append(years[-1])
    return ticks


def _text(x: float, y: float, content: str, **attrs: str) -> str:
    extra = "".join(f' {key.replace("_", "-")}="{escape(val)}"' for key, val in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(content)}</text>'


def chart_description(timeline: Timeline) -> str:
    """Plain-text summary of the chart for <desc> and screen readers."""
    if not timeline.years:
        return "No dated articles yet for these forms."
    parts = []
    for form in timeline.forms:
        final = form.final
        direct = final.direct if final else 0
        indirect = final.indirect if final else 0
        parts.append(f"{form.form}: {direct} direct and {indirect} indirect")
    return (
        f"Cumulative articles by publication year, {timeline.years[0]} to {timeline.years[-1]}, "
        "stacked by study type; " + "; ".join(parts) + ". Retracted articles are left out."
    )


def render_svg(timeline: Timeline, *, chart_id: str = "glycinate-chart") -> Markup:
    """The chart as an inline <svg> element (safe Markup; all text escaped)."""
    title = "Cumulative articles by year: " + ", ".join(f.form for f in timeline.forms)
    desc = chart_description(timeline)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" class="chart" font-family="sans-serif" font-size="12" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    panels = max(len(timeline.forms), 1)
    panel_width = (WIDTH - MARGIN_LEFT - PANEL_GAP * (panels - 1) - 8) / panels
    peak = max((f.final.total for f in timeline.forms if f.final), default=0)
    y_max = _nice_max(peak)
    scale = PLOT_HEIGHT / y_max
    base = TOP + PLOT_HEIGHT
    for index, form in enumerate(timeline.forms):
        left = MARGIN_LEFT + index * (panel_width + PANEL_GAP)
        total = form.final.total if form.final else 0
        out.append(
            _text(
                left,
                22,
                f"{form.form}: {total} {'article' if total == 1 else 'articles'}",
                class_="panel-title",
                font_size="15",
                font_weight="bold",
            )
        )
        # Axis and grid lines.
        for tick in (0, y_max // 2, y_max) if y_max > 1 else (0, 1):
            y = base - tick * scale
            out.append(
                f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{left + panel_width:.1f}" '
                f'y2="{y:.1f}" stroke="#dddddd" stroke-width="1"/>'
            )
            if index == 0:
                out.append(_text(left - 6, y + 4, str(tick), text_anchor="end", class_="tick"))
        if not timeline.years:
            out.append(_text(left + 8, base - PLOT_HEIGHT / 2, "no dated articles", class_="tick"))
            continue
        slot = panel_width / len(timeline.years)
        bar = max(slot * 0.8, 1.0)
        for position, point in enumerate(form.years):
            x = left + position * slot + (slot - bar) / 2
            y = base
            for cell in point.cells:
                direct_colour, indirect_colour = GROUP_COLOURS.get(cell.group, FALLBACK_COLOURS)
                for count, colour in (
                    (cell.direct, direct_colour),
                    (cell.indirect, indirect_colour),
                ):
                    if count:
                        height = count * scale
                        y -= height
                        out.append(
                            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                            f'height="{height:.1f}" fill="{colour}"/>'
                        )
        out.append(
            f'<line x1="{left:.1f}" y1="{base}" x2="{left + panel_width:.1f}" y2="{base}" '
            'stroke="#333333" stroke-width="1"/>'
        )
        for year in _year_ticks(timeline.years):
            position = timeline.years.index(year)
            out.append(
                _text(
                    left + position * slot + slot / 2,
                    base + 16,
                    str(year),
                    text_anchor="middle",
                    class_="tick",
                )
            )
    # Legend: one swatch pair per group.
    legend_x = MARGIN_LEFT
    for key, label in timeline.groups:
        direct_colour, indirect_colour = GROUP_COLOURS.get(key, FALLBACK_COLOURS)
        out.append(
            f'<rect x="{legend_x}" y="{LEGEND_TOP}" width="12" height="12" '
            f'fill="{direct_colour}"/>'
            f'<rect x="{legend_x + 14}" y="{LEGEND_TOP}" width="12" height="12" '
            f'fill="{indirect_colour}"/>'
        )
        out.append(_text(legend_x + 32, LEGEND_TOP + 11, label, class_="legend"))
        legend_x += 40 + 7 * len(label)
    out.append(
        _text(
            MARGIN_LEFT,
            LEGEND_TOP + 36,
            "Dark: direct evidence (migraine/headache outcomes). Light: indirect evidence.",
            class_="legend",
        )
    )
    out.append("</svg>")
    return Markup("\n".join(out))  # noqa: S704 - every interpolated text is escaped above
