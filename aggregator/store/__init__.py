"""The database layer, and the only package that speaks SQL.

engine (connections, migrations), models (tables), tables (SQL helpers), codec (article <->
row), articles, runs, digests (reads and writes; callers own the transaction), lock (the run
lock), search, stats, readonly (the everyday queries), digest_reader (the digest's inputs).
"""
