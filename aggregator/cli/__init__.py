"""The command line: thin commands that parse flags, call one job and print its result.

app (the group, errors, exit codes), context (settings and what commands share), harvest
(run, import, search, queries), library (query, show, export, stats, sql, retag), reports
(digest, status, schedule), views (text output). Jobs and the database layer are imported by
the commands that need them, so ``aggregator --help`` starts fast.
"""

from __future__ import annotations

from aggregator.cli.app import cli, main

__all__ = ["cli", "main"]
