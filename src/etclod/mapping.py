"""Mapping layer: pure functions from typed records to triples of pyoxigraph terms.

The triples are Oxigraph terms from the start (they go to Oxigraph, to be validated and
published, with no conversion); rdflib terms are made only at the edges that need them
(``oxtyped.from_ox``: the pyshacl reference validator, conflicts, reports)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyoxigraph as ox
from rdflib import URIRef
from rdflib.namespace import DCTERMS, FOAF, PROV, RDF, RDFS, SKOS, XSD

from etclod import recordtypes
from etclod import records as rec
from etclod.namespaces import (CV, ETC, LOCN, ORG, PERSON, SCHEMA, OxNamespace, country_iri, graph_iri,
                               language_iri, mint, mint_part, nuts_iri, slugify)
from etclod.oxtyped import named

Triple = tuple[ox.NamedNode | ox.BlankNode, ox.NamedNode, Any]
"""A triple of pyoxigraph terms (subject, predicate, object)."""

_ETC, _SCHEMA, _ORG, _CV, _LOCN, _PERSON = (OxNamespace(n) for n in (ETC, SCHEMA, ORG, CV, LOCN, PERSON))
_DCT, _FOAF, _PROV, _RDF, _RDFS, _SKOS, _XSD = (OxNamespace(n) for n in (DCTERMS, FOAF, PROV, RDF, RDFS, SKOS, XSD))
_DATE_TYPES = {10: _XSD.date, 7: _XSD.gYearMonth, 4: _XSD.gYear}

THEME_SCHEME_KEY = "etc-themes"

FIELD_OF_PREDICATE: dict[URIRef, str] = {
    DCTERMS.title: "title", DCTERMS.description: "description", RDFS.label: "title",
    SCHEMA.startDate: "start", SCHEMA.endDate: "end", ETC.cci: "cci", ETC.period: "period",
    ETC.acronym: "acronym", ETC.programme: "programme", ETC.totalBudget: "total_budget",
    ETC.euFunding: "eu_funding", ETC.keepId: "keep_id", ETC.theme: "themes",
    ORG.organization: "project", ORG.member: "organisation", ORG.role: "role",
    ETC.partnerBudget: "budget", SKOS.prefLabel: "name", ETC.country: "country",
    ETC.nutsRegion: "nuts", ORG.subOrganizationOf: "parent", FOAF.name: "name",
    ORG.holds: "posts", ORG.postIn: "posts.organisation", SCHEMA.organizer: "organiser",
    ETC.moderator: "moderator", ETC.speaker: "speakers", SCHEMA.performer: "performers",
    ETC.presentedProject: "projects", ETC.participatingOrganisation: "participants",
    ETC.discussedProgramme: "programmes", ETC.approximateParticipants: "participants_approx",
    ETC.projectsRepresented: "projects_represented", ETC.place: "place",
    PROV.wasDerivedFrom: "sources", DCTERMS.issued: "published", DCTERMS.publisher: "publisher",
    SKOS.broader: "broader", FOAF.homepage: "homepage", ETC.pic: "pic", ETC.nationalId: "national_id",
    ETC.coFinancingRate: "cofinancing_rate", ETC.status: "status", ETC.interventionCategory: "intervention_category",
    ETC.inforegioId: "inforegio_id", ETC.partnerEuFunding: "eu_funding", ETC.projectCode: "code",
    ETC.priority: "priority", ETC.organisationKind: "kind", ETC.strand: "strand", ETC.fund: "funds",
    LOCN.postName: "town", LOCN.postCode: "postcode", LOCN.fullAddress: "address", SKOS.altLabel: "alt_names",
    DCTERMS.language: "language", SKOS.definition: "definition", SKOS.notation: "notation", FOAF.title: "honorific",
}
"""Where a SHACL result path points back to in a record (for rejection messages)."""


@dataclass(frozen=True)
class Context:
    """What mapping one record needs to know about the others: the base and the IRI index."""

    base: str
    iris: Mapping[tuple[str, str], URIRef]
    labels: Mapping[URIRef, str]
    nodes: dict[tuple[str, str], ox.NamedNode] = field(default_factory=dict, compare=False, repr=False)
    """``ref``'s answers, kept (the IRIs as pyoxigraph terms, made once each)."""

    def ref(self, rtype: str, rid: str) -> ox.NamedNode:
        """The IRI of the record ``rid``; a missing one still gets its would-be IRI,
        so SHACL reports the dangling reference instead of it vanishing."""
        key = (rtype, rid)
        node = self.nodes.get(key)
        if node is None:
            found = self.iris.get(key)
            iri = found if found is not None else mint(self.base, rtype, recordtypes.get(rtype).key_of_text(rid) or "-")
            node = self.nodes[key] = ox.NamedNode(str(iri))
        return node

    def label(self, node: ox.NamedNode, default: str) -> str:
        """The short label of the record at ``node`` (``default`` where there is none)."""
        return self.labels.get(URIRef(node.value), default)


