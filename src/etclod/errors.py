"""Error layer: one base class, one subclass per error code, and every code listed once.

``CODES`` is the one list of the machine names (``"error"`` in every error answer) with their
HTTP status and meaning; the OpenAPI description is written from it. A subclass whose code is
not listed fails at import, so a new code is one line here and one class.
"""

from __future__ import annotations


CODES: dict[str, tuple[int, str]] = {
    # code: (HTTP status, what it means) -- raised as the EtclodError subclass of that code
    "etclod_error": (500, "an error of etclod's own with no more precise code"),
    "bad_settings": (500, "a setting (ETCLOD_*) or command-line option is wrong; the CLI exits 2"),
    "bad_input": (400, "the input as a whole cannot be used: no data folder, an unwritable var folder"),
    "release_error": (503, "no release can be served: missing, damaged, or not switched to"),
    "build_running": (409, "another build is running in this var folder; try again when it is done"),
    "too_many_removals": (409, "a build would unpublish more records than allowed (--allow-removals)"),
    "not_found": (404, "no such resource, list, release or file"),
    "not_acceptable": (406, "none of the formats asked for (Accept or ?format=) can be produced here"),
    "unsupported_media_type": (415, "the body's Content-Type is not one this route reads"),
    "unsupported_charset": (415, "the body is in a character set other than UTF-8"),
    "bad_encoding": (400, "the body is not valid UTF-8"),
    "bad_rdf": (400, "RDF that cannot be read safely: syntax, entities, remote contexts, nesting"),
    "bad_query": (400, "a request the endpoint refuses as it stands (protocol, parameters)"),
    "syntax_error": (400, "the SPARQL query does not parse; the message names line and column"),
    "missing_query": (400, "no query was sent"),
    "multiple_queries": (400, "more than one query in one request"),
    "query_too_long": (413, "the query is longer than ETCLOD_MAX_QUERY_LENGTH"),
    "read_only": (400, "an update: data changes only through a new release"),
    "service_refused": (400, "SERVICE to an endpoint not in ETCLOD_SERVICE_ALLOW"),
    "extension_refused": (400, "a non-standard extension function of the engine"),
    "result_too_large": (400, "the answer has more rows or triples than ETCLOD_MAX_ROWS; never truncated"),
    "query_failed": (400, "the engine or the SPARQL server could not run the query (503: a worker failed)"),
    "query_too_deep": (400, "the query nests brackets deeper than the tokenizer allows (200)"),
    "ambiguous_query": (400, "a query that would read differently once re-written for the SPARQL server"),
    "query_memory": (503, "the query needed more memory than ETCLOD_WORKER_MAX_MEMORY_MB; the worker is replaced"),
    "bad_json": (400, "JSON that cannot be read safely: syntax, nesting, lone surrogates"),
    "batch_too_large": (413, "a reconciliation batch with more queries than allowed; never cut short"),
    "upload_build_running": (503, "an upload waited ETCLOD_UPLOAD_BUILD_WAIT seconds for a running build; marked failed: send it again"),
    "upload_failed": (422, "an upload that could not be judged; it is marked failed with the reason"),
    "query_timeout": (503, "the query ran past ETCLOD_QUERY_TIMEOUT and was stopped"),
    "too_many_queries": (503, "too many queries running or waiting; try again (Retry-After)"),
    "bad_cursor": (400, "a page cursor that is not one this list gave"),
    "bad_facet": (400, "a filter this list does not offer"),
    "bad_type": (400, "an unknown record type"),
    "bad_callback": (400, "a JSONP callback that is not a JavaScript identifier"),
    "unauthorized": (401, "an admin route without the right Bearer token"),
    "upload_rejected": (422, "an upload with rejected records; nothing was published"),
    "remote_store": (502, "the SPARQL server of ETCLOD_STORE answered with an error or not at all"),
    # answered by the HTTP layer itself, never raised as an EtclodError
    "bad_request": (400, "a request FastAPI could not read (parameters, form)"),
    "forbidden": (403, "forbidden"),
    "method_not_allowed": (405, "the route does not take this HTTP method"),
    "too_large": (413, "the request body is larger than ETCLOD_MAX_BODY_BYTES"),
    "uri_too_long": (414, "the request URI is too long"),
    "too_many_requests": (429, "too many requests"),
    "http_error": (500, "another HTTP error"),
    "internal_error": (500, "a bug: it is logged; please report it"),
}


