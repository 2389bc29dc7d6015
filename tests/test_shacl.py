"""The compiled validator (shapes as SPARQL on Oxigraph) gives pyshacl's verdicts."""

from __future__ import annotations

from collections import Counter

import pytest
import rdflib

from etclod import records as rec
from etclod.mapping import build_context, map_record
from etclod.oxtyped import from_ox
from etclod.release import themes_graph
from etclod.settings import PROJECT_ROOT, Settings
from etclod.validation import CompiledValidator, load_shapes, validate_graph

from conftest import BASE, ORGANISATION, PROGRAMME, SEED_DATA, SOURCE, project, write_records

SHAPES = load_shapes(PROJECT_ROOT / "ontology" / "shapes.ttl")

BROKEN = """
@prefix etc: <https://w3id.org/etclod/def#> . @prefix org: <http://www.w3.org/ns/org#> .
@prefix dct: <http://purl.org/dc/terms/> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix schema: <https://schema.org/> .
@prefix prov: <http://www.w3.org/ns/prov#> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix cv: <http://data.europa.eu/m8g/> . @prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix person: <http://www.w3.org/ns/person#> . @prefix locn: <http://www.w3.org/ns/locn#> .
@base <http://localhost:8000/id/> .

<source/s> a etc:SourceDocument ; dct:title "untagged" , "a"@en , "b"@en ; etc:record "x" , "y" ;
    schema:url "not an iri" ; dct:issued "2018"^^xsd:gYear , "2019-01-01"^^xsd:date .
<programme/P1> a etc:Programme ; etc:cci "2014TC16XXCB027" , "2014TC16RFCB001" ; dct:title "Prog"@en ;
    prov:wasDerivedFrom <source/s> , <nothing> ; etc:period "2014" ; etc:acronym "A" , "B" .
<programme/P2> a etc:Programme ; etc:cci 2014 ; rdfs:label 5 .
<project/p1> a etc:Project ; etc:acronym "P1" ; etc:programme <programme/P1> , <programme/P2> ;
    schema:startDate "2019-05-01"^^xsd:date ; schema:endDate "2018-12"^^xsd:gYearMonth , "x" ;
    etc:totalBudget "-1"^^xsd:decimal ; etc:euFunding "10.5"^^xsd:decimal , 7 ; etc:keepId "abc"^^xsd:integer , 0 ;
    etc:coFinancingRate "150"^^xsd:decimal ;
    etc:theme <theme/none> , "lit" ; foaf:homepage "http://x" ; dct:title "t"@en , "u"@en ; dct:description "d" ;
    prov:wasDerivedFrom "s" ; rdfs:label "p1" ; etc:record "r" .
<project/p2> a etc:Project ; etc:acronym "" ; etc:programme [ a etc:Programme ] ; etc:totalBudget "5"^^xsd:decimal ;
    etc:euFunding "6"^^xsd:decimal ; prov:wasDerivedFrom <source/s> ; rdfs:label "p2" ; etc:record "r2" .
<partnership/m> a etc:Partnership ; org:organization <organisation/o> ; org:member <project/p1> ;
    org:role etc:Boss ; etc:partnerBudget "x"^^xsd:decimal ; rdfs:label "m"@en ; prov:wasDerivedFrom <source/s> ; etc:record "m" .
<organisation/o> a org:Organization , cv:PublicOrganisation ; skos:prefLabel "O" , "Ō"@lv , "Ö"@LV ;
    etc:country <http://publications.europa.eu/resource/authority/country/Latvia> , "LVA" ;
    etc:nutsRegion <http://data.europa.eu/nuts/code/lv003> ; org:subOrganizationOf <organisation/ghost> ;
    locn:address <organisation/o#a> , <organisation/o#b> ; rdfs:label "O" ; prov:wasDerivedFrom <source/s> ; etc:record "o" .
<organisation/o#a> a locn:Address . <organisation/o#b> a locn:Address .
<person/x> a person:Person ; foaf:name "X" , "Y" ; org:holds <person/x#post> , <person/x#bad> ;
    rdfs:label "X" ; prov:wasDerivedFrom <source/s> ; etc:record "x" .
<person/x#post> a org:Post ; org:postIn <project/p1> ; rdfs:label "untagged role" .
<event/e> a cv:PublicEvent ; dct:title "E"@en ; schema:startDate "2018" , "2018-01-25"^^xsd:date ;
    etc:approximateParticipants "-3"^^xsd:integer ; etc:projectsRepresented 1.5 ; etc:place "Rīga" ;
    schema:organizer <person/x> ; etc:moderator <organisation/o> ; etc:speaker <project/p1> ;
    schema:performer "Lapsenes" ; etc:presentedProject <programme/P1> ; etc:participatingOrganisation <event/e> ;
    etc:discussedProgramme <project/p2> ; rdfs:label "E"@en ; prov:wasDerivedFrom <source/s> ; etc:record "e" .
<theme/t> a skos:Concept ; skos:prefLabel "no language" ; skos:broader <theme/none> ; skos:inScheme <theme/ghost> ;
    rdfs:label "t" ; prov:wasDerivedFrom <source/s> ; etc:record "t" .
"""


