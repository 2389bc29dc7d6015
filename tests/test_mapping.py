"""Mapping: pure functions, deterministic output, dates at their known precision."""

from __future__ import annotations

from decimal import Decimal

from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from etclod import records as rec
from etclod.mapping import build_context, date_literal, map_record
from etclod.namespaces import ETC
from etclod.oxtyped import from_ox

from conftest import BASE, PROGRAMME, project, write_records


def test_dates_keep_their_precision() -> None:
    assert from_ox(date_literal("2018-01-25")).datatype == XSD.date
    assert from_ox(date_literal("2016-03")).datatype == XSD.gYearMonth
    assert from_ox(date_literal("2016")).datatype == XSD.gYear


def test_mapping_is_pure_and_resolves_references(tmp_path) -> None:
    write_records(tmp_path, "a.yaml", [PROGRAMME, project(total_budget="4860664.11", themes=["x"])])
    loaded = rec.load_records(tmp_path).loaded
    ctx = build_context(BASE, loaded, {"x": URIRef(f"{BASE}id/theme/x")})
    item = loaded[1]
    first, second = map_record(item.record, ctx, item.file), map_record(item.record, ctx, item.file)
    assert first == second
    first = [(from_ox(s), from_ox(p), from_ox(o)) for s, p, o in first]  # the mapping makes pyoxigraph terms
    subject = URIRef(f"{BASE}id/project/proj")
    assert (subject, ETC.programme, URIRef(f"{BASE}id/programme/2014TC16RFCB027")) in first
    assert (subject, ETC.totalBudget, Literal("4860664.11", datatype=XSD.decimal)) in first
    assert (subject, ETC.theme, URIRef(f"{BASE}id/theme/x")) in first
    assert (subject, ETC.record, Literal("a.yaml#project/proj")) in first
    assert Decimal(str(Literal("4860664.11", datatype=XSD.decimal).toPython())) == Decimal("4860664.11")


def test_amounts_are_canonical_decimals_as_the_store_keeps_them() -> None:
    from etclod.mapping import amount_literal
    assert [amount_literal(Decimal(v)).value for v in ("1000.50", "100", "0.00", "4860664.11")] == \
        ["1000.5", "100", "0", "4860664.11"]
