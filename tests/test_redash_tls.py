"""TLS certificates are verified by default, against an HTTPS emulator with a self-signed one.

The certificate is made for 127.0.0.1 with the ``openssl`` command when the test runs, so no
key material lives in the repository. Without a trusted certificate the default source must
refuse to talk; ``verify`` (a bool, a boolean word from a profile, or a CA bundle path)
changes that as documented, and anything else is a ``ConfigError``.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from thsources.errors import ConfigError, SourceUnavailable
from thsources.http import RetryPolicy
from thsources.polling import PollSchedule
from thsources.sources.redash import RedashSource
from thsources.sources.redash_wire import verify_option
from thsources.testing import DataSource, RedashEmulator, User

KEY: Final = "TlSkEy0123456789abcdefghijKLMNOPQRSTUVWX"
RETRY: Final = RetryPolicy(attempts=2, initial=0.01, maximum=0.02)
POLL: Final = PollSchedule(first=0.005, factor=0.1, cap=0.05)

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(autouse=True)
def _a_ca_bundle_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on many machines: requests would let it override the source's own ``verify``."""
    import requests.certs

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())


@pytest.fixture
def emu(certificate: tuple[Path, Path]) -> Iterator[RedashEmulator]:
    with RedashEmulator(
        users=[User(api_key=KEY)], data_sources=[DataSource(1, "Treeherder")], tls=certificate
    ) as emulator:
        yield emulator


def source(emu: RedashEmulator, **options: Any) -> RedashSource:
    return RedashSource(url=emu.url, api_key=KEY, retry=RETRY, poll=POLL, timeout=20, **options)


def test_the_emulator_serves_https(emu: RedashEmulator) -> None:
    assert emu.url.startswith("https://127.0.0.1:")


@pytest.mark.parametrize("verify", [None, True, "true", "yes", "1", "on"])
def test_an_untrusted_certificate_is_refused_by_default(emu: RedashEmulator, verify: Any) -> None:
    options = {} if verify is None else {"verify": verify}
    with source(emu, **options) as s, pytest.raises(SourceUnavailable, match="TLS error") as info:
        s.query("SELECT 1 AS x")
    assert "certificate verify failed" in info.value.message
    assert not [r for r in emu.requests if r.method == "POST"]  # nothing got through


def test_the_certificate_as_ca_bundle_is_trusted(
    emu: RedashEmulator, certificate: tuple[Path, Path]
) -> None:
    with source(emu, verify=str(certificate[0])) as s:
        assert s.query("SELECT 1 AS x").records() == [{"x": 1}]


@pytest.mark.parametrize("verify", [False, "false", "False", "no", "0", "off"])
def test_verification_can_be_turned_off(emu: RedashEmulator, verify: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning, as it should
        with source(emu, verify=verify) as s:
            assert s.query("SELECT 2 AS x").records() == [{"x": 2}]


@pytest.mark.parametrize("verify", ["", "maybe", "/no/such/ca.pem"])
def test_anything_else_is_a_config_error(verify: str) -> None:
    with pytest.raises(ConfigError, match="option verify must be true, false, or the path"):
        verify_option(verify)
    with pytest.raises(ConfigError, match="option verify"):
        RedashSource(url="https://redash.test", api_key=KEY, verify=verify)
