"""Input layer: JSON from outside (reconciliation batches), read within bounds.

``json.loads`` recurses (2,600 ``[`` raise RecursionError) and keeps lone surrogates
(``"\\ud800"``, which no answer can be encoded with). :func:`read_json` refuses both, and
anything over a size limit, before or right after the one parse, without recursing itself.
"""

from __future__ import annotations

import json
import re
from typing import Any

from etclod.errors import BatchTooLargeError, InputError

MAX_DEPTH = 32
_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class JsonInputError(InputError):
    code = "bad_json"
    status = 400


def depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text`` (strings skipped), in one pass.

    >>> depth('[{"a": "[[["}, [1]]')
    2
    """
    level = deepest = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token in "[{":
            level += 1
            deepest = max(deepest, level)
        elif token in "]}":
            level -= 1
    return deepest


def read_json(data: str | bytes, what: str, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """``data`` parsed, or a JsonInputError naming ``what`` and the bound it breaks."""
    size = len(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    if size > max_bytes:
        raise BatchTooLargeError(f"{what} is {size} bytes long; the limit is {max_bytes}: send fewer queries at a time")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise JsonInputError(f"{what} is not UTF-8 (byte {exc.start})") from exc
    if depth(text) > max_depth:
        raise JsonInputError(f"{what} nests arrays and objects deeper than {max_depth} levels")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise JsonInputError(f"{what} is not JSON: {exc}") from exc
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise JsonInputError(f"{what} holds a lone surrogate (\\u{ord(item[exc.start]):04x}), "
                                     "which is not a character") from None
    return value
