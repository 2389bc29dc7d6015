"""Build-state layer: what an incremental build needs of each published record, in an indexed
SQLite file (``build-state/state.sqlite`` beside each release).

A build reads only the rows a change touches (by record, file, IRI, identity key, or who points
at a record), so a one-record change costs about the same at 300 records as at 300,000. A full
build writes the file anew. A delta release hard-links the current release's file (never
written to again) and writes ``overlay.sqlite``: the current overlay's rows (small: the records
changed since the full build) with this change's, the keys they hide in the base (``gone``),
and the meta and file rows, which an overlay holds whole. Past ``MAX_OVERLAY`` records the next
build is a full one, which writes a new base.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

Key = tuple[str, str]

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE file (name TEXT PRIMARY KEY, sha256 TEXT, list INTEGER, digests BLOB) WITHOUT ROWID;
CREATE TABLE record (type TEXT, id TEXT, file TEXT, digest BLOB, iri TEXT, graph TEXT, label TEXT,
                     refs TEXT, buckets TEXT, PRIMARY KEY (type, id)) WITHOUT ROWID;
CREATE TABLE ref (target_type TEXT, target_id TEXT, type TEXT, id TEXT,
                  PRIMARY KEY (target_type, target_id, type, id)) WITHOUT ROWID;
CREATE TABLE bucket (bucket TEXT, type TEXT, id TEXT, PRIMARY KEY (bucket, type, id)) WITHOUT ROWID;
CREATE TABLE gone (type TEXT, id TEXT, PRIMARY KEY (type, id)) WITHOUT ROWID;
CREATE TABLE rejected (type TEXT, id TEXT, file TEXT, digest BLOB, line INTEGER, held INTEGER, item BLOB,
                       PRIMARY KEY (type, id)) WITHOUT ROWID;
"""
INDEXES = """
CREATE INDEX record_file ON record (file);
CREATE INDEX record_iri ON record (iri);
CREATE INDEX record_digest ON record (digest);
"""
DIGEST = 16
"""Bytes of a record's digest (``incremental.digest``)."""
OVERLAY_FILE = "overlay.sqlite"
MAX_OVERLAY = 20_000
"""Records an overlay may hold (changed since the last full build) before a full build is due."""
NOT_INDEXED = ("source", "theme")
"""Targets whose referrers are not kept (nearly every record points at them: ``incremental.HUBS``)."""


class Troubled(NamedTuple):
    """A record of the data the release does not publish as written: rejected, or held back
    at its last good version (``held``; then it has a ``record`` row too)."""

    file: str
    digest: bytes
    line: int
    """Where it starts in its file (records of one file are in the order of their lines)."""
    held: bool
    item: tuple[Any, int | None, dict[str, int] | None, list[Any], bool]
    """Its raw value, line, field lines and reading problems (``recordfile.Item``), and whether
    its lines are found only for its rejection (``recordfile.Parsed.lazy_lines``)."""


class RecordState(NamedTuple):
    """What the next build needs of one published record."""

    file: str
    digest: bytes
    """Of its raw value: the same digest, the same record."""
    iri: str
    graph: str
    label: str
    refs: tuple[Key, ...]
    buckets: tuple[str, ...]
    """Its identity keys (``merge``): another record with one of them may be the same thing."""


UNIT, RECORD = "\x1f", "\x1e"
"""Separators of a row's references and identity keys (JSON per row cost 5 s of a full build's
240,000 records); a row whose values hold one is written as JSON (it starts with ``[``)."""
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def _pack(items: tuple[Any, ...], pairs: bool) -> str:
    text = RECORD.join(UNIT.join(t) for t in items) if pairs else RECORD.join(items)
    n = len(items)
    plain = not n or (text.count(RECORD) == n - 1 and (text.count(UNIT) == n if pairs else text != ""))
    return text if plain and not text.startswith("[") else _ENCODE(items)


def _unpack(text: str, pairs: bool) -> tuple[Any, ...]:
    if text.startswith("["):
        found = json.loads(text)
        return tuple((t[0], t[1]) for t in found) if pairs else tuple(found)
    if not text:
        return ()
    items = text.split(RECORD)
    return tuple(tuple(t.split(UNIT)) for t in items) if pairs else tuple(items)


