"""Every page type in a real browser (headless Debian Chromium, driven by Playwright), in
Latvian and English, on a desktop (1280 px) and a phone (390 px, and 320 px for the width):
no horizontal scrolling, no
CURIE, IRI, datatype suffix or record pointer in text outside links (the query page aside),
``lang`` right, numbers and dates in the locale's form, and no serious or critical
accessibility violation as axe-core (the npm package) finds them. Screenshots of every page go
to the test's temporary folder."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from etclod.api.app import create_app
from etclod.namespaces import PREFIXES

from conftest import LiveServer

playwright = pytest.importorskip("playwright.sync_api", reason="playwright (the test extras) is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: .ci/run installs Debian's chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[1]


def axe_script() -> Path | None:
    """axe.min.js of the npm package axe-core: where ``ETCLOD_AXE_CORE`` points, or where
    ``.ci/run`` installs it (``.ci/node/node_modules``), or a ``node_modules`` above the repo."""
    candidates = [Path(os.environ["ETCLOD_AXE_CORE"])] if os.environ.get("ETCLOD_AXE_CORE") else []
    candidates += [ROOT / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"]
    candidates += [p / "node_modules" / "axe-core" / "axe.min.js" for p in ROOT.parents]
    return next((c for c in candidates if c.is_file()), None)


PAGES = {  # page type: address
    "home": "/", "list": "/id/project/", "list-filtered": "/id/organisation/?region=LV003",
    "project": "/id/project/sempre", "programme": "/id/programme/2014TC16M5TN001",
    "organisation": "/id/organisation/liepajas-diakonijas-centrs", "person": "/id/person/diana-jakaite",
    "event": "/id/event/seminar-2018-01-25", "theme": "/id/theme/seniors-disability-inclusion",
    "partnership": "/id/partnership/sempre-latvijas-universitate", "source": "/id/source/varam-2018-01-30",
    "search": "/search?q=liepajas", "query": "/sparql", "catalogue": "/catalog", "releases": "/releases",
    "validation": "/validation", "ontology": "/def", "graph": "/graph/varam-2018-01-30",
    "not-found": "/no/such/page",
}
EXPECTED = {  # page type -> what its numbers and dates look like in each language
    "project": {"lv": ["4 860 664,11 €", "3 827 755,48 €", "2016. gada marts"],
                "en": ["€4,860,664.11", "€3,827,755.48", "March 2016"]},
    "event": {"lv": ["25.01.2018."], "en": ["25 January 2018"]},
}
CURIE = re.compile(r"\b(?:%s):[A-Za-z_]" % "|".join(sorted(PREFIXES, key=len, reverse=True)))
IRI = re.compile(r"\b(?:https?|urn|mailto):\S")
LEAKS = [CURIE, IRI, re.compile(r"\^\^|\bgYearMonth\b|\bgYear\b|\.ya?ml#")]
TEXT_OUTSIDE_LINKS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const parent = node.parentElement;
    if (!parent || parent.closest('a, script, style, noscript, textarea, option')) continue;
    const style = getComputedStyle(parent);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    if (node.textContent.trim()) out.push(node.textContent.trim());
  }
  return out;
}"""


@pytest.fixture(scope="module")
def site(seed_release):
    settings, _ = seed_release
    live = LiveServer(create_app(settings))
    yield live.url
    live.stop()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield instance
        instance.close()


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["lv", "en"])
def test_every_page_type_reads_well_in_both_languages_on_any_screen(site, browser, tmp_path, lang, width) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB" if lang == "en" else "lv-LV")
    tab = context.new_page()
    requests: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    problems: list[str] = []
    try:
        tab.goto(f"{site}/?lang={lang}")  # the switch's cookie then holds on every page
        for name, path in PAGES.items():
            tab.goto(site + path)
            tab.wait_for_load_state("load")
            if name == "query":
                tab.wait_for_selector(".yasqe .CodeMirror")
            tab.screenshot(path=str(tmp_path / f"{name}-{lang}-{width}.png"), full_page=True)
            if tab.get_attribute("html", "lang") != lang:
                problems.append(f"{name}: lang={tab.get_attribute('html', 'lang')}")
            for screen in (width, 320) if width < 1000 else (width,):  # the narrowest phones too
                tab.set_viewport_size({"width": screen, "height": 900})
                overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                if overflow > 0:
                    problems.append(f"{name}: {overflow} px wider than the {screen} px screen")
            tab.set_viewport_size({"width": width, "height": 900})
            if name != "query":
                for text in tab.evaluate(TEXT_OUTSIDE_LINKS):
                    if any(p.search(text) for p in LEAKS):
                        problems.append(f"{name}: identifier in text {text[:120]!r}")
            body = tab.inner_text("body").replace("\u00a0", " ").replace("\u202f", " ")
            for expected in EXPECTED.get(name, {}).get(lang, []):
                if expected not in body:
                    problems.append(f"{name}: {expected!r} not on the page")
            switch = tab.locator(f"header .switch a[hreflang={'en' if lang == 'lv' else 'lv'}]")
            if switch.count() != 1 or not switch.is_visible():
                problems.append(f"{name}: no visible language switch")
    finally:
        context.close()
    assert not problems, "\n".join(problems)
    assert all(url.startswith(site) or url.startswith("data:") for url in requests), \
        [u for u in requests if not u.startswith(site)]
    assert len(list(tmp_path.glob("*.png"))) == len(PAGES)


