"""Reconciliation layer: match outside names to our resources (W3C Reconciliation API).

The index is written with each release (``reconcile.json.gz``) and loaded by the server, so a
query never scans the store. Names are compared as sets of normalised tokens: case,
diacritics, punctuation and quotes, word order and legal-form words (SIA, AS, VSIA, UAB, Oy,
AB, GmbH ...) do not matter; common abbreviations are expanded; a cheap Latvian stemmer cuts
the endings that declension changes (``Liepājas`` = ``Liepāja``).
"""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from etclod import recordtypes
from etclod.names import tokens
from etclod.namespaces import sparql_prefixes
from etclod.oxtyped import select

INDEX_FILE = "reconcile.json.gz"
TYPES = {name: t.reconcile.name for name, t in recordtypes.reconciled().items() if t.reconcile}
"""type -> its name in the service manifest, from the registry (``recordtypes``)."""
MATCH_SCORE, MATCH_LEAD = 85.0, 10.0


def similarity(query: list[str], name: list[str]) -> float:
    """0-100: the Dice coefficient of the token sets, with partial credit for prefixes."""
    if not query or not name:
        return 0.0
    q, n = set(query), set(name)
    if q == n:
        return 100.0
    shared: float = len(q & n)
    for token in q - n:
        if len(token) >= 3 and any(other.startswith(token) or token.startswith(other)
                                   for other in n - q if len(other) >= 3):
            shared += 0.7
    return 100.0 * 2 * shared / (len(q) + len(n))


# --------------------------------------------------------------------------- building the index

_LANG_RANK = {"": 0, "en": 1, "lv": 2}


def build_index(store: ox.Store, base: str) -> list[dict[str, Any]]:
    """One entry per resource: its id (``type/key``), names and the properties we match on."""
    entities: dict[str, dict[str, Any]] = {}
    prefix = f"{base}id/"
    for rtype, record_type in recordtypes.reconciled().items():
        assert record_type.reconcile is not None
        solutions = select(store, sparql_prefixes() + record_type.reconcile.query, use_default_graph_as_union=True)
        # the properties this type's query selects (a lookup of one it does not is an exception)
        selected = {v.value for v in solutions.variables}
        keys = [key for key in ("country", "town", "nuts", "programme", "period", "start", "eu") if key in selected]
        for row in solutions:
            iri = row["e"].value
            if not iri.startswith(prefix):
                continue
            entry = entities.setdefault(iri, {"id": iri[len(prefix):], "type": rtype, "names": []})
            name = row["name"].value
            if name not in entry["names"]:
                entry["names"].append(name)
            language = getattr(row["name"], "language", None)
            if language:  # for Accept-Language: which name is in which language (one name in two: the first by rank)
                have = entry.setdefault("langs", {}).get(name)
                if have is None or (_LANG_RANK.get(language, 3), language) < (_LANG_RANK.get(have, 3), have):
                    entry["langs"][name] = language
            for key in keys:
                value = row[key]
                if value is not None and key not in entry:
                    entry[key] = value.value
    for entry in entities.values():
        # one order, whatever order the store gives rows in (an in-memory store's depends on
        # its history: a full and an incremental build must agree): names without a language
        # (acronyms, codes) first, then English, Latvian and other languages; for a programme
        # its CCI code last
        langs = entry.get("langs", {})
        entry["names"].sort(key=lambda n: (_LANG_RANK.get(langs.get(n, ""), 3), langs.get(n, ""), n))
        if entry["type"] == "programme":  # the title first, the CCI code after it
            entry["names"].sort(key=lambda n: bool(re.fullmatch(r"[0-9]{4}TC[0-9A-Z]+", n)))
    return sorted(entities.values(), key=lambda e: e["id"])


def write_index(entities: list[dict[str, Any]], path: Path, release: Path | None = None) -> int:
    """The index as one gzip JSON array, in segments (``chunks.write_entities``) that a delta
    release patches; where they lie goes to ``release``'s build state (if given)."""
    from etclod.chunks import write_entities

    return write_entities(entities, path, release)


# --------------------------------------------------------------------------- querying

@dataclass
class Candidate:
    entity: dict[str, Any]
    score: float
    match: bool = False


