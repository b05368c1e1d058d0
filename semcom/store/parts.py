"""The result store: a folder of Parquet part files holding result rows, appended atomically.

A :class:`ResultStore` is a folder of part files ``part-<time ns>-<random>.parquet``. Each part
is written to a unique temporary name and renamed, so an interrupted job leaves only whole parts
behind and any number of processes may append to one store at once. Reading orders the parts by
the time in their names and keeps, for every ``row_id`` (:mod:`semcom.store.keys`), the latest
row, so a recompute (``force=true``, a metric added) supersedes older rows.
:meth:`ResultStore.compact` folds many small parts into one.

**A store that heals.** A part that cannot be read (zero bytes, truncated, not Parquet: a disk
that filled up, a copy cut short, a file edited by hand) is moved aside into ``quarantine/``
inside the store folder (:func:`quarantine`), with one warning naming the files and that folder;
its rows are then missing from the store, so the next run of the job recomputes them. Nothing is
deleted: a quarantined file can be inspected, repaired and moved back.

Rows keyed under an older key version (:data:`semcom.store.keys.KEY_VERSION`) are not read as
rows of this one: :meth:`ResultStore.load` leaves them out, with one warning, and they stay on
disk untouched.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from pathlib import Path

import pandas as pd

from semcom.store.keys import KEY_COLUMNS, current, dedupe

log = logging.getLogger(__name__)

#: Folder name of a store inside a run, sweep or results folder.
PARTS_DIR = "results.parts"

#: Folder, inside a store folder, that unreadable part files are moved into.
QUARANTINE_DIR = "quarantine"

_PART = re.compile(r"^part-(\d{20})-[0-9a-f]+\.parquet$")


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp)`` on a unique temporary name beside ``path``, then rename into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def part_time(path: Path) -> int:
    """Time of a part: from its name, else its modification time (0 if it vanished)."""
    m = _PART.match(path.name)
    if m:
        return int(m.group(1))
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:  # removed by a concurrent compaction
        return 0


class ResultStore:
    """A folder of Parquet part files holding result rows (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def append(self, rows: list[dict] | pd.DataFrame) -> Path | None:
        """Write ``rows`` as one new part file, atomically (unique temporary file + rename)."""
        df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
        if not len(df):
            return None
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:16]}.parquet"
        atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))
        return path

    def parts(self) -> list[Path]:
        """Part files, oldest first (time in the name; parts without one by modification time)."""
        if not self.root.is_dir():
            return []
        return sorted(self.root.glob("part-*.parquet"), key=part_time)

    def load(self) -> pd.DataFrame:
        """Every current row, one per ``row_id`` (the latest part wins)."""
        return load_parts(self.parts())

    def keys(self) -> set[str]:
        """``row_id`` of every current row."""
        df = self.load()
        return set(df["row_id"]) if len(df) else set()

    def compact(self, parts: list[Path] | None = None) -> Path | None:
        """Fold ``parts`` (default: every current part) into one deduplicated part; return it.

        Safe beside concurrent writers and compactors: only the parts that were read are
        deleted, after the combined part is in place; a part appended meanwhile stays, and two
        compactors at once leave two identical parts that reading deduplicates. The combined
        part takes the time of the newest part it replaces, so newer parts still win over it.
        Rows of an older key version are folded in unchanged (nothing is lost).
        """
        parts = self.parts() if parts is None else sorted((p for p in parts if p is not None and p.exists()), key=part_time)
        if len(parts) < 2:
            return parts[0] if parts else None
        df = read_parts(parts)
        keep = current(df)
        df = pd.concat([df[~keep], dedupe(df[keep])], ignore_index=True)
        out = self.root / f"part-{max(part_time(p) for p in parts):020d}-{uuid.uuid4().hex[:16]}.parquet"
        atomic_write(out, lambda tmp: df.to_parquet(tmp, index=False))
        for p in parts:
            p.unlink(missing_ok=True)
        return out


def read_parts(parts: list[Path]) -> pd.DataFrame:
    """Every row of the given part files, in their order (no deduplication).

    Parts may have different columns (pipelines add their own extras); a column missing from a
    part is null in its rows.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables, bad = [], []
    for p in parts:
        try:
            table = pq.read_table(p)
        except FileNotFoundError:  # compacted away meanwhile; its rows are in the newer part
            continue
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
            if not p.exists():
                continue
            bad.append((p, exc))
            continue
        if table.num_rows:
            tables.append(table.replace_schema_metadata(None))
    if bad:
        quarantine(bad, "their rows are recomputed when the job runs again")
    if not tables:
        return pd.DataFrame(columns=list(KEY_COLUMNS))
    try:
        return pa.concat_tables(tables, promote_options="permissive").to_pandas()
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # one column with incompatible types across parts
        return pd.concat([t.to_pandas() for t in tables], ignore_index=True)


def load_parts(parts: list[Path]) -> pd.DataFrame:
    """The current rows of the given part files, one per ``row_id``, the last occurrence winning.

    Rows of an older key version are left out with one warning naming how many and where.
    """
    df = read_parts(parts)
    if not len(df):
        return df
    keep = current(df)
    if not keep.all():
        where = sorted({str(p.parent) for p in parts})
        log.warning("%d rows written by an older semcom (row key before version 2) in %s are not used: they stay on disk; "
                    "their results are recomputed under the current key", int((~keep).sum()), ", ".join(where))
    return dedupe(df[keep].reset_index(drop=True))


def quarantine(bad: list[tuple[Path, BaseException]], consequence: str) -> list[Path]:
    """Move unreadable files aside into ``quarantine/`` beside them (never deleted); one warning
    naming them, why, where they went and ``consequence``. Returns the new paths."""
    moved = []
    for path, _ in bad:
        folder = path.parent / QUARANTINE_DIR
        target = folder / path.name
        if target.exists():
            target = folder / f"{path.stem}.{uuid.uuid4().hex[:8]}{path.suffix}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        except FileNotFoundError:  # moved by a concurrent reader meanwhile
            continue
        except OSError as exc:  # a read-only store: leave it, say so
            log.warning("cannot move unreadable file %s aside (%s): it is skipped; move or remove it by hand", path, exc)
            continue
        moved.append(target)
    if moved:
        reasons = "; ".join(f"{p.name}: {_why(p, exc)}" for p, exc in bad[:3])
        log.warning("%d unreadable file%s moved to %s (%s): %s; nothing was deleted, inspect or remove them there",
                    len(moved), "" if len(moved) == 1 else "s", moved[0].parent, reasons, consequence)
    return moved


def _why(path: Path, exc: BaseException) -> str:
    text = " ".join(str(exc).replace(str(path), path.name).split())
    text = text if len(text) <= 80 else text[:77] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
