"""The one hardened HTTP session every HTTP source uses.

Hand-rolled ``requests`` calls tend to miss the same things: a timeout (so a dead proxy
hangs the caller forever), retries (so one 502 fails a ten-minute analysis), a descriptive
``User-Agent`` (Treeherder answers 403 to ``python-requests/...``), and care with secrets
(keys end up in exception messages and debug logs). :class:`HttpSession` does all of that in
one place:

- every request has a connect and a read timeout, shortened to the caller's deadline;
- idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) are retried on connection errors and
  on 429/502/503/504 with exponential backoff and full jitter, honouring ``Retry-After``, bounded
  by a :class:`RetryPolicy` and by the deadline;
- a POST is never retried blindly and never follows redirects; it is re-sent only when the
  request provably never left (connection refused) or when the caller supplies ``resend``, a
  body that is safe to send again;
- every message and log line passes through a :class:`Redactor` that knows the secrets;
- transport failures become :class:`~thsources.errors.SourceUnavailable` (and friends).

The session returns any HTTP answer it got (after retries); mapping statuses and bodies to
errors is the source's business, with :meth:`HttpSession.error_for` and
:meth:`HttpSession.json` as generic defaults.
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import logging
import math
import platform
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

import orjson
import requests
import urllib3.exceptions

from .errors import (
    AuthenticationError,
    ConfigError,
    NotFound,
    PermissionDenied,
    ProtocolError,
    QueryTimeout,
    SourceError,
    SourceUnavailable,
)
from .polling import Deadline

__all__ = [
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUTS",
    "IDEMPOTENT_METHODS",
    "NO_RETRY",
    "HttpSession",
    "Redactor",
    "RetryPolicy",
    "Timeouts",
    "user_agent",
]

log = logging.getLogger("thsources.http")

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
"""Methods whose repetition cannot do anything twice (RFC 9110 §9.2.2)."""

_SECRET_QUERY_ARGS: Final = frozenset(
    {"api_key", "apikey", "key", "token", "access_token", "password", "secret", "auth"}
)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait for a connection and, once connected, between bytes of the answer.

    Defaults: ``connect=10`` (a healthy server accepts in milliseconds; longer means it is
    down or firewalled) and ``read=60`` (long enough for a large result to start streaming;
    query execution itself is waited for by polling, never inside one request).
    """

    connect: float = 10.0
    read: float = 60.0

    def __post_init__(self) -> None:
        if not (self.connect > 0 and self.read > 0):
            raise ValueError(f"timeouts must be positive, not {self!r}")

    def within(self, deadline: Deadline | None, grace: float = 0.0) -> tuple[float, float]:
        """The ``(connect, read)`` pair for ``requests``, shortened to the deadline.

        ``grace`` lets the read run that much past the deadline (see ``HttpSession.request``).
        """
        if deadline is None:
            return (self.connect, self.read)
        left = max(deadline.remaining(), 0.001)
        return (min(self.connect, left), min(self.read, left + grace))


