"""datasette plugin (entry point ``datasette``): the metadata of :mod:`aggregator.store.browse`
for every aggregator database datasette serves, so ``datasette db/demo.sqlite`` shows labels,
facets, hidden bookkeeping tables and the canned queries without a --metadata file.

Loaded only by datasette (installed with the ``browse`` extra), never by aggregator itself.
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl

from aggregator.store.browse import datasette_metadata, is_aggregator_database


@hookimpl
def get_metadata(datasette: Any, key: str, database: str, table: str) -> dict[str, Any]:
    names = [
        name
        for name, db in datasette.databases.items()
        if not getattr(db, "is_memory", False) and is_aggregator_database(getattr(db, "path", None))
    ]
    return datasette_metadata(names) if names else {}
