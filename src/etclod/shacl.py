"""Compiled validation layer: the SHACL shapes turned into SPARQL queries run on Oxigraph.

pyshacl walks the data graph node by node in Python, which takes minutes at keep.eu scale.
The shapes we publish use a small part of SHACL Core (targets by class; property shapes on
single-predicate paths with minCount, maxCount, datatype, class, nodeKind, pattern,
minInclusive, maxInclusive, minLength, uniqueLang, in, or of datatypes; SPARQL-based constraints), and each
of those is one SPARQL query. The verdicts equal pyshacl's (a test compares them on every
fixture); a shape using anything else is refused at compile time rather than skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, XSD

from etclod.errors import InputError
from etclod.namespaces import SH
from etclod.oxtyped import select

SUPPORTED = {SH.path, SH.minCount, SH.maxCount, SH.datatype, SH["class"], SH.nodeKind, SH.pattern,
             SH.flags, SH.minInclusive, SH.maxInclusive, SH.minLength, SH.uniqueLang, SH["in"], SH["or"], SH.message,
             SH.severity, SH.name, SH.description, RDF.type, RDFS.comment, RDFS.label}
NODE_KINDS = {SH.IRI: "isIRI(?v)", SH.Literal: "isLiteral(?v)", SH.BlankNode: "isBlank(?v)",
              SH.BlankNodeOrIRI: "(isBlank(?v) || isIRI(?v))", SH.IRIOrLiteral: "(isIRI(?v) || isLiteral(?v))",
              SH.BlankNodeOrLiteral: "(isBlank(?v) || isLiteral(?v))"}
NUMERIC = {XSD.integer, XSD.decimal, XSD.double, XSD.float, XSD.int, XSD.long, XSD.nonNegativeInteger}


@dataclass(frozen=True)
class Check:
    """One compiled constraint: a SELECT returning ?this (and ?value, ?path where it has them)."""

    query: str
    component: URIRef
    path: URIRef | None
    shape: Any
    message: str | None
    severity: URIRef
    sparql_message: bool = False


@dataclass
class CompiledShapes:
    checks: list[Check] = field(default_factory=list)


def _n3(term: Any) -> str:
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, Literal):
        return term.n3()
    raise InputError(f"cannot compile the shape term {term!r}")


def _focus(classes: list[URIRef], subclasses: bool = True) -> str:
    """The focus nodes of a shape: instances of its target classes (and of their subclasses,
    as pyshacl does, when the data declares any)."""
    values = " ".join(_n3(c) for c in classes)
    path = f"<{RDF.type}>/<{RDFS.subClassOf}>*" if subclasses else f"<{RDF.type}>"
    if len(classes) == 1 and not subclasses:
        return f"?this {path} {values} ."
    return f"{{ SELECT DISTINCT ?this WHERE {{ VALUES ?class {{ {values} }} ?this {path} ?class }} }}"


def compile_shapes(shapes: Graph, subclasses: bool = True) -> CompiledShapes:
    """Every check of every node shape with a class target. Without ``subclasses`` the checks
    assume the data declares no rdfs:subClassOf (cheaper; the same verdicts on such data)."""
    compiled = CompiledShapes()
    for node in sorted(set(shapes.subjects(SH.targetClass, None)), key=str):
        classes = sorted((c for c in shapes.objects(node, SH.targetClass) if isinstance(c, URIRef)), key=str)
        focus = _focus(classes, subclasses)
        for prop in sorted(shapes.objects(node, SH.property), key=str):
            compiled.checks.extend(_property_checks(shapes, prop, focus, subclasses))
        for constraint in shapes.objects(node, SH.sparql):
            compiled.checks.append(_sparql_check(shapes, constraint, focus))
        unknown = {p for p in shapes.predicates(node, None)} - {SH.targetClass, SH.property, SH.sparql, RDF.type,
                                                                 RDFS.comment, RDFS.label, SH.name}
        if unknown:
            raise InputError(f"shape {node} uses {sorted(map(str, unknown))}, which the compiled validator "
                             "does not support: use ETCLOD_VALIDATOR=pyshacl")
    return compiled


def _property_checks(shapes: Graph, prop: Any, focus: str, subclasses: bool) -> list[Check]:
    unknown = set(shapes.predicates(prop, None)) - SUPPORTED
    if unknown:
        raise InputError(f"property shape {prop} uses {sorted(map(str, unknown))}, which the compiled "
                         "validator does not support: use ETCLOD_VALIDATOR=pyshacl")
    path = shapes.value(prop, SH.path)
    if not isinstance(path, URIRef):
        raise InputError(f"property shape {prop} has a complex path; the compiled validator needs a predicate")
    message = shapes.value(prop, SH.message)
    severity = shapes.value(prop, SH.severity) or SH.Violation
    p = _n3(path)
    values = f"{focus} ?this {p} ?v ."
    checks: list[tuple[str, URIRef]] = []

    def value_check(condition: str, component: URIRef) -> None:
        checks.append((f"SELECT ?this (?v AS ?value) WHERE {{ {values} FILTER({condition}) }}", component))

    min_count = shapes.value(prop, SH.minCount)
    if min_count is not None and int(min_count) > 0:
        n = int(min_count)
        checks.append((f"SELECT ?this WHERE {{ {focus} OPTIONAL {{ ?this {p} ?v }} }} GROUP BY ?this "
                       f"HAVING (COUNT(DISTINCT ?v) < {n})", SH.MinCountConstraintComponent))
    max_count = shapes.value(prop, SH.maxCount)
    if max_count is not None:
        checks.append((f"SELECT ?this WHERE {{ {values} }} GROUP BY ?this HAVING (COUNT(DISTINCT ?v) > {int(max_count)})",
                       SH.MaxCountConstraintComponent))
    datatype = shapes.value(prop, SH.datatype)
    if datatype is not None:
        value_check(_not_datatype([datatype]), SH.DatatypeConstraintComponent)
    cls = shapes.value(prop, SH["class"])
    if cls is not None:
        typed = f"<{RDF.type}>/<{RDFS.subClassOf}>*" if subclasses else f"<{RDF.type}>"
        value_check(f"isLiteral(?v) || NOT EXISTS {{ ?v {typed} {_n3(cls)} }}", SH.ClassConstraintComponent)
    kind = shapes.value(prop, SH.nodeKind)
    if kind is not None:
        value_check(f"!{NODE_KINDS[kind]}", SH.NodeKindConstraintComponent)
    pattern = shapes.value(prop, SH.pattern)
    if pattern is not None:
        flags = shapes.value(prop, SH.flags)
        regex = f"REGEX(STR(?v), {Literal(str(pattern)).n3()}{', ' + Literal(str(flags)).n3() if flags else ''})"
        value_check(f"isBlank(?v) || !{regex}", SH.PatternConstraintComponent)
    minimum = shapes.value(prop, SH.minInclusive)
    if minimum is not None:
        value_check(f"!COALESCE(?v >= {_n3(minimum)}, false)", SH.MinInclusiveConstraintComponent)
    maximum = shapes.value(prop, SH.maxInclusive)
    if maximum is not None:
        value_check(f"!COALESCE(?v <= {_n3(maximum)}, false)", SH.MaxInclusiveConstraintComponent)
    min_length = shapes.value(prop, SH.minLength)
    if min_length is not None:
        value_check(f"isBlank(?v) || STRLEN(STR(?v)) < {int(min_length)}", SH.MinLengthConstraintComponent)
    allowed = shapes.value(prop, SH["in"])
    if allowed is not None:
        members = ", ".join(_n3(m) for m in Collection(shapes, allowed))
        value_check(f"!(?v IN ({members}))", SH.InConstraintComponent)
    alternatives = shapes.value(prop, SH["or"])
    if alternatives is not None:
        datatypes = []
        for member in Collection(shapes, alternatives):
            keys = set(shapes.predicates(member, None))
            if keys != {SH.datatype}:
                raise InputError(f"sh:or in {prop} combines more than datatypes; use ETCLOD_VALIDATOR=pyshacl")
            datatypes.append(shapes.value(member, SH.datatype))
        value_check(_not_datatype(datatypes), SH.OrConstraintComponent)
    unique = shapes.value(prop, SH.uniqueLang)
    if unique is not None and unique.toPython() is True:
        checks.append((f"SELECT DISTINCT ?this WHERE {{ {values} ?this {p} ?w . FILTER(isLiteral(?v) && isLiteral(?w) "
                       f"&& LANG(?v) != \"\" && LCASE(LANG(?v)) = LCASE(LANG(?w)) && STR(?v) < STR(?w)) }}",
                       SH.UniqueLangConstraintComponent))
    return [Check(query, component, path, prop, str(message) if message else None, severity)
            for query, component in checks]


def _not_datatype(datatypes: list[Any]) -> str:
    tests = []
    for dt in datatypes:
        test = f"(isLiteral(?v) && DATATYPE(?v) = {_n3(dt)}"
        if dt in NUMERIC:
            test += " && isNumeric(?v)"
        tests.append(test + ")")
    return "!(" + " || ".join(tests) + ")"


def _sparql_check(shapes: Graph, constraint: Any, focus: str) -> Check:
    select = str(shapes.value(constraint, SH.select))
    message = shapes.value(constraint, SH.message)
    where = select.find("{")
    if where < 0:
        raise InputError(f"SPARQL constraint {constraint} has no WHERE clause")
    body = select.replace("$this", "?this")
    where = body.find("{")
    query = body[:where + 1] + f" {focus} " + body[where + 1:]
    return Check(query, SH.SPARQLConstraintComponent, None, constraint, str(message) if message else None,
                 shapes.value(constraint, SH.severity) or SH.Violation, sparql_message=True)


def _from_ox(term: Any) -> Any:
    from etclod.store import from_ox
    return from_ox(term)


def run_checks(store: ox.Store, compiled: CompiledShapes) -> list[dict[str, Any]]:
    """Run every check on ``store`` (its default graph as the union); return plain results."""
    results = []
    for check in compiled.checks:
        solutions = select(store, check.query, use_default_graph_as_union=True)
        names = {v.value for v in solutions.variables}
        for row in solutions:
            value = _from_ox(row["value"]) if "value" in names and row["value"] is not None else None
            path = check.path
            if "path" in names and row["path"] is not None:
                path = _from_ox(row["path"])
            message = check.message
            if message and check.sparql_message:
                for name in names:
                    if row[name] is not None:
                        message = message.replace(f"{{?{name}}}", str(_from_ox(row[name])))
                        message = message.replace(f"{{${name}}}", str(_from_ox(row[name])))
            results.append({"focus": _from_ox(row["this"]), "path": path, "value": value,
                            "component": check.component, "severity": check.severity,
                            "shape": check.shape, "message": message or _default_message(check)})
    return results


def _default_message(check: Check) -> str:
    name = str(check.component).rsplit("#", 1)[-1].replace("ConstraintComponent", "")
    return f"{name} constraint violated on {check.path}"


def report_graph(results: list[dict[str, Any]]) -> Graph:
    """A SHACL validation report graph of the results (what validation.ttl holds)."""
    graph = Graph()
    graph.bind("sh", SH)
    report = BNode()
    graph.add((report, RDF.type, SH.ValidationReport))
    graph.add((report, SH.conforms, Literal(not any(r["severity"] == SH.Violation for r in results))))
    for r in results:
        node = BNode()
        graph.add((report, SH.result, node))
        graph.add((node, RDF.type, SH.ValidationResult))
        graph.add((node, SH.focusNode, r["focus"]))
        graph.add((node, SH.resultSeverity, r["severity"]))
        graph.add((node, SH.sourceConstraintComponent, r["component"]))
        graph.add((node, SH.resultMessage, Literal(r["message"])))
        if isinstance(r["shape"], (URIRef, BNode)):
            graph.add((node, SH.sourceShape, r["shape"]))
        if r["path"] is not None:
            graph.add((node, SH.resultPath, r["path"]))
        if r["value"] is not None:
            graph.add((node, SH.value, r["value"]))
    return graph
