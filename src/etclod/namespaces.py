"""Namespace layer: every namespace and every IRI-minting function lives here."""

from __future__ import annotations

from functools import lru_cache

import pyoxigraph as ox
import rdflib
from rdflib import URIRef
# rdflib's namespaces, re-exported (``X as X``): modules take every namespace from here
from rdflib.namespace import (DCAT as DCAT, DCTERMS as DCTERMS, FOAF as FOAF, OWL as OWL, PROV as PROV, RDF as RDF,
                              RDFS as RDFS, SKOS as SKOS, XSD as XSD)

from etclod import recordtypes
from etclod.names import slugify as slugify  # the one name normalisation, re-exported where IRI keys are made


@lru_cache(maxsize=4096)
def _term(namespace: str, name: str) -> URIRef:
    return URIRef(namespace + name)


class Namespace(rdflib.Namespace):
    """rdflib's Namespace, its terms memoised: ``ETC.record`` is otherwise a new, re-validated
    URIRef at every use, and mapping a keep.eu-sized data set uses them half a million times."""

    def term(self, name: str) -> URIRef:
        return _term(self, name if isinstance(name, str) else "")


class OxNamespace:
    """A namespace's terms as pyoxigraph NamedNodes, for code that builds Oxigraph terms
    directly (the mapping): ``OxNamespace(ETC).record``; each term is made once, then it is a
    plain attribute.

    >>> OxNamespace(SKOS).prefLabel.value
    'http://www.w3.org/2004/02/skos/core#prefLabel'
    """

    def __init__(self, namespace: object) -> None:
        self._base = str(namespace)  # a Namespace, or one of rdflib's DefinedNamespace classes

    def __getattr__(self, name: str) -> ox.NamedNode:
        if name.startswith("__"):
            raise AttributeError(name)
        node = ox.NamedNode(self._base + name)
        setattr(self, name, node)
        return node

    def __getitem__(self, name: str) -> ox.NamedNode:
        node: ox.NamedNode = getattr(self, name)
        return node


