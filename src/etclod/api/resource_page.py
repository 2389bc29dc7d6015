"""HTTP layer: a resource's HTML page, every value as a person reads it (names, not IRIs;
amounts, numbers and dates in the page's language; the page's language first)."""

from __future__ import annotations

from typing import Any

from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, PROV, RDF, RDFS, SKOS, XSD

from etclod import describe as d
from etclod import i18n
from etclod.api.pages import LANGUAGE_NAMES, Pages, local_href, value_label
from etclod.formats import RDF_FORMATS
from etclod.i18n import N_
from etclod.namespaces import ETC, LOCN, ORG, SCHEMA
from etclod.places import country_name

NAME_PREDICATES = (SKOS.prefLabel, DCTERMS.title, FOAF.name, RDFS.label)
"""Predicates that name a resource: shown once per language, as the page's title row."""
MONEY = {ETC.totalBudget, ETC.euFunding, ETC.partnerBudget, ETC.partnerEuFunding}
NOT_SHOWN = {ETC.record, PROV.wasDerivedFrom, SKOS.topConceptOf}
"""Shown elsewhere on the page (the source line) or saying again what another row says."""
NUMBERS = {XSD.integer, XSD.decimal, XSD.double, XSD.float, XSD.int, XSD.long, XSD.nonNegativeInteger,
           XSD.positiveInteger}
DATES = {XSD.date, XSD.gYearMonth, XSD.gYear, XSD.dateTime}
FORMAT_NAMES = {"ttl": "Turtle", "jsonld": "JSON-LD", "nt": "N-Triples", "rdf": "RDF/XML"}
FIRST = [ETC.acronym, ETC.projectCode, ETC.cci, DCTERMS.description, ETC.programme, SCHEMA.startDate,
         SCHEMA.endDate, ETC.totalBudget, ETC.euFunding, ETC.partnerBudget, ETC.partnerEuFunding, ETC.period,
         ETC.strand, ETC.fund, ETC.theme, ETC.country, ETC.nutsRegion, LOCN.address]
"""The rows a reader looks for first, in this order; the others follow by label."""
COVERED = {"organisation": {ORG.member}, "project": {ORG.organization, ETC.programme},
           "programme": {ETC.programme}}
"""Incoming links a table of the page already lists."""
WORDS = {
    "partners": N_("Partners"), "projects": N_("Projects"), "organisation": N_("Organisation"),
    "role": N_("Role"), "budget": N_("Budget"), "project": N_("Project"), "start": N_("Start"),
    "end": N_("End"), "total": N_("Total budget"), "eu": N_("EU funding"), "programme": N_("Programme"),
    "funding": N_("Funding in its programme"), "programme_eu": N_("EU funding of the programme's projects here"),
    "share": N_("Share"), "title": N_("Title"), "source": N_("Source"),
}


def _is_identifier(predicate: Any) -> bool:
    """A number that names something (a keep.eu id, a PIC) is written as is, not grouped."""
    local = str(predicate or "").rsplit("#", 1)[-1].rsplit("/", 1)[-1]
    return local.endswith(("Id", "id", "pic", "notation", "cci", "Code"))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


class View:
    """Turns the terms of one description into what the template shows."""

    def __init__(self, pages: Pages, lang: str, base: str, labels: dict[Any, list[Literal]]) -> None:
        self.pages, self.lang, self.base, self.labels = pages, lang, base, labels

    def word(self, key: str) -> str:
        return i18n.tr(self.lang, WORDS[key])

    def link(self, iri: Any) -> dict[str, Any]:
        """A linked resource by its name (its own label, a place's, a term's)."""
        text = value_label(str(iri), self.labels.get(iri, []), self.lang)
        if text is None and (str(iri).startswith(str(ETC)) or iri in self.pages.term_labels):
            text = self.pages.term(iri, self.lang)
        href = local_href(str(iri), self.base)
        if text is None and str(iri).startswith("mailto:"):
            text = str(iri)[len("mailto:"):]
        return {"href": href, "text": text or str(iri)}

    def literal(self, value: Literal, predicate: Any = None) -> dict[str, Any]:
        """A value as the page's language writes it; a text in another language says which."""
        if value.language:
            lang = value.language.split("-")[0].lower()
            note = i18n.tr(self.lang, LANGUAGE_NAMES[lang]) if lang != self.lang and lang in LANGUAGE_NAMES else None
            return {"text": str(value), "lang": lang, "note": note}
        if predicate in MONEY or (value.datatype == XSD.decimal and "budget" in str(predicate).lower()):
            return {"text": i18n.format_money(value, self.lang), "number": True}
        if value.datatype in NUMBERS and not _is_identifier(predicate):
            return {"text": i18n.format_number(value, self.lang), "number": True}
        if predicate == LOCN.adminUnitL1 and country_name(str(value), self.lang):
            return {"text": country_name(str(value), self.lang)}
        if value.datatype in DATES:
            return {"text": i18n.format_date(value, self.lang)}
        return {"text": str(value)}

    def value(self, term: Any, predicate: Any = None) -> dict[str, Any]:
        if isinstance(term, URIRef):
            return self.link(term)
        if isinstance(term, Literal):
            return self.literal(term, predicate)
        return {"text": str(term)}

    def cell(self, term: Any, predicate: Any = None) -> dict[str, Any]:
        return self.value(term, predicate) if term is not None else {"text": ""}


