"""Reading layer: record files (YAML, JSON, CSV) as raw records, with the line of every field.

YAML is read without implicit typing: every scalar is text (``2019-02-30``, ``1e3``, ``no``
and ``0123`` stay as written, so the record models judge them field by field); only a plain
``null``, ``~`` or nothing at all is "no value". Alias expansion, nesting depth and the number
of values a file may expand to are bounded, so a few hundred hostile bytes cannot become
gigabytes. A syntax error takes out only the records it sits in: the file is read again item
by item and the readable items are kept.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import yaml

MAX_DEPTH = 32
"""Deepest nesting of lists and mappings a record file may have (a record needs about 5)."""
MAX_ALIASES = 500
"""YAML aliases (``*name``) one file may use."""
MIN_VALUE_BUDGET = 200_000
"""Values a file may expand to through aliases, at least; else four times what it writes."""
NULLS = frozenset({"", "~", "null", "Null", "NULL"})


class FileError(Exception):
    """A file (or a piece of it) that cannot be read; ``line``/``column`` as the parser says."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass
class Item:
    """One raw record: its value, the line it starts on and the line of each field.

    ``lines`` maps a field path (``end``, ``posts.0.role``) to its line; ``problems`` are
    mistakes found while reading that only this record has (a field written twice)."""

    raw: Any
    line: int | None
    lines: dict[str, int] | None = None
    problems: list[tuple[str | None, int | None, str]] = field(default_factory=list)


@dataclass
class Unreadable:
    """A piece of a file no record can be read from, with what it seems to have held."""

    message: str
    line: int | None
    type: str | None = None
    id: str | None = None


@dataclass
class Parsed:
    items: list[Item]
    unreadable: list[Unreadable]
    lazy_lines: bool = False
    """The field lines are found only when asked for (``jsonlines.json_lines``): JSON is parsed by the
    C parser, which keeps no positions, and only rejected records need them."""
    around: int = 0
    """Levels of lists and mappings around each item (a JSON list of records: 1)."""
    depth_checked: bool = True
    """False: the file's nesting was not checked (``read_text(check_depth=False)``): the
    caller checks ``value_depth`` of the items it uses (each within ``MAX_DEPTH - around``)."""


def read_text(name: str, data: bytes, list_fields: Callable[[str], set[str]], check_depth: bool = True) -> Parsed:
    """Parse the bytes of the record file ``name`` (its suffix tells the format).

    ``check_depth=False`` (an incremental build, which uses only the items that changed):
    a JSON file that parses is not first checked for nesting as a whole; ``Parsed.depth_checked``
    says so and the caller checks the items it uses with ``value_depth``. The C parser itself
    stops at Python's recursion limit (a ``FileError``); a file that does not parse is checked
    in full before it is read item by item, as always."""
    if not data.strip():
        raise FileError("the file is empty: it holds no records")
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileError("the file is binary (it holds NUL bytes), not a YAML, JSON or CSV text; "
                        "save the records as UTF-8 text", data[: data.index(b"\x00")].count(b"\n") + 1)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileError(f"the file is not UTF-8: byte 0x{data[exc.start]:02x} at offset "
                        f"{exc.start} (line {line}) cannot be decoded; save it as UTF-8", line) from exc
    suffix = name.rsplit(".", 1)[-1].lower()
    if suffix == "csv":
        return _read_csv(text, list_fields)
    if suffix == "json":
        return _read_json(text, check_depth)
    return _read_yaml(text)


# ------------------------------------------------------------------------------------ YAML