ETC = Namespace("https://w3id.org/etclod/def#")
"""The ontology namespace: fixed, the same for every deployment."""
ETC_ONTOLOGY = URIRef("https://w3id.org/etclod/def")
SCHEMA = Namespace("https://schema.org/")
ORG = Namespace("http://www.w3.org/ns/org#")
CV = Namespace("http://data.europa.eu/m8g/")
LOCN = Namespace("http://www.w3.org/ns/locn#")
PERSON = Namespace("http://www.w3.org/ns/person#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
VOID = Namespace("http://rdfs.org/ns/void#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
SH = Namespace("http://www.w3.org/ns/shacl#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
ADMS = Namespace("http://www.w3.org/ns/adms#")
EU_COUNTRY = Namespace("http://publications.europa.eu/resource/authority/country/")
EU_LANGUAGE = Namespace("http://publications.europa.eu/resource/authority/language/")
EU_FILE_TYPE = Namespace("http://publications.europa.eu/resource/authority/file-type/")
EU_LICENCE = Namespace("http://publications.europa.eu/resource/authority/licence/")
EU_THEME = Namespace("http://publications.europa.eu/resource/authority/data-theme/")
EU_FREQUENCY = Namespace("http://publications.europa.eu/resource/authority/frequency/")
IANA_MEDIA = Namespace("http://www.iana.org/assignments/media-types/")
EU_AVAILABILITY = Namespace("http://publications.europa.eu/resource/authority/planned-availability/")
EU_ACCESS_RIGHT = Namespace("http://publications.europa.eu/resource/authority/access-right/")
ADMS_LICENCE_TYPE = Namespace("http://purl.org/adms/licencetype/")
GSP = Namespace("http://www.opengis.net/ont/geosparql#")
TREE = Namespace("https://w3id.org/tree#")
LDES = Namespace("https://w3id.org/ldes#")
ACTIVITY = Namespace("https://www.w3.org/ns/activitystreams#")
NUTS = Namespace("http://data.europa.eu/nuts/code/")

PREFIXES: dict[str, Namespace] = {
    "etc": ETC, "schema": SCHEMA, "org": ORG, "cv": CV, "locn": LOCN, "person": PERSON,
    "foaf": Namespace(str(FOAF)), "dct": Namespace(str(DCTERMS)), "dcat": Namespace(str(DCAT)),
    "prov": Namespace(str(PROV)), "skos": Namespace(str(SKOS)), "rdfs": Namespace(str(RDFS)),
    "rdf": Namespace(str(RDF)), "owl": Namespace(str(OWL)), "xsd": Namespace(str(XSD)),
    "vcard": VCARD, "void": VOID, "spdx": SPDX, "sh": SH, "sd": SD,
}

RESOURCE_TYPES = recordtypes.NAMES
"""Path segments under ``{base}id/``: one per record type (``recordtypes.TYPES``)."""


def expand(curie: str) -> URIRef:
    """The IRI of a prefixed name of ``PREFIXES`` (``etc:Programme``), as the registry writes classes.

    >>> expand("org:Organization")
    rdflib.term.URIRef('http://www.w3.org/ns/org#Organization')
    """
    prefix, _, local = curie.partition(":")
    return PREFIXES[prefix].term(local)


def class_iri(rtype: str) -> URIRef:
    """The class of a record type's resources (``etc:Project`` ...)."""
    return expand(recordtypes.get(rtype).class_curie)


def sparql_prefixes() -> str:
    """``PREFIX`` declarations of ``PREFIXES``, for the registry's SPARQL patterns."""
    return "".join(f"PREFIX {prefix}: <{ns}>\n" for prefix, ns in sorted(PREFIXES.items()))


def catalog_iri(base: str) -> URIRef:
    """The DCAT catalogue of a deployment.

    >>> catalog_iri("http://localhost:8000/")
    rdflib.term.URIRef('http://localhost:8000/catalog')
    """
    return URIRef(f"{base}catalog")


def dataset_iri(base: str) -> URIRef:
    return URIRef(f"{base}dataset")


def service_iri(base: str) -> URIRef:
    """The SPARQL service (its DCAT data service and its service description)."""
    return URIRef(f"{base}sparql#service")


def endpoint_iri(base: str) -> URIRef:
    return URIRef(f"{base}sparql")


def service_node(base: str, fragment: str) -> URIRef:
    """A node of the service description: ``{base}sparql#{fragment}``."""
    return URIRef(f"{base}sparql#{fragment}")


def distribution_iri(base: str, key: str) -> URIRef:
    """The DCAT distribution of the dump in the format of key ``key``."""
    return URIRef(f"{base}dataset#dump-{key}")


def linkset_graph(base: str, key: str) -> str:
    """The named graph of the linkset ``key`` (owl:sameAs and the like to one other dataset)."""
    return f"{base}graph/links/{key}"


def mint(base: str, rtype: str, key: str) -> URIRef:
    """The IRI of a resource: ``{base}id/{type}/{key}``.

    >>> mint("http://localhost:8000/", "project", "sempre")
    rdflib.term.URIRef('http://localhost:8000/id/project/sempre')
    """
    if rtype not in RESOURCE_TYPES:
        raise ValueError(f"unknown resource type {rtype!r}")
    return URIRef(f"{base}id/{rtype}/{key}")


def mint_part(resource: URIRef, part: str) -> URIRef:
    """A node that belongs to one resource (an address, a post): ``{resource}#{part}``."""
    return URIRef(f"{resource}#{part}")


def graph_iri(base: str, key: str) -> URIRef:
    """The named graph that holds what one source document says: ``{base}graph/{key}``."""
    return URIRef(f"{base}graph/{key}")


def split_resource_iri(base: str, iri: str) -> tuple[str, str] | None:
    """``(type, key)`` of one of our resource IRIs, or None for any other IRI."""
    prefix = f"{base}id/"
    if not iri.startswith(prefix):
        return None
    rest = iri[len(prefix):].split("#", 1)[0]
    rtype, _, key = rest.partition("/")
    if rtype not in RESOURCE_TYPES or not key or "/" in key:
        return None
    return rtype, key


def country_iri(alpha3: str) -> URIRef:
    return EU_COUNTRY[alpha3]


def language_iri(code: str) -> URIRef:
    return EU_LANGUAGE[{"lv": "LAV", "en": "ENG", "lt": "LIT", "et": "EST", "fi": "FIN",
                        "sv": "SWE", "de": "DEU", "pl": "POL"}.get(code, code.upper())]


def nuts_iri(code: str) -> URIRef:
    return NUTS[code]
