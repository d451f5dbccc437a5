"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The bytes go to a temporary file in the target's own folder (a rename is atomic only within one
file system), are flushed to disk, and then `os.replace` swaps the file in. The SHA-256 is
computed from the bytes as they are written, so a manifest never has to re-read a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


class HashingWriter:
    """A write-only binary stream that keeps the SHA-256 and size of what passed through."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._raw.write(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


@contextmanager
def atomic_writer(path: Path) -> Iterator[HashingWriter]:
    """Write `path` atomically; on any error the old file stays and the temp file is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        # mkstemp creates the file private (0600); exports are meant to be read by others.
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "wb") as raw:
            writer = HashingWriter(raw)
            yield writer
            raw.flush()
            os.fsync(raw.fileno())  # the data is on disk before the name points at it
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes) -> str:
    """Write `data` to `path` atomically; returns its SHA-256."""
    with atomic_writer(path) as out:
        out.write(data)
    return out.sha256


def fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable across a power cut; not every platform allows it.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
