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