DEFAULT_TIMEOUTS: Final = Timeouts()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a failed request is tried again. Immutable.

    The n-th retry (n = 0, 1, ...) waits a uniformly random time between 0 and
    ``min(maximum, initial * multiplier**n)`` ("full jitter", so that many clients failing at
    once do not come back in step), or longer if the server asked with ``Retry-After``.

    Defaults: ``attempts=5`` in all (the first try included), ``initial=0.25`` s,
    ``multiplier=2``, ``maximum=8`` s, retried statuses 429/502/503/504 (overload and gateway
    failures; a 500 is an application error that a retry rarely fixes), and a
    ``Retry-After`` above ``max_retry_after=120`` s gives up instead of waiting.
    """

    attempts: int = 5
    initial: float = 0.25
    multiplier: float = 2.0
    maximum: float = 8.0
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 502, 503, 504}))
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")
        if self.initial < 0 or self.maximum < 0 or self.multiplier < 1:
            raise ValueError(f"invalid backoff in {self!r}")

    def with_attempts(self, attempts: int) -> RetryPolicy:
        return replace(self, attempts=attempts)

    def with_backoff(
        self,
        *,
        initial: float | None = None,
        maximum: float | None = None,
        multiplier: float | None = None,
    ) -> RetryPolicy:
        return replace(
            self,
            initial=self.initial if initial is None else initial,
            maximum=self.maximum if maximum is None else maximum,
            multiplier=self.multiplier if multiplier is None else multiplier,
        )

    def with_statuses(self, statuses: Iterable[int]) -> RetryPolicy:
        return replace(self, statuses=frozenset(statuses))

    def ceiling(self, retry: int) -> float:
        """The upper bound of the random wait before retry number ``retry`` (from 0)."""
        try:
            return min(self.maximum, self.initial * self.multiplier**retry)
        except OverflowError:
            return self.maximum

    def delays(self, rand: Callable[[], float] = random.random) -> Iterator[float]:
        """The waits before each retry, full jitter: ``attempts - 1`` values."""
        for n in range(self.attempts - 1):
            yield rand() * self.ceiling(n)


DEFAULT_RETRY: Final = RetryPolicy()
NO_RETRY: Final = RetryPolicy(attempts=1)


def package_version() -> str:
    try:
        return version("thsources")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def user_agent() -> str:
    """``thsources/<version>`` plus Python and requests versions: an honest, specific UA."""
    return (
        f"thsources/{package_version()} "
        f"(python {platform.python_version()}; requests {requests.__version__})"
    )


class Redactor:
    """Removes registered secrets from any text. Thread-safe; shared by a session's users.

    Secrets are matched verbatim and in their URL-encoded forms, since a key can reach a
    message through a URL. Keep one per source and pass every user-visible text through it.
    """

    MASK: Final = "<redacted>"

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._patterns: tuple[str, ...] = ()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret:
            return
        forms = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}
        with self._lock:
            # Longest first, so that a secret containing another is removed whole.
            self._patterns = tuple(sorted(set(self._patterns) | forms, key=len, reverse=True))

    def __call__(self, text: object) -> str:
        out = str(text)
        for pattern in self._patterns:
            if pattern in out:
                out = out.replace(pattern, self.MASK)
        return out

    redact = __call__

    def url(self, url: str) -> str:
        """A URL fit for logs: secrets removed, credential-like query arguments masked."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return self(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rsplit("@", 1)[1]
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [(k, self.MASK if k.lower() in _SECRET_QUERY_ARGS else v) for k, v in pairs],
                safe="<>",
            )
        return self(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))

    def __repr__(self) -> str:
        return f"<Redactor {len(self._patterns)} forms>"


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """API clients authenticate by header; cookies would only add shared mutable state."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


_UNSET: Final[Any] = object()


class HttpSession:
    """A ``requests`` session with timeouts, retries, a User-Agent and secret redaction.

    ``source`` names the source in every error raised. ``secrets`` are registered with the
    redactor (more can be added with ``redactor.add``). ``headers`` are sent with every
    request and never logged. ``sleep`` and ``rand`` exist for tests. Thread-safe.
    """

    def __init__(
        self,
        source: str,
        *,
        secrets: Iterable[str | None] = (),
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        verify: bool | str = True,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.source = source
        self.redactor = Redactor(secrets)
        self.retry = retry
        self.timeouts = timeouts
        self._sleep = sleep
        self._rand = rand
        self._session = session or requests.Session()
        self._session.cookies.set_policy(_NoCookies())
        self._session.headers["User-Agent"] = user_agent()
        self._session.headers.update(headers or {})
        self._session.verify = verify
        # Also passed with every request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
        # override a session's verify (False or a bundle path) when the request gives none.
        self._verify = verify
        self._closed = False

    # -- requests -----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = _UNSET,
        headers: Mapping[str, str] | None = None,
        deadline: Deadline | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        idempotent: bool | None = None,
        resend: Callable[[int], Any] | None = None,
        allow_redirects: bool | None = None,
        grace: float = 0.0,
        stream: bool = False,
    ) -> requests.Response:
        """Send one request, retrying where that is safe; return the final answer.

        Any HTTP status is returned (after retries of the retryable ones); transport
        failures raise :class:`SourceUnavailable`, an invalid URL :class:`ConfigError`, and
        the ``deadline`` passing :class:`QueryTimeout`.

        ``idempotent`` overrides the method's default. ``resend(n)``, for a request that is
        not idempotent as such, gives the JSON body for attempt ``n`` (1, 2, ...) that is
        safe to send again (e.g. with a ``max_age`` that picks up the first attempt's
        result); with it the request is retried like an idempotent one. Redirects are
        followed for idempotent methods only, unless ``allow_redirects`` says otherwise.

        ``grace`` (seconds) lets the answer to a request sent before the deadline arrive up to
        that much after it: a source submitting a job uses it to learn the job's id, so that
        it can cancel the job rather than leave it running unknown.

        ``stream=True`` returns once the headers are in, leaving the body to read
        (``thsources.httpbody.Incoming`` reads a large one into a single buffer).
        """
        method = method.upper()
        if self._closed:
            raise SourceError("this source has been closed", source=self.source)
        policy = self.retry if retry is None else retry
        safe = (method in IDEMPOTENT_METHODS) if idempotent is None else idempotent
        retryable = safe or resend is not None
        redirects = safe if allow_redirects is None else allow_redirects
        limits = timeouts or self.timeouts
        shown = self.redactor.url(url)
        body = json
        last_error: SourceUnavailable | None = None
        attempt = 0
        while True:
            attempt += 1
            if deadline is not None and deadline.expired:
                if last_error is not None:
                    raise last_error
                raise QueryTimeout(
                    f"the deadline passed before {method} {shown} could be sent",
                    source=self.source,
                )
            kwargs: dict[str, Any] = {
                "params": params,
                "headers": headers,
                "timeout": limits.within(deadline, grace),
                "allow_redirects": redirects,
                "verify": self._verify,
            }
            if stream:
                kwargs["stream"] = True
            if body is not _UNSET:
                # orjson: exact floats, datetimes as ISO strings, and 5-10x faster.
                kwargs["data"] = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
                kwargs["headers"] = {"Content-Type": "application/json", **(headers or {})}
            t0 = time.monotonic()
            try:
                response = self._session.request(method, url, **kwargs)
            except requests.RequestException as exc:
                elapsed = time.monotonic() - t0
                error, may_retry = self._transport_error(exc, method, shown, limits, deadline)
                log.debug(
                    "%s %s failed after %.3fs (attempt %d): %s",
                    method,
                    shown,
                    elapsed,
                    attempt,
                    error.message,
                )
                if not (may_retry and (retryable or _never_sent(exc))):
                    raise error from exc
                last_error = error
                delay = policy.ceiling(attempt - 1) * self._rand()
                if attempt >= policy.attempts or not self._may_wait(delay, deadline):
                    raise _after_attempts(error, attempt) from exc
                self._pause(delay, method, shown, attempt, policy, error.message)
                if resend is not None:
                    body = resend(attempt)
                continue
            elapsed = time.monotonic() - t0
            log.debug(
                "%s %s -> %d in %.3fs%s",
                method,
                self.redactor.url(response.url or url),
                response.status_code,
                elapsed,
                f" (attempt {attempt})" if attempt > 1 else "",
            )
            if response.status_code not in policy.statuses or not retryable:
                return response
            if attempt >= policy.attempts:
                return response
            delay = policy.ceiling(attempt - 1) * self._rand()
            wanted = _retry_after(response)
            if wanted is not None:
                if wanted > policy.max_retry_after:
                    log.debug(
                        "%s %s: Retry-After %.0fs is too long; giving up", method, shown, wanted
                    )
                    return response
                delay = max(delay, wanted)
            if not self._may_wait(delay, deadline):
                return response
            response.close()
            self._pause(delay, method, shown, attempt, policy, f"HTTP {response.status_code}")
            if resend is not None:
                body = resend(attempt)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", url, **kwargs)

    def _may_wait(self, delay: float, deadline: Deadline | None) -> bool:
        return deadline is None or delay < deadline.remaining()

    def _pause(
        self, delay: float, method: str, shown: str, attempt: int, policy: RetryPolicy, why: str
    ) -> None:
        log.debug(
            "retrying %s %s in %.2fs (attempt %d of %d) after %s",
            method,
            shown,
            delay,
            attempt + 1,
            policy.attempts,
            self.redactor(why),
        )
        self._sleep(delay)

    def _transport_error(
        self,
        exc: requests.RequestException,
        method: str,
        shown: str,
        limits: Timeouts,
        deadline: Deadline | None,
    ) -> tuple[SourceUnavailable, bool]:
        """The error to raise for a failed request, and whether trying again could help."""
        host = urlsplit(shown).netloc or shown
        if isinstance(
            exc,
            requests.exceptions.InvalidURL
            | requests.exceptions.MissingSchema
            | requests.exceptions.InvalidSchema
            | requests.exceptions.InvalidHeader,
        ):
            # Not chained: an invalid header's message quotes the header, which may be a key.
            raise ConfigError(
                self.redactor(f"cannot send {method} {shown}: {_reason(exc)}"),
                source=self.source,
            ) from None
        if isinstance(exc, requests.exceptions.TooManyRedirects):
            raise ProtocolError(
                self.redactor(f"{method} {shown}: too many redirects; is the URL right?"),
                source=self.source,
            ) from exc
        if deadline is not None and deadline.expired and isinstance(exc, requests.Timeout):
            raise QueryTimeout(
                f"the deadline passed while waiting for {method} {shown}", source=self.source
            ) from exc
        if isinstance(exc, requests.exceptions.SSLError):
            text, again = f"TLS error talking to {host}: {_reason(exc)}", False
        elif isinstance(exc, requests.exceptions.ConnectTimeout):
            text, again = f"timed out connecting to {host} (after {limits.connect:g} s)", True
        elif isinstance(exc, requests.exceptions.ReadTimeout):
            text, again = f"{host} sent no answer to {method} within {limits.read:g} s", True
        elif isinstance(exc, requests.ConnectionError):
            text, again = f"cannot talk to {host}: {_reason(exc)}", True
        elif isinstance(
            exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
        ):
            text, again = f"the answer from {host} was cut short: {_reason(exc)}", True
        else:
            text, again = f"{method} {shown} failed: {_reason(exc)}", False
        return SourceUnavailable(self.redactor(text), source=self.source), again

    # -- answers ------------------------------------------------------------------------------

    def json(self, response: requests.Response) -> Any:
        """The JSON body of a response, or :class:`ProtocolError` if it is not JSON."""
        self.expect_json(response)
        shown = self.redactor.url(response.url or "")
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(
                self.redactor(f"invalid JSON from {shown} (HTTP {response.status_code}): {exc}"),
                source=self.source,
                status_code=response.status_code,
            ) from None

    def expect_json(self, response: requests.Response) -> None:
        """Raise :class:`ProtocolError` unless the answer says it is JSON.

        HTML where JSON was expected almost always means a wrong URL (a web page, a login
        redirect, a proxy's error page), so the message says so.
        """
        ctype = response.headers.get("Content-Type", "")
        shown = self.redactor.url(response.url or "")
        if "json" not in ctype.lower():
            raise ProtocolError(
                self.redactor(
                    f"expected JSON from {shown} but got "
                    f"{ctype.split(';')[0] or 'no content type'} (HTTP {response.status_code}): "
                    "the URL is probably wrong (it should be the service's base URL)"
                ),
                source=self.source,
                status_code=response.status_code,
            )

    def error_for(self, response: requests.Response, message: str | None = None) -> SourceError:
        """A generic error for a non-2xx answer (sources refine it for their quirks)."""
        status = response.status_code
        shown = self.redactor.url(response.url or "")
        detail = message if message is not None else _body_excerpt(response)
        text = self.redactor(f"HTTP {status} from {shown}" + (f": {detail}" if detail else ""))
        cls: type[SourceError]
        if status == 401:
            cls = AuthenticationError
        elif status == 403:
            cls = PermissionDenied
        elif status == 404:
            cls = NotFound
        elif status >= 500 or status == 429:
            cls = SourceUnavailable
        elif 300 <= status < 400:
            where = self.redactor.url(response.headers.get("Location", ""))
            cls = ProtocolError
            text = self.redactor(
                f"{response.request.method} {shown} was "
                f"redirected (HTTP {status}) to {where or 'elsewhere'}; the URL is probably "
                "wrong (http instead of https, or a missing path prefix?)"
            )
        else:
            cls = SourceError
        return cls(text, source=self.source, status_code=status)

    def close(self) -> None:
        self._closed = True
        self._session.close()

    def __repr__(self) -> str:
        return f"<HttpSession {self.source!r}>"


def _after_attempts(error: SourceUnavailable, attempts: int) -> SourceUnavailable:
    if attempts <= 1:
        return error
    return SourceUnavailable(f"{error.message} (after {attempts} attempts)", source=error.source)


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached the server (safe to send even a POST)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    inner = exc.args[0] if exc.args else None
    reason = getattr(inner, "reason", inner)
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _reason(exc: BaseException) -> str:
    """A short human reason from a requests/urllib3 exception chain."""
    seen: set[int] = set()
    node: Any = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, OSError) and node.strerror:
            return str(node.strerror)
        nxt = getattr(node, "reason", None)
        if nxt is None and getattr(node, "args", None):
            nxt = next((a for a in node.args if isinstance(a, BaseException)), None)
        if nxt is None:
            nxt = node.__cause__ or node.__context__
        if nxt is None:
            break
        node = nxt
    # urllib3 messages start with an object repr; keep the part a person can use.
    text = re.sub(r"<[^>]*object at 0x[0-9a-f]+>:?\s*", "", str(node))
    text = re.sub(r"(?s)^.*?Failed to establish a new connection:", "", text)
    return text.strip() or type(exc).__name__


def _retry_after(response: requests.Response) -> float | None:
    """Seconds the server asked us to wait (``Retry-After`` as seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


def _body_excerpt(response: requests.Response, limit: int = 200) -> str:
    """The start of a body for an error message: the JSON ``message`` if there is one."""
    ctype = response.headers.get("Content-Type", "").lower()
    if "json" in ctype:
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            for key in ("message", "detail", "error"):
                if isinstance(data.get(key), str):
                    return str(data[key])[:limit]
    if "html" in ctype:
        return "an HTML page"
    text = response.text.strip().replace("\n", " ")
    return text[:limit] + ("..." if len(text) > limit else "")
