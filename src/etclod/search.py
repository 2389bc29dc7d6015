"""Search layer: a full-text index (SQLite FTS5) of names, acronyms and descriptions, in every
language, written with each release; case and diacritics do not matter (`liepajas` finds
`Liepājas`)."""

from __future__ import annotations

import re
import sqlite3
from functools import partial
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from etclod.forking import Child, can_fork, forked
from etclod.namespaces import sparql_prefixes
from etclod.listing import listing_rows, write_listing
from etclod.names import words
from etclod.oxtyped import select

SEARCH_FILE = "search.sqlite"
SPLIT_FROM = 400_000
"""Quads from which the list tables' rows are read in a forked child beside the other indexes."""
CACHE_KIB = 1 << 19
"""SQLite's page cache while the index is written: up to 512 MiB (only what the file needs is taken)."""
DESCRIPTIONS = sparql_prefixes() + """SELECT ?e ?d WHERE { ?e dct:description ?d }"""
CODES = sparql_prefixes() + """SELECT ?e ?c WHERE { VALUES ?p { etc:projectCode etc:acronym etc:cci etc:keepId }
    ?e ?p ?c }"""
"""Codes a person types to find a resource: project codes (``LLI-151``), acronyms, CCI codes,
keep.eu ids."""


def write_indexes(folder: Path, store: ox.Store, base: str) -> int:
    """A release's reconciliation index and search index (both list its entities); how many
    entities (the build writes them in a forked child: ``forking``)."""
    from etclod.reconcile import INDEX_FILE, build_index, write_index

    # the list tables' rows are read in a forked child of their own meanwhile, on the other
    # core (the two halves took about as long; each grew faster than the data alone)
    rows = forked(partial(listing_rows, store, base)) if len(store) >= SPLIT_FROM and can_fork() else None
    try:
        entities = build_index(store, base)
        count = write_index(entities, folder / INDEX_FILE, folder)
        write_search(folder / SEARCH_FILE, entities, store, base, rows)
    finally:
        if rows is not None:
            rows.stop()
    return count


def write_search(path: Path, entities: list[dict[str, Any]], store: ox.Store, base: str,
                 rows: Child | None = None) -> int:
    """Index every entity of the reconciliation index, with its descriptions (``rows``: a
    child reading the list tables' rows; None, or a child that fails: read here)."""
    descriptions: dict[str, list[str]] = {}
    prefix = f"{base}id/"
    for row in select(store, DESCRIPTIONS, use_default_graph_as_union=True):
        iri = row["e"].value
        if iri.startswith(prefix):
            descriptions.setdefault(iri[len(prefix):], []).append(row["d"].value)
    codes: dict[str, list[str]] = {}
    for row in select(store, CODES, use_default_graph_as_union=True):
        iri = row["e"].value
        if iri.startswith(prefix):
            codes.setdefault(iri[len(prefix):], []).append(row["c"].value)
    connection = sqlite3.connect(path)
    try:
        # a new file in the release's temporary folder: no journal, no syncs (the build syncs
        # the whole folder before it seals it, and a killed build's folder is thrown away)
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        # a page cache that holds the whole index as it is built (SQLite's default is 2 MB:
        # at 100,000 projects each insert into a primary key or FTS segment read evicted
        # pages back, and the index took 4x as long for 3.3x the entities); neither this nor
        # sorting in memory changes a byte of the file
        connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        connection.execute("PRAGMA temp_store = MEMORY")
        connection.execute('CREATE VIRTUAL TABLE search USING fts5(id UNINDEXED, type UNINDEXED, name, names, '
                           'description, folded, tokenize="unicode61 remove_diacritics 2")')
        # ``folded``: the names transliterated by the one name normalisation (etclod.names), so
        # ``pskov`` finds ``Псков`` and ``lodz`` finds ``Łódź``, as merging and reconciling agree
        connection.executemany("INSERT INTO search VALUES (?, ?, ?, ?, ?, ?)", (
            # codes and descriptions sorted: one order, whatever order the store gives rows in
            (e["id"], e["type"], e["names"][0], " | ".join([*e["names"], *sorted(codes.get(e["id"], []))]),
             " ".join(sorted(descriptions.get(e["id"], []))), " | ".join(" ".join(words(n)) for n in e["names"]))
            for e in entities))
        write_listing(connection, store, base, rows.wait() if rows is not None else None)
        connection.commit()
    finally:
        connection.close()
    return len(entities)


def match_expression(text: str) -> str | None:
    """Every word as a prefix, all required, as written or transliterated:
    ``liep centr`` -> ``"liep"* AND "centr"*``; ``Łódź`` -> ``("Łódź"* OR "lodz"*)``."""
    found = [w for w in re.split(r"[^\w]+", text, flags=re.UNICODE) if w]
    if not found:
        return None
    terms = []
    for word in found[:12]:
        folded = " ".join(words(word))
        terms.append(f'("{word}"* OR "{folded}"*)' if folded and folded != word.lower() else f'"{word}"*')
    return " AND ".join(terms)


class Search:
    """Read-only queries on a release's search index."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def query(self, text: str, rtype: str | None = None, limit: int = 20, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        expression = match_expression(text)
        if expression is None:
            return [], 0
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            where = "search MATCH ?" + (" AND type = ?" if rtype else "")
            args: list[Any] = [expression] + ([rtype] if rtype else [])
            total = connection.execute(f"SELECT count(*) FROM search WHERE {where}", args).fetchone()[0]
            rows = connection.execute(
                f"SELECT id, type, name, snippet(search, 4, '', '', ' … ', 12) FROM search WHERE {where} "
                f"ORDER BY bm25(search, 0, 0, 10.0, 5.0, 1.0, 5.0) LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()
        finally:
            connection.close()
        return [{"id": r[0], "type": r[1], "name": r[2], "snippet": r[3]} for r in rows], total
