"""The registry of record types: every part of every type resolves, and the modules read it."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from rdflib.namespace import RDF

from etclod import listing, mapping, reconcile, recordtypes
from etclod import records as rec
from etclod.namespaces import RESOURCE_TYPES, class_iri, mint, split_resource_iri
from etclod.oxtyped import from_ox

DATA = Path(__file__).resolve().parents[1] / "data"
TYPES = list(recordtypes.TYPES.values())


@pytest.mark.parametrize("rtype", TYPES, ids=lambda t: t.name)
def test_every_type_resolves(rtype: recordtypes.RecordType) -> None:
    literal = rtype.model.model_fields["type"].annotation
    assert typing.get_args(literal) == (rtype.name,), "the model's type literal is the registry name"
    assert callable(rtype.mapper)
    assert str(class_iri(rtype.name)).startswith("http")
    assert rtype.label("en") and rtype.label("lv") and rtype.label("lv", plural=True)
    for group in rtype.identity:
        for name in group:
            assert name.rstrip("?~") in rtype.model.model_fields, f"{rtype.name} identity field {name!r} is not a field"
    if rtype.key_field != "id":
        assert rtype.key_field in rtype.model.model_fields
    for facet in rtype.facets:
        assert "?e" in facet.pattern and "?v" in facet.pattern
        assert facet.target is None or facet.target in recordtypes.TYPES


def test_every_module_reads_the_registry() -> None:
    assert RESOURCE_TYPES == recordtypes.NAMES
    assert set(rec.MODELS) == set(recordtypes.NAMES)
    assert set(reconcile.TYPES) == set(recordtypes.reconciled())
    assert listing.FACET_TARGET == {"programme": "programme", "theme": "theme"}
    for name in recordtypes.NAMES:
        iri = mint("http://h/", name, "k")
        assert split_resource_iri("http://h/", str(iri)) == (name, "k")
    with pytest.raises(KeyError, match="types are programme"):
        recordtypes.get("planet")


def test_names_of_types_in_both_languages() -> None:
    project = recordtypes.get("project")
    assert [project.label("lv"), project.label("lv", plural=True)] == ["projekts", "projekti"]
    assert [project.label("en"), project.label("en", plural=True)] == ["project", "projects"]
    assert recordtypes.get("person").label("en", plural=True) == "people"
    assert recordtypes.get("person").label("de") == "person"  # no German names: English


def test_key_rule_and_class_of_the_bundled_data() -> None:
    """Each record's IRI is minted from its type's key rule and typed with its type's class."""
    load = rec.load_records(DATA)
    ctx = mapping.build_context("http://h/", load.loaded)
    seen = set()
    for item in load.loaded:
        rtype = recordtypes.get(item.record.type)
        iri = mapping.record_iri("http://h/", item.record)
        key = str(iri).rsplit("/", 1)[-1]
        value = getattr(item.record, rtype.key_field)
        assert key == rtype.key_of_text(str(value))
        triples = [(from_ox(s), from_ox(p), from_ox(o)) for s, p, o in mapping.map_record(item.record, ctx, item.file)]
        assert (iri, RDF.type, class_iri(rtype.name)) in triples
        seen.add(rtype.name)
    assert {"programme", "project", "organisation", "partnership", "source"} <= seen
