"""HTTP layer: HTML pages rendered from Jinja2 templates, in the reader's language, with
labels instead of identifiers (the words come from the one message catalogue, ``i18n``)."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS

from etclod import i18n, recordtypes
from etclod.describe import pick_label
from etclod.i18n import N_
from etclod.namespaces import CV, DCTERMS, FOAF, LOCN, ORG, OWL, PERSON, PREFIXES, PROV, RDF, SCHEMA, SKOS
from etclod.places import place_label

TYPE_COUNTS: dict[str, str] = {
    # a count of a type's resources (the catalogue has every plural form of each: Latvian has
    # three, which the registry's one/many labels cannot give); the names are the registry's
    "programme": N_("%(n)s programme"), "project": N_("%(n)s project"), "partnership": N_("%(n)s partnership"),
    "organisation": N_("%(n)s organisation"), "person": N_("%(n)s person"), "event": N_("%(n)s event"),
    "theme": N_("%(n)s theme"), "source": N_("%(n)s source document"),
}
TYPE_PLURALS = {"programme": N_("%(n)s programmes"), "project": N_("%(n)s projects"),
                "partnership": N_("%(n)s partnerships"), "organisation": N_("%(n)s organisations"),
                "person": N_("%(n)s people"), "event": N_("%(n)s events"), "theme": N_("%(n)s themes"),
                "source": N_("%(n)s source documents")}

TERM_LABELS: dict[str, str] = {
    # words for the reused vocabularies' terms (the etc: terms have their labels in etc.ttl)
    str(DCTERMS.title): N_("Title"), str(DCTERMS.description): N_("Description"),
    str(DCTERMS.issued): N_("Published"), str(DCTERMS.language): N_("Language"),
    str(DCTERMS.publisher): N_("Publisher"), str(DCTERMS.source): N_("Source"),
    str(RDF.type): N_("Type"),
    str(RDFS.label): N_("Name"), str(RDFS.comment): N_("Note"),
    str(SKOS.prefLabel): N_("Name"), str(SKOS.altLabel): N_("Also known as"),
    str(SKOS.closeMatch): N_("Close match"), str(SKOS.exactMatch): N_("Same as"),
    str(SKOS.hasTopConcept): N_("Top themes"), str(SKOS.inScheme): N_("Theme list"),
    str(SKOS.topConceptOf): N_("Top theme of"), str(SKOS.notation): N_("Code"),
    str(SKOS.broader): N_("Broader theme"), str(SKOS.narrower): N_("Narrower theme"),
    str(LOCN.address): N_("Address"), str(LOCN.adminUnitL1): N_("Country"),
    str(LOCN.fullAddress): N_("Address"), str(LOCN.postCode): N_("Post code"),
    str(LOCN.postName): N_("Town"), str(ORG.heldBy): N_("Held by"),
    str(ORG.holds): N_("Post"), str(ORG.member): N_("Member"),
    str(ORG.organization): N_("Project"), str(ORG.postIn): N_("In"),
    str(ORG.role): N_("Role"), str(ORG.subOrganizationOf): N_("Part of"),
    str(PROV.wasDerivedFrom): N_("Source"), str(FOAF.homepage): N_("Home page"),
    str(FOAF.mbox): N_("E-mail"), str(FOAF.name): N_("Name"),
    str(FOAF.title): N_("Honorific"), str(SCHEMA.endDate): N_("End"),
    str(SCHEMA.startDate): N_("Start"), str(SCHEMA.organizer): N_("Organiser"),
    str(SCHEMA.performer): N_("Performer"), str(SCHEMA.url): N_("Web address"),
    str(OWL.sameAs): N_("Same as"),
    # classes
    str(CV.PublicEvent): N_("Public event"), str(SCHEMA.Event): N_("Event"),
    str(CV.PublicOrganisation): N_("Public organisation"),
    str(ORG.Organization): N_("Organisation"), str(ORG.Membership): N_("Membership"),
    str(ORG.Post): N_("Post"), str(PERSON.Person): N_("Person"),
    str(FOAF.Person): N_("Person"), str(LOCN.Address): N_("Address"),
    str(SKOS.Concept): N_("Theme"), str(SKOS.ConceptScheme): N_("Theme list"),
    str(SCHEMA.Dataset): N_("Dataset"), str(SCHEMA.NewsArticle): N_("News article"),
    str(SCHEMA.WebPage): N_("Web page"),
    str(RDF.Statement): N_("statement (RDF reification)"),
}
LANGUAGE_NAMES = {"lv": N_("in Latvian"), "en": N_("in English")}
NAV = [("/", N_("Home")), ("/id/project/", N_("Projects")), ("/sparql", N_("Query")),
       ("/catalog", N_("Catalogue")), ("/releases", N_("Releases")), ("/def", N_("Ontology")),
       ("/validation", N_("Validation"))]


class Pages:
    """Templates plus the ontology's labels, loaded once per app: one template environment
    per language, each with that language's catalogue and number and date formats."""

    def __init__(self, ontology_dir: Path) -> None:
        self.envs: dict[str, Environment] = {}
        for lang in i18n.LANGUAGES:
            env = Environment(loader=PackageLoader("etclod", "templates"),
                              autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
            env.globals.update(_=partial(i18n.tr, lang), n_=partial(i18n.ntr, lang), lang=lang,
                               other_lang="en" if lang == "lv" else "lv", nav=NAV)
            env.filters.update(money=partial(i18n.format_money, lang=lang),
                               number=partial(i18n.format_number, lang=lang),
                               date=partial(i18n.format_date, lang=lang),
                               version=partial(i18n.format_version, lang=lang))
            self.envs[lang] = env
        self.ontology = Graph()
        with (ontology_dir / "etc.ttl").open("rb") as handle:
            self.ontology.parse(source=handle, format="turtle")
        self.term_labels: dict[URIRef, list[Literal]] = {}
        for s, label in self.ontology.subject_objects(RDFS.label):
            if isinstance(s, URIRef) and isinstance(label, Literal):
                self.term_labels.setdefault(s, []).append(label)

    def render(self, name: str, lang: str = "en", request: Any = None, **context: Any) -> str:
        """A page in ``lang``; with the request, the language switch and breadcrumbs point at
        this same page in the other language."""
        lang = lang if lang in self.envs else "en"
        if request is not None:
            context.setdefault("path", request.url.path)
            context["switch_url"] = switch_url(request, "en" if lang == "lv" else "lv")
        return self.envs[lang].get_template(name).render(lang=lang, **context)

    def term(self, iri: URIRef | str, lang: str) -> str:
        """A property or class as words: its ontology label, else the catalogue's, else its
        local name made readable (never a prefixed name)."""
        label = pick_label(self.term_labels.get(URIRef(str(iri)), []), lang)
        if label:
            return label
        if str(iri) in TERM_LABELS:
            return i18n.tr(lang, TERM_LABELS[str(iri)])
        return readable_name(str(iri))

    def type_name(self, rtype: str, lang: str, form: int = 0) -> str:
        """A record type in words, from the record-type registry: 0 one of them, 1 the
        list's heading (the plural)."""
        if rtype not in recordtypes.TYPES:
            return rtype
        label = recordtypes.TYPES[rtype].labels.get(lang) or recordtypes.TYPES[rtype].labels["en"]
        text = label.many if form else label.one
        return text[:1].upper() + text[1:]

    def type_count(self, rtype: str, n: int, lang: str) -> str:
        """``12 projects`` / ``12 projekti``, the plural form right for ``n``."""
        if rtype not in TYPE_COUNTS:
            return f"{i18n.format_number(n, lang)} {rtype}"
        return i18n.ntr(lang, TYPE_COUNTS[rtype], TYPE_PLURALS[rtype], n)


def switch_url(request: Any, lang: str) -> str:
    """This page's address with ``lang`` switched (other parameters kept, a cursor too)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return f"{request.url.path}?{urlencode([*params, ('lang', lang)])}"


def readable_name(iri: str) -> str:
    """The last segment of an IRI, split into words: ``adminUnitL1`` -> ``Admin unit l1``."""
    local = re.split(r"[#/]", iri.rstrip("/#"))[-1]
    words = re.sub(r"(?<=[a-z])(?=[A-Z0-9])", " ", local).replace("_", " ").replace("-", " ")
    return words[:1].upper() + words[1:].lower() if words else iri


def value_label(iri: str, labels: list[Any], lang: str) -> str | None:
    """The name of a linked resource: its own label, else a country's or region's name."""
    return pick_label(labels, lang) or place_label(iri, lang)


def qname(iri: URIRef | str) -> str:
    """A prefixed name (for machine-facing places only: the query page, RDF formats)."""
    text = str(iri)
    best = ""
    for prefix, ns in PREFIXES.items():
        if text.startswith(str(ns)) and len(str(ns)) > len(best):
            best, name = str(ns), f"{prefix}:{text[len(str(ns)):]}"
    return name if best else text


def local_href(iri: str, base: str) -> str:
    """Our own IRIs link to this server's path (so a page works whatever host serves it)."""
    return "/" + iri[len(base):] if iri.startswith(base) else iri