class _Limit(yaml.YAMLError):
    """A bound on aliases, depth or size was passed: the whole file is refused."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe composer with no implicit resolvers (every plain scalar is text), and
    counts of depth, aliases and nodes as the file is composed."""

    # PyYAML reads it off the class; its stubs declare it an instance variable (so no ClassVar)
    yaml_implicit_resolvers: dict[Any, Any] = {}

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.aliases = 0
        self.nodes = 0

    def _next_mark(self) -> Any:
        # types-PyYAML leaves Parser.peek_event unannotated; it returns the next yaml.Event
        return cast("Callable[[], yaml.Event]", self.peek_event)().start_mark

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.nodes += 1
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self._next_mark()
                raise _Limit(f"the file uses more than {MAX_ALIASES} YAML aliases (line {mark.line + 1}); "
                             "write the values out instead")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self._next_mark()
                raise _Limit(f"the YAML is nested more than {MAX_DEPTH} levels deep (line {mark.line + 1}, "
                             f"column {mark.column + 1}); a record needs far fewer")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Builder:
    """Turns composed nodes into plain values (dict, list, str, None), noting each field's
    line; aliases are expanded against a budget of values."""

    def __init__(self, budget: int, offset: int = 0) -> None:
        self.budget = budget
        self.offset = offset
        self.used = 0

    def build(self, node: Any, path: str, lines: dict[str, int], problems: list[Any], depth: int = 0) -> Any:
        self.used += 1
        if self.used > self.budget:
            raise _Limit(f"the file expands to more than {self.budget} values through YAML aliases; "
                         "write the values out instead")
        if depth > MAX_DEPTH:
            raise _Limit(f"the file is nested more than {MAX_DEPTH} levels deep (an alias refers to itself?)")
        if isinstance(node, yaml.ScalarNode):
            if node.tag == "tag:yaml.org,2002:null" or (node.style is None and node.value in NULLS):
                return None
            return node.value
        if isinstance(node, yaml.SequenceNode):
            out = []
            for i, child in enumerate(node.value):
                sub = f"{path}.{i}" if path else str(i)
                lines.setdefault(sub, child.start_mark.line + 1 + self.offset)
                out.append(self.build(child, sub, lines, problems, depth + 1))
            return out
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append((path or None, key_node.start_mark.line + 1 + self.offset,
                                 "a field name must be plain text, not a list or mapping"))
                continue
            line = key_node.start_mark.line + 1 + self.offset
            if key_node.style is None and key_node.value == "<<":  # a merge key: <<: *defaults
                for source in (value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]):
                    merged = self.build(source, path, lines, problems, depth + 1)
                    if isinstance(merged, dict):
                        for k, v in merged.items():
                            mapping.setdefault(k, v)
                continue
            key = key_node.value
            sub = f"{path}.{key}" if path else key
            if key in mapping:
                problems.append((sub, line, f"field {sub!r} is written twice (lines {lines.get(sub)} and "
                                            f"{line}); keep one"))
            lines[sub] = line
            mapping[key] = self.build(value_node, sub, lines, problems, depth + 1)
        return mapping


def _compose(text: str) -> tuple[Any, int]:
    loader = _Loader(text)
    try:
        return loader.get_single_node(), loader.nodes
    finally:
        loader.dispose()


def _syntax_error(exc: yaml.YAMLError, offset: int = 0) -> FileError:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    if mark is None:
        return FileError(f"malformed YAML: {problem}")
    line, column = mark.line + 1 + offset, mark.column + 1
    return FileError(f"malformed YAML: {problem}" + (f" ({context})" if context else "")
                     + f" at line {line} column {column}", line, column)


def _read_yaml(text: str) -> Parsed:
    try:
        node, count = _compose(text)
    except _Limit as exc:
        raise FileError(str(exc)) from exc
    except yaml.YAMLError as exc:
        pieces = _yaml_pieces(text)
        if pieces is None:
            raise _syntax_error(exc) from exc
        return _read_yaml_pieces(text, pieces)
    except RecursionError as exc:
        raise FileError(f"the file is nested more than {MAX_DEPTH} levels deep") from exc
    if node is None:
        raise FileError("the file is empty: it holds no records")
    builder = _Builder(max(MIN_VALUE_BUDGET, 4 * count))
    try:
        return Parsed(_yaml_items(node, builder), [])
    except _Limit as exc:
        raise FileError(str(exc)) from exc


