"""The local result cache: typed results on disk, reused while younger than ``max_age``.

Every source's ``query``/``submit`` goes through it (``sources/caching.py`` wires it in), so
``max_age`` means the same everywhere: 0 never reads it; ``N`` accepts a stored result whose
``meta.retrieved_at`` is at most N seconds old, without contacting the source; ``math.inf``
accepts any age.

An entry is one file, named by a SHA-256 key of (source identity, query, parameters): a short
header (magic, CRC-32, a JSON description) followed by the result's Arrow IPC bytes, so
a hit is the typed table again, with no JSON rows to decode. Files are written to a temporary
name and renamed over the old one (``os.replace``): a reader sees a whole old entry or a whole
new one, never a torn one, and the digest catches a file damaged on disk, which is then
dropped and fetched again. Each hit sets the file's modification time, so the oldest
modification time is the least recently used entry; after each write, entries are evicted in
that order until the folder fits its size cap, under an ``flock`` on a lock file so that
processes sharing the folder do not evict on top of each other.

The source identity (``Source.cache_identity()``) names the server or file and the data
source, never a key or password; the header holds the same fields, so no secret reaches disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import hashlib
import io
import logging
import math
import os
import re
import secrets
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import orjson

from .errors import ConfigError, ParameterError
from .result import Column, Result, ResultMeta

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DIR_ENV",
    "SIZE_ENV",
    "CacheKey",
    "Entry",
    "ResultCache",
    "check_max_age",
    "default_cache",
    "make_key",
    "parse_size",
    "results_dir",
]

log = logging.getLogger(__name__)

DIR_ENV: Final = "THSOURCES_RESULT_CACHE_DIR"
"""Where entries live; default ``results/`` in ``$THSOURCES_CACHE_DIR`` or the user cache dir."""
SIZE_ENV: Final = "THSOURCES_RESULT_CACHE_SIZE"
"""The size cap (``512 MB``, ``1 GiB``, bytes; ``0`` turns the cache off); beats the config."""
CACHE_ENV: Final = "THSOURCES_CACHE_DIR"
DEFAULT_MAX_BYTES: Final = 1 << 30

MAGIC: Final = b"THSRC\x00\x01\n"
_DIGEST_SIZE: Final = 4
"""The digest: the CRC-32 of the CRC-32s of the checked part's 4 MiB chunks. CRC-32 catches
damage on disk at about 1 GB/s (the folder is the user's own, mode 0700: there is no forger
to defend against); chunks let a reader check one while it reads the next, on another core."""
_CHUNK: Final = 4 << 20
_CHECKED: Final = len(MAGIC) + _DIGEST_SIZE
"""Where the checked part starts: the header's length, the header and the body."""
_PREFIX: Final = len(MAGIC) + _DIGEST_SIZE + 4
SUFFIX: Final = ".thsr"
_TMP_PREFIX: Final = ".tmp-"
_STALE_TMP_S: Final = 3600.0
"""A temporary file this old is a write that died half way; eviction removes it."""
FORMAT_VERSION: Final = 1

_UNITS: Final = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
}
_SIZE: Final = re.compile(r"\s*(\d+(?:\.\d*)?)\s*([a-zA-Z]*)\s*")


# -- max_age and the key -----------------------------------------------------------------------


def check_max_age(max_age: Any) -> float:
    """``max_age`` as a number of seconds: 0 (run now), N, or ``math.inf`` (any age).

    ``None`` is 0. A negative number is refused, -1 included: it is Redash's wire spelling of
    "any age", but here a negative age is far more often a computed value gone wrong, and
    taking it as "any age" would hand back results of any staleness without a word.
    """
    if max_age is None:
        return 0.0
    if isinstance(max_age, bool) or not isinstance(max_age, int | float) or math.isnan(max_age):
        raise ParameterError(f"max_age must be a number of seconds, not {max_age!r}")
    if max_age < 0:
        raise ParameterError(
            f"max_age must be 0 (run now), a number of seconds, or math.inf (any age), not "
            f"{max_age!r}; Redash's -1 (any age) is written math.inf here (--max-age inf)"
        )
    return float(max_age)


@dataclass(frozen=True)
class CacheKey:
    """What an entry answers: the source identity, the query and its parameters."""

    identity: Mapping[str, Any]
    query: Any
    params: Any
    digest: str


