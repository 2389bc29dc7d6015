"""Build-state layer: what an incremental build needs of each published record, in an indexed
SQLite file (``build-state/state.sqlite`` beside each release).

A build reads only the rows a change touches (by record, file, IRI, identity key, or who points
at a record), so a one-record change costs the same at 300 records as at 300,000. A full build
writes the file anew; a delta release writes a copy of the current release's file with the
changed rows replaced (a published release's file is never written to).
"""

from __future__ import annotations

import json
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
"""
INDEXES = """
CREATE INDEX record_file ON record (file);
CREATE INDEX record_iri ON record (iri);
CREATE INDEX record_digest ON record (digest);
"""
DIGEST = 16
"""Bytes of a record's digest (``incremental.digest``)."""
NOT_INDEXED = ("source", "theme")
"""Targets whose referrers are not kept (nearly every record points at them: ``incremental.HUBS``)."""


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


def _row(key: Key, r: RecordState) -> tuple[Any, ...]:
    return (key[0], key[1], r.file, r.digest, r.iri, r.graph, r.label,
            json.dumps([list(t) for t in r.refs], ensure_ascii=False), json.dumps(list(r.buckets), ensure_ascii=False))


def _state(row: tuple[Any, ...]) -> RecordState:
    file, digest, iri, graph, label, refs, buckets = row
    return RecordState(file, bytes(digest), iri, graph, label, tuple((t[0], t[1]) for t in json.loads(refs)),
                       tuple(json.loads(buckets)))


