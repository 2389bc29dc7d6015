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
from etclod.forking import can_fork, forked
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


@dataclass(frozen=True)
class Batch:
    """One query that answers several checks of one property shape at once (the focus nodes
    and their values are found once, not once per constraint). ``tests`` holds each check
    with how a row shows it failed: None, every row is a result of it; ``("flag", f)``,
    the row's boolean ``?f`` is true; ``("<", n, path)`` or ``(">", n, path)``, the row is
    a count of ``path``'s values (``?p``) and its count ``?n`` is below or above n."""

    query: str
    tests: tuple[tuple[Check, tuple[Any, ...] | None], ...]


@dataclass
class CompiledShapes:
    checks: list[Check] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)
    """The checks as the queries that run (every check is in exactly one batch)."""


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
        planned: list[Planned] = []
        for prop in sorted(shapes.objects(node, SH.property), key=str):
            planned += _property_checks(shapes, prop, focus, subclasses)
        compiled.checks.extend(check for check, _, _ in planned)
        compiled.batches.extend(_batches(planned, focus))
        for constraint in shapes.objects(node, SH.sparql):
            check = _sparql_check(shapes, constraint, focus)
            compiled.checks.append(check)
            compiled.batches.append(Batch(check.query, ((check, None),)))
        unknown = {p for p in shapes.predicates(node, None)} - {SH.targetClass, SH.property, SH.sparql, RDF.type,
                                                                 RDFS.comment, RDFS.label, SH.name}
        if unknown:
            raise InputError(f"shape {node} uses {sorted(map(str, unknown))}, which the compiled validator "
                             "does not support: use ETCLOD_VALIDATOR=pyshacl")
    return compiled


Planned = tuple[Check, str | None, Any]
"""A check and how it can be batched: ``("value", condition)``, ``("count", (op, n))`` or ``(None, None)``."""


def _property_checks(shapes: Graph, prop: Any, focus: str, subclasses: bool) -> list[Planned]:
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
    conditions: dict[int, str] = {}  # a value check's index in ``checks`` -> its FILTER condition
    counts: dict[int, tuple[str, int]] = {}  # a count check's index -> its test of the count

    def value_check(condition: str, component: URIRef) -> None:
        conditions[len(checks)] = condition
        checks.append((f"SELECT ?this (?v AS ?value) WHERE {{ {values} FILTER({condition}) }}", component))

    min_count = shapes.value(prop, SH.minCount)
    if min_count is not None and int(min_count) > 0:
        n = int(min_count)
        counts[len(checks)] = ("<", n)
        checks.append((f"SELECT ?this WHERE {{ {focus} OPTIONAL {{ ?this {p} ?v }} }} GROUP BY ?this "
                       f"HAVING (COUNT(DISTINCT ?v) < {n})", SH.MinCountConstraintComponent))
    max_count = shapes.value(prop, SH.maxCount)
    if max_count is not None:
        counts[len(checks)] = (">", int(max_count))
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
    made = [Check(query, component, path, prop, str(message) if message else None, severity)
            for query, component in checks]
    return [(check, "value", conditions[i]) if i in conditions else (check, "count", counts[i]) if i in counts
            else (check, None, None) for i, check in enumerate(made)]


def _batches(planned: list[Planned], focus: str) -> list[Batch]:
    """The checks of one node shape as few queries, its focus nodes found once: the value
    checks of all its properties as one (a ``UNION`` branch per path, binding a flag for each
    of that path's checks, ``COALESCE``'d to false as FILTER takes an error for false; the
    rows where any of its flags is true: each row evaluates only its own path's conditions,
    a third of the time of one ``VALUES ?p`` pattern testing every condition on every row),
    its minCount and maxCount checks as one (the count of each focus node's values of each
    path; the rows outside a bound; where every one of them is a minCount of 1, the focus
    nodes without a value, found with ``NOT EXISTS`` instead of a count of every value),
    any other check as it is. Each check's results are the rows of its own query, in the
    same number."""
    out: list[Batch] = []
    valued = [(check, arg) for check, kind, arg in planned if kind == "value"]
    counted = [(check, arg) for check, kind, arg in planned if kind == "count"]
    if len(valued) > 1:
        flags = [f"?f{n}" for n in range(len(valued))]
        by_path: dict[str, list[tuple[str, str]]] = {}
        for (check, condition), flag in zip(valued, flags):
            by_path.setdefault(_n3(check.path), []).append((flag, condition))
        branches = []
        for path, tests in sorted(by_path.items()):
            binds = " ".join(f"BIND(COALESCE({condition}, false) AS {flag})" for flag, condition in tests)
            branches.append(f"{{ ?this {path} ?v . {binds} FILTER({' || '.join(flag for flag, _ in tests)}) }}")
        out.append(Batch(f"SELECT ?this (?v AS ?value) {' '.join(flags)} WHERE {{ {focus} {' UNION '.join(branches)} }}",
                         tuple((check, ("flag", flag[1:])) for (check, _), flag in zip(valued, flags))))
    if len(counted) > 1:
        paths = " ".join(sorted({_n3(check.path) for check, _ in counted}))
        if all(arg == ("<", 1) for _, arg in counted):  # only "has a value": no count needed
            query = (f"SELECT DISTINCT ?this ?p (0 AS ?n) WHERE {{ {focus} VALUES ?p {{ {paths} }} "
                     f"FILTER NOT EXISTS {{ ?this ?p ?v }} }}")
        else:
            having = " || ".join(f"(?p = {_n3(check.path)} && COUNT(DISTINCT ?v) {op} {n})"
                                 for check, (op, n) in counted)
            query = (f"SELECT ?this ?p (COUNT(DISTINCT ?v) AS ?n) WHERE {{ {focus} VALUES ?p {{ {paths} }} "
                     f"OPTIONAL {{ ?this ?p ?v }} }} GROUP BY ?this ?p HAVING ({having})")
        out.append(Batch(query, tuple((check, (op, n, str(check.path))) for check, (op, n) in counted)))
    batched = {id(check) for check, _ in (valued if len(valued) > 1 else [])} | \
        {id(check) for check, _ in (counted if len(counted) > 1 else [])}
    out += [Batch(check.query, ((check, None),)) for check, _, _ in planned if id(check) not in batched]
    return out


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