def _yaml_items(node: Any, builder: _Builder) -> list[Item]:
    if isinstance(node, yaml.MappingNode):
        records = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == "records"), None)
        has_type = any(isinstance(k, yaml.ScalarNode) and k.value == "type" for k, _ in node.value)
        if records is not None and not has_type:
            node = records
    if isinstance(node, yaml.SequenceNode):
        if not node.value:
            raise FileError("the file is empty: its list of records has no items")
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [node]
    else:
        raise FileError("a record file holds a list of records (mappings with type and id), not a single value",
                        node.start_mark.line + 1 + builder.offset)
    items = []
    for child in children:
        lines: dict[str, int] = {}
        problems: list[Any] = []
        raw = builder.build(child, "", lines, problems)
        items.append(Item(raw, child.start_mark.line + 1 + builder.offset, lines, problems))
    return items


_ITEM_START = re.compile(r"^-(?:[ \t]|$)", re.MULTILINE)
_GUESS_TYPE = re.compile(r"""^[-\s]*["']?type["']?\s*:\s*["']?([A-Za-z_-]+)""", re.MULTILINE)
_GUESS_ID = re.compile(r"""^[-\s]*["']?id["']?\s*:\s*["']?([^"'\s#,}]+)""", re.MULTILINE)


def _yaml_pieces(text: str) -> list[int] | None:
    """Offsets where the top-level list's items start (``- `` at the start of a line), or
    None when the file is not written as such a list."""
    starts = [m.start() for m in _ITEM_START.finditer(text)]
    if len(starts) < 2:
        return None
    head = text[: starts[0]]
    if any(line.strip() and not line.lstrip().startswith(("#", "---", "%")) for line in head.splitlines()):
        return None
    return starts


def _read_yaml_pieces(text: str, starts: list[int]) -> Parsed:
    """Read a list whose whole does not parse one item at a time: the items that parse are
    kept, each one that does not is unreadable (with the id it seems to have)."""
    items: list[Item] = []
    unreadable: list[Unreadable] = []
    for i, start in enumerate(starts):
        piece = text[start: starts[i + 1] if i + 1 < len(starts) else len(text)]
        offset = text.count("\n", 0, start)
        try:
            node, count = _compose(piece)
            if node is None:
                continue
            items += _yaml_items(node, _Builder(max(MIN_VALUE_BUDGET, 4 * count), offset))
        except _Limit as exc:
            raise FileError(str(exc)) from exc
        except (yaml.YAMLError, FileError, RecursionError) as exc:
            error = _syntax_error(exc, offset) if isinstance(exc, yaml.YAMLError) else \
                exc if isinstance(exc, FileError) else FileError("the item is nested too deep", offset + 1)
            rtype, rid = _GUESS_TYPE.search(piece), _GUESS_ID.search(piece)
            unreadable.append(Unreadable(error.message, error.line or offset + 1,
                                         rtype.group(1) if rtype else None, rid.group(1) if rid else None))
    return Parsed(items, unreadable)


# ------------------------------------------------------------------------------------ JSON

_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")


