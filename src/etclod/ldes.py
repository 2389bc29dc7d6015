"""Change-stream layer: the changes between releases as a Linked Data Event Stream (SEMIC LDES
on the W3C TREE hypermedia vocabulary).

One member per resource that changed in a release (any quad of it, or of its ``#parts``, added
or removed: ``changes.nq.gz``): a version object ``{base}ldes/{version}#{type}/{key}`` with
``dct:isVersionOf`` the resource, ``dct:created`` the release time, and the resource's triples
in that release (its ``#parts`` keep their own IRIs); a resource the release no longer has is
a member typed ``as:Delete``. The first release's members are every resource. The stream is
fragmented by release: ``{base}ldes/{version}`` holds that release's members and a
``tree:GreaterThanRelation`` on ``dct:created`` to the next release's fragment, so a client
that saw release V reads ``/ldes/V``'s relation onwards and nothing older.
"""

from __future__ import annotations

import gzip
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any, cast

import pyoxigraph as ox

from rdflib.namespace import DCTERMS, RDF, RDFS, XSD

from etclod.namespaces import ACTIVITY, ETC, LDES, TREE
from etclod.oxtyped import value

RDF_TYPE = ox.NamedNode(str(RDF.type))
XSD_DATETIME = ox.NamedNode(str(XSD.dateTime))
XSD_INTEGER = ox.NamedNode(str(XSD.integer))
CREATED = ox.NamedNode(str(DCTERMS.created))
IS_VERSION_OF = ox.NamedNode(str(DCTERMS.isVersionOf))


def _n(iri: object) -> ox.NamedNode:
    return ox.NamedNode(str(iri))


def resource_of(iri: str, base: str) -> str | None:
    """The resource an IRI belongs to (``…/id/org/x#address`` -> ``…/id/org/x``); None for
    IRIs that are not ours."""
    if not iri.startswith(f"{base}id/"):
        return None
    return iri.split("#", 1)[0]


def stream_iri(base: str) -> str:
    return f"{base}ldes#stream"


def fragment_iri(base: str, version: str) -> str:
    return f"{base}ldes/{version}"


def member_iri(base: str, version: str, resource: str) -> str:
    return f"{fragment_iri(base, version)}#{resource[len(base) + 3:]}"


def changed_resources(changes: Path, base: str) -> set[str]:
    """Every resource with a quad added or removed in ``changes.nq.gz`` (subject or ``#part``)."""
    found: set[str] = set()
    with gzip.open(changes, "rb") as handle:
        # a GzipFile is a binary file, though typeshed does not call it typing.IO[bytes]
        for quad in ox.parse(cast("IO[bytes]", handle), format=ox.RdfFormat.N_QUADS):
            if isinstance(quad.subject, ox.NamedNode):
                resource = resource_of(quad.subject.value, base)
                if resource is not None:
                    found.add(resource)
    return found


def states(dump: Path, base: str, wanted: set[str] | None = None) -> dict[str, list[ox.Triple]]:
    """resource -> its triples (its own and its ``#parts``') in a release's N-Quads dump."""
    out: dict[str, list[ox.Triple]] = defaultdict(list)
    with gzip.open(dump, "rb") as handle:
        # a GzipFile is a binary file, though typeshed does not call it typing.IO[bytes]
        for quad in ox.parse(cast("IO[bytes]", handle), format=ox.RdfFormat.N_QUADS):
            if not isinstance(quad.subject, ox.NamedNode):
                continue
            resource = resource_of(quad.subject.value, base)
            if resource is not None and (wanted is None or resource in wanted):
                out[resource].append(ox.Triple(quad.subject, quad.predicate, quad.object))
    return dict(out)