FORK_FROM = 400_000
"""Quads from which the batches are shared between this process and a forked copy of it (the
in-memory store shared copy-on-write, nothing loaded twice): pyoxigraph holds the GIL while
it evaluates, so threads would take turns; a fork uses the second core."""


def run_checks(store: ox.Store, compiled: CompiledShapes) -> list[dict[str, Any]]:
    """Run every check on ``store`` (an in-memory store; its default graph as the union),
    batched (``Batch``); return plain results, in the order of the batches. From
    ``FORK_FROM`` quads, where the process can fork (no other thread running), every other
    batch runs in a forked child; a child that fails has its batches run here."""
    batches = compiled.batches
    found: list[list[dict[str, Any]]] = [[] for _ in batches]
    mine = list(range(len(batches)))
    child = None
    if len(batches) > 1 and len(store) >= FORK_FROM and can_fork():
        theirs, mine = mine[1::2], mine[0::2]
        child = forked(lambda: {i: _run_batch(store, batches[i]) for i in theirs})
    try:
        for i in mine:
            found[i] = _run_batch(store, batches[i])
    except BaseException:
        if child is not None:
            child.stop()
        raise
    if child is not None:
        answers = child.wait()
        for i in theirs:
            found[i] = answers[i] if answers is not None else _run_batch(store, batches[i])
    return [result for results in found for result in results]


def _run_batch(store: ox.Store, batch: Batch) -> list[dict[str, Any]]:
    results = []
    solutions = select(store, batch.query, use_default_graph_as_union=True)
    names = {v.value for v in solutions.variables}
    for row in solutions:
        for check, test in batch.tests:
            if test is None or _failed(row, test):
                results.append(_result(check, row, names))
    return results


def _failed(row: Any, test: tuple[Any, ...]) -> bool:
    """Whether a row of a batch is a result of the check ``test`` belongs to."""
    kind: str = test[0]
    arg: Any = test[1]
    if kind == "flag":
        flag = row[arg]
        return flag is not None and flag.value == "true"
    if row["p"].value != test[2]:  # a count of another path's values
        return False
    count, bound = int(row["n"].value), int(arg)
    return count < bound if kind == "<" else count > bound


def _result(check: Check, row: Any, names: set[str]) -> dict[str, Any]:
    """One row of a check's query as a plain result."""
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
    return {"focus": _from_ox(row["this"]), "path": path, "value": value,
            "component": check.component, "severity": check.severity,
            "shape": check.shape, "message": message or _default_message(check)}


def _default_message(check: Check) -> str:
    name = str(check.component).rsplit("#", 1)[-1].replace("ConstraintComponent", "")
    return f"{name} constraint violated on {check.path}"


def report_graph(results: list[dict[str, Any]]) -> Graph:
    """A SHACL validation report graph of the results (what validation.ttl holds). Its blank
    nodes are named by their place (the report, the n-th result, the n-th blank node of the
    shapes or data it names), so the same results are written in the same bytes every time.

    >>> shape = BNode()
    >>> r = {"focus": URIRef("urn:x"), "severity": SH.Violation, "component": SH.MinCountConstraintComponent,
    ...      "message": "m", "shape": shape, "path": None, "value": None}
    >>> g = report_graph([r, {**r, "focus": URIRef("urn:y")}])
    >>> sorted({str(n) for n in g.all_nodes() if isinstance(n, BNode)})
    ['b0', 'report', 'result0', 'result1']
    """
    graph = Graph()
    graph.bind("sh", SH)
    report = BNode("report")
    graph.add((report, RDF.type, SH.ValidationReport))
    graph.add((report, SH.conforms, Literal(not any(r["severity"] == SH.Violation for r in results))))
    names: dict[BNode, BNode] = {}

    def named(term: Any) -> Any:
        if isinstance(term, BNode):
            return names.setdefault(term, BNode(f"b{len(names)}"))
        return term

    for n, r in enumerate(results):
        node = BNode(f"result{n}")
        r = {**r, **{k: named(r[k]) for k in ("focus", "shape", "path", "value")}}
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