def json_depth_over(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON ``text`` nests deeper than ``limit``: without recursion and at the C
    regex engine's speed (strings dropped, then innermost pairs removed ``limit`` times)."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    for _ in range(limit):
        if not brackets:
            return False
        brackets, n = _INNERMOST.subn("", brackets)
        if n == 0:
            return False  # unbalanced: the parser will say where
    return bool(brackets)


def value_depth(value: Any) -> int:
    """Levels of lists and mappings in a parsed value, as ``json_depth_over`` counts them in
    its text (``[{}]``: 2; a string: 0); without recursion.

    >>> value_depth({"a": [1, {"b": []}]}), value_depth("x")
    (4, 0)
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def _read_json(text: str, check_depth: bool = True) -> Parsed:
    if not check_depth:
        try:
            document = json.loads(text, parse_float=Decimal)
        except (ValueError, RecursionError):
            return _read_json(text)  # as always: checked in full, then read item by item
        if not isinstance(document, list):  # one record, or a wrapper with other keys: checked here
            if value_depth(document) > MAX_DEPTH:
                raise FileError(f"the JSON is nested more than {MAX_DEPTH} levels deep; a record needs far fewer")
            return _json_document(document)
        parsed = _json_document(document)
        parsed.depth_checked = False
        return parsed
    if json_depth_over(text):
        raise FileError(f"the JSON is nested more than {MAX_DEPTH} levels deep; a record needs far fewer")
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        recovered = _read_json_items(text)
        if recovered is None:
            raise FileError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                            exc.lineno, exc.colno) from exc
        return recovered
    except (ValueError, RecursionError) as exc:
        raise FileError(f"unreadable JSON: {exc}") from exc
    return _json_document(document)


def _json_document(document: Any) -> Parsed:
    around = 0
    if isinstance(document, dict) and "records" in document and "type" not in document:
        document, around = document["records"], 1
    if isinstance(document, dict):
        return Parsed([Item(document, None)], [], lazy_lines=True, around=around)
    if isinstance(document, list):
        if not document:
            raise FileError("the file is empty: its list of records has no items")
        return Parsed([Item(value, None) for value in document], [], lazy_lines=True, around=around + 1)
    raise FileError("a record file holds a list of records (objects with type and id), "
                    f"not a {type(document).__name__}")


_DECODER = json.JSONDecoder(parse_float=Decimal)
_WS = re.compile(r"[ \t\n\r]*")


def _read_json_items(text: str) -> Parsed | None:
    """A JSON list of records that does not parse as a whole, read record by record: after a
    record that does not parse, reading goes on at the next line that opens a record at the
    same indentation as the first one. None when the file is not such a list."""
    pos = _WS.match(text).end()  # type: ignore[union-attr]  # [ \t\n\r]* matches everywhere
    if text[pos: pos + 1] != "[":
        return None
    pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]  # [ \t\n\r]* matches everywhere
    first = text.rfind("\n", 0, pos) + 1
    opener = re.compile("^" + re.escape(text[first:pos]) + r"\{", re.MULTILINE)
    items: list[Item] = []
    unreadable: list[Unreadable] = []
    while pos < len(text) and text[pos] != "]":
        try:
            value, end = _DECODER.raw_decode(text, pos)
            items.append(Item(value, text.count("\n", 0, pos) + 1))
            pos = _WS.match(text, end).end()  # type: ignore[union-attr]  # [ \t\n\r]* matches everywhere
            if text[pos: pos + 1] == ",":
                pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]  # [ \t\n\r]* matches everywhere
            elif text[pos: pos + 1] != "]":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        except json.JSONDecodeError as exc:
            following = opener.search(text, max(exc.pos, pos) + 1)
            stop = following.start() + len(following.group()) - 1 if following else len(text)
            piece = text[pos:stop]
            rtype, rid = re.search(r'"type"\s*:\s*"([^"]+)"', piece), re.search(r'"id"\s*:\s*"?([^",}\s]+)', piece)
            unreadable.append(Unreadable(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                                         exc.lineno, rtype.group(1) if rtype else None, rid.group(1) if rid else None))
            if following is None:
                break
            pos = stop
        except RecursionError:
            return None
    return Parsed(items, unreadable)  # lines per record only: the token pass would count the broken one


def _read_csv(text: str, list_fields: Callable[[str], set[str]]) -> Parsed:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise FileError(f"malformed CSV header: {exc}", 1) from exc
    if not header or "type" not in header or "id" not in header:
        raise FileError("a CSV record file needs a header row with at least the columns type and id", 1)
    items: list[Item] = []
    unreadable: list[Unreadable] = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            unreadable.append(Unreadable(f"malformed CSV: {exc} at line {reader.line_num}", reader.line_num))
            break
        problems: list[tuple[str | None, int | None, str]] = []
        if None in row:
            extra = row.pop(None)
            problems.append((None, start, f"row has {len(header) + len(extra)} cells, the header has {len(header)}"))
        lists = list_fields((row.get("type") or "").strip())
        record: dict[str, Any] = {}
        for column, cell in row.items():
            if cell is None or cell.strip() == "":
                continue
            name, _, lang = column.strip().partition("@")
            value: Any = [v.strip() for v in cell.split(";") if v.strip()] if name in lists else cell.strip()
            if lang:
                record.setdefault(name, {})
                if isinstance(record[name], dict):
                    record[name][lang] = value
            else:
                record[name] = value
        items.append(Item(record, start, {k: start for k in record}, problems))
    if not items and not unreadable:
        raise FileError("the file is empty: the CSV has a header but no rows")
    return Parsed(items, unreadable)