def fragment(folder: Path, manifest: Mapping[str, Any], base: str, following: Mapping[str, Any] | None
             ) -> list[ox.Triple]:
    """The fragment of one release: the stream it belongs to, this node, its members, and a
    relation to the ``following`` release's fragment (None: this is the newest). Nothing in it
    depends on which releases are kept, so once it has its relation it never changes."""
    version, created = manifest["version"], ox.Literal(manifest["created"], datatype=XSD_DATETIME)
    stream, node = _n(stream_iri(base)), _n(fragment_iri(base, version))
    changed = changed_resources(folder / "changes.nq.gz", base)
    found = states(folder / "dumps" / "etclod.nq.gz", base, changed)
    out = stream_paths(base)
    out.append(ox.Triple(node, RDF_TYPE, _n(TREE.Node)))
    if following is not None:
        relation = ox.BlankNode(f"next{following['version']}")
        out += [ox.Triple(node, _n(TREE.relation), relation),
                ox.Triple(relation, RDF_TYPE, _n(TREE.GreaterThanRelation)),
                ox.Triple(relation, _n(TREE.node), _n(fragment_iri(base, following["version"]))),
                ox.Triple(relation, _n(TREE.path), CREATED),
                ox.Triple(relation, _n(TREE.value), created)]
    for resource in sorted(changed):
        member = _n(member_iri(base, version, resource))
        out += [ox.Triple(stream, _n(TREE.member), member), ox.Triple(member, IS_VERSION_OF, _n(resource)),
                ox.Triple(member, CREATED, created)]
        triples = found.get(resource)
        if not triples:
            out.append(ox.Triple(member, RDF_TYPE, _n(ACTIVITY.Delete)))
            continue
        for triple in triples:
            subject = member if value(triple.subject) == resource else triple.subject
            out.append(ox.Triple(subject, triple.predicate, triple.object))
    return out


def stream_paths(base: str) -> list[ox.Triple]:
    """The event stream and how to read its members: the time and the resource of a version."""
    stream = _n(stream_iri(base))
    return [ox.Triple(stream, RDF_TYPE, _n(LDES.EventStream)),
            ox.Triple(stream, _n(LDES.timestampPath), CREATED),
            ox.Triple(stream, _n(LDES.versionOfPath), IS_VERSION_OF)]


def describe_stream(base: str, first: str, kept: int) -> list[ox.Triple]:
    """The event stream: its paths, its view (the oldest kept release's fragment) and how long
    members are kept."""
    stream, view = _n(stream_iri(base)), _n(fragment_iri(base, first))
    description, policy = ox.BlankNode("view"), ox.BlankNode("retention")
    return [
        *stream_paths(base),
        ox.Triple(stream, _n(TREE.view), view),
        ox.Triple(view, RDF_TYPE, _n(TREE.Node)),
        ox.Triple(view, _n(TREE.viewDescription), description),
        ox.Triple(description, RDF_TYPE, _n(TREE.ViewDescription)),
        ox.Triple(description, _n(LDES.retentionPolicy), policy),
        ox.Triple(policy, RDF_TYPE, _n(ETC.KeptReleasesPolicy)),
        ox.Triple(policy, _n(ETC.keptReleases), ox.Literal(str(kept), datatype=XSD_INTEGER)),
        ox.Triple(policy, _n(RDFS.comment), ox.Literal(
            f"The fragments of the last {kept} releases are kept (ETCLOD_KEEP_RELEASES); an older "
            "release's fragment goes with that release. A client whose last release is gone "
            "starts again from the dumps.", language="en")),
    ]


def apply(state: dict[str, set[tuple[str, ...]]], page: Iterable[ox.Triple], base: str) -> list[str]:
    """A harvester's step: replace each member's resource in ``state`` (resource -> its triples
    as N-Triples terms) with the member's version, or drop it for an ``as:Delete``; the next
    fragments the page links to are returned. What a client of the stream does, kept here so
    the test and any Python harvester share one reading of it."""
    triples = list(page)
    by_subject: dict[str, list[ox.Triple]] = defaultdict(list)
    for triple in triples:
        by_subject[str(triple.subject)].append(triple)
    nexts = []
    for triple in triples:
        if triple.predicate == _n(TREE.node):
            nexts.append(value(triple.object))
    for triple in triples:
        if triple.predicate != IS_VERSION_OF:
            continue
        member, resource = triple.subject, value(triple.object)
        own = by_subject[str(member)]
        if any(t.predicate == RDF_TYPE and t.object == _n(ACTIVITY.Delete) for t in own):
            state.pop(resource, None)
            continue
        version: set[tuple[str, ...]] = set()
        for t in own:
            if t.predicate in (IS_VERSION_OF, CREATED):
                continue
            version.add((f"<{resource}>", str(t.predicate), str(t.object)))
        for subject, parts in by_subject.items():
            if subject.startswith(f"<{resource}#"):
                version |= {(str(t.subject), str(t.predicate), str(t.object)) for t in parts}
        state[resource] = version
    return nexts
