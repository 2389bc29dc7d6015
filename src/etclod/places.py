"""Reference layer: countries and NUTS regions by name, in Latvian and English.

Country names come from ``pycountry`` (ISO 3166-1, the English names) and the Latvian
translations it ships (Debian's iso-codes, ``iso3166-1`` domain). Reading a country a source
gives (a code or a name in English or the country's own language) uses ``pycountry`` for the
codes and ``babel`` (CLDR) for the names and official languages. NUTS 2016 region names for
the countries of the Baltic and Nordic ETC programmes come from the table
``reference/nuts-2016.csv`` shipped with the package (its header names the source). Our
country IRIs are the EU authority table's (``.../authority/country/LVA``): alpha-3 codes.
"""

from __future__ import annotations

import csv
import gettext
from functools import lru_cache, cache
from pathlib import Path

import pycountry
from babel import Locale
from babel.core import UnknownLocaleError
from babel.languages import get_official_languages

from etclod.namespaces import EU_COUNTRY, NUTS

NUTS_FILE = Path(__file__).with_name("reference") / "nuts-2016.csv"
EU_ALPHA2 = {"EL": "GR", "UK": "GB"}
"""The EU's own two-letter codes (Eurostat, NUTS, keep.eu) where they differ from ISO 3166's."""
NAME_LANGUAGE = {"BLR": "be", "LUX": "lb", "SRB": "sr", "MNE": "sr", "BIH": "bs"}
"""Where the language of a name given without one is not CLDR's first official language of its
country (``ru`` for Belarus, ``fr`` for Luxembourg, ``sr-Latn``/``bs-Cyrl`` in the Balkans):
the country's own language, as the ETC programmes' data uses it."""
UNDETERMINED = "und"
"""BCP 47's tag for text whose language nobody told us (no language, no country)."""


@cache
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


def _alpha2(code: str) -> str:
    return EU_ALPHA2.get(code, code)


@cache
def _names_by_country() -> dict[str, str]:
    """Every country's names, case-folded -> its alpha-3 code: ISO 3166's names (pycountry) and
    CLDR's (babel) in English and in each of the country's official languages. A name two
    countries share would be left out (there is none today)."""
    found: dict[str, set[str]] = {}
    for country in pycountry.countries:
        names = {country.name, getattr(country, "official_name", ""), getattr(country, "common_name", "")}
        for lang in ("en", *get_official_languages(country.alpha_2, de_facto=True)):
            try:
                names.add(Locale.parse(lang).territories.get(country.alpha_2, ""))
            except (UnknownLocaleError, ValueError):
                continue
        for name in names - {""}:
            found.setdefault(name.casefold(), set()).add(country.alpha_3)
    return {name: next(iter(codes)) for name, codes in found.items() if len(codes) == 1}


def country_code(value: object) -> str | None:
    """ISO alpha-3 from an alpha-3 or alpha-2 code (the EU's ``EL`` and ``UK`` too) or a country's
    name in English or in its own language; None when it is none of these.

    >>> country_code("LV"), country_code("EL"), country_code("fin"), country_code("Lietuva"), country_code("Atlantis")
    ('LVA', 'GRC', 'FIN', 'LTU', None)
    """
    if value is None:
        return None
    text = " ".join(str(value).split())
    upper = text.upper()
    if len(upper) == 3 and (country := pycountry.countries.get(alpha_3=upper)) is not None:
        return str(country.alpha_3)
    if len(upper) == 2 and (country := pycountry.countries.get(alpha_2=_alpha2(upper))) is not None:
        return str(country.alpha_3)
    return _names_by_country().get(text.casefold()) if len(text) > 3 else None


def name_language(country: str | None) -> str:
    """The language of a name the source gives without a language: its organisation's country's
    (BCP 47: CLDR's ``sr_Latn`` is ``sr-Latn``).

    >>> name_language("LVA"), name_language("POL"), name_language("BLR"), name_language(None)
    ('lv', 'pl', 'be', 'und')
    """
    if not country:
        return UNDETERMINED
    if country in NAME_LANGUAGE:
        return NAME_LANGUAGE[country]
    found = pycountry.countries.get(alpha_3=country)
    languages = get_official_languages(found.alpha_2, de_facto=True) if found is not None else ()
    return languages[0].replace("_", "-") if languages else UNDETERMINED
