"""Mapping layer: pure functions from typed records to rdflib triples."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, PROV, RDF, RDFS, SKOS, XSD

from etclod import recordtypes
from etclod import records as rec
from etclod.namespaces import (CV, ETC, LOCN, ORG, PERSON, SCHEMA, country_iri, graph_iri,
                               language_iri, mint, mint_part, nuts_iri, slugify)

Triple = tuple[URIRef, URIRef, Any]

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

    def ref(self, rtype: str, rid: str) -> URIRef:
        """The IRI of the record ``rid``; a missing one still gets its would-be IRI,
        so SHACL reports the dangling reference instead of it vanishing."""
        found = self.iris.get((rtype, rid))
        if found is not None:
            return found
        return mint(self.base, rtype, recordtypes.get(rtype).key_of_text(rid) or "-")


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
        iri = record_iri(base, item.record)
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
    for name in ("acronym", "name", "title", "label"):
        value = getattr(record, name, None)
        if isinstance(value, dict) and value:
            label: str = value.get("en") or value.get("lv") or next(iter(value.values()))
            return label
        if isinstance(value, str) and value:
            return value
    rid: str = record.id
    return rid


def lang_literals(value: Any) -> list[Literal]:
    """``{lv: .., en: ..}`` -> tagged literals; a bare string stays untagged (SHACL rejects it
    where a language is required)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [Literal(value)]
    return [Literal(text, lang=lang) for lang, text in sorted(value.items()) if text]


def date_literal(value: str) -> Literal:
    """A date at the precision it is known: xsd:date, xsd:gYearMonth or xsd:gYear."""
    datatype = {10: XSD.date, 7: XSD.gYearMonth, 4: XSD.gYear}[len(value)]
    return Literal(value, datatype=datatype)


def amount_literal(value: Decimal) -> Literal:
    """An xsd:decimal in canonical form (``1000.50`` -> ``1000.5``): the store keeps decimals
    canonical, so validating and publishing the canonical form keeps dumps and queries equal."""
    text = format(value.normalize(), "f")
    return Literal("0" if text in ("-0", "0") else text, datatype=XSD.decimal)


def map_record(record: Any, ctx: Context, where: str) -> list[Triple]:
    """All triples of one record. Pure: the same record and context give the same triples.

    ``where`` names the record's file for ``etc:record``.
    """
    subject = ctx.iris.get((record.type, record.id)) or record_iri(ctx.base, record)
    triples: list[Triple] = [(subject, ETC.record, Literal(f"{where}#{record.type}/{record.id}"))]
    if record.type != "source":
        triples += [(subject, PROV.wasDerivedFrom, ctx.ref("source", s)) for s in record.sources]
    triples += recordtypes.get(record.type).mapper(record, subject, ctx)
    return triples


def _labels(subject: URIRef, value: Any, *predicates: URIRef) -> list[Triple]:
    return [(subject, p, lit) for p in predicates for lit in lang_literals(value)]


def _optional(subject: URIRef, predicate: URIRef, value: Any, make: Any = Literal) -> list[Triple]:
    if value is None:
        return []
    return [(subject, predicate, value if isinstance(value, (URIRef, Literal)) else make(value))]


def map_source(r: rec.SourceDocument, s: URIRef, ctx: Context) -> list[Triple]:
    kind = {"news-article": SCHEMA.NewsArticle, "dataset": SCHEMA.Dataset, "web-page": SCHEMA.WebPage}
    out: list[Triple] = [(s, RDF.type, ETC.SourceDocument), (s, RDF.type, kind[r.kind])]
    out += _labels(s, r.title, DCTERMS.title, RDFS.label)
    out += _optional(s, SCHEMA.url, r.url, URIRef)
    out += _optional(s, DCTERMS.issued, r.published, date_literal)
    out += _optional(s, DCTERMS.publisher, r.publisher and ctx.ref("organisation", r.publisher))
    out += [(s, DCTERMS.language, language_iri(code)) for code in r.language]
    return out


