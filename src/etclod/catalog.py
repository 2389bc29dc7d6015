"""Catalogue layer: the DCAT-AP 3 and VoID description of a release, built at release time."""

from __future__ import annotations


from collections.abc import Mapping
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, RDF, RDFS, SKOS, XSD

from etclod import namespaces
from etclod.manifest import Manifest
from etclod.formats import DUMP_FORMATS, Format, dump_name
from etclod.namespaces import (ETC, catalog_iri, dataset_iri, service_iri, ADMS, ADMS_LICENCE_TYPE, ETC_ONTOLOGY, EU_ACCESS_RIGHT, EU_AVAILABILITY,
                               EU_COUNTRY, EU_FILE_TYPE, EU_LANGUAGE, EU_LICENCE, EU_THEME, GSP, IANA_MEDIA,
                               PREFIXES, SPDX, VCARD, VOID)
from etclod.settings import Settings

LICENCE = EU_LICENCE["CC_BY_4_0"]
FILE_TYPES = {"nt": "RDF_N_TRIPLES", "ttl": "RDF_TURTLE", "nq": "RDF_N_QUADS", "jsonld": "JSON_LD",
              "rdf": "RDF_XML"}
SPARQL_PROTOCOL = URIRef("https://www.w3.org/TR/sparql11-protocol/")
DCAT_AP = URIRef("http://data.europa.eu/r5r/")
GZIP = IANA_MEDIA["application/gzip"]
LATVIA_BBOX = "POLYGON((20.97 55.67, 28.24 55.67, 28.24 58.09, 20.97 58.09, 20.97 55.67))"
"""Latvia's extent in WGS 84 longitude/latitude (Cape Bernāti to the Zilupe, the Lithuanian border to
the Estonian one), rounded outwards to 0.01 degree."""
LATVIA_CENTROID = "POINT(24.60 56.88)"
KEYWORDS = ("Interreg", "European Territorial Cooperation", "ERDF", "social inclusion", "Latvia")
RIGHTS = ("Open data: anyone may copy, adapt and redistribute it, also commercially, crediting the source "
          "(CC BY 4.0); no personal data beyond public roles named in public sources.")


def distribution_iri(base: str, fmt: Format) -> URIRef:
    return namespaces.distribution_iri(base, fmt.key)


def _typed(graph: Graph, node: URIRef, rdf_type: URIRef, **labels: Any) -> URIRef:
    graph.add((node, RDF.type, rdf_type))
    for predicate, value in labels.items():
        graph.add((node, {"prefLabel": SKOS.prefLabel, "title": DCTERMS.title,
                          "name": FOAF.name, "label": RDFS.label}[predicate], value))
    return node