@pytest.mark.parametrize("lang", ["lv", "en"])
def test_no_serious_accessibility_violation_on_any_page_type(site, browser, lang) -> None:
    script = axe_script()
    if script is None:
        pytest.skip("axe-core is not installed: `.ci/run` runs `npm install --prefix .ci/node axe-core`, "
                    "or point ETCLOD_AXE_CORE at axe.min.js")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    found = []
    try:
        tab.goto(f"{site}/?lang={lang}")
        for name, path in PAGES.items():
            for scheme in ("light", "dark") if name in ("home", "query", "project") else ("light",):
                tab.emulate_media(color_scheme=scheme)
                tab.goto(site + path)
                if name == "query":
                    tab.wait_for_selector(".yasqe .CodeMirror")
                tab.add_script_tag(path=str(script))
                result = tab.evaluate("axe.run(document, {resultTypes: ['violations']})")
                for violation in result["violations"]:
                    if violation["impact"] in ("serious", "critical"):
                        where = [n["target"] for n in violation["nodes"][:3]]
                        found.append(f"{name} ({scheme}): {violation['id']} {violation['help']} at {where}")
    finally:
        context.close()
    assert not found, "\n".join(found)


def test_docs_and_redoc_work_without_the_internet(site, browser) -> None:
    """Swagger UI and ReDoc come from the package; the one outside address ReDoc's bundle
    names (its logo) is refused by the page's Content-Security-Policy before any request."""
    context = browser.new_context()
    tab = context.new_page()
    outside: dict[str, str | None] = {}
    local = (site, "data:", "blob:")
    tab.on("request", lambda r: outside.setdefault(r.url, None) if not r.url.startswith(local) else None)
    tab.on("requestfailed", lambda r: outside.__setitem__(r.url, r.failure) if r.url in outside else None)
    try:
        tab.goto(site + "/docs")
        tab.wait_for_selector(".swagger-ui .info .title", timeout=20000)
        assert "etclod" in tab.inner_text(".swagger-ui .info .title")
        assert not outside, outside
        tab.goto(site + "/redoc")
        tab.wait_for_selector("h1", timeout=20000)
        assert "etclod" in tab.inner_text("h1")
        tab.wait_for_load_state("networkidle")
    finally:
        context.close()
    assert all(failure and "csp" in failure.lower() for failure in outside.values()), outside


def test_query_page_shows_typed_values_as_values(site, browser) -> None:
    """A count is a number (no ``"1"^^<...#integer>``), a text keeps its language tag."""
    context = browser.new_context()
    tab = context.new_page()
    warnings: list[str] = []
    tab.on("console", lambda m: warnings.append(m.text) if m.type in ("warning", "error") else None)
    try:
        tab.goto(site + "/sparql?lang=en")
        tab.wait_for_selector(".yasqe .CodeMirror")
        tab.click("a.example >> nth=0")  # EU funding per programme: a title @en, counts and sums
        tab.wait_for_function("document.querySelector('.yasr tbody td') !== null", timeout=20000)
        table = tab.inner_text(".yasr table")
        assert "^^" not in table and "XMLSchema" not in table
        assert "@en" in table and "3827755.48" in table
        tab.emulate_media(media="print")
        assert not tab.locator("header nav").is_visible()
    finally:
        context.close()
    assert not [w for w in warnings if "autocompleter" in w.lower()], warnings