def build_context(base: str, loaded: Iterable[rec.Loaded],
                  themes: Mapping[str, URIRef] | None = None,
                  aliases: Mapping[tuple[str, str], str] | None = None) -> Context:
    """Index every record's IRI and a short label, for references and partnership labels.

    ``aliases`` maps a record merged into another's resource (``merge``) to that record's id:
    it and every reference to it get that IRI. The label of a resource is its first record's
    (records come in order of precedence)."""
    iris: dict[tuple[str, str], URIRef] = {("theme", k): v for k, v in (themes or {}).items()}
    labels: dict[URIRef, str] = {}
    items = list(loaded)
    for item in items:
        if aliases and item.key in aliases:
            continue
        iri = mint(base, item.record.type, item.iri_key)  # as record_iri, the key worked out once
        iris.setdefault(item.key, iri)
        labels.setdefault(iri, short_label(item.record))
    for key, target in (aliases or {}).items():
        found = iris.get((key[0], target))
        if found is not None:
            iris[key] = found
    return Context(base, iris, labels)


def record_iri(base: str, record: Any) -> URIRef:
    return mint(base, record.type, recordtypes.key_of(record))


def record_graph(base: str, record: Any) -> URIRef:
    """The named graph of a record: the graph of its first source (a source's own graph)."""
    source = record.id if record.type == "source" else record.sources[0]
    return graph_iri(base, slugify(source))


def short_label(record: Any) -> str:
    fields = getattr(type(record), "model_fields", None)
    for name in ("acronym", "name", "title", "label"):
        if fields is not None and name not in fields:
            continue  # not a field of its type (pydantic's lookup of a missing attribute is slow)
        value = getattr(record, name, None)
        if isinstance(value, dict) and value:
            label: str = value.get("en") or value.get("lv") or next(iter(value.values()))
            return label
        if isinstance(value, str) and value:
            return value
    rid: str = record.id
    return rid


def lang_literals(value: Any) -> list[ox.Literal]:
    """``{lv: .., en: ..}`` -> tagged literals; a bare string stays untagged (SHACL rejects it
    where a language is required)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [ox.Literal(value)]
    return [ox.Literal(text, language=lang) for lang, text in sorted(value.items()) if text]


def date_literal(value: str) -> ox.Literal:
    """A date at the precision it is known: xsd:date, xsd:gYearMonth or xsd:gYear."""
    return ox.Literal(value, datatype=_DATE_TYPES[len(value)])


def amount_literal(value: Decimal) -> ox.Literal:
    """An xsd:decimal in canonical form (``1000.50`` -> ``1000.5``): the store keeps decimals
    canonical, so validating and publishing the canonical form keeps dumps and queries equal."""
    text = format(value.normalize(), "f")
    return ox.Literal("0" if text in ("-0", "0") else text, datatype=_XSD.decimal)


def literal(value: Any) -> ox.Literal:
    """A plain value as a literal, typed as rdflib types it: ``str`` untagged (xsd:string),
    ``bool`` xsd:boolean, ``int`` xsd:integer, ``Decimal`` xsd:decimal.

    >>> literal(3).datatype.value, literal("a").datatype.value, literal(True).value
    ('http://www.w3.org/2001/XMLSchema#integer', 'http://www.w3.org/2001/XMLSchema#string', 'true')
    """
    if isinstance(value, str):
        return ox.Literal(value)
    if isinstance(value, bool):
        return ox.Literal("true" if value else "false", datatype=_XSD.boolean)
    if isinstance(value, int):
        return ox.Literal(str(value), datatype=_XSD.integer)
    if isinstance(value, Decimal):
        return amount_literal(value)
    raise TypeError(f"cannot map the value {value!r} to a literal")


def iri(value: str) -> ox.NamedNode:
    """An IRI a record gives (a homepage, a URL) as a term."""
    return ox.NamedNode(str(value))


def _uri(value: URIRef) -> ox.NamedNode:
    """One of namespaces' minted IRIs (a country, a language, a NUTS region) as a term."""
    return named(str(value))