def outcome(results) -> Counter:
    return Counter((str(r.focus), str(r.path) if r.path is not None else None,
                    str(r.component), str(r.value) if r.value is not None else None) for r in results)


def compare(graph: rdflib.Graph) -> Counter:
    reference = validate_graph(graph, SHAPES)
    compiled = CompiledValidator.of_triples(SHAPES, list(graph)).report()
    assert outcome(compiled.results) == outcome(reference.results), (
        f"only pyshacl: {outcome(reference.results) - outcome(compiled.results)}\n"
        f"only compiled: {outcome(compiled.results) - outcome(reference.results)}")
    assert compiled.conforms == reference.conforms
    return outcome(reference.results)


def records_graph(folder, settings: Settings) -> rdflib.Graph:
    loaded = rec.load_records(folder).loaded
    themes = themes_graph(settings)
    theme_iris = {str(s).rsplit("/", 1)[-1]: s for s in themes.subjects() if "/id/theme/" in str(s)}
    ctx = build_context(BASE, loaded, theme_iris)
    graph = rdflib.Graph()
    for t in themes:
        graph.add(t)
    for item in loaded:
        for s, p, o in map_record(item.record, ctx, item.file):  # pyoxigraph terms, as rdflib's for pyshacl
            graph.add((from_ox(s), from_ox(p), from_ox(o)))
    return graph


def test_hand_made_violations_of_every_component() -> None:
    graph = rdflib.Graph().parse(data=BROKEN, format="turtle")
    found = compare(graph)
    components = {c.rsplit("#", 1)[-1] for _, _, c, _ in found}
    assert {"MinCountConstraintComponent", "MaxCountConstraintComponent", "DatatypeConstraintComponent",
            "ClassConstraintComponent", "NodeKindConstraintComponent", "PatternConstraintComponent",
            "MinInclusiveConstraintComponent", "MaxInclusiveConstraintComponent", "MinLengthConstraintComponent", "UniqueLangConstraintComponent",
            "InConstraintComponent", "OrConstraintComponent", "SPARQLConstraintComponent"} <= components
    assert sum(found.values()) > 60


def test_seed_data_set() -> None:
    settings = Settings.from_env({"ETCLOD_BASE_URI": BASE})
    assert compare(records_graph(SEED_DATA, settings)) == Counter()