class RecordTable:
    """The records of a build state, read (and, in a new release's copy, written) by key."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    # ------------------------------------------------------------------ reading
    def get(self, key: Key) -> RecordState | None:
        row = self.connection.execute("SELECT file, digest, iri, graph, label, refs, buckets FROM record "
                                      "WHERE type = ? AND id = ?", key).fetchone()
        return _state(row) if row else None

    def __getitem__(self, key: Key) -> RecordState:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and self.connection.execute(
            "SELECT 1 FROM record WHERE type = ? AND id = ?", key).fetchone() is not None

    def __len__(self) -> int:
        return int(self.connection.execute("SELECT count(*) FROM record").fetchone()[0])

    def keys(self) -> list[Key]:
        return [(t, i) for t, i in self.connection.execute("SELECT type, id FROM record")]

    def file_digests(self, name: str) -> set[bytes]:
        """The digests of the records of the file ``name`` (one read: the file's row)."""
        row = self.connection.execute("SELECT digests FROM file WHERE name = ?", (name,)).fetchone()
        blob = bytes(row[0]) if row and row[0] is not None else b""
        return {blob[i:i + DIGEST] for i in range(0, len(blob), DIGEST)}

    def by_digest(self, digest: bytes) -> Key | None:
        row = self.connection.execute("SELECT type, id FROM record WHERE digest = ?", (digest,)).fetchone()
        return (row[0], row[1]) if row else None

    def in_file(self, name: str) -> dict[Key, bytes]:
        """The records of the file ``name`` with their digests."""
        return {(t, i): bytes(d) for t, i, d in
                self.connection.execute("SELECT type, id, digest FROM record WHERE file = ?", (name,))}

    def by_iri(self, iri: str) -> Key | None:
        row = self.connection.execute("SELECT type, id FROM record WHERE iri = ?", (iri,)).fetchone()
        return (row[0], row[1]) if row else None

    def referrers(self, key: Key) -> list[Key]:
        """The records that point at ``key`` (none kept for ``NOT_INDEXED`` targets)."""
        return [(t, i) for t, i in self.connection.execute(
            "SELECT type, id FROM ref WHERE target_type = ? AND target_id = ? ORDER BY type, id", key)]

    def bucket_owners(self, bucket: str) -> list[Key]:
        return [(t, i) for t, i in self.connection.execute("SELECT type, id FROM bucket WHERE bucket = ?", (bucket,))]

    # ------------------------------------------------------------------ writing
    def put(self, items: Iterable[tuple[Key, RecordState]]) -> None:
        """Add records (or replace them: their old rows go first)."""
        items = list(items)
        self.drop(key for key, _r in items)
        c = self.connection
        c.executemany("INSERT INTO record VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (_row(k, r) for k, r in items))
        c.executemany("INSERT OR IGNORE INTO ref VALUES (?, ?, ?, ?)",
                      ((t[0], t[1], k[0], k[1]) for k, r in items for t in r.refs if t[0] not in NOT_INDEXED))
        c.executemany("INSERT OR IGNORE INTO bucket VALUES (?, ?, ?)",
                      ((b, k[0], k[1]) for k, r in items for b in r.buckets))

    def drop(self, keys: Iterable[Key]) -> None:
        c = self.connection
        for key in keys:
            old = self.get(key)
            if old is None:
                continue
            c.execute("DELETE FROM record WHERE type = ? AND id = ?", key)
            c.executemany("DELETE FROM ref WHERE target_type = ? AND target_id = ? AND type = ? AND id = ?",
                          ((t[0], t[1], key[0], key[1]) for t in old.refs if t[0] not in NOT_INDEXED))
            c.executemany("DELETE FROM bucket WHERE bucket = ? AND type = ? AND id = ?",
                          ((b, key[0], key[1]) for b in old.buckets))


def _tune(connection: sqlite3.Connection) -> None:
    # a file in a release's temporary folder: no journal, no syncs (the build syncs the folder
    # before it seals it; a killed build's folder is thrown away)
    connection.execute("PRAGMA journal_mode = OFF")
    connection.execute("PRAGMA synchronous = OFF")


def create(path: Path, meta: dict[str, Any], files: dict[str, tuple[str, bool]],
           records: Iterable[tuple[Key, RecordState]]) -> None:
    """A new state file (a full build's)."""
    path.parent.mkdir(exist_ok=True)
    path.unlink(missing_ok=True)
    records = list(records)
    per_file: dict[str, list[bytes]] = {}
    for _key, r in records:
        per_file.setdefault(r.file, []).append(r.digest)
    connection = sqlite3.connect(path)
    try:
        _tune(connection)
        connection.executescript(SCHEMA)
        RecordTable(connection).put(records)
        connection.executescript(INDEXES)
        _write_meta(connection, meta)
        write_files(connection, files, {name: b"".join(sorted(d)) for name, d in per_file.items()}, set())
        connection.commit()
    finally:
        connection.close()


def _write_meta(connection: sqlite3.Connection, meta: dict[str, Any]) -> None:
    connection.execute("DELETE FROM meta")
    connection.executemany("INSERT INTO meta VALUES (?, ?)",
                           ((k, json.dumps(v, ensure_ascii=False, sort_keys=True)) for k, v in meta.items()))


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


def open_state(path: Path) -> tuple[dict[str, Any], dict[str, tuple[str, bool]], RecordTable] | None:
    """A sealed release's state file, read-only (None: missing or not a state file)."""
    if not path.is_file():
        return None
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        meta = {k: json.loads(v) for k, v in connection.execute("SELECT key, value FROM meta")}
        files = {name: (sha, bool(is_list)) for name, sha, is_list in
                 connection.execute("SELECT name, sha256, list FROM file")}
    except (sqlite3.Error, ValueError):
        return None
    return meta, files, RecordTable(connection)


def copy_state(source: Path, target: Path) -> RecordTable:
    """A writable copy of a sealed release's state file, for the next release."""
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(source, target)
    connection = sqlite3.connect(target)
    _tune(connection)
    return RecordTable(connection)


def finish(table: RecordTable, meta: dict[str, Any], files: dict[str, tuple[str, bool]],
           digests: dict[str, bytes], kept: set[str]) -> None:
    """Write the meta and file rows of a copied state and close it (``write_files``)."""
    _write_meta(table.connection, meta)
    write_files(table.connection, files, digests, kept)
    table.connection.commit()
    table.connection.close()
