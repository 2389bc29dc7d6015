"""Source layer: a programme's List of Operations (the CSV every programme must publish)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from etclod.namespaces import slugify
from etclod.places import country_code, name_language
from etclod.sources import (Imported, RowError, amount, date, organisation_id,
                            read_csv, source_record)

COLUMNS = {
    "operation_name": ("operation_name", "Operation name", "Name of operation"),
    "priority_axis": ("priority_axis", "Priority axis"),
    "intervention_category": ("intervention_category", "Category of intervention", "Intervention category"),
    "summary": ("summary", "Summary", "Operation summary"),
    "start_date": ("start_date", "Start date", "Operation start date"),
    "end_date": ("end_date", "End date", "Operation end date"),
    "total_eligible_expenditure": ("total_eligible_expenditure", "Total eligible expenditure"),
    "union_cofinancing": ("union_cofinancing", "Union co-financing", "EU co-financing"),
    "beneficiary_name": ("beneficiary_name", "Beneficiary name", "Name of beneficiary"),
    "beneficiary_role": ("beneficiary_role", "Beneficiary role", "Role"),
    "location": ("location", "Location", "Location indicator"),
    "country": ("country", "Country"),
}
ROLES = {"lead partner": "lead-partner", "lead beneficiary": "lead-partner", "lp": "lead-partner",
         "vadošais partneris": "lead-partner", "partner": "partner", "pp": "partner", "partneris": "partner",
         "beneficiary": "partner", "project partner": "partner"}


def _get(row: dict[str, str], field: str) -> str:
    return next((row[n] for n in COLUMNS[field] if row.get(n)), "")


def import_files(paths: list[Path], programme_cci: str | None) -> Imported:
    out = Imported()
    if not programme_cci:
        out.errors.append(RowError(paths[0].name if paths else "-", None,
                                   "a List of Operations belongs to one programme: give its CCI code with --programme"))
        return out
    programme_id = f"cci-{programme_cci.lower()}"
    for path in paths:
        header, rows = read_csv(path)
        if not any(n in header for n in COLUMNS["operation_name"]) or \
                not any(n in header for n in COLUMNS["beneficiary_name"]):
            out.errors.append(RowError(path.name, 1, "not a List of Operations: it needs operation name and "
                                                     "beneficiary name columns"))
            continue
        source_id = f"operations-{slugify(programme_cci)}-{slugify(path.stem)}"
        written = False
        for line, row in rows:
            unit = Imported()
            _row(row, line, path.name, source_id, programme_id, unit)
            written = out.absorb(unit) or written
        if written:  # the source and programme only for a file something was imported from
            out.add(source_record(source_id, f"List of Operations {path.name} ({programme_cci})"))
            out.add({"type": "programme", "id": programme_id, "cci": programme_cci,
                     "title": {"en": f"Programme {programme_cci}"}, "sources": [source_id]})
    return out


def _row(row: dict[str, str], line: int, file: str, source_id: str, programme_id: str, out: Imported) -> None:
    """One operation and beneficiary; a row with any error is left out whole. Names and texts
    get the language of the beneficiary's country (a List of Operations gives none)."""
    name = _get(row, "operation_name")
    beneficiary = _get(row, "beneficiary_name")
    if not name or not beneficiary:
        out.errors.append(RowError(file, line, "row not imported: it needs an operation name and a beneficiary name",
                                   "operation_name" if not name else "beneficiary_name"))
        return
    try:
        values = {"start": date(_get(row, "start_date")), "end": date(_get(row, "end_date")),
                  "total_budget": amount(_get(row, "total_eligible_expenditure")),
                  "eu_funding": amount(_get(row, "union_cofinancing"))}
    except ValueError as exc:
        out.errors.append(RowError(file, line, f"row not imported: {exc}"))
        return
    country = country_code(_get(row, "country")) if _get(row, "country") else None
    if _get(row, "country") and country is None:
        out.errors.append(RowError(file, line, f"row not imported: unknown country {_get(row, 'country')!r} (use an "
                                   "ISO 3166 code, or the country's name in English or its own language)", "country", _get(row, "country")))
    language = name_language(country)
    project_id = f"op-{slugify(programme_id)}-{slugify(name)[:60]}"
    project: dict[str, Any] = {"type": "project", "id": project_id, "acronym": name[:80],
                               "title": {language: name}, "programme": programme_id, "sources": [source_id]}
    project.update({k: v for k, v in values.items() if v is not None})
    if _get(row, "summary"):
        project["description"] = {language: _get(row, "summary")}
    if _get(row, "priority_axis"):
        project["priority"] = _get(row, "priority_axis")
    if _get(row, "intervention_category"):
        project["intervention_category"] = _get(row, "intervention_category")
    out.add(project)
    town = _get(row, "location")
    org_id = organisation_id(beneficiary, country, town, f"{project_id}-{line}")
    org: dict[str, Any] = {"type": "organisation", "id": org_id, "name": {language: beneficiary}, "sources": [source_id]}
    if country:
        org["country"] = country
    if town:
        org["town"] = town
    out.add(org)
    role_text = _get(row, "beneficiary_role").strip().lower() or "partner"
    role = ROLES.get(role_text)
    if role is None:
        out.errors.append(RowError(file, line, f"row not imported: unknown beneficiary role {role_text!r} (lead "
                                   "partner or partner)", "beneficiary_role", role_text))
        role = "partner"
    out.add({"type": "partnership", "id": f"{project_id}-{slugify(org_id)}", "project": project_id,
             "organisation": org_id, "role": role, "sources": [source_id]})