def _row(key: Key, r: RecordState) -> tuple[Any, ...]:
    return (key[0], key[1], r.file, r.digest, r.iri, r.graph, r.label, _pack(r.refs, True), _pack(r.buckets, False))


def _state(row: tuple[Any, ...]) -> RecordState:
    file, digest, iri, graph, label, refs, buckets = row
    return RecordState(file, bytes(digest), iri, graph, label, _unpack(refs, True), _unpack(buckets, False))


class RecordTable:
    """The records of a build state, read by key: the overlay's rows over the base's (and, in a
    new release's overlay, written)."""

    def __init__(self, base: sqlite3.Connection, over: sqlite3.Connection | None = None) -> None:
        self.base, self.over = base, over

    def _gone(self, key: Key) -> bool:
        return self.over is not None and self.over.execute(
            "SELECT 1 FROM gone WHERE type = ? AND id = ?", key).fetchone() is not None

    def _visible(self, keys: Iterable[Key]) -> list[Key]:
        return [k for k in keys if not self._gone(k)]

    def _both(self, sql: str, args: tuple[Any, ...]) -> tuple[list[Any], list[Any]]:
        """Rows of ``sql`` from the base (their keys not hidden: the last two columns) and the overlay."""
        base = [row for row in self.base.execute(sql, args) if not self._gone((row[-2], row[-1]))]
        return base, (list(self.over.execute(sql, args)) if self.over is not None else [])

    # ------------------------------------------------------------------ reading
    def get(self, key: Key) -> RecordState | None:
        sql = "SELECT file, digest, iri, graph, label, refs, buckets FROM record WHERE type = ? AND id = ?"
        if self.over is not None:
            row = self.over.execute(sql, key).fetchone()
            if row is not None:
                return _state(row)
            if self._gone(key):
                return None
        row = self.base.execute(sql, key).fetchone()
        return _state(row) if row else None

    def __getitem__(self, key: Key) -> RecordState:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and self.get(key) is not None

    def keys(self) -> list[Key]:
        base, over = self._both("SELECT type, id FROM record", ())
        return [(t, i) for t, i in (*base, *over)]

    def overlay_size(self) -> int:
        return int(self.over.execute("SELECT count(*) FROM gone").fetchone()[0]) if self.over is not None else 0

    def file_digests(self, name: str) -> set[bytes]:
        """The digests of the records of the file ``name`` (one read: the file's row)."""
        files = self.over if self.over is not None else self.base
        row = files.execute("SELECT digests FROM file WHERE name = ?", (name,)).fetchone()
        blob = bytes(row[0]) if row and row[0] is not None else b""
        return {blob[i:i + DIGEST] for i in range(0, len(blob), DIGEST)}

    def by_digest(self, digest: bytes) -> Key | None:
        base, over = self._both("SELECT type, id FROM record WHERE digest = ?", (digest,))
        found = [*over, *base]
        return (found[0][0], found[0][1]) if found else None

    def in_file(self, name: str) -> dict[Key, bytes]:
        """The records of the file ``name`` with their digests."""
        base, over = self._both("SELECT digest, type, id FROM record WHERE file = ?", (name,))
        return {(t, i): bytes(d) for d, t, i in (*base, *over)}

    def by_iri(self, iri: str) -> Key | None:
        base, over = self._both("SELECT type, id FROM record WHERE iri = ?", (iri,))
        found = [*over, *base]
        return (found[0][0], found[0][1]) if found else None

    def referrers(self, key: Key) -> list[Key]:
        """The records that point at ``key`` (none kept for ``NOT_INDEXED`` targets)."""
        base, over = self._both("SELECT type, id FROM ref WHERE target_type = ? AND target_id = ?", key)
        return sorted({(t, i) for t, i in (*base, *over)})

    def bucket_owners(self, bucket: str) -> list[Key]:
        base, over = self._both("SELECT type, id FROM bucket WHERE bucket = ?", (bucket,))
        return sorted({(t, i) for t, i in (*base, *over)})

    def ids_of(self, rtype: str) -> list[str]:
        """The ids of every record of the type ``rtype`` (the hidden ones read once, not a
        query per row: 60,000 organisations for one "did you mean")."""
        sql = "SELECT id FROM record WHERE type = ?"
        if self.over is None:
            return [i for (i,) in self.base.execute(sql, (rtype,))]
        gone = {i for (i,) in self.over.execute("SELECT id FROM gone WHERE type = ?", (rtype,))}
        return [i for (i,) in self.base.execute(sql, (rtype,)) if i not in gone] + [
            i for (i,) in self.over.execute(sql, (rtype,))]

    def troubled(self) -> dict[Key, Troubled]:
        """The records rejected or held back (a table an overlay holds whole, like the files')."""
        rows = self._target().execute("SELECT type, id, file, digest, line, held, item FROM rejected")
        return {(t, i): Troubled(f, bytes(d), int(n), bool(h), pickle.loads(blob))
                for t, i, f, d, n, h, blob in rows}

    def close(self) -> None:
        for connection in (self.base, self.over):
            if connection is not None:
                connection.close()

    # ------------------------------------------------------------------ writing
    def _target(self) -> sqlite3.Connection:
        return self.over if self.over is not None else self.base

    def put(self, items: Iterable[tuple[Key, RecordState]], fresh: bool = False) -> None:
        """Add records (or replace them: their old rows go first; ``fresh``: a new file, none)."""
        items = list(items)
        if not fresh:
            self.drop(key for key, _r in items)
        c = self._target()
        c.executemany("INSERT INTO record VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (_row(k, r) for k, r in items))
        c.executemany("INSERT OR IGNORE INTO ref VALUES (?, ?, ?, ?)",
                      ((t[0], t[1], k[0], k[1]) for k, r in items for t in r.refs if t[0] not in NOT_INDEXED))
        c.executemany("INSERT OR IGNORE INTO bucket VALUES (?, ?, ?)",
                      ((b, k[0], k[1]) for k, r in items for b in r.buckets))

    def drop(self, keys: Iterable[Key]) -> None:
        """Forget records: in an overlay, their base rows are hidden and their own rows deleted."""
        c = self._target()
        for key in keys:
            if self.over is not None:
                c.execute("INSERT OR IGNORE INTO gone VALUES (?, ?)", key)
            row = c.execute("SELECT refs, buckets FROM record WHERE type = ? AND id = ?", key).fetchone()
            if row is None:
                continue
            refs, buckets = _unpack(row[0], True), _unpack(row[1], False)
            c.execute("DELETE FROM record WHERE type = ? AND id = ?", key)
            c.executemany("DELETE FROM ref WHERE target_type = ? AND target_id = ? AND type = ? AND id = ?",
                          ((t[0], t[1], key[0], key[1]) for t in refs if t[0] not in NOT_INDEXED))
            c.executemany("DELETE FROM bucket WHERE bucket = ? AND type = ? AND id = ?",
                          ((b, key[0], key[1]) for b in buckets))


def _tune(connection: sqlite3.Connection) -> None:
    # a file in a release's temporary folder: no journal, no syncs (the build syncs the folder
    # before it seals it; a killed build's folder is thrown away)
    connection.execute("PRAGMA journal_mode = OFF")
    connection.execute("PRAGMA synchronous = OFF")
    # a cache big enough for the whole file: with SQLite's 2 MB, a full build's inserts read
    # evicted pages back again and again (21 s instead of a few for 240,000 records)
    connection.execute("PRAGMA cache_size = -524288")


STATE_FILE = "state.sqlite"


def create(path: Path, meta: dict[str, Any], files: dict[str, tuple[str, bool]],
           records: Iterable[tuple[Key, RecordState]], troubled: dict[Key, Troubled] | None = None) -> None:
    """A new state file (a full build's)."""
    path.parent.mkdir(exist_ok=True)
    path.unlink(missing_ok=True)
    records = sorted(records, key=lambda item: item[0])  # in key order, as the table is
    per_file: dict[str, list[bytes]] = {}
    for _key, r in records:
        per_file.setdefault(r.file, []).append(r.digest)
    for _key, t in (troubled or {}).items():  # a held record's digest is in its row already
        if not t.held:
            per_file.setdefault(t.file, []).append(t.digest)
    connection = sqlite3.connect(path)
    try:
        _tune(connection)
        connection.executescript(SCHEMA)
        RecordTable(connection).put(records, fresh=True)
        connection.executescript(INDEXES)
        _write_meta(connection, meta)
        write_troubled(connection, troubled or {})
        write_files(connection, files, {name: b"".join(sorted(d)) for name, d in per_file.items()}, set())
        connection.commit()
    finally:
        connection.close()


def _write_meta(connection: sqlite3.Connection, meta: dict[str, Any]) -> None:
    connection.execute("DELETE FROM meta")
    connection.executemany("INSERT INTO meta VALUES (?, ?)",
                           ((k, json.dumps(v, ensure_ascii=False, sort_keys=True)) for k, v in meta.items()))


def write_troubled(connection: sqlite3.Connection, troubled: dict[Key, Troubled]) -> None:
    """The rejected and held-back records, all of them (few: a pickle of each one's raw value;
    our own file in our own var folder, as the state always was)."""
    connection.execute("DELETE FROM rejected")
    connection.executemany("INSERT INTO rejected VALUES (?, ?, ?, ?, ?, ?, ?)", (
        (k[0], k[1], t.file, t.digest, t.line, int(t.held), pickle.dumps(t.item, protocol=5))
        for k, t in sorted(troubled.items())))


def write_files(connection: sqlite3.Connection, files: dict[str, tuple[str, bool]], digests: dict[str, bytes],
                kept: set[str]) -> None:
    """The input files: each one's sha256, whether it is a JSON list, its records' digests
    (``digests``: the files read again; the rows of those in ``kept`` stay as they are)."""
    connection.execute("CREATE TEMP TABLE IF NOT EXISTS present (name TEXT PRIMARY KEY)")
    connection.execute("DELETE FROM temp.present")
    connection.executemany("INSERT INTO temp.present VALUES (?)", ((n,) for n in files))
    connection.execute("DELETE FROM file WHERE name NOT IN (SELECT name FROM temp.present)")
    connection.executemany("INSERT OR REPLACE INTO file VALUES (?, ?, ?, ?)",
                           ((name, sha, int(is_list), digests.get(name, b""))
                            for name, (sha, is_list) in sorted(files.items()) if name not in kept))


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)