def codes_markdown() -> str:
    """The error codes as a Markdown table, for the OpenAPI description.

    >>> codes_markdown().splitlines()[2].startswith("| `etclod_error` | 500 |")
    True
    """
    rows = [f"| `{code}` | {status} | {meaning} |" for code, (status, meaning) in CODES.items()]
    return "\n".join(["| error | status | meaning |", "|---|---|---|", *rows])


_CLASSES: dict[str, type[EtclodError]] = {}


def error_class(code: str) -> type[EtclodError]:
    """The subclass of an error code (a worker sends the code back over its pipe).

    >>> error_class("read_only").__name__, error_class("no such code").__name__
    ('ReadOnlyError', 'EtclodError')
    """
    return _CLASSES.get(code, EtclodError)


class EtclodError(Exception):
    """Base of every error etclod raises on purpose.

    ``code`` is a stable machine name listed in ``CODES``, ``status`` the HTTP status the API
    answers with; each code is its own subclass.
    """

    code = "etclod_error"
    status = 500

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.code not in CODES:
            raise TypeError(f"{cls.__name__}.code {cls.code!r} is not listed in etclod.errors.CODES")
        _CLASSES.setdefault(cls.code, cls)

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def to_dict(self) -> dict[str, object]:
        return {"error": self.code, "message": self.message, "status": self.status}

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers that go with the error (a 503 says when to retry)."""
        return {"Retry-After": "5"} if self.status == 503 else {}


class SettingsError(EtclodError):
    """A setting or command-line option is wrong (CLI exit code 2)."""

    code = "bad_settings"
    status = 500


class InputError(EtclodError):
    """The input as a whole cannot be used: missing data folder, unwritable var folder (exit 2)."""

    code = "bad_input"
    status = 400


class ReleaseError(EtclodError):
    """A release folder is missing, damaged or cannot be switched to."""

    code = "release_error"
    status = 503


class NotFoundError(EtclodError):
    code = "not_found"
    status = 404


class NotAcceptableError(EtclodError):
    code = "not_acceptable"
    status = 406


class QueryError(EtclodError):
    """A SPARQL request that the endpoint refuses (syntax, protocol, limits)."""

    code = "bad_query"
    status = 400


class BuildRunningError(InputError):
    code = "build_running"
    status = 409


class UnsupportedMediaTypeError(InputError):
    code = "unsupported_media_type"
    status = 415


class UnsupportedCharsetError(QueryError):
    code = "unsupported_charset"
    status = 415


class BadEncodingError(QueryError):
    code = "bad_encoding"


class SyntaxQueryError(QueryError):
    code = "syntax_error"


class MissingQueryError(QueryError):
    code = "missing_query"


class MultipleQueriesError(QueryError):
    code = "multiple_queries"


class QueryTooLongError(QueryError):
    code = "query_too_long"
    status = 413


class ReadOnlyError(QueryError):
    code = "read_only"


class ServiceRefusedError(QueryError):
    code = "service_refused"


class ExtensionRefusedError(QueryError):
    code = "extension_refused"


class ResultTooLargeError(QueryError):
    code = "result_too_large"


class QueryFailedError(QueryError):
    """The engine or the server could not run it (400), or the worker failed (503)."""

    code = "query_failed"


class BadCursorError(QueryError):
    code = "bad_cursor"


class BadFacetError(QueryError):
    code = "bad_facet"


class BadTypeError(QueryError):
    code = "bad_type"


class BadCallbackError(QueryError):
    code = "bad_callback"


class QueryTooDeepError(QueryError):
    code = "query_too_deep"


class AmbiguousQueryError(QueryError):
    code = "ambiguous_query"


class QueryMemoryError(QueryError):
    code = "query_memory"
    status = 503


class BatchTooLargeError(QueryError):
    code = "batch_too_large"
    status = 413