def build_catalog(settings: Settings, manifest: Manifest,
                  property_counts: Mapping[str, int], entities: int) -> Graph:
    """The catalogue of one release: catalogue, dataset, one distribution per dump, the SPARQL
    service, and the VoID statistics. Everything it points at is typed, as DCAT-AP asks."""
    base, version = settings.base_uri, manifest["version"]
    created = Literal(manifest["created"], datatype=XSD.dateTime)
    g = Graph()
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns)
    g.bind("dcatap", DCAT_AP)
    g.bind("adms", ADMS)

    catalog, dataset, service = catalog_iri(base), dataset_iri(base), service_iri(base)
    publisher = _typed(g, URIRef(settings.publisher_uri), FOAF.Agent, name=Literal(settings.publisher_name))
    g.add((publisher, DCTERMS.type, _typed(g, URIRef("http://purl.org/adms/publishertype/NationalAuthority"),
                                             SKOS.Concept, prefLabel=Literal("National authority", lang="en"))))
    licence = _typed(g, LICENCE, DCTERMS.LicenseDocument, label=Literal("CC BY 4.0", lang="en"))
    # the title CKAN's licence register knows CC BY by (ckanext-dcat maps a licence by URL, then title):
    # its register has only opendefinition.org URLs, and the EU table's IRI is what MQA scores
    g.add((licence, DCTERMS.title, Literal("Creative Commons Attribution")))
    g.add((licence, SKOS.prefLabel, Literal("Creative Commons Attribution 4.0 International", lang="en")))
    g.add((licence, DCTERMS.type, _typed(g, ADMS_LICENCE_TYPE["Attribution"], SKOS.Concept,
                                         prefLabel=Literal("Attribution", lang="en"))))
    rights = _typed(g, URIRef(f"{base}catalog#rights"), DCTERMS.RightsStatement, label=Literal(RIGHTS, lang="en"))
    public = _typed(g, EU_ACCESS_RIGHT["PUBLIC"], DCTERMS.RightsStatement, label=Literal("public", lang="en"))
    languages = [_typed(g, EU_LANGUAGE[c], DCTERMS.LinguisticSystem) for c in ("LAV", "ENG")]
    latvia = _typed(g, EU_COUNTRY["LVA"], DCTERMS.Location)
    g.add((latvia, DCAT.bbox, Literal(LATVIA_BBOX, datatype=GSP.wktLiteral)))
    g.add((latvia, DCAT.centroid, Literal(LATVIA_CENTROID, datatype=GSP.wktLiteral)))
    contact = URIRef(f"{base}catalog#contact")
    _typed(g, contact, VCARD.Organization)
    g.add((contact, RDF.type, VCARD.Kind))
    g.add((contact, VCARD.fn, Literal(settings.publisher_name)))
    g.add((contact, VCARD.hasEmail, URIRef(f"mailto:{settings.contact_email}")))
    shapes = _typed(g, URIRef(f"{base}shapes"), DCTERMS.Standard,
                    title=Literal("etclod SHACL shapes", lang="en"))
    ontology = _typed(g, ETC_ONTOLOGY, DCTERMS.Standard, title=Literal("etclod ontology", lang="en"))
    sparql_protocol = _typed(g, SPARQL_PROTOCOL, DCTERMS.Standard, title=Literal("SPARQL 1.1 Protocol", lang="en"))
    theme_scheme = _typed(g, URIRef("http://publications.europa.eu/resource/authority/data-theme"),
                          SKOS.ConceptScheme, title=Literal("Data theme", lang="en"))
    themes = []
    for code, label in (("SOCI", "Population and society"), ("REGI", "Regions and cities"),
                        ("GOVE", "Government and public sector")):
        theme = _typed(g, EU_THEME[code], SKOS.Concept, prefLabel=Literal(label, lang="en"))
        g.add((theme, SKOS.inScheme, theme_scheme))
        themes.append(theme)

    _typed(g, catalog, DCAT.Catalog)
    for p, o in ((DCTERMS.title, Literal("etclod: European Territorial Cooperation linked open data", lang="en")),
                 (DCTERMS.title, Literal("etclod: Eiropas teritoriālās sadarbības saistītie atvērtie dati", lang="lv")),
                 (DCTERMS.description, Literal("Catalogue of the etclod knowledge graph of Interreg programmes, "
                                               "projects, partnerships, organisations, people and events.", lang="en")),
                 (DCTERMS.publisher, publisher), (DCAT.dataset, dataset), (DCAT.service, service),
                 (DCTERMS.license, licence), (DCTERMS.issued, created), (DCTERMS.modified, created),
                 (FOAF.homepage, URIRef(base)), (DCAT.themeTaxonomy, theme_scheme), (DCTERMS.spatial, latvia)):
        g.add((catalog, p, o))
    for language in languages:
        g.add((catalog, DCTERMS.language, language))

    _typed(g, dataset, DCAT.Dataset)
    g.add((dataset, RDF.type, VOID.Dataset))
    for p, o in ((DCTERMS.title, Literal("ETC projects, partners and events (Interreg)", lang="en")),
                 (DCTERMS.title, Literal("ETS projekti, partneri un pasākumi (Interreg)", lang="lv")),
                 (DCTERMS.description, Literal(
                     "Interreg programmes, projects, partnerships, organisations, people and events, "
                     "validated against the etclod SHACL shapes; every resource states its source.", lang="en")),
                 (DCTERMS.description, Literal(
                     "Interreg programmas, projekti, partnerības, organizācijas, personas un pasākumi, "
                     "pārbaudīti pret etclod SHACL formām; katrs resurss norāda savu avotu.", lang="lv")),
                 (DCTERMS.identifier, Literal(str(dataset))), (OWL.versionInfo, Literal(version)),
                 (DCTERMS.publisher, publisher), (DCAT.contactPoint, contact), (DCTERMS.spatial, latvia),
                 (DCTERMS.issued, created), (DCTERMS.modified, created), (DCTERMS.conformsTo, shapes),
                 (DCTERMS.conformsTo, ontology), (DCTERMS.license, licence), (DCTERMS.accessRights, public),
                 (DCAT.landingPage, _typed(g, URIRef(base), FOAF.Document))):
        g.add((dataset, p, o))
    for language in languages:
        g.add((dataset, DCTERMS.language, language))
    # the change stream (LDES): what changed in each release, for harvesters (api/ldes.py)
    g.add((dataset, RDFS.seeAlso, URIRef(f"{base}ldes")))
    for theme in themes:
        g.add((dataset, DCAT.theme, theme))
    for keyword in KEYWORDS:
        g.add((dataset, DCAT.keyword, Literal(keyword, lang="en")))
    period = _typed(g, URIRef(f"{base}dataset#period"), DCTERMS.PeriodOfTime)
    g.add((period, DCAT.startDate, Literal("2014-01-01", datatype=XSD.date)))
    g.add((period, DCAT.endDate, Literal("2020-12-31", datatype=XSD.date)))
    g.add((dataset, DCTERMS.temporal, period))
    for name, what in (("conflicts.ttl", "Turtle"), ("conflicts.csv", "CSV")):
        if name in manifest.get("files", {}):  # where the sources disagree, and whose value won
            report = _typed(g, URIRef(f"{base}releases/{version}/{name}"), FOAF.Document,
                            title=Literal(f"Conflicts between sources in release {version} ({what})", lang="en"))
            g.add((dataset, FOAF.page, report))
    if manifest.get("previous"):
        g.add((dataset, ADMS.versionNotes, Literal(
            f"Release {version}; previous release {manifest['previous']}; "
            f"{manifest['changes']['added']} quads added, {manifest['changes']['removed']} removed "
            f"(changes.nq.gz).", lang="en")))

    _typed(g, service, DCAT.DataService)
    for p, o in ((DCTERMS.title, Literal("etclod SPARQL 1.1 endpoint", lang="en")),
                 (DCAT.endpointURL, URIRef(f"{base}sparql")), (DCAT.endpointDescription, URIRef(f"{base}sparql")),
                 (DCAT.servesDataset, dataset), (DCTERMS.conformsTo, sparql_protocol),
                 (DCTERMS.license, licence), (DCTERMS.publisher, publisher), (DCAT.contactPoint, contact),
                 (DCTERMS.accessRights, public),
                 (DCTERMS.description, Literal("Read-only SPARQL 1.1 endpoint over the current release; "
                                               "its Service Description is at the endpoint.", lang="en"))):
        g.add((service, p, o))
    for theme in themes:
        g.add((service, DCAT.theme, theme))
    for keyword in (*KEYWORDS, "SPARQL"):
        g.add((service, DCAT.keyword, Literal(keyword, lang="en")))

    stable = _typed(g, EU_AVAILABILITY["STABLE"], SKOS.Concept, prefLabel=Literal("stable", lang="en"))
    for fmt in DUMP_FORMATS:
        node = _distribution(g, settings, manifest, fmt, licence, service, created)
        g.add((node, DCTERMS.rights, rights))
        g.add((node, URIRef(f"{DCAT_AP}availability"), stable))

    _void(g, base, dataset, manifest, property_counts, entities)
    for key, linkset in sorted(manifest.get("linksets", {}).items()):
        node = URIRef(f"{base}dataset/links/{key}")
        g.add((node, RDF.type, VOID.Linkset))
        g.add((dataset, VOID.subset, node))
        g.add((node, DCTERMS.title, Literal(f"Links from etclod to {linkset['title']}", lang="en")))
        g.add((node, VOID.subjectsTarget, dataset))
        g.add((node, VOID.objectsTarget, URIRef(linkset["target"])))
        for predicate in linkset["predicates"]:
            g.add((node, VOID.linkPredicate, URIRef(predicate)))
        g.add((node, VOID.triples, Literal(linkset["triples"], datatype=XSD.integer)))
        g.add((node, VOID.dataDump, URIRef(f"{base}releases/{version}/{linkset['dump']}")))
        g.add((node, DCTERMS.source, Literal("; ".join(linkset["sources"]))))
    return g


