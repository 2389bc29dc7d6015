"""Where each record and field of a JSON record file begins: the lines a rejection names,
found only when asked for (``recordfile.Parsed.lazy_lines``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:,\n]|[^\s"\[\]{}:,]+')
"""A string, a punctuation mark or a line end, or a number, ``true``, ``false`` or ``null``."""
_SKIP = "\x00"
"""The path of the inside of an item of the list of records that is not a record (a list):
its objects are not records, and nothing of it is a field."""


@dataclass
class _Frame:
    kind: str
    path: str | None
    """The field path inside the record; None outside any record (the list of records)."""
    index: int = 0
    key: str | None = None

    def child(self, name: object) -> str:
        return f"{self.path}.{name}" if self.path else str(name)


def json_lines(text: str) -> list[tuple[int, dict[str, int]]]:
    r"""For each item of a JSON record file, its first line and the line of each field (the
    paths YAML gets: ``end``, ``posts.0.role``): an item that is not a record (``"x"``, a
    list) has a place of its own, with no fields, so the n-th entry is always the n-th item
    the reader gives. Linear: one pass of a token regex.

    >>> json_lines('[\n "x",\n [{"id": "n"}],\n 3,\n {"id": "b",\n  "end": 1}\n]')
    [(2, {}), (3, {}), (4, {}), (5, {'id': 5, 'end': 6})]
    >>> json_lines('{"records":\n {"id": "a",\n  "end": 1}}'), json_lines('{"records": [1],\n "type": "x"}')
    ([(2, {'id': 2, 'end': 3})], [(1, {'records': 1, 'records.0': 1, 'type': 2})])
    """
    shape = _shape(text)
    if shape == "record in records":  # the one record is the inner object (its first field's line)
        [(_line, fields)] = _json_lines(text, False)
        inner = {k.removeprefix("records."): v for k, v in fields.items() if k.startswith("records.")}
        return [(min(inner.values(), default=fields.get("records", 1)), inner)]
    return _json_lines(text, {"list in records": True, "record": False}.get(shape or ""))


def _shape(text: str) -> str | None:
    """What a file that is one JSON object is, as the reader sees it (``_json_document``): a
    ``record``, a ``list in records`` or a ``record in records``; None: not such a file."""
    if not text.lstrip(" \t\n\r\ufeff").startswith("{"):
        return None
    try:
        document = json.loads(text.lstrip("\ufeff"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    if "records" in document and "type" not in document:
        inner = document["records"]
        return "list in records" if isinstance(inner, list) else "record in records" if isinstance(inner, dict) \
            else None
    return "record"


def _json_lines(text: str, wrapped: bool | None) -> list[tuple[int, dict[str, int]]]:
    """``json_lines``'s token pass; ``wrapped``: whether an object's ``records`` list is a
    wrapper (None: guess from whether ``type`` came before it)."""
    records: list[tuple[int, dict[str, int]]] = []
    stack: list[_Frame] = []
    line, last = 1, '""'
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        top = stack[-1] if stack else None
        if token == "\n":
            line += 1
        elif top is not None and top.path == _SKIP:
            if token in "[{":
                stack.append(_Frame(token, _SKIP))
            elif token in "]}":
                stack.pop()
        elif token[0] not in '"[]{}:,':  # a number, true, false or null
            if top is not None and top.kind == "[" and top.path is None:
                records.append((line, {}))
            elif top is not None and top.kind == "[" and top.path is not None and records:
                records[-1][1].setdefault(top.child(top.index), line)
        elif token[0] == '"':
            last = token
            if top is not None and top.kind == "[" and top.path is None:
                records.append((line, {}))
            elif top is not None and top.kind == "[" and top.path is not None and records:
                records[-1][1].setdefault(top.child(top.index), line)
        elif token == ":":
            if top is not None:
                try:
                    top.key = json.loads(last)
                except ValueError:
                    top.key = last.strip('"')
                if top.path is not None and records:
                    records[-1][1].setdefault(top.child(top.key), line)
        elif token == ",":
            if top is not None and top.kind == "[":
                top.index += 1
        elif token in "}]":
            if stack:
                stack.pop()
        elif top is not None and top.kind == "[" and top.path is None and token == "[":
            records.append((line, {}))  # an item of the list of records that is a list
            stack.append(_Frame(token, _SKIP))
        elif top is None or top.path is None:
            if token == "{":
                records.append((line, {}))
            stack.append(_Frame(token, "" if token == "{" else None))
        elif (len(stack) == 1 and top.path == "" and top.key == "records" and token == "[" and records
              and (wrapped if wrapped is not None else "type" not in records[-1][1])):
            records.pop()  # {"records": [...]}: a wrapper, not a record
            stack.append(_Frame(token, None))
        else:
            path = top.child(top.key if top.kind == "{" else top.index)
            if records:
                records[-1][1].setdefault(path, line)
            stack.append(_Frame(token, path))
    return records


_SPACE = re.compile(r"[ \t\n\r]*")


def json_lines_of(text: str, wanted: set[int]) -> dict[int, tuple[int, dict[str, int]]] | None:
    r"""``json_lines(text)[n]`` for each ``n`` in ``wanted``, of a file that is one JSON list of
    records, without the token pass over the other records (the C decoder skips them: an
    incremental build locates one rejected record of a 26 MB file so); None: not such a list.

    >>> text = '[\n {"id": "a"},\n "x",\n [{"id": "n"}],\n {"id": "b",\n  "end": 1}\n]'
    >>> json_lines_of(text, {1, 2, 3}) == {n: json_lines(text)[n] for n in (1, 2, 3)}
    True
    """
    decoder = json.JSONDecoder()
    pos = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
    if not text.startswith("[", pos) or not wanted:
        return None
    pos, count, last, newlines = pos + 1, 0, max(wanted), (0, 0)
    out: dict[int, tuple[int, dict[str, int]]] = {}
    while count <= last:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text) or text[pos] == "]":
            break
        try:
            _value, end = decoder.raw_decode(text, pos)
        except ValueError:
            return None
        if count in wanted:  # every item has its place, as in json_lines
            newlines = (pos, newlines[1] + text.count("\n", newlines[0], pos))
            if text[pos] == "{":
                [(line, lines)] = json_lines("[" + text[pos:end] + "]")
                out[count] = (line + newlines[1], {k: v + newlines[1] for k, v in lines.items()})
            else:
                out[count] = (newlines[1] + 1, {})
        count += 1
        pos = _SPACE.match(text, end).end()  # type: ignore[union-attr]
        if text.startswith(",", pos):
            pos += 1
    return out


# ------------------------------------------------------------------------------------ CSV
