"""Registry layer: every record type described once, read by every other module.

A record type is one ``RecordType`` value: its name (the ``type`` of a record and the path
segment under ``{base}id/``), its model and mapper, its class, its IRI-key rule, its identity
rule across sources, its labels in English and Latvian (singular and plural), its list facets
and what reconciliation matches it on. Adding a type, or changing a key, is one change here
(and its model and mapper); ``tests/test_recordtypes.py`` checks that every part resolves.

This is a plain data module: it imports only ``etclod.names``. Classes and SPARQL patterns are
written with the prefixes of ``namespaces.PREFIXES`` (``etc:Programme``); ``namespaces``
expands them (``namespaces.class_iri``, ``namespaces.sparql_prefixes``). Models and mappers
are named as ``module:attribute`` and resolved on first use, so ``records`` and ``mapping``
can read the registry without an import cycle.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from etclod.names import slugify


@dataclass(frozen=True)
class Facet:
    """A filter of a type's list: ``pattern`` binds ``?e`` (the resource) and ``?v`` (the value)."""

    name: str
    pattern: str
    target: str | None = None
    """The record type of the values, when they are our own resources (labels come from them)."""


@dataclass(frozen=True)
class Reconciliation:
    """What the reconciliation index reads of a type: ``query`` binds ``?e`` and ``?name`` and
    optionally the ``properties`` a query may refine on and a data extension may return."""

    name: str
    query: str
    properties: tuple[str, ...] = ()


@dataclass(frozen=True)
class Label:
    one: str
    many: str


@dataclass(frozen=True)
class RecordType:
    name: str
    model_ref: str
    mapper_ref: str
    class_curie: str
    labels: dict[str, Label]
    key_field: str = "id"
    """The record field whose slug is the IRI key (``cci`` for programmes); the id when empty."""
    key_upper: bool = False
    identity: tuple[tuple[str, ...], ...] = ()
    """How records of this type from different sources are found to be the same thing
    (``merge``): field groups tried in order; the first group both records give decides. A
    reference field compares the records it points at (after those are merged); ``name``
    compares any name in any language; ``field?`` may be empty on both; ``field~`` is compared
    only when both give it."""
    facets: tuple[Facet, ...] = ()
    reconcile: Reconciliation | None = None
    listed: bool = True

    @cached_property
    def model(self) -> Any:
        """The pydantic model of the records (``records.Project`` ...)."""
        return _resolve(self.model_ref)

    @cached_property
    def mapper(self) -> Any:
        """``mapper(record, subject, ctx) -> triples`` (``mapping.map_project`` ...)."""
        return _resolve(self.mapper_ref)

    def key_of_text(self, text: str) -> str:
        """The IRI key a text (an id, a CCI code, a key typed by hand) normalises to."""
        key = slugify(text)
        return key.upper() if self.key_upper else key

    def key(self, record: Any) -> str:
        """The IRI key of a record: the slug of its key field (its id when that is empty)."""
        value = getattr(record, self.key_field, None) if self.key_field != "id" else None
        return self.key_of_text(str(value)) if value else (self.key_of_text(record.id) or "-")

    def label(self, lang: str, plural: bool = False) -> str:
        """The type's name in ``lang`` (English when there is none), singular or plural. A name
        after a count takes the catalogue's plural forms (``i18n.ntr``: Latvian has three)."""
        label = self.labels.get(lang) or self.labels["en"]
        return label.many if plural else label.one


