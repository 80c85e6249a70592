"""Render the HTML digest in real headless Chromium and check the screenshot is not blank.

Needs Chromium (Debian package `chromium`); skipped locally without it, fails under CI=true.
The PNG is decoded with the standard library (zlib + struct). SYNTHETIC inputs.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from aggregator.digest import build_digest, render_formats
from aggregator.digest.chart import GROUP_COLOURS
from aggregator.jobs.publish import write_digest_files
from tests.plugins.chromium import chromium_binary  # noqa: F401  (fixture)
from tests.test_digest_corpus import corpus_changes, corpus_runs, retracted_corpus_articles

WIDTH, HEIGHT = 1000, 1400
TIMEOUT_SECONDS = 60

pytestmark = pytest.mark.chromium


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit non-interlaced RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, colour_type, _c, _f, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0) and colour_type in (2, 6), "unsupported PNG layout"
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    rows: list[bytes] = []
    previous = bytearray(stride)
    low7 = int.from_bytes(b"\x7f" * stride, "big")
    high1 = int.from_bytes(b"\x80" * stride, "big")
    for y in range(height):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if filter_type == 2:
            # "Up": bytewise (line + previous) mod 256 on big integers, no per-byte loop.
            a, b = int.from_bytes(line, "big"), int.from_bytes(previous, "big")
            total = ((a & low7) + (b & low7)) ^ ((a ^ b) & high1)
            line = bytearray(total.to_bytes(stride, "big"))
            filter_type = 0
        for x in range(stride if filter_type else 0):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            upper_left = previous[x - channels] if x >= channels else 0
            if filter_type == 1:
                line[x] = (line[x] + left) & 0xFF
            elif filter_type == 2:
                line[x] = (line[x] + up) & 0xFF
            elif filter_type == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                estimate = left + up - upper_left
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - upper_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
                line[x] = (line[x] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    if channels == 4:  # drop alpha
        rows = [bytes(row[i] for i in range(len(row)) if i % 4 < 3) for row in rows]
    return width, height, rows


def screenshot(binary: str, html: Path, png: Path, profile: Path) -> None:
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
        f"--screenshot={png}",
        html.resolve().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, timeout=TIMEOUT_SECONDS, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]


def test_chromium_renders_the_digest_with_a_coloured_chart(
    chromium_binary: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    digest = build_digest("2026-W47", retracted_corpus_articles(), corpus_changes(), corpus_runs())
    html = write_digest_files(digest, tmp_path / "out", render_formats(digest, ("html",)))[0]
    png = tmp_path / "shot.png"
    screenshot(chromium_binary, html, png, tmp_path / "profile")

    assert png.exists() and png.stat().st_size > 1000
    width, height, rows = decode_png(png.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)

    def pixels(y0: int, y1: int) -> list[tuple[int, int, int]]:
        return [
            (row[i], row[i + 1], row[i + 2])
            for row in rows[y0:y1:4]
            for i in range(0, len(row), 12)  # every 4th pixel: fast and sufficient
        ]

    everything = pixels(0, height)
    non_white = sum(1 for p in everything if min(p) < 235)
    assert non_white / len(everything) > 0.03, "page looks blank"
    # The chart's bars use the palette in aggregator.digest.chart: count pixels of those colours
    # (tolerance for anti-aliasing); links and text never use them.
    palette = [
        tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        for pair in GROUP_COLOURS.values()
        for colour in pair
    ]
    bar_pixels = sum(
        1
        for p in everything
        if any(all(abs(p[c] - ref[c]) <= 12 for c in range(3)) for ref in palette)
    )
    assert bar_pixels > 200, f"no chart bars found ({bar_pixels} pixels of bar colours)"
