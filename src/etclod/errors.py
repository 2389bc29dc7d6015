"""Error layer: one base class, a few subclasses callers treat differently."""

from __future__ import annotations


class EtclodError(Exception):
    """Base of every error etclod raises on purpose.

    ``code`` is a stable machine name, ``status`` the HTTP status the API answers with.
    """

    code = "etclod_error"
    status = 500

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


class RecordError(EtclodError):
    """One input record or file cannot be read; it is rejected, the build goes on."""

    code = "bad_record"
    status = 422

    def __init__(self, message: str, *, file: str, record_id: str | None = None,
                 field: str | None = None, value: object = None, line: int | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.record_id = record_id
        self.field = field
        self.value = value
        self.line = line


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