def _canon(value: Any) -> Any:
    """A JSON value standing for ``value`` as it is bound: values that bind differently never
    share a form (a date and its ISO string, NaN and None, 1 and 1.0 and True)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    if isinstance(value, set | frozenset):
        items = [_canon(v) for v in value]
        return {"$set": sorted(items, key=lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS))}
    if isinstance(value, Mapping):
        return {"$map": sorted([str(k), _canon(v)] for k, v in value.items())}
    from .sqlbind import to_python

    try:
        plain = to_python(value)  # numpy and pandas values, as the binding sees them
    except ParameterError:
        raise TypeError(f"no cache key for a {type(value).__name__}") from None
    if plain is value or type(plain) is type(value):
        raise TypeError(f"no cache key for a {type(value).__name__}")
    return _canon(plain)


def make_key(identity: Mapping[str, Any], query: Any, params: Mapping[str, Any] | None) -> CacheKey:
    """The key of ``query`` with ``params`` on the source ``identity``.

    Raises ``TypeError`` for a value with no stable form; the caller then bypasses the cache
    (and the source reports the value as it always does).
    """
    if isinstance(query, str):
        q: Any = query
    elif isinstance(query, Mapping):
        q = {"jx": _canon(query)}
    else:
        raise TypeError(f"no cache key for a query given as {type(query).__name__}")
    if params is not None and not isinstance(params, Mapping):
        raise TypeError("parameters that are not a mapping are refused by the source")
    p = {str(k): _canon(v) for k, v in (params or {}).items()}
    ident = {str(k): _canon(v) for k, v in identity.items()}
    text = orjson.dumps(
        {"v": FORMAT_VERSION, "identity": ident, "query": q, "params": p},
        option=orjson.OPT_SORT_KEYS,
    )
    return CacheKey(ident, q, p, hashlib.sha256(text).hexdigest())


# -- settings ----------------------------------------------------------------------------------


def results_dir() -> Path:
    """``$THSOURCES_RESULT_CACHE_DIR``, else ``results`` in ``$THSOURCES_CACHE_DIR`` or the
    user cache dir (beside the sample database, in a folder of its own)."""
    configured = os.environ.get(DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get(CACHE_ENV)
    if base:
        return Path(base).expanduser() / "results"
    import platformdirs

    return Path(platformdirs.user_cache_dir("thsources")) / "results"


def parse_size(value: Any, where: str) -> int:
    """Bytes from ``1073741824``, ``"512 MB"``, ``"1 GiB"`` or ``"1.5G"``; ``0`` is off."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: the cache size is a number of bytes, not {value!r}")
    if isinstance(value, int) and value >= 0:
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ConfigError(
            f"{where}: {value!r} is not a size; write bytes or a number with a unit, "
            'e.g. "512 MB" or "2 GiB" (0 turns the result cache off)'
        )
    return int(float(match.group(1)) * _UNITS[unit])


def max_bytes() -> int:
    """The size cap: ``$THSOURCES_RESULT_CACHE_SIZE`` > the config's ``[cache] max_size`` >
    1 GiB."""
    env = os.environ.get(SIZE_ENV)
    if env is not None and env.strip():
        return parse_size(env, SIZE_ENV)
    from .config import load_config

    config = load_config()
    value = config.cache.get("max_size")
    if value is None:
        return DEFAULT_MAX_BYTES
    return parse_size(value, f"{config.path}: [cache] max_size")


def default_cache() -> ResultCache:
    """The cache the environment and config file describe (read afresh each call)."""
    return ResultCache(results_dir(), max_bytes())


# -- entries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One stored result, as ``thsources cache ls`` shows it (read from its header only)."""

    path: Path
    key: str
    kind: str
    source: str
    query: Any
    params: Any
    rows: int
    size: int
    retrieved_at: dt.datetime | None
    last_used: dt.datetime

    def age_s(self, now: dt.datetime | None = None) -> float | None:
        if self.retrieved_at is None:
            return None
        return ((now or dt.datetime.now(dt.UTC)) - self.retrieved_at).total_seconds()


class CorruptEntry(Exception):
    """An entry file that is not a whole, intact entry (ignored, removed, fetched again)."""


def _meta_json(meta: ResultMeta) -> dict[str, Any]:
    return {
        "source": meta.source,
        "query": meta.query,
        "job_id": meta.job_id,
        "result_id": meta.result_id,
        "runtime_s": meta.runtime_s,
        "retrieved_at": meta.retrieved_at.isoformat() if meta.retrieved_at else None,
        "cached": meta.cached,
        "truncated": meta.truncated,
        "extra": dict(meta.extra),
    }


