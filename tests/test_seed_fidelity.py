"""The seed data says what the press release says, sentence by sentence, and nothing it does not:
checked against the seed text itself (``shared/seeds/000_1732673a7ca9f329.txt``)."""

from __future__ import annotations

import gzip
import re
import pytest
import rdflib
from rdflib import URIRef
from rdflib.namespace import RDF

from conftest import BASE, shared_reference

SEED_NAME = "000_1732673a7ca9f329.txt"
ETC = rdflib.Namespace("https://w3id.org/etclod/def#")
SCHEMA = rdflib.Namespace("https://schema.org/")
ORG = rdflib.Namespace("http://www.w3.org/ns/org#")


def normal(text: str) -> str:
    """Text compared the way a reader would: quotes, dashes and spaces unified."""
    text = re.sub("[„”“\"]", "", text).replace("–", "-")
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def facts() -> str:
    return shared_reference("etc-facts.md").read_text("utf-8")


@pytest.fixture(scope="module")
def raw_seed() -> str:
    path = shared_reference("etc-facts.md").parent.parent / "seeds" / SEED_NAME
    if not path.is_file():
        pytest.skip(f"the seed text is not here ({path}); it sits beside reference/ in the shared folder")
    return path.read_text("utf-8")


@pytest.fixture(scope="module")
def seed(raw_seed) -> str:
    return normal(raw_seed)


@pytest.fixture(scope="module")
def graph(seed_release) -> rdflib.Graph:
    _, result = seed_release
    g = rdflib.Graph()
    with gzip.open(result.path / "dumps" / "etclod.nt.gz", "rb") as handle:
        g.parse(data=handle.read(), format="nt")
    return g


def iri(kind: str, key: str) -> URIRef:
    return URIRef(f"{BASE}id/{kind}/{key}")


def test_both_quotations_are_published_with_who_said_them(seed, graph) -> None:
    seminar = iri("event", "seminar-2018-01-25")
    quotes = list(graph.objects(seminar, ETC.quotation))
    assert len(quotes) == 2
    speakers = set()
    for q in quotes:
        assert (q, RDF.type, SCHEMA.Quotation) in graph
        latvian = next(str(t) for t in graph.objects(q, SCHEMA.text) if t.language == "lv")
        assert normal(latvian).rstrip(".") in seed  # the words as the release quotes them
        assert any(t.language == "en" for t in graph.objects(q, SCHEMA.text))
        speaker = graph.value(q, SCHEMA.spokenByCharacter)
        name = str(graph.value(speaker, rdflib.namespace.FOAF.name))
        # who said it: the name stands next to the quotation in the release
        position, at = seed.index(normal(latvian).rstrip(".")[:40]), seed.index(name)
        assert abs(position - at) < 400, (name, latvian[:40])
        speakers.add(name)
    assert speakers == {"Anita Malinovska", "Aivars Kaupužs"}


def test_the_contact_details_the_release_gives(seed, graph) -> None:
    press = iri("organisation", "varam-public-relations")
    assert "Tālr. 67026418" in seed and str(graph.value(press, SCHEMA.telephone)) == "67026418"
    assert "prese@varam.gov.lv" in seed and (press, rdflib.namespace.FOAF.mbox, URIRef("mailto:prese@varam.gov.lv")) in graph
    varam = iri("organisation", "varam")
    assert "+371 66016740" in seed and str(graph.value(varam, SCHEMA.telephone)) == "+371 66016740"
    assert "+371 67820442" in seed and str(graph.value(varam, SCHEMA.faxNumber)) == "+371 67820442"
    kids = iri("project", "empower-kids")
    contact = graph.value(kids, SCHEMA.contactPoint)
    assert "raimonda.daksa@jurmala.lv" in seed and str(graph.value(contact, SCHEMA.email)) == "raimonda.daksa@jurmala.lv"
    assert graph.value(contact, ETC.contactOrganisation) == iri("organisation", "jurmalas-labklajibas-parvalde")


def test_links_the_release_states(seed, raw_seed, graph) -> None:
    assert "Active Age” dalībnieki Apes novada senioru radošā apvienība „Lapsenes" in raw_seed
    assert (iri("project", "active-age"), ETC.participatingOrganisation, iri("organisation", "lapsenes")) in graph
    assert "Jūrmalas pilsētā izveidota" in seed
    assert "Jūrmala" in {str(p) for p in graph.objects(iri("project", "empower-kids"), ETC.place)}
    results = " ".join(str(r) for r in graph.objects(iri("project", "vital-cities"), ETC.results) if r.language == "lv")
    for place in ("Beberliņos", "Karostā"):
        assert place in seed and place in results
    description = " ".join(str(d) for d in graph.objects(iri("event", "seminar-2018-01-25"), rdflib.namespace.DCTERMS.description))
    assert "no visiem Latvijas reģioniem" in seed and "no visiem Latvijas reģioniem" in description
    assert "from all regions of Latvia" in description


def test_nothing_the_release_does_not_say(seed, facts, graph) -> None:
    seminar = iri("event", "seminar-2018-01-25")
    participants = set(graph.objects(seminar, ETC.participatingOrganisation))
    # the release names planning regions only as "plānošanas reģionu ... pārstāvji", none by name
    assert "plānošanas reģionu un pašvaldību pārstāvji" in seed
    for region in ("Kurzemes", "Latgales", "Vidzemes", "Zemgales"):
        assert f"{region} plānošanas" not in seed
    assert not {p for p in participants if "planosanas" in str(p)}
    # the Jūrmala welfare board is where to ask about the game: a contact, not a participant
    assert iri("organisation", "jurmalas-labklajibas-parvalde") not in participants
    # no partner role the sources do not state: only Vital Cities' Liepāja (etc-facts.md) has one
    roles = {str(m).rsplit("/", 1)[-1]: graph.value(m, ORG.role) for m in graph.subjects(RDF.type, ORG.Membership)}
    assert {m for m, role in roles.items() if role is not None} == {"vital-cities-liepaja"}
    assert "Liepāja is a partner" in facts
    # a project's themes are an inference from its description: each says so
    for project in graph.subjects(RDF.type, ETC.Project):
        if any(graph.objects(project, ETC.theme)):
            notes = [str(n) for n in graph.objects(project, ETC.themesNote)]
            assert any("inferred" in n for n in notes) and any("secinātas" in n for n in notes), project


def test_translations(graph) -> None:
    vital = " ".join(str(d) for d in graph.objects(iri("project", "vital-cities"), rdflib.namespace.DCTERMS.description)
                     if d.language == "en")
    assert "integrated development plan" in vital and "action plan" not in vital
    facts = [str(t) for t in graph.objects(iri("source", "etclod-verified-facts"), rdflib.namespace.DCTERMS.title)
             if t.language == "lv"]
    assert facts and not any("sēkl" in t for t in facts)
