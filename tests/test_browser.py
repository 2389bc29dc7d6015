"""A person in a real browser (headless Debian Chromium, driven by Playwright): landing page,
programme, project and organisation pages, the language switch, a search typed without
diacritics, and an example query in YASGUI. Screenshots of every step go to the test's
temporary folder."""

from __future__ import annotations

import shutil

import pytest

from etclod.api.app import create_app

from conftest import LiveServer

playwright = pytest.importorskip("playwright.sync_api", reason="playwright (the test extras) is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: .ci/run installs Debian's chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def site(served):
    """The seed release served from each store: the pages must not care which."""
    live = LiveServer(create_app(served))
    yield live.url
    live.stop()


@pytest.fixture
def page(tmp_path):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(locale="en-GB", viewport={"width": 1200, "height": 900})
        tab = context.new_page()
        shots = []

        def shot(name: str) -> None:
            path = tmp_path / f"{len(shots) + 1:02d}-{name}.png"
            tab.screenshot(path=str(path), full_page=True)
            shots.append(path)

        tab.shot = shot  # type: ignore[attr-defined]
        yield tab
        browser.close()
        assert all(p.stat().st_size > 1000 for p in shots)


def test_from_the_landing_page_to_project_partners_and_programme(site, page) -> None:
    page.goto(site + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("figure.chart").count() == 4
    page.shot("landing")
    page.click("text=The seminar of 25 January 2018")
    assert "Strengthening socially inclusive communities" in page.inner_text("h1")
    page.shot("seminar")
    page.click("a:has-text('SEMPRE')")
    assert page.inner_text("h1") == "SEMPRE"
    assert "University of Latvia" in page.inner_text("table.list")
    page.shot("project")
    page.click("table.list >> text=Liepāja Diaconia Centre")
    assert page.inner_text("h1") == "Liepāja Diaconia Centre"
    page.shot("organisation")
    page.click("a:has-text('Latviski')")
    assert page.locator("html").get_attribute("lang") == "lv"
    assert page.inner_text("h1") == "Liepājas Diakonijas centrs"
    page.shot("organisation-lv")
    page.click("table.list >> text=SEMPRE")
    page.click("a:has-text('Interreg Baltijas jūras reģiona programma')")
    assert page.inner_text("h1") == "Interreg Baltijas jūras reģiona programma 2014.–2020. gadam"
    assert "SEMPRE" in page.inner_text("table.list")
    page.shot("programme-lv")


def test_search_without_diacritics(site, page) -> None:
    page.goto(site + "/")
    page.fill("#quick-q", "liepajas diakonijas")
    page.press("#quick-q", "Enter")
    page.wait_for_selector("ol.results")
    # typed in Latvian without diacritics, found and shown by its name in the page's language
    assert "Liepāja Diaconia Centre" in page.inner_text("ol.results")
    page.shot("search")
    page.click("ol.results >> text=Liepāja Diaconia Centre")
    assert page.inner_text("h1") == "Liepāja Diaconia Centre"


def test_example_query_in_yasgui(site, page) -> None:
    page.goto(site + "/sparql")
    page.wait_for_selector(".yasqe .CodeMirror")
    page.shot("yasgui")
    page.click("a.example >> nth=0")
    page.wait_for_function("document.querySelector('.yasr') && document.querySelector('.yasr').innerText.includes('2014TC16')",
                           timeout=20000)
    assert "2014TC16" in page.inner_text(".yasr")
    page.shot("yasgui-results")