def open_state(folder: Path) -> tuple[dict[str, Any], dict[str, tuple[str, bool]], RecordTable] | None:
    """A sealed release's state (its ``build-state`` folder), read-only (None: missing or not a state)."""
    base, over = folder / STATE_FILE, folder / OVERLAY_FILE
    if not base.is_file():
        return None
    try:
        table = RecordTable(_read_only(base), _read_only(over) if over.is_file() else None)
        rows = table._target()
        meta = {k: json.loads(v) for k, v in rows.execute("SELECT key, value FROM meta")}
        files = {name: (sha, bool(is_list)) for name, sha, is_list in
                 rows.execute("SELECT name, sha256, list FROM file")}
    except (sqlite3.Error, ValueError):
        return None
    return meta, files, table


def next_state(source: Path, target: Path) -> RecordTable:
    """The state of the next release in its folder ``target``, from a sealed release's state
    folder ``source``: the base hard-linked, the overlay copied (or begun) and writable."""
    target.mkdir(exist_ok=True)
    try:
        os.link(source / STATE_FILE, target / STATE_FILE)
    except OSError:  # another file system: a copy
        shutil.copyfile(source / STATE_FILE, target / STATE_FILE)
    if (source / OVERLAY_FILE).is_file():
        shutil.copyfile(source / OVERLAY_FILE, target / OVERLAY_FILE)
        over = sqlite3.connect(target / OVERLAY_FILE)
        _tune(over)
    else:
        over = sqlite3.connect(target / OVERLAY_FILE)
        _tune(over)
        over.executescript(SCHEMA + INDEXES)
    return RecordTable(_read_only(target / STATE_FILE), over)


def finish(table: RecordTable, meta: dict[str, Any], files: dict[str, tuple[str, bool]],
           digests: dict[str, bytes], kept: set[str], troubled: dict[Key, Troubled]) -> None:
    """Write the meta and file rows of a next release's overlay and close it (``write_files``)."""
    assert table.over is not None
    if table.over.execute("SELECT count(*) FROM file").fetchone()[0] == 0:  # a new overlay: the base's rows first
        table.over.executemany("INSERT INTO file VALUES (?, ?, ?, ?)", table.base.execute("SELECT * FROM file"))
    _write_meta(table.over, meta)
    write_troubled(table.over, troubled)
    write_files(table.over, files, digests, kept)
    table.over.commit()
    table.close()
