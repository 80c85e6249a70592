"""Files written whole or not at all: a unique temporary file in the same folder (never a fixed
name a second writer or a planted link could share), flushed to disk, then renamed over the
target. Readers never see half a file, a failed write leaves the old one intact and no
temporary file behind, and the new file gets the permissions the umask allows (as ``open``
would give it), not the 0600 of a temporary file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def atomic_text_file(path: Path) -> Iterator[TextIO]:
    """Write a text file atomically: a temp file in the same folder, renamed over ``path``
    only when the block finishes without an error (readers never see half a file).

    The temp file is created with O_EXCL under a random name (mkstemp), so a link planted
    in the folder is never followed; the rename replaces a link at ``path`` itself rather
    than writing through it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8) to ``path`` atomically; return ``path``."""
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    with atomic_text_file(path) as handle:
        handle.write(text)
    return path


def current_umask() -> int:
    """The process's umask. Read from /proc where there is one: setting it to learn it (the
    only portable way) would change it for a moment for every thread."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # the strictest mask for the moment it is in force
    os.umask(mask)
    return mask
