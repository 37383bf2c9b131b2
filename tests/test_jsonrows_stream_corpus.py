"""Every test of ``test_jsonrows``, with ``decode_query_result`` answered by the streaming
decoder (the body arriving 53 bytes at a time): whatever those tests demand of the decoder
(values, types, envelopes, errors, which path ran) holds for the stream too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import test_jsonrows
from test_jsonrows import *  # noqa: F403 - the tests themselves, collected here again
from test_jsonrows import _small_chunks  # noqa: F401 - their autouse fixture
from test_jsonrows_stream import Arriving

from thsources.jsonrows import decode_query_result
from thsources.jsonrows_stream import decode_query_result_incoming


def _streaming(body: bytes, *, fast: bool = True) -> Any:
    if not fast:
        return decode_query_result(body, fast=False)  # the forced safe path is not streamed
    return decode_query_result_incoming(Arriving(bytes(body), 53))


@pytest.fixture(autouse=True)
def _answer_by_stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(test_jsonrows, "decode_query_result", _streaming)
    yield
