"""Command line interface (thin: wires settings, client, store, tagger and digest)."""

from __future__ import annotations

import click


@click.group()
def cli() -> None:
    """Evidence-tracking PubMed aggregator for magnesium and migraine."""


def main() -> None:
    cli()
