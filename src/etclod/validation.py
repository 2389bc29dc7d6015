"""Validation layer: SHACL with pyshacl; verdicts per record, rejections kept with reasons."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS

from etclod import records as rec
from etclod.errors import InputError
from etclod.mapping import FIELD_OF_PREDICATE, Triple
from etclod.namespaces import SH, split_resource_iri


@dataclass(frozen=True)
class Result:
    """One SHACL validation result, as plain values."""

    focus: URIRef
    path: URIRef | None
    value: Any
    message: str
    severity: URIRef
    component: URIRef
    shape: Any


@dataclass(frozen=True)
class ValidationReport:
    conforms: bool
    results: tuple[Result, ...]
    graph: Graph = field(repr=False, compare=False)


def load_shapes(path: Path) -> Graph:
    """Parse the shapes file once; pyshacl is handed the parsed graph, never a path string."""
    graph = Graph()
    try:
        graph.parse(source=path.open("rb"), format="turtle")
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"cannot read the SHACL shapes {str(path)!r}: {exc}") from exc
    return graph


def validate_graph(data: Graph, shapes: Graph) -> ValidationReport:
    """Validate ``data`` against ``shapes`` (no inference: what is published is what is checked).
    pyshacl is imported here, not at the top: the server never needs it (20 MB)."""
    import pyshacl

    conforms, report, _text = pyshacl.validate(
        data_graph=data, shacl_graph=shapes, inference="none", abort_on_first=False,
        allow_warnings=True, advanced=True, meta_shacl=False)
    results = []
    for node in sorted(report.subjects(RDF.type, SH.ValidationResult), key=str):
        message = report.value(node, SH.resultMessage)
        results.append(Result(
            focus=report.value(node, SH.focusNode), path=report.value(node, SH.resultPath),
            value=report.value(node, SH.value), message=str(message) if message else "does not conform",
            severity=report.value(node, SH.resultSeverity),
            component=report.value(node, SH.sourceConstraintComponent),
            shape=report.value(node, SH.sourceShape)))
    results.sort(key=lambda r: (str(r.focus), str(r.path), str(r.component), str(r.value), r.message))
    return ValidationReport(bool(conforms), tuple(results), report)


@dataclass
class Mapped:
    """A record that parsed, with its IRI, named graph and triples."""

    loaded: rec.Loaded
    iri: URIRef
    graph: URIRef
    triples: list[Triple]


@dataclass
class Verdict:
    accepted: list[Mapped]
    rejected: list[rec.Rejection]
    first_report: ValidationReport
    final_report: ValidationReport
    passes: int


def _display_value(base: str, value: Any) -> Any:
    if isinstance(value, URIRef):
        parts = split_resource_iri(base, str(value))
        return parts[1] if parts else str(value)
    if isinstance(value, Literal):
        return str(value)
    return None if value is None else str(value)


class CompiledValidator:
    """The shapes compiled to SPARQL, run on an Oxigraph store of the data (its union default
    graph); records are taken out of the store as they are rejected, so each pass only re-runs
    the queries, and what is left in the store is exactly what was validated."""

    def __init__(self, shapes: Graph, store: Any) -> None:
        from etclod.shacl import compile_shapes

        declares = store.query(f"ASK {{ ?a <{RDFS.subClassOf}> ?b }}", use_default_graph_as_union=True)
        self.compiled = compile_shapes(shapes, subclasses=bool(declares))
        self.store = store

    @classmethod
    def of_triples(cls, shapes: Graph, triples: list[Triple]) -> CompiledValidator:
        """A validator over a fresh in-memory store holding ``triples``."""
        import pyoxigraph as ox

        store = ox.Store()
        store.bulk_extend(default_quads(triples))
        return cls(shapes, store)

    def report(self) -> ValidationReport:
        from etclod.shacl import run_checks

        raw = run_checks(self.store, self.compiled)
        results = sorted((Result(r["focus"], r["path"], r["value"], r["message"], r["severity"], r["component"],
                                 r["shape"]) for r in raw),
                         key=lambda r: (str(r.focus), str(r.path), str(r.component), str(r.value), r.message))
        conforms = not any(r.severity == SH.Violation for r in results)
        return ValidationReport(conforms, tuple(results), _graph_of(results))


def judge(mapped: list[Mapped], fixed: Iterable[Triple], shapes: Graph, base: str,
          engine: str = "compiled", store: Any = None, hold: Any = None, partial: bool = False) -> Verdict:
    """Validate every record; reject the ones that fail and, transitively, those that point at
    a rejected record; repeat until what is left conforms.

    ``fixed`` are triples that are not records (the themes scheme): a violation there is an
    error of the project's own files, not of a record. ``engine`` is ``compiled`` (the shapes
    as SPARQL on Oxigraph) or ``pyshacl``; both give the same verdicts. ``store`` holds every
    record's quads (each in its record's graph) and loses the rejected ones. ``hold(mapped,
    rejection)`` may give a record's last good version to validate and publish in its place
    (then nothing that points at it is rejected for that). ``partial``: ``mapped`` is some of
    the records (an incremental build's), ``store`` holds them and the types of what they point
    at; results on nodes no record of ``mapped`` states are not theirs and are left out.
    """
    from etclod.oxtyped import from_ox, to_ox
    from etclod.store import to_quads

    fixed = list(fixed)
    owner: dict[Any, list[Mapped]] = {}  # several records of one resource (merged) share it
    """The records that state each subject: made at the first pass that finds a violation
    (a walk of every triple, 1.5 s at 30,000 projects, that data which conforms never needs)."""
    accepted: dict[tuple[str, str], Mapped] = {}
    key_of: dict[int, tuple[str, str]] = {}
    for m in mapped:  # records of one id from two sources (merged) each keep a key of their own
        key = m.loaded.key
        n = 1
        while key in accepted:
            n += 1
            key = (m.loaded.key[0], f"{m.loaded.key[1]}\x00{n}")
        accepted[key] = m
        key_of[id(m)] = key
    iri_of: dict[tuple[str, str], URIRef] = {}
    for m in mapped:
        iri_of.setdefault(m.loaded.key, m.iri)
    rejected: list[rec.Rejection] = []
    held_for: dict[tuple[str, str], rec.Rejection] = {}
    """A record's rejection, by key, while its published version stands in for it."""
    first: ValidationReport | None = None
    passes = 0
    if engine not in ("compiled", "pyshacl"):
        raise InputError(f"unknown validator {engine!r}: use compiled or pyshacl (ETCLOD_VALIDATOR)")
    compiled = CompiledValidator(shapes, store) if engine == "compiled" and store is not None else (
        CompiledValidator.of_triples(shapes, fixed + [t for m in mapped for t in m.triples])
        if engine == "compiled" else None)
    while True:
        passes += 1
        if compiled is not None:
            report = compiled.report()
        else:
            graph = Graph()  # the reference path: rdflib terms for pyshacl
            for s, p, o in fixed:
                graph.add((from_ox(s), from_ox(p), from_ox(o)))
            for m in accepted.values():
                for s, p, o in m.triples:
                    graph.add((from_ox(s), from_ox(p), from_ox(o)))
            report = validate_graph(graph, shapes)
        if partial:  # the owners first (the filter reads them)
            _own(mapped, owner)
            report = _owned(report, owner)
        first = first or report
        violations = [r for r in report.results if r.severity == SH.Violation]
        if not violations:
            return Verdict(list(accepted.values()), rejected, first, report, passes)
        _own(mapped, owner)
        reasons: dict[tuple[str, str], list[rec.Reason]] = {}
        for r in violations:
            record = _owner_of(owner.get(to_ox(r.focus), []), r, accepted, key_of)
            if record is None:
                raise InputError(f"the project's own data does not conform to the shapes: "
                                 f"{r.focus} {r.path}: {r.message}")
            field_name = FIELD_OF_PREDICATE.get(r.path, str(r.path)) if r.path else None
            if r.path == RDFS.label and "#post-" in str(r.focus):  # a post's label is its role, not a title
                field_name = "posts.role"
            reasons.setdefault(key_of[id(record)], []).append(
                rec.Reason(r.message, field_name, _display_value(base, r.value), "shacl"))
        before = dict(accepted)
        swapped: list[Mapped] = []
        for key, why in reasons.items():
            gone_record = accepted.pop(key)
            if key in held_for:  # its published version, held in its place, is rejected too: not kept
                first_rejection = held_for.pop(key)
                first_rejection.kept_from = None
                first_rejection.reasons += [rec.Reason(f"its published version cannot be kept either: {r.message}",
                                                       r.field, r.value, r.check) for r in why]
                continue
            rejection = _rejection(gone_record.loaded, why)
            rejected.append(rejection)
            replacement = hold(before[key], rejection) if hold is not None else None
            if replacement is not None:
                accepted[key] = replacement
                key_of[id(replacement)] = key
                held_for[key] = rejection
                swapped.append(replacement)
                for s in {t[0] for t in replacement.triples}:  # it states what the rejected record stated
                    found = [m for m in owner.get(s, []) if m is not gone_record]
                    owner[s] = [replacement, *found]
        live = {m.iri for m in accepted.values()}  # a resource lives while one of its records does
        _cascade(accepted, set(reasons) - {m.loaded.key for m in swapped}, rejected,
                 alive=lambda key: iri_of.get(key) in live)  # noqa: B023 (called within this pass)
        gone = [before[key] for key in before if key not in accepted or accepted[key] is not before[key]]
        targets = [s for s in (store, compiled.store if compiled is not None and store is None else None)
                   if s is not None]
        for target in targets:
            for m in gone:
                named = m.graph if target is store else None
                for quad in to_quads(named, m.triples) if named is not None else default_quads(m.triples):
                    target.remove(quad)
            for m in swapped:
                target.extend(to_quads(m.graph, m.triples) if target is store else default_quads(m.triples))


def _own(mapped: list[Mapped], owner: dict[Any, list[Mapped]]) -> None:
    """Fill ``owner`` (once): the records that state each subject."""
    if owner:
        return
    for m in mapped:
        for s, _, _ in m.triples:
            found = owner.setdefault(s, [])
            if not found or found[-1] is not m:
                found.append(m)


def _owned(report: ValidationReport, owner: dict[Any, list[Mapped]]) -> ValidationReport:
    """The results of ``report`` on nodes some record states (``judge(partial=True)``)."""
    from etclod.oxtyped import to_ox

    results = tuple(r for r in report.results if owner.get(to_ox(r.focus)))
    if len(results) == len(report.results):
        return report
    return ValidationReport(not any(r.severity == SH.Violation for r in results), results, _graph_of(results))


def _graph_of(results: Iterable[Result]) -> Graph:
    """The report graph of ``results``, in their order."""
    from etclod.shacl import report_graph

    return report_graph([{f.name: getattr(r, f.name) for f in fields(r)} for r in results])


def _owner_of(candidates: list[Mapped], result: Result, accepted: dict[tuple[str, str], Mapped],
              key_of: dict[int, tuple[str, str]]) -> Mapped | None:
    """The record a result is about: of the records that state the focus node, the one that
    states the offending value, else the first (the one of highest precedence)."""
    from etclod.oxtyped import to_ox

    alive = [m for m in candidates if key_of[id(m)] in accepted]
    if result.path is not None:
        focus, path = to_ox(result.focus), to_ox(result.path)
        value = None if result.value is None else to_ox(result.value)
        for m in alive:
            if any(s == focus and p == path and (value is None or o == value) for s, p, o in m.triples):
                return m
    return alive[0] if alive else None


def default_quads(triples: Iterable[Triple]) -> Any:
    """Triples (either library's terms) as quads of the default graph."""
    import pyoxigraph as ox

    from etclod.oxtyped import to_ox

    return (ox.Quad(to_ox(s), to_ox(p), to_ox(o), ox.DefaultGraph()) for s, p, o in triples)


def _rejection(loaded: rec.Loaded, reasons: list[rec.Reason]) -> rec.Rejection:
    return rec.Rejection(loaded.file, reasons, loaded.line, loaded.record.type, loaded.record.id, loaded.raw,
                         loaded.lines, source=loaded.source)


def _cascade(items: dict[tuple[str, str], Any], gone: set[tuple[str, str]], rejected: list[rec.Rejection],
             loaded_of: Any = lambda item: item.loaded, alive: Any = lambda key: False) -> None:
    """Reject every item that points at a record in ``gone``, then those that point at them,
    until none does. A key still in ``items`` is not gone (a duplicate was rejected, the first
    record of that id stays), nor is a record merged into a resource that is still published
    (``alive``: another source's record of it stands)."""
    while gone:
        next_gone: set[tuple[str, str]] = set()
        for key, item in list(items.items()):
            loaded = loaded_of(item)
            why = [rec.Reason(f"points at {rtype} {rid!r}, which is rejected", fname, rid, "reference")
                   for fname, rtype, rid in loaded.record.references()
                   if (rtype, rid) in gone and (rtype, rid) not in items and not alive((rtype, rid))]
            if why:
                rejected.append(_rejection(loaded, why))
                del items[key]
                next_gone.add(key)
        gone = next_gone


def reject_dangling(loaded: list[rec.Loaded], rejected: list[rec.Rejection],
                    kept: Iterable[tuple[str, str]] = (), fixed: Iterable[tuple[str, str]] = (),
                    elsewhere: Any = None) -> list[rec.Loaded]:
    """Records whose references point at records that failed to load, or at records that are
    not in the data at all (with the nearest ids: "did you mean ...?"), are rejected up front,
    naming the record they point at (SHACL would only see a missing resource). ``kept``:
    records held back at their last good version; ``fixed``: resources that are not records
    (the themes of ``themes.ttl``); ``elsewhere``: the records not among ``loaded`` that are
    published too (an incremental build: ``in`` and ``ids_of(type)``)."""
    keep: dict[tuple[str, str], rec.Loaded] = {}
    for item in loaded:  # records of one id from two sources (merged later) each keep a place
        key, n = item.key, 1
        while key in keep:
            n += 1
            key = (item.key[0], f"{item.key[1]}\x00{n}")
        keep[key] = item
    kept, known = set(kept), set(keep) | set(kept) | set(fixed)
    gone = {(r.type, r.id) for r in rejected if r.type and r.id} - kept - set(keep)
    ids: dict[str, list[str]] = {}
    for rtype, rid in known:
        ids.setdefault(rtype, []).append(rid)
    more: dict[str, list[str]] = {}

    def ids_of(rtype: str) -> list[str]:
        if elsewhere is None:
            return ids.get(rtype, [])
        if rtype not in more:
            more[rtype] = sorted({*ids.get(rtype, []), *elsewhere.ids_of(rtype)})
        return more[rtype]

    def missing(key: tuple[str, str]) -> bool:
        return key not in known and key not in gone and (elsewhere is None or key not in elsewhere)

    unknown = set()
    for key, item in list(keep.items()):
        why = [rec.Reason(f"points at {rtype} {rid!r}, which is not in the data"
                          + (rec.did_you_mean(rid, ids_of(rtype)) or f" (no {rtype} has that id)"),
                          fname, rid, "reference")
               for fname, rtype, rid in item.record.references() if missing((rtype, rid))]
        if why:
            rejected.append(_rejection(item, why))
            del keep[key]
            unknown.add(key)
    _cascade(keep, gone | unknown, rejected, lambda item: item)
    return list(keep.values())
