"""One writing process per warehouse: `exclusive_warehouse(path)`, with messages a user can act on.

DuckDB locks its file only while a connection is open, and a run opens and closes many (one per
step), so two runs started together would interleave: both extracts in one dlt working folder
(`.dlt/` beside the file, whose pending load packages the other run would pick up), and each
step failing at random with DuckDB's raw "Could not set lock on file". So a writer first takes an
advisory lock on `<file>.lock` for its whole duration (`flock`: the kernel drops it when the
process dies, so a killed run never leaves a stale lock) and then checks that DuckDB itself can
open the file (someone may hold it in the DuckDB CLI or a notebook). Either failure is refused at
once with what to do, before anything is written.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


class WarehouseError(RuntimeError):
    """The warehouse file cannot be used by this process; the message says why and what to do."""


class WarehouseBusy(WarehouseError):
    """Another process is writing the warehouse (or holds DuckDB's lock on it)."""


def lock_path(db: Path) -> Path:
    """The advisory lock file beside the warehouse."""
    return db.with_name(db.name + ".lock")


@contextmanager
def exclusive_warehouse(db: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the warehouse `db` for this process for the duration of the block.

    Raises:
        WarehouseBusy: another mollie-ledger process holds it, or another program has the
            DuckDB file open.
        WarehouseError: the file or its folder cannot be written.
    """
    path = Path(db)
    handle = _open_lock(path)
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(path)
            raise WarehouseBusy(
                f"another mollie-ledger run is using {path}{holder}; wait for it to finish, or "
                "point this one at another warehouse (--db or MOLLIE_LEDGER_DB)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        _probe_duckdb(path)
        yield path
    finally:
        handle.close()  # releases the flock


def unwritable(db: str | os.PathLike[str]) -> WarehouseError | None:
    """Why this process could not write the warehouse `db`, or None; creates nothing, so a
    configuration check can ask before a run starts."""
    path = Path(db)
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        return _unwritable(path, f"{blocker} is a file, not a folder")
    if path.is_dir():
        return _unwritable(path, "it is a directory")
    if path.exists():
        return None if os.access(path, os.W_OK) else _unwritable(path, "permission denied")
    folder = next(p for p in path.parents if p.exists())  # the folder that would hold it
    if not os.access(folder, os.W_OK | os.X_OK):
        return _unwritable(path, f"permission denied on {folder}")
    return None


def _open_lock(path: Path):
    problem = unwritable(path)
    if problem is not None:
        raise problem
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(lock_path(path), "a+", encoding="ascii")  # held open: the lock lives on it
    except OSError as exc:
        raise _unwritable(path, exc.strerror or str(exc)) from None


def _unwritable(path: Path, reason: str) -> WarehouseError:
    return WarehouseError(
        f"cannot write the warehouse {path}: {reason}; choose a writable file with --db or "
        "MOLLIE_LEDGER_DB"
    )


def _read_holder(path: Path) -> str:
    try:
        pid = lock_path(path).read_text(encoding="ascii").strip()
    except OSError:
        return ""
    return f" (process {pid})" if pid.isdigit() else ""


def _probe_duckdb(path: Path) -> None:
    """Open and close the file once: DuckDB's own lock is held by whoever has it open."""
    if not path.exists():
        return
    try:
        duckdb.connect(str(path)).close()
    except duckdb.Error as exc:
        if not (isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()):
            raise WarehouseError(f"cannot open the warehouse {path}: {exc}") from None
        raise WarehouseBusy(
            f"another program has {path} open (DuckDB allows one writer); close it, e.g. the "
            "DuckDB CLI or a notebook, then run again"
        ) from None
