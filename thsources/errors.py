"""The one exception tree of thsources.

Every error a user can see derives from :class:`ThsourcesError`::

    ThsourcesError
    ├── ConfigError          no such profile or source kind, missing key, unsafe config file,
    │   │                    a local ``path`` that is not a DuckDB database
    │   └── MissingDependency     an optional package is not installed (also an ImportError)
    ├── ParameterError       missing, unknown or ill-typed parameter or timeout (also a ValueError)
    ├── UnsupportedQuery     this source cannot run this query (or has no schema listing)
    ├── SourceError          talking to the source failed
    │   ├── AuthenticationError   bad or missing credentials
    │   ├── PermissionDenied      credentials fine, access refused (a write on a read-only source)
    │   ├── NotFound              no such saved query, result, data source, table (a LookupError)
    │   ├── SourceUnavailable     connection errors or 5xx, after retries; a locked database file
    │   └── ProtocolError         a 2xx response of the wrong shape
    └── QueryError           the source ran the query and it failed; .message is the server's text
        ├── QueryTimeout          deadline passed; the job was cancelled (a TimeoutError)
        └── QueryCancelled        the job was cancelled by job.cancel() or on the server

The extra bases let plain Python code catch them as it would the built-in kinds
(``except ValueError`` around parameters, ``except TimeoutError`` around a deadline).

Each error has ``.source`` and ``.job_id`` where known, and ``.query``: the SQL that failed
(as sent, parameters bound) when there was one. ``.query`` is kept out of ``str()`` and
``repr()``, which stay one short line. Messages never carry secrets: sources pass every text
through the redactor of their HTTP session before raising.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "MissingDependency",
    "NotFound",
    "ParameterError",
    "PermissionDenied",
    "ProtocolError",
    "QueryCancelled",
    "QueryError",
    "QueryTimeout",
    "SourceError",
    "SourceUnavailable",
    "ThsourcesError",
    "UnsupportedQuery",
    "exit_code_for",
]


class ThsourcesError(Exception):
    """Root of every thsources error; carries the source name and job id where known."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        job_id: str | None = None,
        status_code: int | None = None,
        query: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.job_id = job_id
        self.status_code = status_code
        self.query = query

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigError(ThsourcesError):
    """No such profile or source kind, a missing key, an unsafe config file."""


class MissingDependency(ConfigError, ImportError):
    """An optional package a feature needs is not installed; the message says what to install."""


class ParameterError(ThsourcesError, ValueError):
    """A parameter is missing, unknown or of the wrong type."""


class UnsupportedQuery(ThsourcesError):
    """This source cannot run this query."""


class SourceError(ThsourcesError):
    """Talking to the source failed."""


class AuthenticationError(SourceError):
    """Bad or missing credentials."""


class PermissionDenied(SourceError):
    """Credentials are fine but access was refused."""


class NotFound(SourceError, LookupError):
    """No such saved query, result, data source, repository or table."""


class SourceUnavailable(SourceError):
    """Connection errors or 5xx answers, after retries."""


class ProtocolError(SourceError):
    """A 2xx answer of the wrong shape (HTML, bad JSON, unknown status)."""


class QueryError(ThsourcesError):
    """The source ran the query and it failed; ``message`` is the server's text."""


class QueryTimeout(QueryError, TimeoutError):
    """The caller's deadline passed; the remote job was cancelled where possible."""


class QueryCancelled(QueryError):
    """The job was cancelled, by ``job.cancel()`` or by someone on the server."""


def exit_code_for(exc: BaseException) -> int:
    """The CLI exit code documented in DESIGN.md for an exception."""
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, QueryTimeout):
        return 5
    if isinstance(exc, QueryError):
        return 1
    if isinstance(exc, ConfigError | ParameterError | UnsupportedQuery):
        return 2
    if isinstance(exc, AuthenticationError | PermissionDenied):
        return 3
    if isinstance(exc, SourceError):
        return 4
    return 1
