"""Patched indexes for a delta release: the search and list tables (``search.sqlite``) and the
reconciliation index of the current release, with the rows of the entities a change touches
written again.

The entities touched are the changed and removed records, what they point at, what points at
them and what those point at (a project's country facet comes from its partnerships'
organisations; a partnership's list label from its organisation's and project's labels; a
project's period from its programme). Their rows are computed by the full build's own code
(``reconcile.build_index``, ``search.write_search``) on a small store holding the quads of
those entities and of their neighbours one step further, which is all those queries read.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
from pathlib import Path
import pyoxigraph as ox

from etclod.chunks import patch_entities, read_json_index
from etclod.incremental import Key, old_quads
from etclod.statedb import RecordTable
from etclod.reconcile import INDEX_FILE, build_index, write_index
from etclod.search import SEARCH_FILE, write_search

TABLES = ("search", "entity", "facet", "entity_sort")


READS_OTHERS = ("partnership", "project")
"""The types whose index rows read other records: a partnership's list label (its project's and
organisation's labels), a project's country facet (its partnerships' organisations) and
period (its programme). Every other type's rows are its own quads'."""
NOT_READ = ("source", "theme")
"""What no index row reads of another record (everything points at its sources)."""


def _touched(records: RecordTable, changed: set[Key], old: dict[Key, tuple[Key, ...]]) -> set[Key]:
    """The records whose index rows a change of ``changed`` may alter."""
    out = set(changed)
    for key in changed:
        out |= {r for r in records.referrers(key) if r[0] in READS_OTHERS}
    for key in list(out):
        if key[0] == "partnership":  # its project's country facet
            r = records.get(key)
            out |= {t for t in (*(r.refs if r else ()), *old.get(key, ())) if t[0] == "project"}
    return out


def _read_by(records: RecordTable, keys: set[Key]) -> set[Key]:
    """``keys`` and every record their index rows read."""
    out = set(keys)

    def refs(key: Key) -> set[Key]:
        r = records.get(key)
        return {t for t in r.refs if t[0] not in NOT_READ} if r else set()

    for key in keys:
        out |= refs(key)
        if key[0] == "project":
            for other in records.referrers(key):
                if other[0] == "partnership":
                    out.add(other)
                    out |= refs(other)
    return out


def patch_indexes(previous: Path, folder: Path, store: ox.Store, records: RecordTable, base: str,
                  changed: set[Key], old: dict[Key, tuple[Key, ...]], old_iris: set[str],
                  themes: list[ox.Quad]) -> int:
    """Write ``search.sqlite`` and the reconciliation index of ``folder`` from ``previous``'s
    with the touched entities' rows recomputed; the number of reconciliation entities.

    ``records`` is the new release's state (who points at each record too, ``incremental.HUBS``
    left out); ``changed`` the records added, changed or removed; ``old`` what the changed
    records pointed at before; ``old_iris`` their IRIs before."""
    entities = _touched(records, changed, old)
    small = ox.Store()
    small.bulk_extend(themes)
    for key in _read_by(records, entities):
        r = records.get(key)
        if r is not None:
            small.bulk_extend(old_quads(store, r.iri, r.graph))
    prefix = f"{base}id/"
    iris = {r.iri for k in entities if (r := records.get(k)) is not None} | old_iris
    ids = {iri[len(prefix):] for iri in iris if iri.startswith(prefix)}
    index = build_index(small, base)
    fresh = [e for e in index if e["id"] in ids]
    segments = read_json_index(previous)
    if segments is None:  # a release whose index is in one piece: read whole, written in segments
        with gzip.open(previous / INDEX_FILE, "rb") as handle:
            kept = [e for e in json.loads(handle.read()) if e["id"] not in ids]
        count = write_index(sorted(kept + fresh, key=lambda e: e["id"]), folder / INDEX_FILE, folder)
    else:
        count = patch_entities(previous / INDEX_FILE, segments, folder / INDEX_FILE, folder, ids, fresh)
    # the search and list rows of the small store, moved into a copy of the previous tables
    scratch = folder / ".scratch.sqlite"
    write_search(scratch, index, small, base)
    target = folder / SEARCH_FILE
    shutil.copyfile(previous / SEARCH_FILE, target)
    connection = sqlite3.connect(target)
    try:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("ATTACH DATABASE ? AS fresh", (str(scratch),))
        connection.execute("CREATE TEMP TABLE touched (id TEXT PRIMARY KEY)")
        connection.executemany("INSERT OR IGNORE INTO touched VALUES (?)", ((i,) for i in sorted(ids)))
        for table in TABLES:
            columns = [row[1] for row in connection.execute(f"PRAGMA fresh.table_info({table})")]
            if not columns:
                continue
            names = ", ".join(columns)
            connection.execute(f"DELETE FROM main.{table} WHERE id IN (SELECT id FROM touched)")
            connection.execute(f"INSERT INTO main.{table} ({names}) SELECT {names} FROM fresh.{table} "
                               f"WHERE id IN (SELECT id FROM touched)")
        connection.commit()
        connection.execute("DETACH DATABASE fresh")
    finally:
        connection.close()
    scratch.unlink()
    return count
