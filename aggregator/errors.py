"""Error types whose message is a complete one-line explanation for the user."""

from __future__ import annotations


class AggregatorError(Exception):
    """Base for errors the CLI reports as one clear line with a non-zero exit code."""

    exit_code = 1


class ConfigError(AggregatorError):
    """A settings value, saved search file or option is wrong."""


class QueryFileError(ConfigError):
    """A saved search file is malformed; the message names the file (and line when known)."""


class ParseError(AggregatorError):
    """Input XML or MEDLINE text could not be parsed; the message names the source."""


class StoreError(AggregatorError):
    """The database cannot be used (locked, unwritable, newer schema, ...)."""


class RunInProgressError(StoreError):
    """Another harvest holds the run lock."""
