"""Search layer: a full-text index (SQLite FTS5) of names, acronyms and descriptions, in every
language, written with each release; case and diacritics do not matter (`liepajas` finds
`Liepājas`)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from etclod.namespaces import sparql_prefixes
from etclod.listing import write_listing
from etclod.names import words
from etclod.oxtyped import select

SEARCH_FILE = "search.sqlite"
CACHE_KIB = 1 << 18
"""SQLite's page cache while the index is written: up to 256 MiB (only what the file needs is
taken; more would crowd a 100,000-project build, whose forked children share its memory)."""
DESCRIPTIONS = sparql_prefixes() + """SELECT ?e ?d WHERE { ?e dct:description ?d }"""
CODES = sparql_prefixes() + """SELECT ?e ?c WHERE { VALUES ?p { etc:projectCode etc:acronym etc:cci etc:keepId }
    ?e ?p ?c }"""
"""Codes a person types to find a resource: project codes (``LLI-151``), acronyms, CCI codes,
keep.eu ids."""


def write_indexes(folder: Path, store: ox.Store, base: str) -> int:
    """A release's reconciliation index and search index (both list its entities); how many
    entities (the build writes them in a forked child: ``forking``)."""
    from etclod.reconcile import INDEX_FILE, build_index, write_index

    entities = build_index(store, base)
    count = write_index(entities, folder / INDEX_FILE, folder)
    write_search(folder / SEARCH_FILE, entities, store, base)
    return count


def write_search(path: Path, entities: list[dict[str, Any]], store: ox.Store, base: str) -> int:
    """Index every entity of the reconciliation index, with its descriptions."""
    descriptions: dict[str, list[str]] = {}
    prefix = f"{base}id/"
    for e, d in select(store, DESCRIPTIONS, use_default_graph_as_union=True):
        iri = e.value
        if iri.startswith(prefix):
            descriptions.setdefault(iri[len(prefix):], []).append(d.value)
    codes: dict[str, list[str]] = {}
    for e, c in select(store, CODES, use_default_graph_as_union=True):
        iri = e.value
        if iri.startswith(prefix):
            codes.setdefault(iri[len(prefix):], []).append(c.value)
    connection = sqlite3.connect(path)
    try:
        # a new file in the release's temporary folder: no journal, no syncs (the build syncs
        # the whole folder before it seals it, and a killed build's folder is thrown away)
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        # a larger page cache (SQLite's default is 2 MB: each insert into a primary key or an
        # FTS segment read evicted pages back; at 30,000 projects the sort table took 8.6 s
        # instead of 5.5); it changes no byte of the file
        connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        connection.execute('CREATE VIRTUAL TABLE search USING fts5(id UNINDEXED, type UNINDEXED, name, names, '
                           'description, folded, tokenize="unicode61 remove_diacritics 2")')
        # ``folded``: the names transliterated by the one name normalisation (etclod.names), so
        # ``pskov`` finds ``Псков`` and ``lodz`` finds ``Łódź``, as merging and reconciling agree
        connection.executemany("INSERT INTO search VALUES (?, ?, ?, ?, ?, ?)", (
            # codes and descriptions sorted: one order, whatever order the store gives rows in
            (e["id"], e["type"], e["names"][0], " | ".join([*e["names"], *sorted(codes.get(e["id"], []))]),
             " ".join(sorted(descriptions.get(e["id"], []))), " | ".join(" ".join(words(n)) for n in e["names"]))
            for e in entities))
        write_listing(connection, store, base)
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
