"""The database layer: SQLModel tables, engines with migrations, the repository, the run lock."""

from __future__ import annotations

from aggregator.store.engine import new_session, open_engine
from aggregator.store.lock import RunLock
from aggregator.store.repo import StoredArticle, UpsertResult

__all__ = ["RunLock", "StoredArticle", "UpsertResult", "new_session", "open_engine"]
