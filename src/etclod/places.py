"""Reference layer: countries and NUTS regions by name, in Latvian and English.

Country names come from ``pycountry`` (ISO 3166-1, the English names) and the Latvian
translations it ships (Debian's iso-codes, ``iso3166-1`` domain). NUTS 2016 region names for
the countries of the Baltic and Nordic ETC programmes come from the table
``reference/nuts-2016.csv`` shipped with the package (its header names the source). Our
country IRIs are the EU authority table's (``.../authority/country/LVA``): alpha-3 codes.
"""

from __future__ import annotations

import csv
import gettext
from functools import lru_cache
from pathlib import Path

import pycountry

from etclod.namespaces import EU_COUNTRY, NUTS

NUTS_FILE = Path(__file__).with_name("reference") / "nuts-2016.csv"


@lru_cache(maxsize=None)
def _country_translations(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    try:
        return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
    except OSError:
        return gettext.NullTranslations()


def country_name(code: str, lang: str) -> str | None:
    """The name of a country by its alpha-3 (or alpha-2) code, or None for an unknown code.

    >>> country_name("LVA", "lv"), country_name("FIN", "en")
    ('Latvija', 'Finland')
    """
    country = pycountry.countries.get(alpha_3=code.upper()) if len(code) == 3 else \
        pycountry.countries.get(alpha_2=code.upper()) if len(code) == 2 else None
    if country is None:
        return None
    name = getattr(country, "common_name", None) or country.name
    if lang == "en":
        return name
    return _country_translations(lang).gettext(country.name)


@lru_cache(maxsize=1)
def nuts_table() -> dict[str, str]:
    """NUTS 2016 code -> official name, from the shipped table."""
    with NUTS_FILE.open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {row["code"]: row["name"] for row in rows}


def nuts_name(code: str) -> str | None:
    """The official name of a NUTS 2016 region (one name: NUTS gives no translations).

    >>> nuts_name("LV003")
    'Kurzeme'
    """
    return nuts_table().get(code.upper())


def place_label(iri: str, lang: str) -> str | None:
    """The name of a country or NUTS IRI, or None when it is neither (or unknown)."""
    if iri.startswith(str(EU_COUNTRY)):
        return country_name(iri[len(str(EU_COUNTRY)):], lang)
    if iri.startswith(str(NUTS)):
        return nuts_name(iri[len(str(NUTS)):])
    return None


def facet_label(facet: str, value: str, lang: str) -> str | None:
    """The name of a list facet's value where the facet is a country or a region code."""
    if facet == "country":
        return country_name(value, lang)
    if facet == "region":
        return nuts_name(value)
    return None