def _part(subject: ox.NamedNode, part: str) -> ox.NamedNode:
    """A node belonging to ``subject`` (``namespaces.mint_part``)."""
    return ox.NamedNode(mint_part(URIRef(subject.value), part))


def map_record(record: Any, ctx: Context, where: str) -> list[Triple]:
    """All triples of one record. Pure: the same record and context give the same triples.

    ``where`` names the record's file for ``etc:record``.
    """
    found = ctx.iris.get((record.type, record.id))
    subject = ox.NamedNode(str(found if found is not None else record_iri(ctx.base, record)))
    triples: list[Triple] = [(subject, _ETC.record, ox.Literal(f"{where}#{record.type}/{record.id}"))]
    if record.type != "source":
        triples += [(subject, _PROV.wasDerivedFrom, ctx.ref("source", s)) for s in record.sources]
    triples += recordtypes.get(record.type).mapper(record, subject, ctx)
    return triples


def _labels(subject: ox.NamedNode, value: Any, *predicates: ox.NamedNode) -> list[Triple]:
    return [(subject, p, lit) for p in predicates for lit in lang_literals(value)]


def _optional(subject: ox.NamedNode, predicate: ox.NamedNode, value: Any, make: Any = literal) -> list[Triple]:
    if value is None:
        return []
    return [(subject, predicate, value if isinstance(value, (ox.NamedNode, ox.Literal)) else make(value))]


def map_source(r: rec.SourceDocument, s: ox.NamedNode, ctx: Context) -> list[Triple]:
    kind = {"news-article": _SCHEMA.NewsArticle, "dataset": _SCHEMA.Dataset, "web-page": _SCHEMA.WebPage}
    out: list[Triple] = [(s, _RDF.type, _ETC.SourceDocument), (s, _RDF.type, kind[r.kind])]
    out += _labels(s, r.title, _DCT.title, _RDFS.label)
    out += _optional(s, _SCHEMA.url, r.url, iri)
    out += _optional(s, _DCT.issued, r.published, date_literal)
    out += _optional(s, _DCT.publisher, r.publisher and ctx.ref("organisation", r.publisher))
    out += [(s, _DCT.language, _uri(language_iri(code))) for code in r.language]
    return out


def map_programme(r: rec.Programme, s: ox.NamedNode, ctx: Context) -> list[Triple]:
    out: list[Triple] = [(s, _RDF.type, _ETC.Programme), (s, _ETC.cci, literal(r.cci))]
    out += _labels(s, r.title, _DCT.title, _RDFS.label)
    out += _optional(s, _ETC.acronym, r.acronym)
    out += _optional(s, _ETC.period, r.period)
    out += _optional(s, _ETC.strand, r.strand)
    out += _optional(s, _FOAF.homepage, r.homepage, iri)
    out += [(s, _ETC.fund, literal(f)) for f in r.funds]
    return out