class Index:
    """The release's entities with an inverted index from token to entity."""

    def __init__(self, entities: list[dict[str, Any]]) -> None:
        self.entities = entities
        self.by_id = {e["id"]: e for e in entities}
        self.tokens: list[list[list[str]]] = [[tokens(n) for n in e["names"]] for e in entities]
        self.postings: dict[str, set[int]] = defaultdict(set)
        for i, names in enumerate(self.tokens):
            for name in names:
                for token in name:
                    self.postings[token].add(i)

    @classmethod
    def load(cls, path: Path) -> Index:
        with gzip.open(path, "rb") as handle:
            return cls(json.loads(handle.read()))

    def search(self, text: str, rtype: str | tuple[str, ...] | None = None, limit: int = 5,
               properties: dict[str, str] | None = None) -> list[Candidate]:
        query = tokens(text)
        seen: set[int] = set()
        for token in query:
            seen |= self.postings.get(token, set())
            if len(token) >= 4 and not self.postings.get(token):
                seen |= {i for t, ids in self.postings.items() if t.startswith(token[:4]) for i in ids}
        scored = []
        for i in seen:
            entity = self.entities[i]
            if rtype and entity["type"] not in _types(rtype):
                continue
            score = max(similarity(query, name) for name in self.tokens[i])
            score = _refine(score, entity, properties or {})
            scored.append(Candidate(entity, round(score, 1)))
        scored.sort(key=lambda c: (-c.score, c.entity["id"]))
        top = scored[:max(1, limit)]
        if top and top[0].score >= MATCH_SCORE and (len(scored) == 1 or top[0].score - scored[1].score >= MATCH_LEAD):
            top[0].match = True
        return top

    def suggest(self, prefix: str, rtype: str | tuple[str, ...] | None = None, limit: int = 10) -> list[dict[str, Any]]:
        wanted = tokens(prefix)
        if not wanted:
            return []
        out = []
        for i, entity in enumerate(self.entities):
            if rtype and entity["type"] not in _types(rtype):
                continue
            if any(all(any(t.startswith(w) for t in name) for w in wanted) for name in self.tokens[i]):
                out.append(entity)
                if len(out) >= limit:
                    break
        return out


def _types(rtype: str | tuple[str, ...]) -> tuple[str, ...]:
    """One type or a list of them (the API takes both): the types a candidate may have."""
    return (rtype,) if isinstance(rtype, str) else rtype


def name_in(entity: dict[str, Any], languages: list[str]) -> tuple[str, str | None]:
    """The entity's name in the first of ``languages`` it has one in (primary subtags compared),
    else its first name; with that name's language, where known.

    >>> name_in({"names": ["Rīga", "Riga"], "langs": {"Rīga": "lv", "Riga": "en"}}, ["en-GB", "lv"])
    ('Riga', 'en')
    """
    langs = entity.get("langs") or {}
    for wanted in languages:
        primary = wanted.split("-")[0].lower()
        for name in entity["names"]:
            if (langs.get(name) or "").split("-")[0].lower() == primary:
                return name, langs[name]
    first = entity["names"][0]
    return first, langs.get(first)


PROPERTY_KEYS = {"country": "country", "town": "town", "programme": "programme", "period": "period",
                 "nuts": "nuts"}


def has_value(entity: dict[str, Any], pid: str, value: str) -> bool:
    """Whether the entity's property ``pid`` holds ``value`` (compared as matching does)."""
    return _refine(50.0, entity, {pid: value}) > 50.0


def _refine(score: float, entity: dict[str, Any], properties: dict[str, str]) -> float:
    for pid, value in properties.items():
        key = PROPERTY_KEYS.get(pid)
        if key is None or not value:
            continue
        have = entity.get(key)
        if have is None:
            continue
        wanted = str(value).strip()
        if key == "country":
            same = have.rsplit("/", 1)[-1].upper() == wanted.rsplit("/", 1)[-1].upper()[:3] or \
                have.rsplit("/", 1)[-1].upper()[:2] == wanted.upper()[:2]
        elif key == "period":
            same = wanted in str(have) or str(have) in wanted
        else:
            same = tokens(str(have).rsplit("/", 1)[-1]) == tokens(wanted.rsplit("/", 1)[-1]) or have == wanted
        score = score + 5 if same else score - 20
    return max(0.0, min(100.0, score))
