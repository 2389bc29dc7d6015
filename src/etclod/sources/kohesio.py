"""Source layer: the Kohesio CSV export (one row per operation and beneficiary)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from etclod.namespaces import slugify
from etclod.places import country_code, name_language
from etclod.sources import (Imported, RowError, amount, organisation_id, rate,
                            read_csv, source_record)

REQUIRED = ("Operation_Unique_Identifier", "Programme_Code")
NAME_COLUMNS = ("Operation_Name", "operation_name", "Operation name", "Name")
BENEFICIARY_COLUMNS = ("Beneficiary_Name", "beneficiary_name", "Beneficiary name")


def _first(row: dict[str, str], names: tuple[str, ...]) -> str:
    return next((row[n] for n in names if row.get(n)), "")


def import_files(paths: list[Path]) -> Imported:
    out = Imported()
    for path in paths:
        header, rows = read_csv(path)
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            out.errors.append(RowError(path.name, 1, f"not a Kohesio export: no column {', '.join(missing)}"))
            continue
        source_id = f"kohesio-{slugify(path.stem)}"
        written = False
        for line, row in rows:
            unit = Imported()
            _row(row, line, path.name, source_id, unit)
            written = out.absorb(unit) or written
        if written:  # a source only for a file something was imported from
            out.add(source_record(source_id, f"Kohesio export {path.name}"))
    return out


def _row(row: dict[str, str], line: int, file: str, source_id: str, out: Imported) -> None:
    """One operation and beneficiary; every problem is a row error, and a row with one is left
    out whole (``Imported.absorb``). Names get the language of the beneficiary's country
    (Kohesio gives none)."""
    op_id = row.get("Operation_Unique_Identifier")
    cci = row.get("Programme_Code")
    if not op_id or not cci:
        out.errors.append(RowError(file, line, "row not imported: it needs Operation_Unique_Identifier and Programme_Code",
                                   "Operation_Unique_Identifier" if not op_id else "Programme_Code"))
        return
    try:
        total = amount(row.get("Total_Eligible_Expenditure_amount"))
        eu = amount(row.get("Project_EU_Budget"))
        cofinancing = rate(row.get("Cofinancing_Rate"))
    except ValueError as exc:
        out.errors.append(RowError(file, line, f"row not imported: {exc}", "Total_Eligible_Expenditure_amount"))
        return
    nuts = row.get("NUTS3_Code") or None
    country = country_code(nuts[:2]) if nuts else None
    language = name_language(country)
    out.add({"type": "programme", "id": f"cci-{cci.lower()}", "cci": cci, "title": {"en": f"Programme {cci}"},
             "funds": [row["Fund_Code"]] if row.get("Fund_Code") else [], "sources": [source_id]})
    project: dict[str, Any] = {"type": "project", "id": f"kohesio-{slugify(op_id)}", "acronym": op_id,
                               "programme": f"cci-{cci.lower()}", "code": op_id, "sources": [source_id]}
    name = _first(row, NAME_COLUMNS)
    if name:
        project["title"] = {language: name}
    if total is not None:
        project["total_budget"] = total
    if eu is not None:
        project["eu_funding"] = eu
    if row.get("Category_Of_Intervention"):
        project["intervention_category"] = row["Category_Of_Intervention"]
    if cofinancing is not None:
        project["cofinancing_rate"] = cofinancing
    if row.get("InfoRegio_ID"):
        project["inforegio_id"] = row["InfoRegio_ID"]
    out.add(project)
    beneficiary = _first(row, BENEFICIARY_COLUMNS)
    if not beneficiary:
        out.errors.append(RowError(file, line, f"row not imported: operation {op_id} has no beneficiary name",
                                   "Beneficiary_Name"))
        return
    ben_id = row.get("Beneficiary_Unique_Identifier")
    org_id = f"kohesio-org-{slugify(ben_id)}" if ben_id else \
        organisation_id(beneficiary, country, None, f"kohesio-{op_id}-{line}")
    org: dict[str, Any] = {"type": "organisation", "id": org_id, "name": {language: beneficiary}, "sources": [source_id]}
    if ben_id:
        org["national_id"] = ben_id
    if country:
        org["country"] = country
    if nuts:
        org["nuts"] = nuts
    out.add(org)
    out.add({"type": "partnership", "id": f"kohesio-{slugify(op_id)}-{slugify(org_id)}",
             "project": project["id"], "organisation": org_id, "role": "partner", "sources": [source_id]})