def _distribution(g: Graph, settings: Settings, manifest: Manifest, fmt: Format,
                  licence: URIRef, service: URIRef, created: Literal) -> URIRef:
    base, version = settings.base_uri, manifest["version"]
    name = dump_name(fmt)
    entry = manifest["files"][f"dumps/{name}"]
    node = _typed(g, distribution_iri(base, fmt), DCAT.Distribution)
    checksum = _typed(g, URIRef(f"{node}-sha256"), SPDX.Checksum)
    algorithm = _typed(g, SPDX.checksumAlgorithm_sha256, SPDX.ChecksumAlgorithm)
    g.add((checksum, SPDX.algorithm, algorithm))
    g.add((checksum, SPDX.checksumValue, Literal(entry["sha256"], datatype=XSD.hexBinary)))
    media = _typed(g, IANA_MEDIA[fmt.media_type], DCTERMS.MediaType)
    file_type = _typed(g, EU_FILE_TYPE[FILE_TYPES[fmt.key]], DCTERMS.MediaTypeOrExtent)
    _typed(g, GZIP, DCTERMS.MediaType)
    for p, o in ((DCTERMS.title, Literal(f"{name}: the whole dataset as gzipped {fmt.key.upper()}", lang="en")),
                 (DCTERMS.description, Literal(
                     f"Every triple of release {version} as {fmt.media_type}, gzip-compressed; also served "
                     f"uncompressed by content negotiation at {base}dumps/{name.removesuffix('.gz')}.", lang="en")),
                 (DCAT.accessURL, URIRef(f"{base}dumps/{name}")),
                 (DCAT.downloadURL, URIRef(f"{base}releases/{version}/dumps/{name}")),
                 (DCAT.mediaType, media), (DCAT.compressFormat, GZIP), (DCTERMS.format, file_type),
                 (DCAT.byteSize, Literal(entry["bytes"], datatype=XSD.nonNegativeInteger)),
                 (SPDX.checksum, checksum), (DCTERMS.license, licence), (DCTERMS.issued, created),
                 (DCTERMS.modified, created)):
        g.add((node, p, o))
    g.add((dataset_iri(base), DCAT.distribution, node))
    g.add((dataset_iri(base), VOID.dataDump, URIRef(f"{base}dumps/{name}")))
    return node