def _parse_time(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    stamp = dt.datetime.fromisoformat(text)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def encode(key: CacheKey, result: Result, *, kind: str, source: str) -> list[Any]:
    """The bytes of an entry, as buffers to write one after another."""
    import pyarrow as pa

    meta = result.meta
    retrieved = meta.retrieved_at or dt.datetime.now(dt.UTC)
    header = orjson.dumps(
        {
            "version": FORMAT_VERSION,
            "key": key.digest,
            "kind": kind,
            "source": source,
            "identity": key.identity,
            "query": key.query,
            "params": key.params,
            "columns": [[c.name, c.type] for c in result.columns],
            "rows": len(result),
            "meta": _meta_json(replace(meta, retrieved_at=retrieved)),
            "stored_at": dt.datetime.now(dt.UTC).isoformat(),
        }
    )
    sink = pa.BufferOutputStream()
    table = result.to_arrow()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    checked = b"".join([len(header).to_bytes(4, "big"), header, sink.getvalue()])
    view = memoryview(checked)
    crcs = [zlib.crc32(view[i : i + _CHUNK]) for i in range(0, len(view), _CHUNK)]
    return [MAGIC, _digest(crcs), checked]


def _digest(chunk_crcs: list[int]) -> bytes:
    combined = zlib.crc32(b"".join(c.to_bytes(4, "big") for c in chunk_crcs))
    return combined.to_bytes(_DIGEST_SIZE, "big")


_POOL: Any = None
_POOL_LOCK = threading.Lock()


def _crc_pool() -> Any:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="thsources-cache-crc")
        return _POOL


def read_checked(f: io.FileIO) -> tuple[bytearray, bool]:
    """The whole file and whether its digest holds, each chunk checked on a worker thread
    while the next is read (both release the GIL), so the check costs little more than
    the read."""
    size = os.fstat(f.fileno()).st_size
    data = bytearray(size)
    view = memoryview(data)
    got = f.readinto(view[:_CHECKED])
    if got != _CHECKED or size <= _CHECKED:
        return data, False
    crcs: list[Any] = []
    pool = _crc_pool() if size - _CHECKED > _CHUNK else None
    offset = _CHECKED
    while offset < size:
        chunk = view[offset : min(offset + _CHUNK, size)]
        n = f.readinto(chunk)
        if not n:
            return data[:offset], False  # shorter than when it was opened
        part = chunk[:n]
        crcs.append(pool.submit(zlib.crc32, part) if pool else zlib.crc32(part))
        offset += n
    values = [c.result() if pool else c for c in crcs]
    return data, _digest(values) == bytes(view[len(MAGIC) : _CHECKED])


def _split(data: bytes | bytearray | memoryview) -> tuple[dict[str, Any], memoryview]:
    view = memoryview(data)
    if len(view) < _PREFIX or bytes(view[: len(MAGIC)]) != MAGIC:
        raise CorruptEntry("not an entry (bad magic or too short)")
    size = int.from_bytes(view[len(MAGIC) + _DIGEST_SIZE : _PREFIX], "big")
    if _PREFIX + size > len(view):
        raise CorruptEntry("header cut short")
    try:
        header = orjson.loads(view[_PREFIX : _PREFIX + size])
    except orjson.JSONDecodeError as exc:
        raise CorruptEntry(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict) or header.get("version") != FORMAT_VERSION:
        raise CorruptEntry("unknown entry version")
    return header, view[_PREFIX + size :]


def decode(data: bytes | bytearray, *, checked: bool = False) -> tuple[dict[str, Any], Result]:
    """The header and the result of an entry's bytes; ``CorruptEntry`` if any part is off.
    ``checked``: the digest was verified while reading (:func:`read_checked`)."""
    import pyarrow as pa

    header, body = _split(data)
    if not checked:
        view = memoryview(data)
        checked_part = view[_CHECKED:]
        crcs = [
            zlib.crc32(checked_part[i : i + _CHUNK]) for i in range(0, len(checked_part), _CHUNK)
        ]
        if _digest(crcs) != bytes(view[len(MAGIC) : _CHECKED]):
            raise CorruptEntry("digest mismatch")
    try:
        table = pa.ipc.open_file(pa.py_buffer(body)).read_all()
        columns = [Column(str(name), ctype) for name, ctype in header["columns"]]
        m = header["meta"]
        meta = ResultMeta(
            source=m["source"],
            query=m["query"],
            job_id=m["job_id"],
            result_id=m["result_id"],
            runtime_s=m["runtime_s"],
            retrieved_at=_parse_time(m["retrieved_at"]),
            cached=bool(m["cached"]),
            truncated=bool(m["truncated"]),
            extra=dict(m["extra"]),
        )
        result = Result(columns, table, meta)
    except (pa.ArrowException, KeyError, TypeError, ValueError) as exc:
        raise CorruptEntry(f"body does not decode: {exc}") from None
    if len(result) != header.get("rows"):
        raise CorruptEntry("row count differs from the header")
    return header, result


