"""Input layer: RDF from outside (uploads to /validate), parsed without any side effect.

Never fetches a remote JSON-LD ``@context``, never expands XML entities, never opens a file
or URL named in the data, and refuses nesting deep enough to exhaust a parser's stack. The
parsing is pyoxigraph's; the checks here run before it sees the bytes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pyoxigraph as ox

from etclod.errors import InputError, UnsupportedMediaTypeError
from etclod.formats import RDF_INPUT_FORMATS

MAX_DEPTH = 64
RDF_INPUT = {f.media_type: f.oxigraph for f in RDF_INPUT_FORMATS}
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_TURTLE_OPEN = re.compile(r'"""|\'\'\'|["\'<#\[\]()]')
_TURTLE_CLOSE = {'"""': re.compile(r'(?:[^"\\]|\\.|"(?!""))*"""', re.DOTALL),
                 "'''": re.compile(r"(?:[^'\\]|\\.|'(?!''))*'''", re.DOTALL),
                 '"': re.compile(r'(?:[^"\\\n\r]|\\.)*"'), "'": re.compile(r"(?:[^'\\\n\r]|\\.)*'")}
_TURTLE_IRI = re.compile(r'[^<>"{}|^`\\\s]*>')


class RdfInputError(InputError):
    code = "bad_rdf"
    status = 400


def _turtle_depth(text: str) -> int:
    """How deeply blank nodes and lists nest, in one pass that never scans a span twice
    (``'<' * 100000`` took 16 s with a regex that did); an unterminated string ends the count:
    the parser refuses the document anyway."""
    depth = deepest = pos = 0
    while True:
        match = _TURTLE_OPEN.search(text, pos)
        if match is None:
            return deepest
        token, pos = match.group(), match.end()
        if token in "[(":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "])":
            depth -= 1
        elif token == "#":
            pos = text.find("\n", pos)
            if pos < 0:
                return deepest
        elif token == "<":
            iri = _TURTLE_IRI.match(text, pos)
            pos = iri.end() if iri else pos
        else:
            closed = _TURTLE_CLOSE[token].match(text, pos)
            if closed is None:
                return deepest
            pos = closed.end()


def _json_depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _remote_contexts(value: Any) -> list[str]:
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if key in ("@context", "@import"):
                    for ctx in inner if isinstance(inner, list) else [inner]:
                        if isinstance(ctx, str):
                            found.append(ctx)
                        else:
                            stack.append(ctx)
                else:
                    stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def check_untrusted(data: bytes, media_type: str) -> ox.RdfFormat:
    """Refuse what a parser could turn into a fetch, a file read or a crash; return the format."""
    fmt = RDF_INPUT.get(media_type.split(";")[0].strip().lower())
    if fmt is None:
        raise UnsupportedMediaTypeError(f"send RDF as one of {', '.join(RDF_INPUT)}, not {media_type or 'no content type'}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RdfInputError(f"the RDF is not UTF-8 (byte {exc.start})") from exc
    if fmt == ox.RdfFormat.RDF_XML and _DECLARATION.search(data):
        raise RdfInputError("RDF/XML with a DOCTYPE or ENTITY declaration is refused: entities are never expanded")
    if fmt == ox.RdfFormat.JSON_LD:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise RdfInputError(f"malformed JSON-LD: {exc}") from exc
        if _json_depth(document) > MAX_DEPTH * 2:
            raise RdfInputError(f"the JSON-LD nests deeper than {MAX_DEPTH * 2} levels")
        remote = _remote_contexts(document)
        if remote:
            raise RdfInputError(f"remote JSON-LD contexts are never fetched ({remote[0]!r}): inline the @context")
    elif fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) and _turtle_depth(text) > MAX_DEPTH:
        raise RdfInputError(f"the Turtle nests blank nodes or lists deeper than {MAX_DEPTH} levels")
    return fmt


def parse_untrusted(data: bytes, media_type: str) -> list[ox.Quad]:
    """Parse RDF from outside into quads (triples land in the default graph)."""
    fmt = check_untrusted(data, media_type)
    try:
        return list(ox.parse(data, format=fmt, base_iri="urn:etclod:upload:"))
    except SyntaxError as exc:
        raise RdfInputError(f"the RDF does not parse: {exc}") from exc
    except (ValueError, OSError) as exc:
        raise RdfInputError(f"the RDF cannot be read: {exc}") from exc