def _void(g: Graph, base: str, dataset: URIRef, manifest: Manifest,
          property_counts: Mapping[str, int], entities: int) -> None:
    for p, o in ((VOID.triples, Literal(manifest["triples"], datatype=XSD.integer)),
                 (VOID.entities, Literal(entities, datatype=XSD.integer)),
                 (VOID.classes, Literal(len(manifest["classes"]), datatype=XSD.integer)),
                 (VOID.properties, Literal(len(property_counts), datatype=XSD.integer)),
                 (VOID.sparqlEndpoint, URIRef(f"{base}sparql")),
                 (VOID.uriSpace, Literal(f"{base}id/")),
                 (VOID.feature, URIRef("http://www.w3.org/ns/formats/N-Triples")),
                 (VOID.vocabulary, URIRef(str(ETC)))):
        g.add((dataset, p, o))
    for index, (cls, count) in enumerate(sorted(manifest["classes"].items()), start=1):
        part = URIRef(f"{base}dataset#class-{index}")
        g.add((dataset, VOID.classPartition, part))
        g.add((part, VOID["class"], URIRef(cls)))
        g.add((part, VOID.entities, Literal(count, datatype=XSD.integer)))
    for index, (prop, count) in enumerate(sorted(property_counts.items()), start=1):
        part = URIRef(f"{base}dataset#property-{index}")
        g.add((dataset, VOID.propertyPartition, part))
        g.add((part, VOID.property, URIRef(prop)))
        g.add((part, VOID.triples, Literal(count, datatype=XSD.integer)))


