"""The one output rule of every command, and the flags that choose it.

Every command that prints a result writes it on stdout: text or a table when stdout is a
terminal, JSON when it is not (piped or redirected); ``--format`` chooses explicitly. Messages,
progress and warnings go to stderr. Text and tables pass through :func:`terminal_safe`, so no
control character or escape sequence from a record reaches the terminal; JSON escapes them
itself and is written as it is.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO, TypeVar

import click

from aggregator.textsafe import terminal_safe

F = TypeVar("F", bound=Callable[..., Any])

# The names of the human formats: `table` for lists, `text` for one record or a report. Each
# command accepts the other as a synonym, so `--format text` and `--format table` always work.
HUMAN = ("table", "text")


def stdout_is_terminal() -> bool:
    """Whether stdout is a terminal (tests replace this to see the terminal output)."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


class FormatChoice(click.Choice):  # type: ignore[type-arg]
    """click.Choice that also takes hidden synonyms (``text`` for ``table`` and back)."""

    def __init__(self, choices: Sequence[str], synonyms: Mapping[str, str]) -> None:
        super().__init__(list(choices))
        self.synonyms = dict(synonyms)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.lower() in self.synonyms:
            value = self.synonyms[value.lower()]
        return super().convert(value, param, ctx)


def format_option(
    choices: Sequence[str],
    *,
    default: str | None = None,
    help_text: str | None = None,
) -> Callable[[F], F]:
    """``--format`` with ``choices``. Without ``default`` the format follows the output rule
    (see :func:`resolve_format`): the first human format among the choices on a terminal,
    json otherwise."""
    human = [c for c in choices if c in HUMAN]
    synonyms: dict[str, str] = {}
    if human:
        other = next(h for h in HUMAN if h != human[0])
        if other not in choices:
            synonyms[other] = human[0]
    listed = "|".join(choices)
    if help_text is None:
        help_text = (
            f"Output format. Default: {default}."
            if default
            else f"Output format. Default: {human[0] if human else 'json'} on a terminal, "
            "json when piped."
        )
    return click.option(
        "--format",
        "fmt",
        type=FormatChoice(choices, synonyms),
        default=default,
        metavar=f"[{listed}]",
        help=help_text,
    )


def resolve_format(fmt: str | None, human: str = "table") -> str:
    """The format to write: the one asked for, else ``human`` on a terminal, else json."""
    if fmt is not None:
        return fmt
    return human if stdout_is_terminal() else "json"


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def json_text(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=_json_default) + "\n"


def emit_json(data: Any, out: TextIO | None = None) -> None:
    (out or sys.stdout).write(json_text(data))


def emit_text(text: str, out: TextIO | None = None) -> None:
    """Human output, every control character made visible (newlines kept)."""
    (out or sys.stdout).write(terminal_safe(text))


def emit(data: Any, text: Callable[[], str], fmt: str) -> None:
    """``data`` as JSON when ``fmt`` is json, else ``text()`` made terminal-safe."""
    if fmt == "json":
        emit_json(data)
    else:
        emit_text(text())


def captured(write: Callable[[TextIO], Any]) -> str:
    """What ``write`` writes to a text stream, as a string (to make it terminal-safe)."""
    buffer = io.StringIO()
    write(buffer)
    return buffer.getvalue()


def safe_message(text: str) -> str:
    """A message for stderr with control characters made visible."""
    return terminal_safe(text)