def _by_language_first(values: list[Any], lang: str) -> list[Any]:
    """Values in the page's language first, then the others (stable otherwise)."""
    return sorted(values, key=lambda v: (0 if getattr(v, "language", None) == lang else
                                         1 if getattr(v, "language", None) else 2, str(v)))


def _names(graph: Any, iri: URIRef, lang: str) -> list[Literal]:
    """Every distinct name of a resource, one per language and text, page's language first."""
    seen: set[tuple[str, str]] = set()
    out = []
    for predicate in NAME_PREDICATES:
        for name in graph.objects(iri, predicate):
            key = ((getattr(name, "language", None) or "").lower(), str(name))
            if isinstance(name, Literal) and key not in seen and not any(k[1] == key[1] for k in seen):
                seen.add(key)
                out.append(name)
    return _by_language_first(out, lang)


def _part_summary(view: View, graph: Any, part: URIRef, owner: URIRef) -> dict[str, Any]:
    """A node of the resource (``#address``, ``#post-1``) as one line of its values."""
    bits = []
    texts = [o for o in graph.objects(part, RDFS.label) if isinstance(o, Literal)]
    if texts:
        bits.append(view.literal(_by_language_first(texts, view.lang)[0]))
    for predicate in (LOCN.fullAddress, LOCN.postCode, LOCN.postName, LOCN.adminUnitL1, ORG.postIn):
        for o in graph.objects(part, predicate):
            bits.append(view.value(o, predicate))
    text = ", ".join(b["text"] for b in bits if not b.get("href"))
    links = [b for b in bits if b.get("href")]
    if links and text:
        return {**links[0], "text": f"{text}, {links[0]['text']}"}
    return links[0] if links else {"text": text}


def render_resource(pages: Pages, request: Any, release: Any, description: d.Description, rtype: str,
                    lang: str) -> str:
    base = request.app.state.settings.base_uri
    graph, iri = description.graph, description.iri
    labels: dict[Any, list[Literal]] = {}
    for s, label in graph.subject_objects(RDFS.label):
        if isinstance(label, Literal):
            labels.setdefault(s, []).append(label)
    store = release.store
    tables: list[dict[str, Any]] = []
    view = View(pages, lang, base, labels)
    if rtype == "project":
        rows = d.partners(store, str(iri))
        view.labels.update(d.labels_of(store, {r.iri for r in rows}))
        tables.append({"title": view.word("partners"),
                       "heading": [view.word(w) for w in ("organisation", "role", "budget")],
                       "rows": [[view.link(r.iri), {"text": pages.term(r.values["role"], lang) if r.values["role"] else ""},
                                 view.cell(r.values["budget"], ETC.partnerBudget)] for r in rows]})
        funding = d.funding_in_programme(store, str(iri))
        if funding is not None:
            tables.append(_funding_table(view, store, funding))
    if rtype == "programme":
        rows = d.projects_of_programme(store, str(iri))
        view.labels.update(d.labels_of(store, {r.iri for r in rows}))
        tables.append({"title": view.word("projects"),
                       "heading": [view.word(w) for w in ("project", "start", "end", "total", "eu")],
                       "rows": [[view.link(r.iri), view.cell(r.values["start"]), view.cell(r.values["end"]),
                                 view.cell(r.values["total"], ETC.totalBudget), view.cell(r.values["eu"], ETC.euFunding)]
                                for r in sorted(rows, key=lambda r: (view.link(r.iri)["text"].casefold()))]})
    if rtype == "organisation":
        rows = d.projects_of_organisation(store, str(iri))
        view.labels.update(d.labels_of(store, {r.iri for r in rows}
                                       | {r.values["programme"] for r in rows if r.values["programme"]}))
        tables.append({"title": view.word("projects"),
                       "heading": [view.word(w) for w in ("project", "role", "budget", "programme")],
                       "rows": [[view.link(r.iri), {"text": pages.term(r.values["role"], lang) if r.values["role"] else ""},
                                 view.cell(r.values["budget"], ETC.partnerBudget), view.cell(r.values["programme"])]
                                for r in rows]})
    for table in tables:  # a column no row has a value in says nothing
        empty = [i for i in range(len(table["heading"])) if all(not row[i].get("text") for row in table["rows"])]
        if table["rows"] and empty:
            table["heading"] = [h for i, h in enumerate(table["heading"]) if i not in empty]
            table["rows"] = [[c for i, c in enumerate(row) if i not in empty] for row in table["rows"]]
    title, properties = _properties(view, graph, iri, rtype)
    if rtype == "partnership":
        title = " · ".join(view.link(o)["text"] for p in (ORG.member, ORG.organization) for o in graph.objects(iri, p)) or title
    covered = COVERED.get(rtype, set())
    incoming: dict[str, list[dict[str, Any]]] = {}
    for s, p in description.incoming:
        if p in covered:
            continue
        incoming.setdefault(_capital(pages.term(p, lang)), []).append(view.link(s))
    types = sorted({_capital(pages.term(t, lang)) for t in d.types_of(graph, iri)})
    record = next((str(o).split("#", 1)[0] for o in graph.objects(iri, ETC.record)), None)
    sources = [view.link(o) for o in sorted(graph.objects(iri, PROV.wasDerivedFrom), key=str)]
    crumbs = [(i18n.tr(lang, "Home"), "/"), (pages.type_name(rtype, lang, 1), f"/id/{rtype}/"), (title, None)]
    return pages.render(
        "resource.html", lang=lang, request=request, title=title, iri=str(iri), types=types, crumbs=crumbs,
        query=d.describe_query(str(iri)), properties=properties, tables=tables,
        incoming=[{"name": k, "values": v} for k, v in incoming.items()], record=record, sources=sources,
        next_cursor=description.next_cursor, release=release.version,
        formats=[{"key": f.key, "media_type": f.media_type, "name": FORMAT_NAMES.get(f.key, f.key)}
                 for f in RDF_FORMATS])