def map_project(r: rec.Project, s: ox.NamedNode, ctx: Context) -> list[Triple]:
    out: list[Triple] = [(s, _RDF.type, _ETC.Project), (s, _ETC.acronym, literal(r.acronym)),
                         (s, _RDFS.label, literal(r.acronym)),
                         (s, _ETC.programme, ctx.ref("programme", r.programme))]
    out += _labels(s, r.title, _DCT.title)
    out += _labels(s, r.description, _DCT.description)
    out += _optional(s, _ETC.priority, r.priority)
    out += _optional(s, _SCHEMA.startDate, r.start, date_literal)
    out += _optional(s, _SCHEMA.endDate, r.end, date_literal)
    out += _optional(s, _ETC.totalBudget, r.total_budget, amount_literal)
    out += _optional(s, _ETC.euFunding, r.eu_funding, amount_literal)
    out += _optional(s, _ETC.keepId, r.keep_id)
    out += _optional(s, _ETC.projectCode, r.code)
    out += _optional(s, _ETC.coFinancingRate, r.cofinancing_rate, amount_literal)
    out += _optional(s, _ETC.status, r.status)
    out += _optional(s, _ETC.interventionCategory, r.intervention_category)
    out += _optional(s, _ETC.inforegioId, r.inforegio_id)
    out += _optional(s, _FOAF.homepage, r.homepage, iri)
    out += [(s, _ETC.theme, ctx.ref("theme", t)) for t in r.themes]
    out += _labels(s, r.themes_note, _ETC.themesNote)
    out += [(s, _ETC.participatingOrganisation, ctx.ref("organisation", o)) for o in r.participants]
    out += _labels(s, r.place, _ETC.place)
    out += _labels(s, r.results, _ETC.results)
    if r.contact is not None:
        c = _part(s, "contact")
        out += [(s, _SCHEMA.contactPoint, c), (c, _RDF.type, _SCHEMA.ContactPoint)]
        out += _optional(c, _SCHEMA.email, r.contact.email)
        out += _optional(c, _SCHEMA.telephone, r.contact.phone)
        out += _optional(c, _ETC.contactOrganisation, r.contact.organisation and ctx.ref("organisation",
                                                                                         r.contact.organisation))
        out += _labels(c, r.contact.about, _SCHEMA.description)
    return out


def map_partnership(r: rec.Partnership, s: ox.NamedNode, ctx: Context) -> list[Triple]:
    project, member = ctx.ref("project", r.project), ctx.ref("organisation", r.organisation)
    label = f"{ctx.label(member, r.organisation)} in {ctx.label(project, r.project)}" + (
        f" ({r.role.replace('-', ' ')})" if r.role else "")
    out: list[Triple] = [(s, _RDF.type, _ETC.Partnership), (s, _RDF.type, _ORG.Membership),
                         (s, _ORG.organization, project), (s, _ORG.member, member),
                         (s, _RDFS.label, ox.Literal(label, language="en"))]
    if r.role:  # no role where no source states one: none is invented
        out.append((s, _ORG.role, _ETC.LeadPartner if r.role == "lead-partner" else _ETC.Partner))
    out += _optional(s, _ETC.partnerBudget, r.budget, amount_literal)
    out += _optional(s, _ETC.partnerEuFunding, r.eu_funding, amount_literal)
    return out


def map_organisation(r: rec.Organisation, s: ox.NamedNode, ctx: Context) -> list[Triple]:
    out: list[Triple] = [(s, _RDF.type, _ORG.Organization)]
    if r.public:
        out.append((s, _RDF.type, _CV.PublicOrganisation))
    out += _labels(s, r.name, _SKOS.prefLabel, _RDFS.label)
    out += [(s, _SKOS.altLabel, literal(n)) for n in r.alt_names]
    out += _optional(s, _ETC.organisationKind, r.kind)
    out += _optional(s, _ETC.country, r.country, lambda c: _uri(country_iri(c)))
    out += _optional(s, _ETC.nutsRegion, r.nuts, lambda c: _uri(nuts_iri(c)))
    out += _optional(s, _ORG.subOrganizationOf, r.parent and ctx.ref("organisation", r.parent))
    out += _optional(s, _FOAF.homepage, r.homepage, iri)
    out += _optional(s, _FOAF.mbox, r.email and f"mailto:{r.email}", iri)
    out += _optional(s, _SCHEMA.telephone, r.phone)
    out += _optional(s, _SCHEMA.faxNumber, r.fax)
    out += _optional(s, _ETC.pic, r.pic)
    out += _optional(s, _ETC.nationalId, r.national_id)
    if r.town or r.postcode or r.address:
        a = _part(s, "address")
        out += [(s, _LOCN.address, a), (a, _RDF.type, _LOCN.Address)]
        out += _optional(a, _LOCN.postName, r.town)
        out += _optional(a, _LOCN.postCode, r.postcode)
        out += _optional(a, _LOCN.fullAddress, r.address)
        out += _optional(a, _LOCN.adminUnitL1, r.country)
    return out


