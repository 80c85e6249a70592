"""Text from records made safe for a terminal and for spreadsheets.

Records are untrusted input: a title may carry an escape sequence that clears the screen or
rewrites the window title, or a bidirectional override that shows text in another order than
it is. :func:`terminal_safe` makes every such character visible instead (``\\x1b``,
``\\u202e``), so what is printed is what the record holds. JSON output needs none of this (it
escapes control characters itself).

:func:`csv_safe` neutralises spreadsheet formulas (OWASP's rule: a cell starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return gets a leading single quote).
"""

from __future__ import annotations

import re

# C0 controls except newline, DEL, C1 controls, and the invisible direction controls
# (embeddings, overrides, isolates, marks) that can reorder what a terminal shows.
_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every control character except the newline shown as an escape
    (``\\x1b``, ``\\t``-as-``\\x09``, ``\\u202e``); printable text is unchanged."""
    return _UNSAFE.sub(_visible, text)


def one_line_safe(text: str) -> str:
    """:func:`terminal_safe` of ``text`` on one line (newlines become spaces)."""
    return terminal_safe(text.replace("\r\n", " ").replace("\n", " "))


def csv_safe(value: str) -> str:
    """A CSV cell that no spreadsheet reads as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value