@pytest.mark.parametrize("fields", [
    {"start": "2019-02-01", "end": "2018-12"}, {"total_budget": "-5"}, {"title": "Just a string"},
    {"programme": "no-such-programme"}, {"themes": ["no-such-theme"]}, {"total_budget": "10", "eu_funding": "20"},
    {"start": "2016-03", "end": "2016-02-28"},
])
def test_record_fixtures(tmp_path, fields) -> None:
    write_records(tmp_path, "a.yaml", [SOURCE, PROGRAMME, ORGANISATION, project(**fields),
                                       {**PROGRAMME, "id": "p2", "cci": "2014TC16RFXX027"}])
    settings = Settings.from_env({"ETCLOD_BASE_URI": BASE})
    assert sum(compare(records_graph(tmp_path, settings)).values()) >= 1


def test_synthetic_data(tmp_path) -> None:
    from etclod.synth import write
    write(tmp_path, 40, seed=7)
    settings = Settings.from_env({"ETCLOD_BASE_URI": BASE})
    graph = records_graph(tmp_path, settings)
    assert len(graph) > 1000
    compare(graph)


def test_subclasses_in_the_data_are_followed_as_pyshacl_does() -> None:
    data = BROKEN + """
<http://x/Special> <http://www.w3.org/2000/01/rdf-schema#subClassOf> etc:Project .
<project/sub> a <http://x/Special> ; etc:programme <programme/P1> .
<project/p3> a etc:Project ; etc:acronym "P3" ; etc:programme <project/sub> ; rdfs:label "p3" ; etc:record "p3" ;
    prov:wasDerivedFrom <source/s> .
"""
    found = compare(rdflib.Graph().parse(data=data, format="turtle"))
    assert any(focus.endswith("project/sub") for focus, _, _, _ in found)


def test_batched_queries_give_what_each_check_alone_gives() -> None:
    """The checks run batched (a node shape's value checks in one query, its counts in
    another); each check's own query, run alone, finds the same results, as many times."""
    from etclod.shacl import Batch, CompiledShapes, run_checks

    validator = CompiledValidator.of_triples(SHAPES, list(rdflib.Graph().parse(data=BROKEN, format="turtle")))
    compiled = validator.compiled
    assert len(compiled.batches) < len(compiled.checks)
    assert sorted(id(c) for b in compiled.batches for c, _ in b.tests) == sorted(id(c) for c in compiled.checks)
    alone = CompiledShapes(compiled.checks, [Batch(c.query, ((c, None),)) for c in compiled.checks])

    def found(shapes: CompiledShapes) -> Counter:
        return Counter((str(r["focus"]), str(r["path"]), str(r["component"]), str(r["value"]), r["message"],
                        str(r["shape"])) for r in run_checks(validator.store, shapes))

    batched = found(compiled)
    assert batched == found(alone)
    assert sum(batched.values()) > 60


FORKED = """
import os, sys
from collections import Counter
import rdflib
from etclod import shacl
from etclod.settings import PROJECT_ROOT
from etclod.validation import CompiledValidator, load_shapes

shapes = load_shapes(PROJECT_ROOT / "ontology" / "shapes.ttl")
validator = CompiledValidator.of_triples(shapes, list(rdflib.Graph().parse(data=sys.stdin.read(), format="turtle")))
forks = []
real_fork = os.fork
def fork():
    pid = real_fork()
    if pid:
        forks.append(pid)
    return pid
os.fork = fork
def found():
    return [(str(r["focus"]), str(r["path"]), str(r["component"]), str(r["value"]), r["message"])
            for r in shacl.run_checks(validator.store, validator.compiled)]
alone = found()
shacl.FORK_FROM = 0
shared = found()
print(len(forks), len(alone), shared == alone)
"""


def test_checks_shared_with_a_forked_process_give_the_same_results() -> None:
    """From FORK_FROM quads every other batch runs in a forked child (the store shared by the
    fork): the same results in the same order as one process gives. Run in a fresh process:
    a child is forked only where no other thread runs."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", FORKED], input=BROKEN, capture_output=True, text=True,
                          timeout=300, env={**__import__("os").environ, "PYTHONPATH": str(PROJECT_ROOT / "src")})
    assert done.returncode == 0, done.stderr
    forks, results, same = done.stdout.split()
    assert forks == "1" and int(results) > 60 and same == "True"