def map_person(r: rec.Person, s: ox.NamedNode, ctx: Context) -> list[Triple]:
    out: list[Triple] = [(s, _RDF.type, _PERSON.Person), (s, _RDF.type, _FOAF.Person),
                         (s, _FOAF.name, literal(r.name)), (s, _RDFS.label, literal(r.name))]
    out += _optional(s, _FOAF.title, r.honorific)
    for index, post in enumerate(r.posts, start=1):
        p = _part(s, f"post-{index}")
        out += [(s, _ORG.holds, p), (p, _RDF.type, _ORG.Post), (p, _ORG.heldBy, s),
                (p, _ORG.postIn, ctx.ref("organisation", post.organisation))]
        out += _labels(p, post.role, _RDFS.label)
    return out


def map_event(r: rec.Event, s: ox.NamedNode, ctx: Context) -> list[Triple]:
    out: list[Triple] = [(s, _RDF.type, _CV.PublicEvent), (s, _RDF.type, _SCHEMA.Event),
                         (s, _SCHEMA.startDate, date_literal(r.date))]
    out += _labels(s, r.title, _DCT.title, _RDFS.label)
    out += _labels(s, r.description, _DCT.description)
    out += _labels(s, r.place, _ETC.place)
    out += _optional(s, _SCHEMA.organizer, r.organiser and ctx.ref("organisation", r.organiser))
    out += _optional(s, _ETC.moderator, r.moderator and ctx.ref("person", r.moderator))
    out += _optional(s, _ETC.approximateParticipants, r.participants_approx,
                     literal)
    out += _optional(s, _ETC.projectsRepresented, r.projects_represented,
                     literal)
    for predicate, rtype, ids in ((_ETC.theme, "theme", r.themes), (_ETC.presentedProject, "project", r.projects),
                                  (_ETC.participatingOrganisation, "organisation", r.participants),
                                  (_ETC.speaker, "person", r.speakers),
                                  (_SCHEMA.performer, "organisation", r.performers),
                                  (_ETC.discussedProgramme, "programme", r.programmes)):
        out += [(s, predicate, ctx.ref(rtype, i)) for i in ids]
    for index, quotation in enumerate(r.quotations, start=1):
        q = _part(s, f"quotation-{index}")
        out += [(s, _ETC.quotation, q), (q, _RDF.type, _SCHEMA.Quotation),
                (q, _SCHEMA.spokenByCharacter, ctx.ref("person", quotation.speaker))]
        out += _labels(q, quotation.text, _SCHEMA.text)
        out += _optional(q, _SCHEMA.about, quotation.about and ctx.ref("project", quotation.about))
    return out


def map_theme(r: rec.Theme, s: ox.NamedNode, ctx: Context) -> list[Triple]:
    scheme = _uri(mint(ctx.base, "theme", THEME_SCHEME_KEY))
    out: list[Triple] = [(s, _RDF.type, _SKOS.Concept), (s, _SKOS.inScheme, scheme)]
    out += _labels(s, r.label, _SKOS.prefLabel, _RDFS.label)
    out += _labels(s, r.definition, _SKOS.definition)
    out += _optional(s, _SKOS.notation, r.notation)
    if r.broader:
        out.append((s, _SKOS.broader, ctx.ref("theme", r.broader)))
    else:
        out.append((s, _SKOS.topConceptOf, scheme))
    return out
