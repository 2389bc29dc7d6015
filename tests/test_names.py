"""The one name normalisation: every script transliterated, and today's slugs unchanged."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from etclod import records as rec
from etclod.names import normalise_name
from etclod.names import fold, slugify, words
from etclod.names import tokens
from etclod.reconcile import Index
from etclod.search import match_expression
from etclod.synth import generate

from conftest import SEED_DATA

FIXTURES = Path(__file__).parent / "fixtures"
_OLD_TABLE = str.maketrans({"ß": "ss", "ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "đ": "d", "Đ": "d",
                            "ł": "l", "Ł": "l", "þ": "th", "Þ": "th", "ı": "i", "œ": "oe", "Œ": "oe"})


def old_slugify(text: str) -> str:
    """The slug rule before every script was transliterated (kept here to prove slugs stay)."""
    text = unicodedata.normalize("NFKD", text.translate(_OLD_TABLE))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^A-Za-z0-9]+", "-", text.lower()).strip("-")


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def fixture_strings() -> Iterator[str]:
    for path in sorted(FIXTURES.rglob("*")):
        if path.suffix == ".json":
            yield from strings(json.loads(path.read_text("utf-8-sig")))
        elif path.suffix == ".csv":
            yield from re.split(r"[,;\n]", path.read_text("utf-8-sig"))


def latin(text: str) -> bool:
    """Text in the Latin script only (what the old rule could slug)."""
    return all(not ch.isalpha() or ch.isascii() or "LATIN" in unicodedata.name(ch, "") for ch in text)


@pytest.mark.parametrize("where", ["bundled data", "fixtures", "synth"])
def test_every_slug_of_todays_data_is_unchanged(where: str) -> None:
    if where == "bundled data":
        texts = [s for item in rec.load_records(SEED_DATA).loaded for s in strings(item.raw)]
    elif where == "fixtures":
        texts = list(fixture_strings())
    else:
        texts = [s for records in generate(60, 7).values() for s in strings(records)]
    checked = [t for t in texts if latin(t)]
    assert len(checked) > 100
    changed = {t: (old_slugify(t), slugify(t)) for t in checked if old_slugify(t) != slugify(t)}
    assert not changed


def test_the_bundled_data_keeps_its_iri_keys() -> None:
    for item in rec.load_records(SEED_DATA).loaded:
        expected = old_slugify(item.record.cci).upper() if item.record.type == "programme" \
            else old_slugify(item.record.id) or "-"
        assert rec.record_key(item.record) == expected


@pytest.mark.parametrize(("text", "slug"), [
    ("Псковская область", "pskovskaya-oblast"),                      # Russian
    ("Беларускі дзяржаўны ўніверсітэт", "belaruski-dzyarzhauny-universitet"),  # Belarusian
    ("Θεσσαλονίκη", "thessaloniki"),                                 # Greek
    ("Łódź", "lodz"), ("Ærø Kommune", "aero-kommune"),               # Polish, Danish
    ("Šiaulių universitetas", "siauliu-universitetas"), ("Võru vald", "voru-vald"),
    ("Straße", "strasse"), ("Jūrmalas pilsēta", "jurmalas-pilseta"),
])
def test_every_script_is_transliterated(text: str, slug: str) -> None:
    assert slugify(text) == slug
    assert slugify(text) == slugify(unicodedata.normalize("NFD", text))


def test_one_normalisation_for_ids_merging_search_and_reconciliation() -> None:
    assert tokens("Łódź") == ["lodz"] and tokens("Ærø") == ["aero"]
    assert normalise_name("Псковская область") == normalise_name("Pskovskaya oblast")
    assert normalise_name("Псковская область") != normalise_name("Администрация города Пскова")
    assert words("„Łódzki” Uniwersytet") == ["lodzki", "uniwersytet"] == fold("Łódzki Uniwersytet").split()
    assert match_expression("Łódź") == '("Łódź"* OR "lodz"*)'
    index = Index([{"id": "organisation/a", "type": "organisation", "names": ["Псковский государственный университет"]},
                   {"id": "organisation/b", "type": "organisation", "names": ["Администрация города Пскова"]}])
    found = index.search("Pskovskiy gosudarstvennyy universitet", "organisation")
    assert found[0].entity["id"] == "organisation/a" and found[0].match


def test_a_name_of_no_letters_normalises_to_nothing() -> None:
    assert normalise_name("SIA") == normalise_name("—") == normalise_name("„ ”") == ""
