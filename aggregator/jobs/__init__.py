"""Jobs: the only code that composes the layers (source clients, tagger, store, digest)."""
