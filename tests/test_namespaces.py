"""IRIs: minted in one place, stable keys, Latvian letters transliterated."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from etclod.namespaces import graph_iri, mint, slugify, split_resource_iri


@pytest.mark.parametrize("text, slug", [
    ("Liepājas Diakonijas centrs", "liepajas-diakonijas-centrs"),
    ("Apes novada senioru radošā apvienība „Lapsenes”", "apes-novada-senioru-radosa-apvieniba-lapsenes"),
    ("Ķekava Ģērbšanās Čiekuri Žūžo Ņ Ļ", "kekava-gerbsanas-ciekuri-zuzo-n-l"),
    ("Šiauliai Ąžuolas", "siauliai-azuolas"), ("Tõrva Ülemiste", "torva-ulemiste"),
    ("Malmö Øresund Straße", "malmo-oresund-strasse"), ("ADD ME", "add-me"),
])
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


@given(st.text())
def test_slugs_are_safe_iri_keys(text: str) -> None:
    slug = slugify(text)
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in slug)
    assert not slug.startswith("-") and not slug.endswith("-")
    assert slugify(slug) == slug


def test_mint_and_split_round_trip() -> None:
    iri = mint("https://data.example.lv/", "organisation", "varam")
    assert str(iri) == "https://data.example.lv/id/organisation/varam"
    assert split_resource_iri("https://data.example.lv/", str(iri)) == ("organisation", "varam")
    assert split_resource_iri("https://data.example.lv/", f"{iri}#address") == ("organisation", "varam")
    assert split_resource_iri("https://data.example.lv/", "http://other.org/id/x/y") is None
    assert str(graph_iri("http://h/", "src")) == "http://h/graph/src"
    with pytest.raises(ValueError):
        mint("http://h/", "planet", "x")
