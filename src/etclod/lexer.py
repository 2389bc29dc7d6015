"""Query layer: the one SPARQL tokenizer, following the SPARQL 1.1 grammar's terminals as
Oxigraph reads them, in one linear pass.

What it follows, because a checker that reads a query differently from the engine hides a
``SERVICE`` clause from the check (see DESIGN.md, "Known traps"):
- white space is space, tab, CR and LF; a comment ends at CR or LF;
- strings in all four forms (long ones span lines; the first unescaped ``'''`` or ``\"\"\"``
  ends one), with ``ECHAR`` and ``\\u``/``\\U`` escapes decoded inside strings and IRIs, where
  Oxigraph (and SPARQL 1.2) applies them. A codepoint escape anywhere else is refused: SPARQL
  1.1 would decode it before parsing, Oxigraph does not, so the two read different queries;
- prefixed names with ``PN_LOCAL`` escapes (``ex:a\\#``) and percent escapes (``PLX``), dots
  inside but not at the end;
- ``<`` is the less-than operator after an operand inside an expression (``FILTER(?o<1)``)
  and the start of an IRI everywhere else, as the grammar's context decides (a context-free
  reading takes ``<1)SERVICE?e#>`` for an IRI);
- nesting of brackets is counted without recursion, so a query too deep for the engine's
  recursive parser is refused before any parser sees it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from etclod.errors import QueryTooDeepError, SyntaxQueryError

MAX_NESTING = 200
"""Brackets (``{ ( [ << {|``) open at once; pyoxigraph's recursive parser overflows its
stack a few thousand levels deep."""

_PN_CHARS_BASE = ("A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
                  "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff")
_PN_CHARS_U = _PN_CHARS_BASE + "_"
_PN_CHARS = _PN_CHARS_U + r"\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_HEX = "0-9A-Fa-f"
_UCHAR = rf"\\u[{_HEX}]{{4}}|\\U[{_HEX}]{{8}}"
_PLX = rf"%[{_HEX}]{{2}}|\\[_~.\-!$&'()*+,;=/?#@%]"

_WS = re.compile(r"[ \t\r\n]+")
_COMMENT = re.compile(r"#[^\r\n]*")
_IRIREF = re.compile(rf"<((?:[^<>\"{{}}|^`\\\x00-\x20]|{_UCHAR})*)>")
_NAME_RUN = re.compile(rf"[{_PN_CHARS_BASE}][{_PN_CHARS}.]*")
"""A run that may be a PN_PREFIX (when a colon follows) or a bare word."""
_LOCAL = re.compile(rf"(?:[{_PN_CHARS_U}:0-9]|{_PLX})(?:[{_PN_CHARS}.:]|{_PLX})*")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VAR = re.compile(rf"[?$]([{_PN_CHARS_U}0-9][{_PN_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*)")
_BNODE = re.compile(rf"_:[{_PN_CHARS_U}0-9](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?")
_LANGTAG = re.compile(r"@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*(?:--[a-zA-Z]+)?")
_NUMBER = re.compile(r"[0-9]+\.[0-9]*[eE][+-]?[0-9]+|\.[0-9]+[eE][+-]?[0-9]+|[0-9]+[eE][+-]?[0-9]+"
                     r"|[0-9]*\.[0-9]+|[0-9]+")
_STRINGS = {
    "'''": re.compile(r"'''((?:[^'\\]|\\[\s\S]|'(?!''))*)'''"),
    '"""': re.compile(r'"""((?:[^"\\]|\\[\s\S]|"(?!""))*)"""'),
    "'": re.compile(r"'((?:[^'\\\r\n]|\\[^\r\n])*)'"),
    '"': re.compile(r'"((?:[^"\\\r\n]|\\[^\r\n])*)"'),
}
_ESCAPE = re.compile(rf"{_UCHAR}|\\[tbnrf\\\"']|\\")
_ECHAR = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", "\\": "\\", '"': '"', "'": "'"}
_NOT_IN_IRI = re.compile(r'[<>"{}|^`\\\x00-\x20]')
"""Characters an IRIREF may not hold, also where an escape wrote them."""
_PN_LOCAL_ESCAPE = re.compile(r"\\(.)")
_PUNCT = ("^^", "&&", "||", "!=", ">=", "{|", "|}", ">>")
_OPERAND_END = {"var", "iri", "pname", "string", "langtag", "number"}
"""Token kinds that end an operand: after one, inside an expression, ``<`` compares."""


class Token(NamedTuple):
    """One token (a named tuple: made once per token of every query checked, it costs a third
    of a frozen dataclass to build)."""

    kind: str
    """word, var, iri, pname, bnode, string, langtag, number, punct or other."""
    text: str
    """The token as written."""
    start: int
    end: int
    value: str
    """Decoded: the IRI, the string's content, the word in upper case, a prefixed name's
    prefix and local part joined by a colon with its escapes removed, a variable's name."""


def _unescape(raw: str, start: int, where: str) -> str:
    def one(match: re.Match[str]) -> str:
        text = match.group()
        if text.startswith(("\\u", "\\U")):
            code = int(text[2:], 16)  # noqa: FURB166 (a \\u escape, not 0x)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                raise _error(f"the escape {text} in {where} is not a Unicode character", start)
            return chr(code)
        if len(text) == 2:
            if where == "an IRI":
                raise _error(f"the escape {text} is not allowed in an IRI", start)
            return _ECHAR[text[1]]
        raise _error(f"a backslash in {where} starts no escape (\\t \\n \\r \\b \\f \\\\ \\\" \\' \\uXXXX)", start)

    return _ESCAPE.sub(one, raw) if "\\" in raw else raw


def _position(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


class _Located(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message, self.offset = message, offset


def _error(message: str, offset: int) -> _Located:
    return _Located(message, offset)


@dataclass
class _Frame:
    kind: str
    """top, group, expr, triple (collections, blank node lists, quoted triples) or data (VALUES)."""
    opener: str
    clause_expr: bool = False
    """top and group frames: in a SELECT, GROUP BY, ORDER BY or HAVING clause, where a
    parenthesis opens an expression."""


_CLOSERS = {"}": ("{",), ")": ("(",), "]": ("[",), ">>": ("<<",), "|}": ("{|",)}


def tokenize(text: str) -> list[Token]:
    """The tokens of a SPARQL query, comments and white space left out.

    >>> [t.text for t in tokenize("ASK { ?s ?p 'x' # c\\rFILTER(?s<1) }")]
    ['ASK', '{', '?s', '?p', "'x'", 'FILTER', '(', '?s', '<', '1', ')', '}']
    >>> tokenize("PREFIX ex: <http://e/> ASK { ?s ex:a\\\\# ?o }")[-3].value
    'ex:a#'
    """
    try:
        return _tokenize(text)
    except _Located as exc:
        raise SyntaxQueryError(f"SPARQL syntax error at {_position(text, exc.offset)}: {exc.message}") from None


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    stack = [_Frame("top", "")]
    after_values = False
    no_colon_before = -1
    """End of the last name run seen without a colon after it: runs starting inside it end
    there too, so it is not scanned again (this keeps ``a.a.a.a...`` linear)."""
    pos, length = 0, len(text)

    def add(kind: str, end: int, value: str | None = None) -> None:
        nonlocal pos
        raw = text[pos:end]
        tokens.append(Token(kind, raw, pos, end, raw if value is None else value))
        pos = end

    while pos < length:
        char = text[pos]
        if char in " \t\r\n":
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]  # matches: text[pos] is blank
            continue
        if char == "#":
            pos = _COMMENT.match(text, pos).end()  # type: ignore[union-attr]  # matches: text[pos] is #
            continue
        frame = stack[-1]
        previous = tokens[-1] if tokens else None
        if char in "'\"":
            quote = text[pos:pos + 3] if text.startswith(char * 3, pos) else char
            match = _STRINGS[quote].match(text, pos)
            if match is None:
                raise _error("a string is not closed" + ("" if len(quote) == 3 else " on its line"), pos)
            add("string", match.end(), _unescape(match.group(1), pos, "a string"))
            continue
        if char == "<":
            operator = (frame.kind == "expr" and previous is not None
                        and (previous.kind in _OPERAND_END or previous.text in (")", "}")
                             or previous.kind == "word" and previous.value in ("TRUE", "FALSE")))
            if operator:
                add("punct", pos + 2 if text.startswith("<=", pos) else pos + 1)
                continue
            if text.startswith("<<", pos):
                _push(stack, _Frame("triple", "<<"), pos)
                add("punct", pos + 2)
                continue
            match = _IRIREF.match(text, pos)
            if match is not None:
                add("iri", match.end(), _unescape(match.group(1), pos, "an IRI"))
                if _NOT_IN_IRI.search(tokens[-1].value):
                    raise _error(f"the IRI {tokens[-1].text} holds a character IRIs may not hold", tokens[-1].start)
                continue
            add("punct", pos + 2 if text.startswith("<=", pos) else pos + 1)
            continue
        if char in "?$":
            match = _VAR.match(text, pos)
            if match is not None:
                add("var", match.end(), match.group(1))
                continue
            add("punct", pos + 1)
            continue
        if char == "_" and text.startswith("_:", pos):
            match = _BNODE.match(text, pos)
            if match is None:
                raise _error("a blank node label is empty", pos)
            add("bnode", match.end())
            continue
        if char == "@":
            match = _LANGTAG.match(text, pos)
            if match is None:
                raise _error("a language tag is malformed", pos)
            add("langtag", match.end())
            continue
        # ASCII digits only, as the grammar's: str.isdigit() is true of '¹' and '٣' too, which
        # no SPARQL number starts with
        if "0" <= char <= "9" or char == "." and pos + 1 < length and "0" <= text[pos + 1] <= "9":
            add("number", _NUMBER.match(text, pos).end())  # type: ignore[union-attr]  # matches: a digit or .digit is here
            continue
        run = None if char == ":" or pos < no_colon_before else _NAME_RUN.match(text, pos)
        if char == ":" or run is not None:
            prefix_end = pos
            if run is not None:  # matched once: the run is read from this match
                prefix_end = run.end()
                while prefix_end > pos and text[prefix_end - 1] == ".":
                    prefix_end -= 1
                if prefix_end >= length or text[prefix_end] != ":" or prefix_end != run.end():
                    no_colon_before = run.end()
                    prefix_end = -1
            if prefix_end >= 0:
                _pname(text, pos, prefix_end, add)
                continue
        if char == "\\":
            raise _error("a backslash outside a string, an IRI or a prefixed name: codepoint escapes "
                         "(\\u, \\U) are only accepted inside strings and IRIs", pos)
        word = _WORD.match(text, pos)
        if word is not None:
            value = word.group().upper()
            add("word", word.end(), value)
            if value == "VALUES":
                after_values = True
            elif value in ("SELECT", "BY", "HAVING"):
                frame.clause_expr = True
            elif value in ("WHERE", "LIMIT", "OFFSET"):
                frame.clause_expr = False
            continue
        two = text[pos:pos + 2]
        if two == ">>" and frame.opener != "<<" or two == "|}" and frame.opener != "{|":
            two = ""
        if two in _PUNCT:
            if two in ("{|",):
                _push(stack, _Frame("triple", "{|"), pos)
            elif two in _CLOSERS:
                _pop(stack, two, pos)
            add("punct", pos + 2)
            continue
        if char == "{":
            kind = "data" if after_values else "group"
            after_values = False
            frame.clause_expr = False
            _push(stack, _Frame(kind, "{"), pos)
        elif char == "(":
            _push(stack, _Frame(_paren_kind(frame, previous, tokens), "("), pos)
        elif char == "[":
            _push(stack, _Frame("triple", "["), pos)
        elif char in _CLOSERS:
            _pop(stack, char, pos)
        add("punct" if char in "{}()[].,;*/|^+-!=<>~" else "other", pos + 1)
    return tokens


def _pname(text: str, pos: int, colon: int, add: Callable[[str, int, str], None]) -> None:
    local = _LOCAL.match(text, colon + 1)
    end = colon + 1
    if local is not None:
        end = local.end()
        while end > colon + 1 and text[end - 1] == "." and not text.endswith("\\.", 0, end):
            end -= 1
    raw_local = text[colon + 1:end]
    value = text[pos:colon] + ":" + (_PN_LOCAL_ESCAPE.sub(r"\1", raw_local) if "\\" in raw_local else raw_local)
    add("pname", end, value)


def _paren_kind(frame: _Frame, previous: Token | None, tokens: list[Token]) -> str:
    """Whether a parenthesis opens an expression (where ``<`` may compare) or a collection
    or VALUES row (where it only starts IRIs)."""
    if frame.kind in ("expr", "data"):
        return frame.kind
    if previous is not None and previous.kind == "word":
        return "data" if previous.value == "VALUES" else "triple" if previous.text == "a" else "expr"
    if frame.kind == "triple":
        return "triple"
    if frame.clause_expr or frame.kind == "top":
        return "expr"
    if previous is not None and previous.kind in ("iri", "pname") and len(tokens) >= 2 \
            and tokens[-2].kind == "word" and tokens[-2].value == "FILTER":
        return "expr"
    return "triple"


def _push(stack: list[_Frame], frame: _Frame, pos: int) -> None:
    if len(stack) > MAX_NESTING:
        raise QueryTooDeepError(f"the query nests brackets deeper than {MAX_NESTING} levels (at offset {pos}); "
                         "no query needs that many")
    stack.append(frame)


def _pop(stack: list[_Frame], closer: str, pos: int) -> None:
    if len(stack) > 1 and stack[-1].opener in _CLOSERS[closer]:
        stack.pop()
    # an unbalanced closer is left to the parser, which names it
