"""The message catalogue, locale formats and place names (etclod.i18n, etclod.places), and
every page type in both languages with its language switch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from etclod import i18n, places
from etclod.api.app import create_app

PACKAGE = Path(i18n.__file__).parent
NBSP = "\u00a0"


def extracted() -> dict[object, list[str]]:
    """Every message the code and templates ask the catalogue for (as babel extracts them)."""
    found: dict[object, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, msg, _, _ in extract_from_file("python", str(path), keywords={"N_": None, "tr": (2,), "ntr": (2, 3)}):
            found.setdefault(msg, []).append(f"{path.name}:{line}")
    for path in sorted((PACKAGE / "templates").glob("*.html")):
        for line, msg, _, _ in extract_from_file("jinja2.ext:babel_extract", str(path), keywords={"_": None, "n_": (1, 2)},
                                                 options={"trim_blocks": "true", "lstrip_blocks": "true"}):
            found.setdefault(msg, []).append(f"{path.name}:{line}")
    return found


def test_every_message_has_a_latvian_translation_with_every_plural_form() -> None:
    with (PACKAGE / "locale" / "lv" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="lv")
    assert catalog.num_plurals == 3
    singular = {m.id: m.string for m in catalog if m.id and not isinstance(m.id, tuple)}
    plural = {m.id: m.string for m in catalog if isinstance(m.id, tuple)}
    plural_words = {word for pair in plural for word in pair}
    messages = extracted()
    assert len(messages) > 150
    missing = []
    for msg, where in messages.items():
        if isinstance(msg, tuple):
            forms = plural.get(msg)
            if not forms or not all(forms):
                missing.append((msg, where))
        elif not singular.get(msg) and msg not in plural_words:
            missing.append((msg, where))
    assert not missing, missing


def test_plural_forms_follow_the_language() -> None:
    assert i18n.ntr("en", "%(n)s project", "%(n)s projects", 1) == "1 project"
    assert i18n.ntr("en", "%(n)s project", "%(n)s projects", 2) == "2 projects"
    latvian = {n: i18n.ntr("lv", "%(n)s project", "%(n)s projects", n) for n in (0, 1, 2, 11, 21, 22)}
    assert latvian == {0: "0 projektu", 1: "1 projekts", 2: "2 projekti", 11: "11 projektu", 21: "21 projekts",
                       22: "22 projekti"}


def test_numbers_amounts_and_dates_by_locale() -> None:
    plain = lambda text: text.replace(NBSP, " ").replace("\u202f", " ")  # noqa: E731
    assert plain(i18n.format_money("4860664.11", "lv")) == "4 860 664,11 €"
    assert i18n.format_money("4860664.11", "en") == "€4,860,664.11"
    assert plain(i18n.format_money("250000", "lv")) == "250 000,00 €"  # cents kept
    assert i18n.format_money("250000", "en") == "€250,000.00"
    assert i18n.format_date("2018-01-25", "lv") == "25.01.2018."
    assert i18n.format_date("2018-01-25", "en") == "25 January 2018"
    assert i18n.format_date("2016-03", "en") == "March 2016"  # a month stays a month: no invented day
    assert i18n.format_date("2016-03", "lv") == "2016. gada marts"
    assert plain(i18n.format_number("1234567.5", "lv")) == "1 234 567,5"
    assert i18n.format_number("70", "en") == "70"


def test_places_by_name_in_both_languages() -> None:
    assert places.country_name("LVA", "lv") == "Latvija" and places.country_name("LVA", "en") == "Latvia"
    assert places.country_name("LTU", "lv") == "Lietuva" and places.country_name("FIN", "lv") == "Somija"
    assert places.country_name("XXX", "en") is None
    table = places.nuts_table()
    for country in ("DK", "EE", "FI", "LT", "LV", "SE"):  # the Baltic and Nordic countries, every level
        codes = [code for code in table if code.startswith(country)]
        assert {len(code) for code in codes} == {3, 4, 5}, country
    facts = next((p / "shared" / "reference" / "etc-facts.md" for p in Path(__file__).resolve().parents
                  if (p / "shared" / "reference" / "etc-facts.md").is_file()), None)
    if facts is not None:  # the verified Latvian NUTS-3 names agree with the shipped table
        rows = re.findall(r"^\| (LV\d{3}) \| ([^|]+?) \|", facts.read_text("utf-8"), flags=re.M)
        assert rows and all(places.nuts_name(code) == name for code, name in rows)
    assert places.place_label("http://data.europa.eu/nuts/code/LV003", "en") == "Kurzeme"


PAGES = ["/", "/id/project/", "/id/organisation/?country=LVA", "/id/project/sempre", "/id/programme/2014TC16M5TN001",
         "/id/organisation/liepajas-diakonijas-centrs", "/id/person/diana-jakaite", "/id/event/seminar-2018-01-25",
         "/id/theme/seniors-disability-inclusion", "/search?q=sempre", "/sparql", "/catalog", "/releases",
         "/validation", "/def", "/graph/varam-2018-01-30", "/no/such/page"]


@pytest.fixture(scope="module")
def client(seed_release):
    settings, _ = seed_release
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.mark.parametrize("path", PAGES)
def test_every_page_type_in_both_languages_with_the_switch(client, path) -> None:
    for lang, other, other_name in (("lv", "en", "English"), ("en", "lv", "Latviski")):
        page = client.get(path, params={"lang": lang}, headers={"Accept": "text/html"})
        client.cookies.clear()
        assert page.status_code == (404 if path.startswith("/no/") else 200), page.text[:300]
        assert page.headers["content-type"].startswith("text/html")
        assert f'<html lang="{lang}">' in page.text
        assert re.search(rf'<a href="[^"]*lang={other}" hreflang="{other}" lang="{other}">{other_name}</a>', page.text)
        assert 'role="search"' in page.text and 'aria-label="' in page.text  # navigation and search on every page
        if path != "/":
            assert f'aria-label="{"Navigācijas ceļš" if lang == "lv" else "Breadcrumbs"}"' in page.text, path


def test_not_found_page_in_the_readers_language_links_pages_that_exist(client) -> None:
    assert client.get("/dumps/", follow_redirects=False).headers["location"] == "/catalog"  # no dead end
    page = client.get("/dumps/nothing", headers={"Accept": "text/html", "Accept-Language": "lv"})
    assert page.status_code == 404 and "Lapa nav atrasta" in page.text and '<html lang="lv">' in page.text
    for href in set(re.findall(r'<a href="(/[^"?#]*)', page.text)) - {"/dumps/nothing"}:  # but the switch
        assert client.get(href, headers={"Accept": "text/html"}).status_code == 200, href


def test_catalogue_releases_and_validation_are_pages_for_browsers_and_data_for_programs(client) -> None:
    for path, media in (("/catalog", "text/turtle"), ("/releases", "application/json"), ("/validation", "text/turtle")):
        browser = client.get(path, headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
        assert browser.headers["content-type"].startswith("text/html"), path
        program = client.get(path, headers={"Accept": media})
        assert program.headers["content-type"].startswith(media), path


def test_docs_and_redoc_come_from_the_package(client) -> None:
    for path in ("/docs", "/redoc"):
        page = client.get(path).text
        scripts = re.findall(r'<script[^>]+src="([^"]+)"', page) + re.findall(r'<link[^>]+href="([^"]+)"', page)
        assert scripts and all(s.startswith("/") for s in scripts), scripts
        for src in scripts:
            assert client.get(src).status_code == 200, src


def test_downloads_by_format_name_the_file_with_its_extension(client) -> None:
    for fmt, ext in (("nt", "nt"), ("ttl", "ttl"), ("jsonld", "jsonld"), ("rdf", "rdf")):
        answer = client.get("/id/project/sempre", params={"format": fmt})
        assert answer.headers["content-disposition"] == f'attachment; filename="project-sempre.{ext}"'


def test_search_finds_project_codes_and_acronyms(client) -> None:
    for q in ("LLI-151", "lli-151", "ADD ME"):
        body = client.get("/search", params={"q": q}, headers={"Accept": "application/json"}).json()
        assert "project/add-me" in [r["id"] for r in body["results"]], q


def test_ontology_page_has_no_empty_descriptions(client) -> None:
    page = client.get("/def", headers={"Accept": "text/html"}).text
    assert ">None<" not in page and "<dd></dd>" not in page


def test_landing_page_links_every_list_with_its_count(client) -> None:
    page = client.get("/", headers={"Accept": "text/html"}).text
    from etclod.recordtypes import TYPES

    for rtype in TYPES:
        listed = client.get(f"/id/{rtype}/", params={"limit": 200}, headers={"Accept": "application/json"})
        if listed.status_code != 200 or not listed.json()["items"]:
            continue
        count = len(listed.json()["items"])
        assert re.search(rf'<a href="/id/{rtype}/">[^<]+</a> <span class="count">{count} ', page), rtype
