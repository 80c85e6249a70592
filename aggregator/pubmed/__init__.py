"""PubMed: the E-utilities client, the PubMed XML and MEDLINE parsers, a local stand-in.

The only code that talks to NCBI is :mod:`aggregator.pubmed.eutils` (through the shared HTTP
policy in :mod:`aggregator.http`); parsing is pure and never touches the network.
"""
