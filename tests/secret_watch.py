"""Collects every text a test module produces (log lines, exception messages and reprs)
and checks that a secret appears in none of them.

One ``SecretWatch`` per module: its ``raises`` replaces ``pytest.raises`` and records what it
caught, ``remember`` records anything else (reprs, ``describe()``), and ``check_logs`` is the
body of the module's autouse fixture that captures DEBUG logging around each test.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from thsources.errors import ThsourcesError


class SecretWatch:
    def __init__(self, *fragments: str) -> None:
        self.fragments = fragments
        self.seen: list[str] = []

    def leaks(self, texts: list[str]) -> list[str]:
        return [t for t in texts if any(f in t for f in self.fragments)]

    def remember(self, *texts: object) -> None:
        self.seen.extend(str(t) for t in texts)

    @contextmanager
    def raises(self, cls: type[BaseException], match: str | None = None) -> Iterator[Any]:
        """``pytest.raises`` that also records the exception's text, repr and causes."""
        with pytest.raises(cls, match=match) as info:
            yield info
        exc: BaseException | None = info.value
        while exc is not None:
            self.remember(str(exc), repr(exc))
            if isinstance(exc, ThsourcesError):
                self.remember(exc.message)
            exc = exc.__cause__ or exc.__context__

    def check_logs(self, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
        """Capture DEBUG logging (root: thsources.*, urllib3, everything) around a test."""
        caplog.set_level(logging.DEBUG)
        start = len(self.seen)
        yield
        logged = [r.getMessage() for r in caplog.records]
        assert not self.leaks(logged)
        assert not self.leaks([caplog.text])
        assert not self.leaks(self.seen[start:])
        self.seen.extend(logged)
