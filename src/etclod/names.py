"""Name layer: the one normalisation of names for ids, slugs, merging, search and reconciliation.

Every script is transliterated to ASCII letters: a Latin letter by dropping its diacritics
(as slugs always were, so the slugs of today's data are unchanged), any other letter by
``anyascii`` (Cyrillic, Greek, ...). ``anyascii`` was chosen over ``text-unidecode`` after a
comparison on Latvian, Lithuanian, Estonian, Polish, Danish, German, Russian, Belarusian and
Greek names (README, "Names in every script"): equal on the Latin scripts, better on Greek
(``Thessaloniki``, not ``Thessalonike``), Russian and Belarusian (``Pskovskaya``, not
``Pskovskaia``) and Danish (``Aero``, not ``AEro``), and still maintained.

This module imports nothing of etclod: every other layer may use it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii

_TRANSLITERATION = str.maketrans({
    "ß": "ss", "ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "đ": "d", "Đ": "d",
    "ł": "l", "Ł": "l", "þ": "th", "Þ": "th", "ı": "i", "œ": "oe", "Œ": "oe",
})
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")

LEGAL_FORMS = {"sia", "as", "vsia", "uab", "ab", "vsi", "oy", "oyj", "ry", "ou", "mtu", "gmbh", "ev", "ltd",
               "limited", "plc", "bv", "nv", "sa", "srl", "spa", "hb", "kb", "biedriba", "pa", "ps",
               "sabiedriba", "ar", "ierobezotu", "atbildibu", "asbl", "vzw", "sp", "z", "o", "oo", "ug", "kg"}
"""Words of legal forms (SIA, UAB, GmbH ...): no part of what identifies a name."""
ABBREVIATIONS = {"univ": "universitate", "uni": "universitate", "inst": "instituts", "nov": "novads",
                 "pag": "pagasts", "pils": "pilseta", "dept": "departaments", "min": "ministrija",
                 "centre": "centrs", "center": "centrs", "university": "universitate", "city": "pilseta",
                 "municipality": "pasvaldiba", "ministry": "ministrija", "st": "saint"}
"""Common abbreviations and English words, as the Latvian word they stand for."""
ENDINGS = ("ajiem", "ajam", "ijas", "iem", "ija", "ijai", "as", "es", "is", "us", "os", "am", "em", "im", "ai",
           "ei", "a", "e", "i", "u", "s")
"""Declension endings the cheap stemmer cuts: the first that fits, leaving three letters."""


@lru_cache(maxsize=1 << 16)
def _letter(ch: str) -> str:
    """One non-ASCII character as ASCII: a Latin letter without its diacritics, another
    script's letter or digit transliterated, anything else (a quote, a symbol) a separator."""
    decomposed = "".join(c for c in unicodedata.normalize("NFKD", ch.translate(_TRANSLITERATION))
                         if not unicodedata.combining(c))
    if decomposed.isascii():
        return decomposed
    if unicodedata.category(ch)[0] in "LN":
        return anyascii(ch)
    return " "


class _Letters(dict[int, str]):
    """``str.translate`` table of every non-ASCII character met so far (filled on first use)."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        self[code] = value = ch if ch.isascii() else _letter(ch)
        return value


_LETTERS = _Letters()


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """A name in lower-case ASCII, every script transliterated; punctuation kept as it is
    (callers split on it).

    >>> fold("Liepājas Diakonijas centrs")
    'liepajas diakonijas centrs'
    >>> fold("Псковская область")
    "pskovskaya oblast'"
    >>> fold("Łódź"), fold("Ærø")
    ('lodz', 'aero')
    """
    if text.isascii():
        return text.lower()
    return text.translate(_LETTERS).lower()


@lru_cache(maxsize=1 << 16)
def slugify(text: str) -> str:
    """A stable IRI key: every script transliterated, lower case, hyphens.

    >>> slugify("Liepājas Diakonijas centrs")
    'liepajas-diakonijas-centrs'
    >>> slugify("„Lapsenes” ģērbtuve Šķēde")
    'lapsenes-gerbtuve-skede'
    >>> slugify("Псковская область")
    'pskovskaya-oblast'
    """
    return _NOT_ALNUM.sub("-", fold(text)).strip("-")


def words(text: str) -> list[str]:
    """The ASCII words of a name, in order (the start of every token and merge key).

    >>> words("SIA „Liepājas Diakonijas centrs”")
    ['sia', 'liepajas', 'diakonijas', 'centrs']
    """
    return [w for w in _NOT_ALNUM.split(fold(text)) if w]


def stem(token: str) -> str:
    """Cut a declension ending; keep at least three letters.

    >>> [stem(t) for t in ("liepajas", "liepaja", "diakonijas", "centrs", "centra")]
    ['liepaj', 'liepaj', 'diakon', 'centr', 'centr']
    """
    for ending in ENDINGS:
        if token.endswith(ending) and len(token) - len(ending) >= 3:
            return token[: -len(ending)]
    return token


def tokens(text: str) -> list[str]:
    """The comparable tokens of a name.

    >>> tokens("SIA „Liepājas Diakonijas centrs”")
    ['liepaj', 'diakon', 'centr']
    >>> tokens("Łódź"), tokens("Ærø"), tokens("Псковская область")
    (['lodz'], ['aero'], ['pskovskay', 'oblast'])
    """
    out = []
    for word in words(text):
        if word in LEGAL_FORMS:
            continue
        out.append(stem(ABBREVIATIONS.get(word, word)))
    return out


@lru_cache(maxsize=1 << 16)
def normalise_name(name: str) -> str:
    """A name reduced to what identifies it: the reconciliation matcher's tokens (so merging
    and reconciling agree on what is the same name).

    >>> normalise_name("SIA „Liepājas Diakonijas centrs”") == normalise_name("Liepajas diakonijas centrs, SIA")
    True
    >>> normalise_name("SIA")
    ''
    """
    return " ".join(tokens(name))
