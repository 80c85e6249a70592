"""Grep-friendly logging: one line per event, ``key=value`` fields, run id, secret redaction.

A line looks like::

    2026-11-25T07:00:01Z INFO run=42 harvest.query name=magnesium-migraine new=3 revised=1

Lines outside a run carry ``run=-``. Newlines (tracebacks included) are escaped as ``\\n`` so
every event stays on one line; ``sed 's/\\\\n/\\n/g'`` turns a traceback back into lines.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import logging.handlers
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

from aggregator.errors import ConfigError

_RUN_ID: contextvars.ContextVar[int | str | None] = contextvars.ContextVar(
    "aggregator_run_id", default=None
)

REDACTED = "***"
# Marks handlers installed by configure_logging so a second call replaces only those.
_OWNED_ATTR = "_aggregator_owned"


@contextlib.contextmanager
def run_context(run_id: int | str | None) -> Iterator[None]:
    """Tag every log line emitted inside the block (same thread/task) with ``run=<run_id>``."""
    token = _RUN_ID.set(run_id)
    try:
        yield
    finally:
        _RUN_ID.reset(token)


def current_run_id() -> int | str | None:
    """The run id set by the innermost :func:`run_context`, or ``None``."""
    return _RUN_ID.get()


def quote_value(value: object) -> str:
    """Render one ``key=value`` value: bare when safe, else double-quoted with escapes."""
    text = str(value)
    if text and not any(ch in text for ch in ' "=\t\r\n\\'):
        return text
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def format_event(event: str, **fields: object) -> str:
    """``event key=value ...`` in argument order; ``None`` values are left out."""
    parts = [event]
    parts.extend(
        f"{key}={quote_value(value)}" for key, value in fields.items() if value is not None
    )
    return " ".join(parts)


def log_event(
    logger: logging.Logger | logging.LoggerAdapter[Any],
    event: str,
    level: int = logging.INFO,
    **fields: object,
) -> None:
    """Log one ``event key=value ...`` line, e.g. ``log_event(log, "harvest.query", new=3)``."""
    if logger.isEnabledFor(level):
        # Pass the finished text as an argument so '%' in values is never interpreted.
        logger.log(level, "%s", format_event(event, **fields))


class RunIdFilter(logging.Filter):
    """Adds ``record.run_id`` from :func:`run_context` (``-`` outside a run)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "run_id"):
            run_id = _RUN_ID.get()
            record.run_id = "-" if run_id is None else run_id
        return True


class SecretRedactingFilter(logging.Filter):
    """Replaces every secret (and its URL-encoded forms) in message, args and exception text.

    Attached to handlers, not loggers, so records propagated from any library (urllib3 logs
    request URLs that carry ``api_key=``) are redacted too.
    """

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        variants: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            variants.update({secret, quote(secret, safe=""), quote_plus(secret)})
        # Longest first so a secret containing another is replaced whole.
        self._secrets = sorted(variants, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw text rather than drop the line
            message = f"{record.msg} {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class OneLineFormatter(logging.Formatter):
    """``<UTC time>Z LEVEL run=<id> <message>`` with newlines escaped; redacts again at the end."""

    def converter(self, timestamp: float | None) -> time.struct_time:  # type: ignore[override]
        return time.gmtime(timestamp)

    def __init__(self, redactor: SecretRedactingFilter | None = None) -> None:
        super().__init__(
            fmt="%(asctime)s %(levelname)s run=%(run_id)s %(message)s",
            datefmt="%Y-%m-%dT%H:%M:%SZ",
        )
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "run_id"):
            RunIdFilter().filter(record)
        line = super().format(record)
        line = line.replace("\r\n", "\n").replace("\r", "\\r").replace("\n", "\\n")
        if self._redactor is not None:
            # Defence in depth: a field added after the filter ran is still redacted.
            line = self._redactor.redact(line)
        return line


def parse_level(level: int | str) -> int:
    """Accept ``logging.INFO``, ``"info"`` or ``"INFO"``; anything else is a ConfigError."""
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    if isinstance(level, str):
        value = logging.getLevelNamesMapping().get(level.strip().upper())
        if value is not None:
            return value
    raise ConfigError(
        f"log level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL; got {level!r}"
    )


def configure_logging(
    level: int | str = logging.INFO,
    *,
    log_file: Path | None = None,
    rotate_bytes: int = 5_000_000,
    backups: int = 5,
    secrets: Sequence[str] = (),
    stream: TextIO | None = None,
) -> list[logging.Handler]:
    """Configure the root logger: stderr (or ``stream``) plus an optional rotating file.

    Calling it again replaces the handlers it installed before (and only those). Returns the
    new handlers so callers (and tests) can close them.
    """
    numeric_level = parse_level(level)
    if rotate_bytes < 1024:
        raise ConfigError(f"log rotation size must be at least 1024 bytes; got {rotate_bytes}")
    if backups < 1:
        raise ConfigError(f"log backups must be at least 1; got {backups}")

    redactor = SecretRedactingFilter(secrets)
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(
                logging.handlers.RotatingFileHandler(
                    log_file, maxBytes=rotate_bytes, backupCount=backups, encoding="utf-8"
                )
            )
        except OSError as exc:
            raise ConfigError(f"cannot open log file {log_file}: {exc.strerror or exc}") from None

    for handler in handlers:
        handler.addFilter(RunIdFilter())
        handler.addFilter(redactor)
        handler.setFormatter(OneLineFormatter(redactor))
        setattr(handler, _OWNED_ATTR, True)

    root = logging.getLogger()
    remove_logging_handlers()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(numeric_level)
    return handlers


def remove_logging_handlers() -> None:
    """Remove and close the handlers installed by :func:`configure_logging`."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OWNED_ATTR, False):
            root.removeHandler(handler)
            handler.close()