def map_programme(r: rec.Programme, s: URIRef, ctx: Context) -> list[Triple]:
    out: list[Triple] = [(s, RDF.type, ETC.Programme), (s, ETC.cci, Literal(r.cci))]
    out += _labels(s, r.title, DCTERMS.title, RDFS.label)
    out += _optional(s, ETC.acronym, r.acronym)
    out += _optional(s, ETC.period, r.period)
    out += _optional(s, ETC.strand, r.strand)
    out += _optional(s, FOAF.homepage, r.homepage, URIRef)
    out += [(s, ETC.fund, Literal(f)) for f in r.funds]
    return out


def map_project(r: rec.Project, s: URIRef, ctx: Context) -> list[Triple]:
    out: list[Triple] = [(s, RDF.type, ETC.Project), (s, ETC.acronym, Literal(r.acronym)),
                         (s, RDFS.label, Literal(r.acronym)),
                         (s, ETC.programme, ctx.ref("programme", r.programme))]
    out += _labels(s, r.title, DCTERMS.title)
    out += _labels(s, r.description, DCTERMS.description)
    out += _optional(s, ETC.priority, r.priority)
    out += _optional(s, SCHEMA.startDate, r.start, date_literal)
    out += _optional(s, SCHEMA.endDate, r.end, date_literal)
    out += _optional(s, ETC.totalBudget, r.total_budget, amount_literal)
    out += _optional(s, ETC.euFunding, r.eu_funding, amount_literal)
    out += _optional(s, ETC.keepId, r.keep_id)
    out += _optional(s, ETC.projectCode, r.code)
    out += _optional(s, ETC.coFinancingRate, r.cofinancing_rate, amount_literal)
    out += _optional(s, ETC.status, r.status)
    out += _optional(s, ETC.interventionCategory, r.intervention_category)
    out += _optional(s, ETC.inforegioId, r.inforegio_id)
    out += _optional(s, FOAF.homepage, r.homepage, URIRef)
    out += [(s, ETC.theme, ctx.ref("theme", t)) for t in r.themes]
    out += _labels(s, r.themes_note, ETC.themesNote)
    out += [(s, ETC.participatingOrganisation, ctx.ref("organisation", o)) for o in r.participants]
    out += _labels(s, r.place, ETC.place)
    out += _labels(s, r.results, ETC.results)
    if r.contact is not None:
        c = mint_part(s, "contact")
        out += [(s, SCHEMA.contactPoint, c), (c, RDF.type, SCHEMA.ContactPoint)]
        out += _optional(c, SCHEMA.email, r.contact.email)
        out += _optional(c, SCHEMA.telephone, r.contact.phone)
        out += _optional(c, ETC.contactOrganisation, r.contact.organisation and ctx.ref("organisation",
                                                                                         r.contact.organisation))
        out += _labels(c, r.contact.about, SCHEMA.description)
    return out


def map_partnership(r: rec.Partnership, s: URIRef, ctx: Context) -> list[Triple]:
    project, member = ctx.ref("project", r.project), ctx.ref("organisation", r.organisation)
    label = f"{ctx.labels.get(member, r.organisation)} in {ctx.labels.get(project, r.project)}" + (
        f" ({r.role.replace('-', ' ')})" if r.role else "")
    out: list[Triple] = [(s, RDF.type, ETC.Partnership), (s, RDF.type, ORG.Membership),
                         (s, ORG.organization, project), (s, ORG.member, member),
                         (s, RDFS.label, Literal(label, lang="en"))]
    if r.role:  # no role where no source states one: none is invented
        out.append((s, ORG.role, ETC.LeadPartner if r.role == "lead-partner" else ETC.Partner))
    out += _optional(s, ETC.partnerBudget, r.budget, amount_literal)
    out += _optional(s, ETC.partnerEuFunding, r.eu_funding, amount_literal)
    return out