def _resolve(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


_ORG_NAME = "{ ?e rdfs:label ?name } UNION { ?e skos:altLabel ?name }"

TYPES: dict[str, RecordType] = {t.name: t for t in (
    RecordType(
        "programme", "etclod.records:Programme", "etclod.mapping:map_programme", "etc:Programme",
        {"en": Label("programme", "programmes"), "lv": Label("programma", "programmas")},
        key_field="cci", key_upper=True, identity=(("cci",),),
        facets=(Facet("period", "?e etc:period ?v"),),
        reconcile=Reconciliation("Programme", """SELECT ?e ?name ?period WHERE { ?e a etc:Programme .
            { ?e dct:title ?name } UNION { ?e etc:cci ?name } UNION { ?e etc:acronym ?name }
            OPTIONAL { ?e etc:period ?period } }""", ("period",))),
    RecordType(
        "project", "etclod.records:Project", "etclod.mapping:map_project", "etc:Project",
        {"en": Label("project", "projects"), "lv": Label("projekts", "projekti")},
        identity=(("keep_id",), ("programme", "code"), ("programme", "acronym")),
        facets=(Facet("programme", "?e etc:programme ?v", "programme"), Facet("theme", "?e etc:theme ?v", "theme"),
                Facet("country", "?m org:organization ?e ; org:member/etc:country ?v"),
                Facet("period", "?e etc:programme/etc:period ?v")),
        reconcile=Reconciliation("Project", """SELECT ?e ?name ?programme ?start ?eu WHERE { ?e a etc:Project .
            { ?e etc:acronym ?name } UNION { ?e dct:title ?name }
            OPTIONAL { ?e etc:programme ?programme } OPTIONAL { ?e schema:startDate ?start }
            OPTIONAL { ?e etc:euFunding ?eu } }""", ("programme", "eu_funding"))),
    RecordType(
        "partnership", "etclod.records:Partnership", "etclod.mapping:map_partnership", "etc:Partnership",
        {"en": Label("partnership", "partnerships"), "lv": Label("partnerība", "partnerības")},
        identity=(("project", "organisation"),)),
    RecordType(
        "organisation", "etclod.records:Organisation", "etclod.mapping:map_organisation", "org:Organization",
        {"en": Label("organisation", "organisations"), "lv": Label("organizācija", "organizācijas")},
        identity=(("pic",), ("country?", "national_id"), ("name", "country?", "town~")),
        facets=(Facet("country", "?e etc:country ?v"), Facet("region", "?e etc:nutsRegion ?v")),
        reconcile=Reconciliation("Organisation", """SELECT ?e ?name ?country ?town ?nuts WHERE {
            ?e a org:Organization . """ + _ORG_NAME + """
            OPTIONAL { ?e etc:country ?country } OPTIONAL { ?e etc:nutsRegion ?nuts }
            OPTIONAL { ?e locn:address/locn:postName ?town } }""", ("country", "town", "nuts"))),
    RecordType(
        "person", "etclod.records:Person", "etclod.mapping:map_person", "person:Person",
        {"en": Label("person", "people"), "lv": Label("persona", "personas")},
        reconcile=Reconciliation("Person", "SELECT ?e ?name WHERE { ?e a person:Person ; foaf:name ?name }")),
    RecordType(
        "event", "etclod.records:Event", "etclod.mapping:map_event", "cv:PublicEvent",
        {"en": Label("event", "events"), "lv": Label("pasākums", "pasākumi")},
        facets=(Facet("theme", "?e etc:theme ?v", "theme"),),
        reconcile=Reconciliation("Event", "SELECT ?e ?name WHERE { ?e a cv:PublicEvent ; dct:title ?name }")),
    RecordType(
        "theme", "etclod.records:Theme", "etclod.mapping:map_theme", "skos:Concept",
        {"en": Label("theme", "themes"), "lv": Label("tēma", "tēmas")},
        reconcile=Reconciliation("Theme", "SELECT ?e ?name WHERE { ?e a skos:Concept ; skos:prefLabel ?name }")),
    RecordType(
        "source", "etclod.records:SourceDocument", "etclod.mapping:map_source", "etc:SourceDocument",
        {"en": Label("source", "sources"), "lv": Label("avots", "avoti")}),
)}
"""Every record type, by name, in the order lists and menus show them."""

NAMES: tuple[str, ...] = tuple(TYPES)
"""The path segments under ``{base}id/``: one per record type."""


def get(name: str) -> RecordType:
    """The record type called ``name``; a ``KeyError`` names the known ones."""
    try:
        return TYPES[name]
    except KeyError:
        raise KeyError(f"unknown record type {name!r}; types are {', '.join(NAMES)}") from None


def key_of(record: Any) -> str:
    """The IRI key of any record, by its type's key rule."""
    return TYPES[record.type].key(record)


def reconciled() -> dict[str, RecordType]:
    """The types the reconciliation service matches, by name."""
    return {name: t for name, t in TYPES.items() if t.reconcile is not None}
