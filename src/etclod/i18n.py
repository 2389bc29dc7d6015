"""Language layer: the one message catalogue (gettext, read with babel) and locale formatting.

Every string a person reads on a page, in Latvian and English, comes from
``locale/{lang}/LC_MESSAGES/messages.po`` (message ids are the English text). The ``.po``
files are read at run time with babel and compiled in memory, so a fresh ``pip install -e .``
needs no compile step. Numbers, amounts and dates are written the way each language writes
them, by babel's CLDR data: ``4 860 664,11 €`` and ``25.01.2018.`` in Latvian,
``€4,860,664.11`` and ``25 January 2018`` in English.
"""

from __future__ import annotations

import datetime
import gettext
import io
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from babel.dates import format_date as babel_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent

LANGUAGES = ("lv", "en")
"""The page languages, Latvian first (the data set's own language)."""
LOCALE_DIR = Path(__file__).with_name("locale")
BABEL_LOCALE = {"lv": "lv_LV", "en": "en_GB"}
"""The CLDR locale behind each page language (British English: day before month)."""
DATE_PATTERN = {"lv": "dd.MM.y.", "en": "d MMMM y"}
MONTH_PATTERN = {"lv": "y. 'gada' LLLL", "en": "LLLL y"}
YEAR_PATTERN = {"lv": "{year}. gads", "en": "{year}"}


def N_(message: str) -> str:
    """Mark a string for the catalogue without translating it yet (for tables of labels)."""
    return message


@lru_cache(maxsize=None)
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang`` (English needs none: its message ids are the English text)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang not in LANGUAGES or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def tr(lang: str, message: str) -> str:
    """``message`` in ``lang``."""
    return translations(lang).gettext(message)


def ntr(lang: str, singular: str, plural: str, n: int) -> str:
    """The form of a counted phrase for ``n`` in ``lang`` (Latvian has three); ``%(n)s`` in
    the message is replaced by ``n`` written in the locale."""
    text = translations(lang).ngettext(singular, plural, n)
    return text.replace("%(n)s", format_number(n, lang))


def _decimal(value: object) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def format_number(value: object, lang: str) -> str:
    """A number as the locale writes it, every digit kept (``1 234,5`` / ``1,234.5``)."""
    number = _decimal(value)
    if number is None:
        return str(value)
    return format_decimal(number, locale=BABEL_LOCALE[lang], decimal_quantization=False)


def format_money(value: object, lang: str, currency: str = "EUR") -> str:
    """An amount with its currency, cents kept: ``4 860 664,11 €`` / ``€4,860,664.11``."""
    number = _decimal(value)
    if number is None:
        return str(value)
    return format_currency(number, currency, locale=BABEL_LOCALE[lang])


def format_share(fraction: float, lang: str) -> str:
    """A share (0..1) as a percentage with one decimal: ``12,3 %`` / ``12.3%``."""
    return format_percent(fraction, "#,##0.0 %", locale=BABEL_LOCALE[lang])


_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def format_date(value: object, lang: str) -> str:
    """A date at the precision it is known: ``25.01.2018.`` / ``25 January 2018``, a month
    (xsd:gYearMonth) as ``2016. gada marts`` / ``March 2016``, a year as itself."""
    if isinstance(value, datetime.date):
        return babel_date(value, DATE_PATTERN[lang], locale=BABEL_LOCALE[lang])
    text = str(value)
    match = _DATE.match(text[:10])
    if not match:
        return text
    year, month, day = match.groups()
    try:
        if day:
            return babel_date(datetime.date(int(year), int(month), int(day)), DATE_PATTERN[lang],
                              locale=BABEL_LOCALE[lang])
        if month:
            return babel_date(datetime.date(int(year), int(month), 1), MONTH_PATTERN[lang],
                              locale=BABEL_LOCALE[lang])
    except ValueError:
        return text
    return YEAR_PATTERN[lang].format(year=year)


def format_datetime(value: datetime.datetime, lang: str) -> str:
    """A moment (a release's build time) as date and minute, in UTC."""
    utc = value.astimezone(datetime.timezone.utc)
    return f"{format_date(utc.date(), lang)} {utc:%H:%M} UTC"


def format_version(version: str, lang: str) -> str:
    """A release version (its UTC build time, ``20261126T203952Z``) as a date and time."""
    try:
        moment = datetime.datetime.strptime(version, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return str(version)
    return format_datetime(moment, lang)


ERROR_WORDS = {
    404: (N_("Page not found"), N_("There is nothing at this address. It may have been mistyped, or the "
                                   "resource is not in the current release.")),
    400: (N_("The request could not be understood"), N_("Something in the address or the form is not right.")),
    406: (N_("This format is not available"), N_("The page cannot be given in the format asked for.")),
    503: (N_("The service is not ready"), N_("The data cannot be served right now. Please try again in a moment.")),
}
GENERIC_ERROR = (N_("Something went wrong"), N_("The server could not answer this request."))


def error_words(status: int, lang: str) -> tuple[str, str]:
    """A heading and a sentence for an error page, in ``lang``."""
    heading, text = ERROR_WORDS.get(status, GENERIC_ERROR)
    return tr(lang, heading), tr(lang, text)