def map_organisation(r: rec.Organisation, s: URIRef, ctx: Context) -> list[Triple]:
    out: list[Triple] = [(s, RDF.type, ORG.Organization)]
    if r.public:
        out.append((s, RDF.type, CV.PublicOrganisation))
    out += _labels(s, r.name, SKOS.prefLabel, RDFS.label)
    out += [(s, SKOS.altLabel, Literal(n)) for n in r.alt_names]
    out += _optional(s, ETC.organisationKind, r.kind)
    out += _optional(s, ETC.country, r.country, country_iri)
    out += _optional(s, ETC.nutsRegion, r.nuts, nuts_iri)
    out += _optional(s, ORG.subOrganizationOf, r.parent and ctx.ref("organisation", r.parent))
    out += _optional(s, FOAF.homepage, r.homepage, URIRef)
    out += _optional(s, FOAF.mbox, r.email and f"mailto:{r.email}", URIRef)
    out += _optional(s, SCHEMA.telephone, r.phone)
    out += _optional(s, SCHEMA.faxNumber, r.fax)
    out += _optional(s, ETC.pic, r.pic)
    out += _optional(s, ETC.nationalId, r.national_id)
    if r.town or r.postcode or r.address:
        a = mint_part(s, "address")
        out += [(s, LOCN.address, a), (a, RDF.type, LOCN.Address)]
        out += _optional(a, LOCN.postName, r.town)
        out += _optional(a, LOCN.postCode, r.postcode)
        out += _optional(a, LOCN.fullAddress, r.address)
        out += _optional(a, LOCN.adminUnitL1, r.country)
    return out


def map_person(r: rec.Person, s: URIRef, ctx: Context) -> list[Triple]:
    out: list[Triple] = [(s, RDF.type, PERSON.Person), (s, RDF.type, FOAF.Person),
                         (s, FOAF.name, Literal(r.name)), (s, RDFS.label, Literal(r.name))]
    out += _optional(s, FOAF.title, r.honorific)
    for index, post in enumerate(r.posts, start=1):
        p = mint_part(s, f"post-{index}")
        out += [(s, ORG.holds, p), (p, RDF.type, ORG.Post), (p, ORG.heldBy, s),
                (p, ORG.postIn, ctx.ref("organisation", post.organisation))]
        out += _labels(p, post.role, RDFS.label)
    return out


def map_event(r: rec.Event, s: URIRef, ctx: Context) -> list[Triple]:
    out: list[Triple] = [(s, RDF.type, CV.PublicEvent), (s, RDF.type, SCHEMA.Event),
                         (s, SCHEMA.startDate, date_literal(r.date))]
    out += _labels(s, r.title, DCTERMS.title, RDFS.label)
    out += _labels(s, r.description, DCTERMS.description)
    out += _labels(s, r.place, ETC.place)
    out += _optional(s, SCHEMA.organizer, r.organiser and ctx.ref("organisation", r.organiser))
    out += _optional(s, ETC.moderator, r.moderator and ctx.ref("person", r.moderator))
    out += _optional(s, ETC.approximateParticipants, r.participants_approx,
                     lambda n: Literal(n, datatype=XSD.integer))
    out += _optional(s, ETC.projectsRepresented, r.projects_represented,
                     lambda n: Literal(n, datatype=XSD.integer))
    for predicate, rtype, ids in ((ETC.theme, "theme", r.themes), (ETC.presentedProject, "project", r.projects),
                                  (ETC.participatingOrganisation, "organisation", r.participants),
                                  (ETC.speaker, "person", r.speakers),
                                  (SCHEMA.performer, "organisation", r.performers),
                                  (ETC.discussedProgramme, "programme", r.programmes)):
        out += [(s, predicate, ctx.ref(rtype, i)) for i in ids]
    for index, quotation in enumerate(r.quotations, start=1):
        q = mint_part(s, f"quotation-{index}")
        out += [(s, ETC.quotation, q), (q, RDF.type, SCHEMA.Quotation),
                (q, SCHEMA.spokenByCharacter, ctx.ref("person", quotation.speaker))]
        out += _labels(q, quotation.text, SCHEMA.text)
        out += _optional(q, SCHEMA.about, quotation.about and ctx.ref("project", quotation.about))
    return out


def map_theme(r: rec.Theme, s: URIRef, ctx: Context) -> list[Triple]:
    scheme = mint(ctx.base, "theme", THEME_SCHEME_KEY)
    out: list[Triple] = [(s, RDF.type, SKOS.Concept), (s, SKOS.inScheme, scheme)]
    out += _labels(s, r.label, SKOS.prefLabel, RDFS.label)
    out += _labels(s, r.definition, SKOS.definition)
    out += _optional(s, SKOS.notation, r.notation)
    if r.broader:
        out.append((s, SKOS.broader, ctx.ref("theme", r.broader)))
    else:
        out.append((s, SKOS.topConceptOf, scheme))
    return out
