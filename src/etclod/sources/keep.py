"""Source layer: keep.eu project JSON (one project as /api/project/<id>/ serves it, or a list)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from etclod.namespaces import slugify
from etclod.places import country_code, name_language
from etclod.sources import (Imported, RowError, amount, date, organisation_id, rate,
                            source_record)

ROLES = {"lead partner": "lead-partner", "lead_partner": "lead-partner", "lp": "lead-partner",
         "partner": "partner", "pp": "partner", "project partner": "partner"}


def partner_id(partner: dict[str, Any], country: str | None, where: str = "") -> str:
    """One organisation, one id: the PIC where there is one, else name, country and town."""
    if partner.get("pic"):
        return f"pic-{slugify(str(partner['pic']))}"
    return organisation_id(partner.get("name") or "", country, partner.get("town"), where)


def _translations(project: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    titles: dict[str, str] = {}
    summaries: dict[str, str] = {}
    raw = project.get("translations") or []
    items = raw.items() if isinstance(raw, dict) else ((t.get("language"), t) for t in raw if isinstance(t, dict))
    for lang, t in items:
        lang = (lang or "en").lower()[:2]
        if isinstance(t, dict):
            if t.get("title"):
                titles[lang] = t["title"]
            summary = t.get("summary") or t.get("description")
            if summary:
                summaries[lang] = summary
    if project.get("title") and "en" not in titles:
        titles["en"] = project["title"]
    return titles, summaries


def import_project(project: dict[str, Any], out: Imported, file: str, index: int,
                   known: frozenset[tuple[str, str]] = frozenset()) -> None:
    """One keep.eu project: written whole (with its source, programme and themes) or, when a
    project field cannot be read, not at all; a partner that cannot be read is left out alone.
    ``known`` are the records already in the data folder (a programme the steward added)."""
    where = f"project #{index}"
    pid = project.get("project_id") or project.get("id")
    if pid is None:
        out.errors.append(RowError(file, index, f"{where} not imported: it has no project_id", "project_id"))
        return
    unit = Imported()
    source_id = f"keep-eu-project-{pid}"
    programme = project.get("programme") or {}
    cci = programme.get("cci") or programme.get("cci_code")
    programme_id = f"keep-programme-{programme.get('id')}" if programme.get("id") is not None else None
    if programme_id is None:
        out.errors.append(RowError(file, index, f"project {pid} not imported: it names no programme", "programme"))
        return
    if cci:
        unit.add({"type": "programme", "id": programme_id, "cci": cci,
                  "title": {"en": programme.get("title") or f"Programme {cci}"},
                  "period": programme.get("period") or None, "sources": [source_id]})
    elif ("programme", programme_id) not in known:
        out.errors.append(RowError(file, index, f"project {pid} not imported: its programme {programme.get('id')} "
                                   f"({programme.get('title')}) has no CCI code in the file; add a programme record "
                                   f"with id {programme_id!r} and its cci to the data folder and import again",
                                   "programme.cci"))
        return
    titles, summaries = _translations(project)
    record: dict[str, Any] = {"type": "project", "id": f"keep-{pid}", "keep_id": int(pid),
                              "acronym": project.get("acronym") or project.get("name") or f"keep-{pid}",
                              "programme": programme_id, "sources": [source_id]}
    try:
        record.update({k: v for k, v in (("total_budget", amount(project.get("total_budget"))),
                                         ("eu_funding", amount(project.get("eu_funding"))),
                                         ("cofinancing_rate", rate(project.get("union_co_financing_rate"))),
                                         ("start", date(project.get("start_date"))),
                                         ("end", date(project.get("end_date")))) if v is not None})
    except ValueError as exc:
        out.errors.append(RowError(file, index, f"project {pid} not imported: {exc}"))
        return
    if project.get("status"):
        record["status"] = str(project["status"])
    if titles:
        record["title"] = titles
    if summaries:
        record["description"] = summaries
    if project.get("priority"):
        priority = project["priority"]
        record["priority"] = priority.get("title") if isinstance(priority, dict) else str(priority)
    themes = []
    for theme in project.get("themes") or []:
        label = theme.get("title") if isinstance(theme, dict) else str(theme)
        if label:
            theme_id = f"keep-theme-{slugify(label)}"
            unit.add({"type": "theme", "id": theme_id, "label": {"en": label}, "sources": [source_id]})
            themes.append(theme_id)
    if themes:
        record["themes"] = themes
    unit.add(source_record(source_id, f"keep.eu: project {pid}", f"https://keep.eu/api/project/{pid}/"))
    unit.add({k: v for k, v in record.items() if v is not None})
    out.absorb(unit)
    for n, partner in enumerate(project.get("partners") or [], start=1):
        part = Imported()
        _partner(partner, pid, n, source_id, part, file, index)
        out.absorb(part)


def _partner(partner: dict[str, Any], pid: Any, n: int, source_id: str, out: Imported, file: str, index: int) -> None:
    what = f"partner {n} of project {pid} not imported"
    name = partner.get("name") or partner.get("name_en")
    if not name:
        out.errors.append(RowError(file, index, f"{what}: it has no name", f"partners[{n - 1}].name"))
        return
    country = country_code(partner.get("country"))
    if partner.get("country") and country is None:
        out.errors.append(RowError(file, index, f"{what}: unknown country {partner.get('country')!r} (use an ISO "
                                   "3166 code, or the country's name in English or its own language)",
                                   f"partners[{n - 1}].country", partner.get("country")))
    org_id = partner_id(partner, country, f"keep-{pid}-{n}")
    names = {name_language(country): partner["name"]} if partner.get("name") else {}
    if partner.get("name_en") and partner.get("name_en") != partner.get("name"):
        names.setdefault("en", partner["name_en"])
    org: dict[str, Any] = {"type": "organisation", "id": org_id, "name": names, "sources": [source_id]}
    for key, value in (("country", country), ("town", partner.get("town")), ("postcode", partner.get("postcode")),
                       ("pic", str(partner["pic"]) if partner.get("pic") else None),
                       ("kind", partner.get("organisation_type")),
                       ("public", (partner.get("legal_status") or "").lower().startswith("public") or None)):
        if value:
            org[key] = value
    out.add(org)
    role = ROLES.get(str(partner.get("type") or "partner").strip().lower())
    if role is None:
        out.errors.append(RowError(file, index, f"{what}: unknown role {partner.get('type')!r} (lead partner or "
                                   "partner)", f"partners[{n - 1}].type", partner.get("type")))
        role = "partner"
    membership: dict[str, Any] = {"type": "partnership", "id": f"keep-{pid}-{n}", "project": f"keep-{pid}",
                                  "organisation": org_id, "role": role, "sources": [source_id]}
    for field_name, key in (("total_budget", "budget"), ("co_financing_eur", "eu_funding")):
        try:
            value = amount(partner.get(field_name))
        except ValueError as exc:
            out.errors.append(RowError(file, index, f"{what}: {exc}", f"partners[{n - 1}].{field_name}"))
            continue
        if value is not None:
            membership[key] = value
    out.add(membership)


def import_files(paths: list[Path], known: frozenset[tuple[str, str]] = frozenset()) -> Imported:
    """Every project of keep.eu JSON files; ``known``: the records already in the data folder."""
    out = Imported()
    for path in paths:
        try:
            document = json.loads(path.read_bytes().decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            out.errors.append(RowError(path.name, None, f"not imported: not keep.eu JSON: {exc}"))
            continue
        projects = document if isinstance(document, list) else document.get("results", [document]) \
            if isinstance(document, dict) else None
        if not isinstance(projects, list):
            out.errors.append(RowError(path.name, None, "not imported: expected a project object or a list of them"))
            continue
        for index, project in enumerate(projects, start=1):
            if not isinstance(project, dict):
                out.errors.append(RowError(path.name, index, f"project #{index} not imported: it is not an object"))
                continue
            import_project(project, out, path.name, index, known)
    return out