# -- the cache ---------------------------------------------------------------------------------


class ResultCache:
    """Entries under ``root``, at most ``max_bytes`` in all (0: nothing is stored or read)."""

    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def path_of(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}{SUFFIX}"

    # -- reading --------------------------------------------------------------------------------

    def get(
        self, key: CacheKey, max_age: float, *, now: dt.datetime | None = None
    ) -> Result | None:
        """The stored result for ``key`` if it is at most ``max_age`` s old, else None.

        A damaged entry is logged and removed (the caller fetches afresh and stores anew).
        A hit becomes the most recently used entry.
        """
        if not self.enabled or max_age <= 0:
            return None
        path = self.path_of(key.digest)
        try:
            with open(path, "rb", buffering=0) as f:
                inode = os.fstat(f.fileno()).st_ino
                data, intact = read_checked(f)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("result cache: cannot read %s: %s", path, exc.strerror)
            return None
        try:
            if not intact:
                raise CorruptEntry("digest mismatch or file cut short")
            header, result = decode(data, checked=True)
            if header.get("key") != key.digest:
                raise CorruptEntry("entry holds another key")
        except CorruptEntry as exc:
            log.warning("result cache: ignoring damaged entry %s (%s)", path.name, exc)
            self._discard(path, inode)
            return None
        retrieved = result.meta.retrieved_at
        age = ((now or dt.datetime.now(dt.UTC)) - retrieved).total_seconds() if retrieved else 0
        if age > max_age:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # the LRU clock: a hit is a use
        return result

    def _discard(self, path: Path, inode: int) -> None:
        """Remove ``path`` if it is still the file that was read (not a newer good entry)."""
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == inode:
                os.unlink(path)

    # -- writing --------------------------------------------------------------------------------

    def put(self, key: CacheKey, result: Result, *, kind: str, source: str) -> Path | None:
        """Store ``result`` under ``key`` atomically, then evict down to the cap.

        Returns the entry's path, or None when nothing was stored (cache off, a result larger
        than the whole cap, a meta that is not JSON, or a folder that cannot be written:
        storing is best effort, never a reason for a query to fail).
        """
        if not self.enabled:
            return None
        try:
            parts = encode(key, result, kind=kind, source=source)
        except (TypeError, orjson.JSONEncodeError) as exc:
            log.info("result cache: not storing a result whose meta is not JSON (%s)", exc)
            return None
        size = sum(len(p) for p in parts)
        if size > self.max_bytes:
            log.info("result cache: a %d-byte result exceeds the cap; not stored", size)
            return None
        path = self.path_of(key.digest)
        try:
            _write_atomically(path, parts)
        except OSError as exc:
            log.warning("result cache: cannot write to %s: %s", self.root, exc.strerror)
            return None
        self.evict()
        return path

    def evict(self) -> int:
        """Remove least recently used entries until the rest fit the cap; returns how many.

        Stale temporary files (writes that died) go too. Holds the folder's lock, so two
        processes do not both count the same entries and evict twice as much.
        """
        removed = 0
        with self._locked():
            now = time.time()
            files: list[tuple[float, int, Path]] = []
            for path, st in self._scan():
                if path.name.startswith(_TMP_PREFIX):
                    if now - st.st_mtime > _STALE_TMP_S:
                        with contextlib.suppress(OSError):
                            path.unlink()
                    continue
                files.append((st.st_mtime, st.st_size, path))
            total = sum(size for _, size, _ in files)
            for _, size, path in sorted(files, key=lambda f: (f[0], f[2].name)):
                if total <= self.max_bytes:
                    break
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
                total -= size
        return removed

    # -- listing and clearing ----------------------------------------------------------------

    def entries(self) -> list[Entry]:
        """Every readable entry, most recently used first (damaged ones are skipped)."""
        out: list[Entry] = []
        for path, st in self._scan():
            if path.name.startswith(_TMP_PREFIX):
                continue
            try:
                with open(path, "rb") as f:
                    head = f.read(_PREFIX)
                    size = int.from_bytes(head[len(MAGIC) + _DIGEST_SIZE :], "big")
                    header, _ = _split(head + f.read(size))
                m = header["meta"]
                out.append(
                    Entry(
                        path=path,
                        key=str(header["key"]),
                        kind=str(header["kind"]),
                        source=str(header["source"]),
                        query=header["query"],
                        params=header["params"],
                        rows=int(header["rows"]),
                        size=st.st_size,
                        retrieved_at=_parse_time(m.get("retrieved_at")),
                        last_used=dt.datetime.fromtimestamp(st.st_mtime, dt.UTC),
                    )
                )
            except (OSError, CorruptEntry, KeyError, TypeError, ValueError):
                continue
        out.sort(key=lambda e: e.last_used, reverse=True)
        return out

    def clear(self, source: str | None = None) -> tuple[int, int]:
        """Remove every entry, or those stored by the profile or kind ``source``; returns
        (entries removed, bytes freed). Clearing all also removes damaged entries."""
        removed = freed = 0
        with self._locked():
            if source is None:
                targets = [(p, st.st_size) for p, st in self._scan()]
            else:
                targets = [(e.path, e.size) for e in self.entries() if source in (e.source, e.kind)]
            for path, size in targets:
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
                if not path.name.startswith(_TMP_PREFIX):
                    removed += 1
                    freed += size
        return removed, freed

    # -- the folder -------------------------------------------------------------------------

    def _scan(self) -> Iterator[tuple[Path, os.stat_result]]:
        try:
            subdirs = [d for d in os.scandir(self.root) if d.is_dir() and len(d.name) == 2]
        except FileNotFoundError:
            return
        for sub in subdirs:
            try:
                children = list(os.scandir(sub.path))
            except FileNotFoundError:
                continue
            for child in children:
                if not (child.name.endswith(SUFFIX) or child.name.startswith(_TMP_PREFIX)):
                    continue
                try:
                    yield Path(child.path), child.stat()
                except FileNotFoundError:
                    continue

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl

        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConfigError(
                f"cannot use the result cache at {self.root}: {exc.strerror}; set {DIR_ENV} "
                "to a writable folder"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def _write_atomically(path: Path, parts: list[Any]) -> None:
    """Write ``parts`` to a new file beside ``path``, then rename it over ``path``."""
    path.parent.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.parent.mkdir(exist_ok=True, mode=0o700)
    tmp = path.with_name(f"{_TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            for part in parts:
                f.write(part)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


QUERY_EXCERPT: Final = 60
"""Characters of a query ``cache ls`` shows (on one line)."""


def _excerpt(query: Any) -> str:
    """The query on one line, from its first line that is not a ``--`` comment (a named
    query's SQL opens with its description)."""
    if isinstance(query, str):
        lines = query.strip().splitlines()
        while len(lines) > 1 and lines[0].lstrip().startswith("--"):
            lines.pop(0)
        text = "\n".join(lines)
    else:
        text = orjson.dumps(query).decode()
    text = " ".join(text.split())
    return text if len(text) <= QUERY_EXCERPT else text[: QUERY_EXCERPT - 1] + "…"


def human_age(seconds: float | None) -> str:
    """``42s``, ``5m 3s``, ``3h 2m``, ``2d 4h``: ages as ``cache ls`` prints them."""
    if seconds is None:
        return "?"
    s = max(0, int(seconds))
    for unit, size, sub, sub_size in (
        ("d", 86400, "h", 3600),
        ("h", 3600, "m", 60),
        ("m", 60, "s", 1),
    ):
        if s >= size:
            rest = (s % size) // sub_size
            return f"{s // size}{unit}" + (f" {rest}{sub}" if rest else "")
    return f"{s}s"


def listing(entries: list[Entry], now: dt.datetime | None = None) -> Result:
    """Entries as a result: what ``thsources cache ls`` prints."""
    now = now or dt.datetime.now(dt.UTC)
    columns = [
        Column("source", "string"),
        Column("kind", "string"),
        Column("rows", "integer"),
        Column("size", "string"),
        Column("age", "string"),
        Column("last_used", "datetime"),
        Column("query", "string"),
        Column("key", "string"),
    ]
    return Result.from_columns(
        columns,
        [
            [e.source for e in entries],
            [e.kind for e in entries],
            [e.rows for e in entries],
            [human_size(e.size) for e in entries],
            [human_age(e.age_s(now)) for e in entries],
            [e.last_used for e in entries],
            [_excerpt(e.query) for e in entries],
            [e.key[:12] for e in entries],
        ],
    )


def human_size(size: int) -> str:
    """``1.5 MiB``: sizes as ``cache ls`` prints them (powers of 1024)."""
    value, unit = float(size), "B"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
