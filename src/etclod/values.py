"""Record layer: the value types of record fields (texts per language, partial dates, EUR
amounts, country codes, references, IRIs), each refusing a bad value with how to fix it."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

MAX_TEXT = 100_000
"""The longest text a record field may hold; longer is an error, not a silent cut."""

def language_problem(tag: Any) -> str | None:
    """Why ``tag`` is not a BCP 47 language tag (checked by ``langcodes`` against the IANA
    registry), or None when it is one.

    >>> language_problem("lv") is None, language_problem("en-GB") is None, language_problem("xx-yy-zz") is None
    (True, True, False)
    """
    if not isinstance(tag, str) or not tag:
        return f"{tag!r} is not a language tag (use lv, en, lt ...)"
    return _tag_problem(tag)


@lru_cache(maxsize=4096)
def _tag_problem(tag: str) -> str | None:
    """``language_problem`` of a string, remembered: every text of every record names its
    languages, a few tags again and again, and langcodes' check took a third of the records'
    pydantic time (only strings come here: a cache would take ``1`` and ``True`` for one key)."""
    import langcodes

    try:
        valid = langcodes.tag_is_valid(tag) and langcodes.Language.get(tag).is_valid()
    except (ValueError, LookupError):
        valid = False
    if not valid:
        return f"{tag!r} is not a BCP 47 language tag (use lv, en, lt, de ...)"
    return None


def _lang_text(value: Any) -> Any:
    if isinstance(value, dict):
        for lang in value:
            problem = language_problem(lang)
            if problem:
                raise ValueError(problem)
    return value


def _languages(value: Any) -> Any:
    for tag in value if isinstance(value, list) else []:
        problem = language_problem(tag)
        if problem:
            raise ValueError(problem)
    return value


def _country(value: Any) -> Any:
    """An alpha-3 country code; a two-letter one gets the three-letter code to use instead."""
    import pycountry

    if not isinstance(value, str):
        return value
    code = value.strip()
    if len(code) == 2:
        found = pycountry.countries.get(alpha_2=code.upper())
        hint = f": use the three-letter code {found.alpha_3!r}" if found else ""
        raise ValueError(f"{value!r} is a two-letter country code{hint} (ISO 3166 alpha-3, as the EU country table)")
    if len(code) == 3 and code != code.upper() and pycountry.countries.get(alpha_3=code.upper()):
        raise ValueError(f"{value!r}: write the country code in capitals, {code.upper()!r}")
    if len(code) == 3 and code.isalpha() and code.isupper() and code != "XKX" and \
            pycountry.countries.get(alpha_3=code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166 alpha-3 country code (LVA, LTU, EST ...)")
    return code


LangText = Annotated[dict[str, str] | str, BeforeValidator(_lang_text),
                     Field(description="Text per language: {lv: ..., en: ...}. A plain string "
                                       "has no language and is rejected where a language is required.")]

_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _partial_date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int) and 1000 <= value <= 9999:
        return str(value)
    if not isinstance(value, str):
        raise ValueError("a date must be YYYY-MM-DD, YYYY-MM or YYYY")
    text = value.strip()
    match = _PARTIAL_DATE.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a date: use YYYY-MM-DD, YYYY-MM or YYYY")
    year, month, day = match.groups()
    if month and not 1 <= int(month) <= 12:
        raise ValueError(f"{text} is not a date (there is no month {int(month)}; use YYYY-MM-DD)")
    try:
        dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError as exc:
        name = dt.date(2000, int(month or 1), 1).strftime("%B")
        raise ValueError(f"{text} is not a date (day {int(day or 0)} of {name})") from exc
    return text


PartialDate = Annotated[str, BeforeValidator(_partial_date),
                        Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$",
                              description="YYYY-MM-DD, or YYYY-MM / YYYY when only that is known")]


def _amount(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        if "e" in value.lower():
            raise ValueError(f"{value!r} is not an amount: write it in plain digits (1000.50), not as a power of ten")
        try:
            return Decimal(value.replace(" ", "").replace("\u00a0", ""))
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a number") from exc
    return value


Amount = Annotated[Decimal, BeforeValidator(_amount),
                   Field(description="EUR, a decimal number; quote it in YAML to keep every digit")]
Ref = Annotated[str, Field(min_length=1, description="the id of another record")]
HTTP_IRI = r"^https?://[^\s<>\"{}|\\^`]+$"
"""An http(s) IRI: no spaces, no characters IRIs forbid, no javascript: or file: schemes."""
EMAIL = r"^[^\s@<>\"]+@[^\s@<>\"]+\.[^\s@<>\"]+$"
PHONE = r"^\+?[0-9][0-9 ()-]{4,30}$"
"""A telephone number as written (digits, spaces, brackets, dashes, an optional leading +)."""


_BAD_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
"""NUL, the control characters but tab, newline and carriage return, and lone surrogates."""


def bad_character(value: Any, where: str = "") -> str | None:
    """Where a NUL, another control character or a lone surrogate hides in a value."""
    found = _bad(value)
    if found is None:
        return None
    keys, match = found
    for key in reversed(keys):  # the path of keys to the string, the outermost first
        where = f"{where}.{key}" if where else str(key)
    return f"{where or 'a value'} holds the character U+{ord(match.group()):04X} at position {match.start()}"


def _bad(value: Any) -> tuple[list[Any], re.Match[str]] | None:
    """The first bad character in a value and the keys that lead to it (innermost first);
    the path is written only for a value that has one (every record is checked)."""
    if isinstance(value, str):
        match = _BAD_CHARACTER.search(value)
        return ([], match) if match else None
    items: Any
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _bad(item)
        if found:
            found[0].append(key)
            return found
    return None



Languages = Annotated[list[str], BeforeValidator(_languages)]
"""A list of BCP 47 language tags (the languages of a source document)."""
CountryCode = Annotated[str | None, BeforeValidator(_country)]
"""An ISO 3166 alpha-3 country code; a two-letter one is refused with the three-letter one to use."""