def _properties(view: View, graph: Any, iri: URIRef, rtype: str) -> tuple[str, list[dict[str, Any]]]:
    """The page's title and its rows: one row of names (each language once, the page's
    first), then every other property by its label, parts of the resource as one line each."""
    lang, pages = view.lang, view.pages
    names = _names(graph, iri, lang)
    title = str(names[0]) if names else str(iri).rsplit("/", 1)[-1]
    rows: dict[str, list[dict[str, Any]]] = {}
    if names:
        rows[_capital(view.word("title"))] = [view.literal(n) for n in names]
    order = {p: i for i, p in enumerate(FIRST)}
    for p in sorted(set(graph.predicates(iri)), key=lambda p: (order.get(p, len(order)), pages.term(p, lang).casefold())):
        if p in NAME_PREDICATES or p in NOT_SHOWN or p == RDF.type:
            continue
        objects = _by_language_first(list(graph.objects(iri, p)), lang)
        values = []
        for o in objects:
            if isinstance(o, URIRef) and str(o).startswith(f"{iri}#"):
                values.append(_part_summary(view, graph, o, iri))
            else:
                values.append(view.value(o, p))
        values.sort(key=lambda v: (v.get("lang") not in (None, lang), v["text"].casefold()) if not v.get("lang")
                    else (v.get("lang") != lang, ""))
        rows.setdefault(_capital(pages.term(p, lang)), []).extend(values)
    return title, [{"name": k, "values": v} for k, v in rows.items()]


def _funding_table(view: View, store: Any, funding: dict[str, Any]) -> dict[str, Any]:
    """A project's EU funding beside the sum over its programme's projects here that have
    figures (saying how many); its share only where the programme states its own total."""
    lang = view.lang
    view.labels.update(d.labels_of(store, {funding["programme"]}))
    total = funding["total"]
    heading = [view.word(w) for w in ("programme", "eu", "programme_eu")]
    row = [view.link(funding["programme"]), view.cell(funding["mine"], ETC.euFunding),
           {"text": (i18n.format_money(total, lang) if total is not None else "—"), "number": True}]
    if funding["share"] is not None:
        heading.append(view.word("share"))
        row.append({"text": i18n.format_share(funding["share"] / 100, lang), "number": True})
    note = i18n.ntr(lang, "A sum over the %(n)s project of this programme published here that has figures, "
                          "not the programme's own funding.",
                    "A sum over the %(n)s projects of this programme published here that have figures, "
                    "not the programme's own funding.", funding["with_figures"])
    return {"title": view.word("funding"), "heading": heading, "rows": [row], "note": note}
