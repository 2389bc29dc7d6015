"""Listing layer: the resources of one type, filtered by facets, a page at a time.

Each release writes, beside its full-text index, two tables into ``search.sqlite``: every
listed resource with its labels, and its facet values (programme, theme, country, NUTS
region, period). Lists and facet counts are SQL on those tables (keyset pages on the id), so
a list of 30,000 projects costs milliseconds, not a scan of the graph.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from etclod import recordtypes
from etclod.errors import BadCursorError, BadFacetError, NotFoundError
from etclod.namespaces import class_iri, RDF, RDFS, sparql_prefixes
from etclod.oxtyped import select

FACET_TARGET = {f.name: f.target for t in recordtypes.TYPES.values() for f in t.facets if f.target}
"""Facets whose values are our own resources (their labels come from the entity table)."""


def _listed() -> dict[str, recordtypes.RecordType]:
    return {name: t for name, t in recordtypes.TYPES.items() if t.listed}


def _value(term: Any) -> str:
    return term.value.rsplit("/", 1)[-1] if isinstance(term, ox.NamedNode) else term.value


def _pick(labels: dict[str, str], lang: str) -> str:
    return labels.get(lang) or labels.get("en") or labels.get("lv") or next(iter(labels.values()))


def write_listing(connection: sqlite3.Connection, store: ox.Store, base: str) -> None:
    """The entity and facet tables of a release."""
    prefix = f"{base}id/"
    connection.execute("CREATE TABLE entity (id TEXT PRIMARY KEY, type TEXT, label_en TEXT, label_lv TEXT, label TEXT)")
    connection.execute("CREATE TABLE facet (id TEXT, type TEXT, name TEXT, value TEXT)")
    labels: dict[str, dict[str, str]] = {}
    # one triple pattern each: the store's own iteration of the pattern (what SPARQL's union
    # default graph walks too, in the same order), without a query's solution objects
    for quad in store.quads_for_pattern(None, ox.NamedNode(str(RDFS.label)), None, None):
        subject, label = quad.subject, quad.object
        if isinstance(subject, ox.NamedNode) and isinstance(label, ox.Literal):
            iri = subject.value
            if iri.startswith(prefix) and "#" not in iri:
                labels.setdefault(iri, {}).setdefault(label.language or "", label.value)
    # a partnership is named, in each language, by its organisation and project (its own
    # label is one English sentence)
    for e, o, p in select(store, "SELECT ?e ?o ?p WHERE { ?e <http://www.w3.org/ns/org#member> ?o ; "
                                 "<http://www.w3.org/ns/org#organization> ?p }", use_default_graph_as_union=True):
        member, project = labels.get(o.value, {}), labels.get(p.value, {})
        if member and project:
            labels[e.value] = {lang: f"{_pick(member, lang)} · {_pick(project, lang)}" for lang in ("en", "lv")}
    entities = []
    a = ox.NamedNode(str(RDF.type))
    for rtype in _listed():
        # ``SELECT DISTINCT ?e WHERE { ?e a <class> }``: each subject once, where first seen
        for iri in dict.fromkeys(q.subject.value for q in store.quads_for_pattern(
                None, a, ox.NamedNode(str(class_iri(rtype))), None) if isinstance(q.subject, ox.NamedNode)):
            if not iri.startswith(prefix) or "#" in iri:
                continue
            own = labels.get(iri, {})
            fallback = own.get("en") or own.get("lv") or own.get("") or next(iter(own.values()), iri)
            entities.append((iri[len(prefix):], rtype, own.get("en"), own.get("lv"), fallback))
    connection.executemany("INSERT OR IGNORE INTO entity VALUES (?, ?, ?, ?, ?)", entities)
    # the order each page language lists them in, precomputed and indexed for keyset pages
    connection.execute("CREATE TABLE entity_sort (id TEXT, type TEXT, lang TEXT, key TEXT, PRIMARY KEY (id, lang))")
    keys: dict[str, str] = {}  # a label's key worked out once (most are the same in both languages)

    def key_of(text: str) -> str:
        found = keys.get(text)
        if found is None:
            found = keys[text] = sort_key(text)
        return found

    connection.executemany("INSERT OR IGNORE INTO entity_sort VALUES (?, ?, ?, ?)", (
        (rid, rtype, lang, key_of((lv if lang == "lv" else en) or fallback))
        for rid, rtype, en, lv, fallback in entities for lang in ("en", "lv")))
    connection.execute("CREATE INDEX entity_sort_order ON entity_sort (type, lang, key, id)")
    for rtype, record_type in _listed().items():
        for facet in record_type.facets:
            name = facet.name
            rows = select(store, f"{sparql_prefixes()}SELECT DISTINCT ?e ?v WHERE {{ ?e a <{class_iri(rtype)}> . "
                               f"{facet.pattern} }}", use_default_graph_as_union=True)
            connection.executemany("INSERT INTO facet VALUES (?, ?, ?, ?)",
                                   ((e.value[len(prefix):], rtype, name, _value(v)) for e, v in rows
                                    if e.value.startswith(prefix)))
    connection.execute("CREATE INDEX entity_type ON entity (type, id)")
    connection.execute("CREATE INDEX facet_lookup ON facet (type, name, value, id)")
    connection.execute("CREATE INDEX facet_id ON facet (id, name)")


def sort_key(text: str | None) -> str:
    """How a list orders labels: case and diacritics ignored (``Ā`` beside ``A``), then as
    written, so the order is total and the keyset cursor is exact."""
    text = text or ""
    plain = text if text.isascii() else unicodedata.normalize("NFKD", text).translate(_combining())
    return f"{plain.casefold()}\x00{text}"


@lru_cache(maxsize=1)
def _combining() -> dict[int, None]:
    """A ``str.translate`` table dropping every combining character (what ``sort_key`` ignores).
    No code point past ``COMBINING_BELOW`` is one (tests/test_incremental.py checks it), so the
    table is made in a tenth of the time: an incremental build pays it each time."""
    return {cp: None for cp in range(COMBINING_BELOW) if unicodedata.combining(chr(cp))}


COMBINING_BELOW = 0x20000
"""Past the supplementary multilingual plane no code point combines (Unicode 14: the last is U+1E94A)."""


def encode_cursor(key: str, rid: str) -> str:
    """A keyset cursor: the sort key and id of the last item of a page (URL-safe)."""
    return base64.urlsafe_b64encode(json.dumps([key, rid], ensure_ascii=False).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        key, rid = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(key, str) and isinstance(rid, str):
            return key, rid
    except (ValueError, TypeError):
        pass
    raise BadCursorError(f"cursor {cursor!r} is not a list cursor: use the link rel=next of the previous page")


@dataclass
class Listing:
    items: list[dict[str, Any]]
    next_cursor: str | None
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    total: int = 0


def list_resources(path: Path, base: str, rtype: str, filters: dict[str, str], cursor: str | None, lang: str,
                   page_size: int = 50, with_facets: bool = True) -> Listing:
    """One page of a type's resources that have every filter's facet value, ordered by the
    label shown in ``lang`` (keyset pages on that label and the id), and the facet counts over
    all of them."""
    listed = _listed()
    if rtype not in listed:
        raise NotFoundError(f"no list of {rtype!r}; types are {', '.join(listed)}")
    allowed = [facet.name for facet in listed[rtype].facets]
    for name in filters:
        if name not in allowed:
            raise BadFacetError(f"{rtype} lists have no facet {name!r}; they have {', '.join(allowed) or 'none'}")
    chosen = ["SELECT id FROM entity WHERE type = ?"]
    args: list[Any] = [rtype]
    for name, value in sorted(filters.items()):
        chosen.append("SELECT id FROM facet WHERE type = ? AND name = ? AND value = ?")
        args += [rtype, name, value.upper() if name in ("country", "region") else value]
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        # the resources that pass every filter, once, as a keyed temporary table
        connection.execute("CREATE TEMP TABLE chosen (id TEXT PRIMARY KEY)")
        connection.execute(f"INSERT INTO chosen {' INTERSECT '.join(chosen)}", args)
        label = "COALESCE(e.label_lv, e.label)" if lang == "lv" else "COALESCE(e.label_en, e.label)"
        total = connection.execute("SELECT COUNT(*) FROM chosen").fetchone()[0]
        after = list(decode_cursor(cursor)) if cursor else []
        if connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'entity_sort'").fetchone():
            rows = connection.execute(
                f"SELECT s.id, {label}, s.key FROM entity_sort s JOIN chosen c ON c.id = s.id "
                f"JOIN entity e ON e.id = s.id WHERE s.type = ? AND s.lang = ? "
                f"{'AND (s.key, s.id) > (?, ?)' if cursor else ''} ORDER BY s.key, s.id LIMIT ?",
                [rtype, "lv" if lang == "lv" else "en", *after, page_size + 1]).fetchall()
        else:  # a release indexed before the order table existed: the same order, computed here
            connection.create_function("sortkey", 1, sort_key, deterministic=True)
            rows = connection.execute(
                f"SELECT id, label, sortkey(label) FROM (SELECT c.id AS id, {label} AS label FROM chosen c "
                f"JOIN entity e ON e.id = c.id) {'WHERE (sortkey(label), id) > (?, ?)' if cursor else ''} "
                f"ORDER BY sortkey(label), id LIMIT ?", [*after, page_size + 1]).fetchall()
        facets: dict[str, list[dict[str, Any]]] = {}
        if with_facets:
            for name in allowed:
                counts = connection.execute(
                    "SELECT f.value, COUNT(*) AS n FROM chosen c JOIN facet f ON f.id = c.id AND f.name = ? "
                    "GROUP BY f.value ORDER BY n DESC, f.value LIMIT 30", [name]).fetchall()
                names: dict[str, str] = {}
                if name in FACET_TARGET and counts:
                    keys = [f"{FACET_TARGET[name]}/{v}" for v, _ in counts]
                    marks = ",".join("?" * len(keys))
                    names = {k.split("/", 1)[1]: text for k, text in connection.execute(
                        f"SELECT id, {label.replace('e.', '')} FROM entity WHERE id IN ({marks})", keys)}
                facets[name] = [{"value": v, "count": n, "label": names.get(v, v)} for v, n in counts]
    finally:
        connection.close()
    items = [{"id": i, "iri": f"{base}id/{i}", "label": text or i} for i, text, _ in rows[:page_size]]
    next_cursor = encode_cursor(rows[page_size - 1][2], rows[page_size - 1][0]) if len(rows) > page_size else None
    return Listing(items, next_cursor, facets, total)


def count_types(path: Path) -> dict[str, int]:
    """How many resources of each listed type the release holds (the landing page's counts)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(connection.execute("SELECT type, COUNT(*) FROM entity GROUP BY type").fetchall())
    finally:
        connection.close()


def labels_for(path: Path, ids: list[str], lang: str) -> dict[str, str]:
    """The label shown in ``lang`` of listed resources (``type/key`` ids)."""
    if not ids:
        return {}
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    column = "COALESCE(label_lv, label)" if lang == "lv" else "COALESCE(label_en, label)"
    try:
        marks = ",".join("?" * len(ids))
        return dict(connection.execute(f"SELECT id, {column} FROM entity WHERE id IN ({marks})", ids).fetchall())
    finally:
        connection.close()
