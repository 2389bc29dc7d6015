"""Synthetic data layer: keep.eu-sized record sets, deterministic for a seed.

``etclod synth --projects N --out DIR`` writes JSON record files shaped like the real ETC
world: 80 programmes, about five partners per project (the first the lead partner), shared
organisations (about two per project), names with Latvian, Lithuanian, Estonian, Finnish and
Swedish letters, budgets, dates and themes.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

SOURCE_ID = "synthetic-keep-eu"
THEMES = ("children-youth-inclusion", "seniors-disability-inclusion", "healthy-active-lifestyle")
COUNTRIES = {
    "LVA": ("lv", ["Rīga", "Liepāja", "Jūrmala", "Daugavpils", "Jelgava", "Valmiera", "Cēsis", "Ķekava"],
            ["LV003", "LV005", "LV006", "LV007", "LV008", "LV009"], ["SIA", "biedrība", "pašvaldība"],
            ["Kurzemes", "Vidzemes", "Zaļā", "Jūras", "Ziemeļu", "Saules", "Ķiršu", "Ģimeņu", "Bērnu", "Senioru"],
            ["attīstības centrs", "sociālais dienests", "universitāte", "skola", "aģentūra", "fonds"]),
    "LTU": ("lt", ["Vilnius", "Kaunas", "Klaipėda", "Šiauliai", "Panevėžys", "Alytus"],
            ["LT011", "LT021", "LT023", "LT024", "LT025"], ["UAB", "VšĮ", "AB"],
            ["Šiaurės", "Žalioji", "Ąžuolo", "Jūrų", "Saulės", "Vaikų"],
            ["plėtros agentūra", "universitetas", "mokykla", "centras", "savivaldybė"]),
    "EST": ("et", ["Tallinn", "Tartu", "Pärnu", "Narva", "Võru", "Viljandi"],
            ["EE001", "EE004", "EE008", "EE009", "EE00A"], ["OÜ", "AS", "MTÜ"],
            ["Põhja", "Lõuna", "Mere", "Metsa", "Järve", "Küla"],
            ["arenduskeskus", "ülikool", "kool", "sihtasutus", "vallavalitsus"]),
    "FIN": ("fi", ["Helsinki", "Turku", "Tampere", "Oulu", "Jyväskylä", "Mariehamn"],
            ["FI1B1", "FI1C1", "FI197", "FI1D9", "FI200"], ["Oy", "Ry", "Oyj"],
            ["Pohjois", "Etelä", "Järvi", "Metsä", "Meri", "Kylä"],
            ["kehittämiskeskus", "yliopisto", "koulu", "säätiö", "kaupunki"]),
    "SWE": ("sv", ["Stockholm", "Göteborg", "Malmö", "Uppsala", "Västerås", "Örebro"],
            ["SE110", "SE224", "SE232", "SE121", "SE124"], ["AB", "HB", "förening"],
            ["Norra", "Södra", "Skärgårds", "Älv", "Sjö", "Fjäll"],
            ["utvecklingscentrum", "universitet", "skola", "stiftelse", "kommun"]),
}
ENGLISH = ["Social", "Green", "Active", "Inclusive", "Smart", "Blue", "Healthy", "Digital", "Rural", "Urban",
           "Coastal", "Youth", "Senior", "Circular", "Cross-border", "Baltic", "Nordic", "Resilient"]
NOUNS = ["Communities", "Cities", "Skills", "Services", "Futures", "Villages", "Networks", "Solutions",
         "Pathways", "Bridges", "Partnerships", "Hubs", "Labs", "Routes", "Kids", "Ageing"]
LATVIAN = {"Social": "Sociālās", "Green": "Zaļās", "Active": "Aktīvās", "Inclusive": "Iekļaujošās",
           "Smart": "Gudrās", "Blue": "Zilās", "Healthy": "Veselīgās", "Digital": "Digitālās",
           "Rural": "Lauku", "Urban": "Pilsētu", "Coastal": "Piekrastes", "Youth": "Jauniešu",
           "Senior": "Senioru", "Circular": "Aprites", "Cross-border": "Pārrobežu", "Baltic": "Baltijas",
           "Nordic": "Ziemeļvalstu", "Resilient": "Noturīgās"}


def _programmes(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    strands = [("RFCB", "CB", "cross-border (V-A)", 60), ("M5TN", "TN", "transnational (V-B)", 12),
               ("RFIR", "IR", "interregional (C)", 8)]
    for fund, strand, label, count in strands:
        for n in range(1, count + 1):
            cci = f"2014TC16{fund[:2]}{strand}{n:03d}"
            words = rng.sample(ENGLISH, 2)
            out.append({"type": "programme", "id": f"prog-{cci.lower()}", "cci": cci,
                        "title": {"en": f"Interreg {' '.join(words)} Programme {n} 2014-2020",
                                  "lv": f"Interreg {LATVIAN[words[0]]} programma {n} 2014.–2020. gadam"},
                        "period": "2014-2020", "strand": label, "funds": ["ERDF"], "sources": [SOURCE_ID]})
    return out


def _organisation(rng: random.Random, index: int) -> dict[str, Any]:
    country = rng.choice(list(COUNTRIES))
    lang, towns, nuts, forms, adjectives, kinds = COUNTRIES[country]
    town = rng.choice(towns)
    name = f"{rng.choice(adjectives)} {rng.choice(kinds)} {index}"
    form = rng.choice(forms)
    local = f"{form} „{name}”" if country == "LVA" else f"{name} {form}"
    return {"type": "organisation", "id": f"org-{index:06d}", "name": {lang: local},
            "kind": rng.choice(["municipality", "university", "NGO", "school", "agency", "company"]),
            "public": rng.random() < 0.6, "country": country, "nuts": rng.choice(nuts), "town": town,
            "sources": [SOURCE_ID]}


def _amount(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def generate(projects: int, seed: int = 2018, sources_per_project: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Records for ``projects`` projects, the same for the same ``projects`` and ``seed``. With
    ``sources_per_project``, each project and its partnerships are read from a source of their
    own, as the keep.eu importer writes them: one named graph per project."""
    rng = random.Random(seed)
    project_sources: list[dict[str, Any]] = []
    programmes = _programmes(rng)
    organisations = [_organisation(rng, i) for i in range(max(10, projects * 2))]
    project_records, partnerships = [], []
    for index in range(projects):
        words = [rng.choice(ENGLISH), rng.choice(NOUNS)]
        acronym = f"{words[0][:4].upper()}{words[1][:3].upper()}{index}"
        start_year = rng.randrange(2015, 2021)
        start_month = rng.randrange(1, 13)
        months = rng.randrange(12, 48)
        end_total = start_year * 12 + start_month - 1 + months
        total = _amount(rng, 100_000, 5_000_000)
        eu = (total * Decimal("0.85")).quantize(Decimal("0.01"))
        programme = rng.choice(programmes)
        project = {"type": "project", "id": f"p{index:06d}", "acronym": acronym,
                   "title": {"en": f"{' '.join(words)} in the Baltic Sea Region {index}",
                             "lv": f"{LATVIAN[words[0]]} iniciatīvas Baltijas jūras reģionā {index}"},
                   "programme": programme["id"], "start": f"{start_year}-{start_month:02d}-01",
                   "end": f"{end_total // 12}-{end_total % 12 + 1:02d}",
                   "total_budget": str(total), "eu_funding": str(eu),
                   "themes": rng.sample(THEMES, rng.randrange(1, 3)), "keep_id": 100_000 + index,
                   "sources": [SOURCE_ID]}
        if sources_per_project:
            source_id = f"keep-project-{100_000 + index}"
            project_sources.append({"type": "source", "id": source_id, "kind": "web-page",
                                    "title": {"en": f"keep.eu project {100_000 + index}"}})
            project["sources"] = [source_id]
        project_records.append(project)
        partners = rng.sample(organisations, rng.randrange(3, 8))
        shares = [rng.random() + 0.2 for _ in partners]
        for n, (org, share) in enumerate(zip(partners, shares)):
            partnerships.append({
                "type": "partnership", "id": f"p{index:06d}-{n}", "project": project["id"],
                "organisation": org["id"], "role": "lead-partner" if n == 0 else "partner",
                "budget": str((total * Decimal(share / sum(shares))).quantize(Decimal("0.01"))),
                "sources": project["sources"]})
    source = [{"type": "source", "id": SOURCE_ID, "kind": "dataset",
               "title": {"en": f"Synthetic keep.eu-sized data set ({projects} projects, seed {seed})",
                         "lv": f"Sintētiska keep.eu apjoma datu kopa ({projects} projekti)"}}] + project_sources
    return {"sources": source, "programmes": programmes, "organisations": organisations,
            "projects": project_records, "partnerships": partnerships}


def write(out: Path, projects: int, seed: int = 2018, sources_per_project: bool = False) -> dict[str, int]:
    """Write the record files into ``out``; return how many records of each kind."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, records in generate(projects, seed, sources_per_project).items():
        (out / f"{name}.json").write_text(json.dumps(records, ensure_ascii=False, indent=0), "utf-8")
        counts[name] = len(records)
    return counts
