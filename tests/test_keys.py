"""thsources.keys: Treeherder's spellings mapped onto telemetry's, in Python and in SQL."""

from __future__ import annotations

import datetime as dt

import pytest

import thsources
from thsources import ParameterError, QueryError
from thsources.keys import (
    buildid_to_datetime,
    datetime_to_buildid,
    platform_arch,
    platform_os,
    repository_channel,
    revision,
    short_revision,
    utc_day,
)
from thsources.local.refdata import _PLATFORM_LIST

UTC = dt.UTC
FULL = "7F83138602241C76D8B86AA52E64ABD2842A234E"


def test_revisions_any_case_short_ones_join_by_prefix() -> None:
    assert revision(FULL) == FULL.lower()
    assert revision("7F8313860224") == "7f8313860224"
    assert short_revision(FULL) == short_revision("7f8313860224") == "7f8313860224"


@pytest.mark.parametrize("bad", ["7f831386022", "7f83138602241", FULL + "0", "g" * 12, "", 12])
def test_a_revision_of_another_length_or_alphabet_is_refused(bad: object) -> None:
    with pytest.raises(ParameterError, match="is not a revision: give 12 or 40 hexadecimal"):
        revision(bad)  # type: ignore[arg-type]


def test_build_ids_are_utc_datetimes_and_back() -> None:
    assert buildid_to_datetime("20261127093015") == dt.datetime(2026, 11, 27, 9, 30, 15, tzinfo=UTC)
    assert buildid_to_datetime(20261127093015) == dt.datetime(2026, 11, 27, 9, 30, 15, tzinfo=UTC)
    aware = dt.datetime(2026, 11, 27, 10, 30, 15, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert datetime_to_buildid(aware) == "20261127093015"
    assert datetime_to_buildid(dt.datetime(2026, 1, 2, 3, 4, 5)) == "20260102030405"


@pytest.mark.parametrize(
    ("bad", "why"),
    [("2026112709301", "give 14 digits"), ("20261327093015", "20261327 093015 is not a date")],
)
def test_a_bad_build_id_says_why(bad: str, why: str) -> None:
    with pytest.raises(ParameterError, match=why):
        buildid_to_datetime(bad)


def test_utc_day_converts_aware_datetimes_first() -> None:
    eastern = dt.timezone(dt.timedelta(hours=-5))
    assert utc_day(dt.datetime(2026, 1, 1, 23, 30, tzinfo=eastern)) == dt.date(2026, 1, 2)
    assert utc_day(dt.datetime(2026, 1, 1, 23, 30)) == dt.date(2026, 1, 1)
    assert utc_day(dt.date(2026, 1, 1)) == dt.date(2026, 1, 1)


@pytest.mark.parametrize(
    ("platform", "os_name", "arch"),
    [
        ("linux1804-64-qr", "Linux", "x86-64"),
        ("linux64-shippable", "Linux", "x86-64"),
        ("windows11-64-shippable", "Windows_NT", "x86-64"),
        ("windows2012-64", "Windows_NT", "x86-64"),
        ("windows7-32", "Windows_NT", "x86"),
        ("win32", "Windows_NT", "x86"),
        ("windows11-aarch64", "Windows_NT", "aarch64"),
        ("macosx1015-64", "Darwin", "x86-64"),
        ("macosx1100-aarch64", "Darwin", "aarch64"),
        ("osx-cross", "Darwin", "x86-64"),
        ("android-em-7-0-x86_64", "Android", "x86-64"),
        ("android-em-7-0-x86", "Android", "x86"),
        ("android-hw-a51-11-0-arm7", "Android", None),
    ],
)
def test_platforms_to_telemetry_os_and_architecture(
    platform: str, os_name: str, arch: str | None
) -> None:
    assert platform_os(platform) == os_name
    assert platform_arch(platform) == arch


def test_every_sample_platform_of_an_os_maps() -> None:
    named = {"linux": "Linux", "windows": "Windows_NT", "mac": "Darwin", "android": "Android"}
    for p in _PLATFORM_LIST:
        if p.os in named:
            assert platform_os(p.name) == named[p.os], p.name
            assert platform_arch(p.name) == "x86-64", p.name


@pytest.mark.parametrize("platform", ["gecko-decision", "lint"])
def test_a_platform_of_no_os_has_no_os_and_no_architecture(platform: str) -> None:
    assert (platform_os(platform), platform_arch(platform)) == (None, None)


@pytest.mark.parametrize("bad", ["", "  ", None, 3])
def test_a_platform_that_is_not_a_name_is_refused(bad: object) -> None:
    with pytest.raises(ParameterError, match="is not a platform name"):
        platform_os(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("repository", "channel"),
    [
        ("mozilla-central", "nightly"),
        ("mozilla-beta", "beta"),
        ("mozilla-release", "release"),
        ("mozilla-esr128", "esr"),
        ("comm-central", "nightly"),
        ("autoland", None),
        ("try", None),
    ],
)
def test_repositories_to_channels(repository: str, channel: str | None) -> None:
    assert repository_channel(repository) == channel


def test_the_same_functions_in_local_sql_give_the_same_answers() -> None:
    res = thsources.local_sql(
        """
        SELECT revision(r) AS rev, short_revision(r) AS short, platform_os(p) AS os,
               platform_arch(p) AS arch, repository_channel(repo) AS channel,
               buildid_to_timestamp(b) AS built, utc_day(TIMESTAMPTZ '2026-01-01 23:30-05') AS day,
               short_revision(NULL) AS nothing
        FROM (VALUES (?, 'windows11-64', 'mozilla-beta', '20261127093015')) v(r, p, repo, b)
        """.replace("?", f"'{FULL}'")
    )
    assert res.records() == [
        {
            "rev": revision(FULL),
            "short": short_revision(FULL),
            "os": platform_os("windows11-64"),
            "arch": platform_arch("windows11-64"),
            "channel": repository_channel("mozilla-beta"),
            "built": buildid_to_datetime("20261127093015"),
            "day": dt.date(2026, 1, 2),
            "nothing": None,
        }
    ]


def test_a_bad_value_in_sql_names_the_function() -> None:
    with pytest.raises(QueryError, match=r"short_revision\(\): 'xyz' is not a revision"):
        thsources.local_sql("SELECT short_revision('xyz')")
