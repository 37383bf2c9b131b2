"""Deterministic generator of a Treeherder-shaped sample dataset.

The sample lets every query, test and demo run offline against data that *behaves* like
production: results and classifications in realistic proportions, platforms that fail at
different rates, a handful of intermittent bugs recurring across many pushes, perf series
with genuine step changes and alerts sitting exactly on them. Everything comes from one
``random.Random(seed)`` and a fixed time anchor, so a seed always gives the same rows.

The output is engine-neutral: per table (in :data:`~thsources.local.schema.TABLES` order,
parents first) a list of tuples in schema column order, with naive-UTC ``datetime`` values.
Loaders (DuckDB today, PostgreSQL/MySQL later) only write those rows.
"""

from __future__ import annotations

import binascii
import hashlib
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from .refdata import (
    _ANDROID_SUITES,
    _BUILD_PLATFORM_OFFSET,
    _BUILDS,
    _COMMIT_OBJECTS,
    _COMMIT_VERBS,
    _CRASH_SIGS,
    _DESKTOP_SUITES,
    _FAILURE_CLASSIFICATIONS,
    _FIRST,
    _FRAMEWORKS,
    _GROUPS,
    _LAST,
    _LINTS,
    _OPTION_MULT,
    _OPTION_SETS,
    _OPTIONS,
    _PERF_SUBTESTS,
    _PERF_SUITES,
    _PLATFORM_LIST,
    _PLATFORMS,
    _PRODUCTS,
    _REPO_GROUPS,
    _REPOS,
    _TEST_PLATFORMS,
    _WORDS,
    FC_AUTOCLASSIFIED,
    FC_EXPECTED,
    FC_FIXED_BY_COMMIT,
    FC_INFRA,
    FC_INTERMITTENT,
    FC_NEEDS_BUGID,
    FC_NEW_FAILURE,
    FC_NOT_CLASSIFIED,
    _Platform,
    _Repo,
    _Suite,
    option_collection_hash,
)
from .schema import TABLES, TableDef, table

#: Bump whenever the generated rows change (it names the cached database file).
GENERATOR_VERSION: int = 2

SAMPLE_END: Final = datetime(2026, 11, 1)
SAMPLE_DAYS: Final = 120
SAMPLE_START: Final = SAMPLE_END - timedelta(days=SAMPLE_DAYS)
DEFAULT_SEED: Final = 20261101
EPOCH: Final = datetime(1970, 1, 1)

Row = tuple[Any, ...]
Rows = list[Row]

_TC_ROOT = "https://firefox-ci-tc.services.mozilla.com"
# slugid v4 "nice": UUID version 4, RFC 4122 variant, first bit 0 (never starts with '-')
_SLUG_MASK: Final = ~((1 << 127) | (0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_SLUG_BITS: Final = (0x4 << 76) | (0x2 << 62)
_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")
_FAIL_SCALE: Final = 5.0  # tunes the overall failure rate (~85% success)
_FIREFOX_128 = datetime(2024, 7, 9)  # release date; 4-week trains since


# --------------------------------------------------------------------------------------
# Records used while generating
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Config:
    idx: int
    label: str
    symbol: str
    group: str
    kind: str  # decision | build | test | perf | lint
    platform: _Platform
    option: str
    tier: int
    suite: _Suite | None
    chunk: int
    fail: float
    minutes: float
    build_key: str  # build variant this job waits for ("" = decision only)
    job_type_id: int
    p_fail: float = 0.0  # failure probability of one run (before the try multiplier)
    run_minutes: float = 0.0  # mean run time including the debug/asan slowdown


@dataclass(slots=True)
class _Push:
    repo: _Repo
    time: datetime
    author: str
    perf: bool
    regression: tuple[str, str, str] | None  # (suite key | "build", option | "", os | "")
    index: int = 0
    id: int = 0
    revision: str = ""


@dataclass(slots=True)
class _Bug:
    id: int
    bugzilla_id: int | None
    suite: str
    test: str
    manifest: str
    message: str
    summary: str
    os_filter: tuple[str, ...]
    weight: float
    active_from: datetime
    active_to: datetime
    status: str
    resolution: str
    crash: str
    classified_failure_id: int = 0


@dataclass(slots=True)
class _Job:
    push: _Push
    cfg: _Config
    submit: datetime
    start: datetime
    end: datetime
    state: str
    result: str
    task_id: str
    uuid: str
    retry_id: int
    machine_id: int
    cause: str  # "" | intermittent | regression | new | infra | expected
    bug: _Bug | None
    seq: int
    fc: int = FC_NOT_CLASSIFIED
    notes: list[tuple[int, int | None, str, datetime]] = field(default_factory=list)
    bug_user: int | None = None
    bug_time: datetime | None = None
    id: int = 0


@dataclass(eq=False, slots=True)
class _Sig:
    """A perf series while it is generated (points/values keyed by repo push index)."""

    id: int
    repo: int
    framework: int
    suite: str
    test: str
    lower: bool  # lower_is_better
    base: float
    cv: float  # noise, as a coefficient of variation
    steps: list[tuple[int, float]] = field(default_factory=list)  # (push index, factor)
    points: list[int] = field(default_factory=list)
    values: dict[int, float] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class _Event:
    """A level change of some series at one push (a regression, improvement or backout)."""

    repo: int
    k: int  # position in the repository's list of perf pushes
    push: int  # push index of the culprit
    prev: int  # push index of the previous perf push
    sigs: list[_Sig]
    regression: bool
    framework: int
    backout_of: _Event | None = None
    summary_id: int = 0
    merged_into: _Event | None = None


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _app_version(repo: str, t: datetime) -> str:
    """Firefox version built on ``repo`` at ``t`` (4-week trains since Firefox 128)."""
    days = (t - _FIREFOX_128).days
    release = 128 + days // 28
    if repo == "mozilla-release":
        return f"{release}.0"
    if repo == "mozilla-beta":
        return f"{release + 1}.0b{1 + days % 28 // 4}"
    return f"{release + 2}.0a1"


def _business_days(t: datetime, days: int) -> datetime:
    """``t`` plus ``days`` working days (Perfherder's triage/bug due dates skip weekends)."""
    while days:
        t += timedelta(days=1)
        if t.weekday() < 5:
            days -= 1
    return t


# --------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------


class _Generator:
    """Builds every table at once; cross-table consistency needs the shared state."""

    def __init__(self, seed: int, scale: float) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.rng = random.Random(seed)
        self.random = self.rng.random
        self.scale = scale
        self.out: dict[str, Rows] = {t.name: [] for t in TABLES}
        self.jobs: list[_Job] = []
        self.pushes: list[_Push] = []
        self.machines_used: dict[int, str] = {}
        self.chunk_manifests: dict[int, list[str]] = {}

    # ---- small helpers -------------------------------------------------------------

    def slug(self) -> tuple[str, str]:
        """A Taskcluster task id (22-char v4 "nice" slugid) and its UUID form."""
        b = (self.rng.getrandbits(128) & _SLUG_MASK | _SLUG_BITS).to_bytes(16, "big")
        h = b.hex()
        return (
            binascii.b2a_base64(b, newline=False)[:22].translate(_URLSAFE).decode(),
            f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}",
        )

    def revision(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def minutes(self, lo: float, hi: float) -> timedelta:
        """A whole-second duration uniformly between ``lo`` and ``hi`` minutes."""
        return timedelta(0, int((lo + (hi - lo) * self.random()) * 60))

    def below(self, n: int) -> int:
        """A uniform int in [0, n) (cheaper than ``randrange`` in hot loops)."""
        return int(self.random() * n)

    # ---- static tables ---------------------------------------------------------------

    def static_tables(self) -> None:
        o = self.out
        o["repository_group"] = [(i, n, "") for i, n in _REPO_GROUPS]
        life = {"autoland": 1, "mozilla-central": 2, "mozilla-beta": 3, "mozilla-release": 4}
        paths = {"autoland": "integration/autoland", "mozilla-beta": "releases/mozilla-beta",
                 "mozilla-release": "releases/mozilla-release"}  # fmt: skip
        for r in sorted(_REPOS, key=lambda r: r.id):
            o["repository"].append(
                (r.id, r.group_id, r.name, "hg",
                 f"https://hg.mozilla.org/{paths.get(r.name, r.name)}",
                 None, "gecko", "", "active", life.get(r.name), r.alerts,
                 r.name not in ("mozilla-central", "autoland", "mozilla-beta"), r.is_try,
                 _TC_ROOT, False)
            )  # fmt: skip
        o["product"] = list(_PRODUCTS)
        option_ids = {n: i for i, n in enumerate(_OPTIONS, 1)}
        o["option"] = [(i, n) for n, i in option_ids.items()]
        self.oc_hash: dict[str, str] = {}
        self.oc_row: dict[tuple[str, str], int] = {}
        oc_id = 0
        for key, opts in _OPTION_SETS.items():
            h = option_collection_hash(opts)
            self.oc_hash[key] = h
            for opt in sorted(opts):
                oc_id += 1
                self.oc_row[(key, opt)] = oc_id
                o["option_collection"].append((oc_id, h, option_ids[opt]))
        o["machine_platform"] = [(p.id, p.os, p.name, p.arch) for p in _PLATFORM_LIST]
        o["build_platform"] = [
            (p.id + _BUILD_PLATFORM_OFFSET, p.os, p.name, p.arch) for p in _PLATFORM_LIST
        ]
        o["failure_classification"] = list(_FAILURE_CLASSIFICATIONS)
        o["performance_framework"] = list(_FRAMEWORKS)
        o["issue_tracker"] = [
            (1, "Bugzilla", "https://bugzilla.mozilla.org/show_bug.cgi?id=%s"),
            (2, "Github - Mozilla Mobile", "https://github.com/mozilla-mobile/issues/%s"),
        ]
        self.group_ids = {k: 1001 + i for i, k in enumerate(_GROUPS)}
        o["job_group"] = [
            (self.group_ids[k], sym, name, "fill me") for k, (name, sym) in _GROUPS.items()
        ]

    def people(self) -> None:
        rng = self.rng
        names: list[tuple[str, str]] = []
        seen: set[str] = set()
        while len(names) < 110:
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            if first[0] + last not in seen:  # emails are initial + last name
                seen.add(first[0] + last)
                names.append((first, last))
        self.devs = [(f"{f} {la}", f"{f[0].lower()}{la.lower()}@mozilla.com") for f, la in names]
        assert len({d[1] for d in self.devs}) == len(self.devs)
        # auth_user: sheriffs (classify jobs), perf sheriffs (triage alerts), some developers
        users = []
        uid = 3500
        self.sheriffs: list[int] = []
        self.perf_sheriffs: list[int] = []
        self.try_users: dict[str, int] = {}
        for i, (full, email) in enumerate(self.devs[:40]):
            uid += rng.randint(1, 40)
            first, last = full.split(" ", 1)
            staff = i < 12
            if i < 8:
                self.sheriffs.append(uid)
            elif i < 12:
                self.perf_sheriffs.append(uid)
            else:
                self.try_users[email] = uid
            joined = datetime(2017, 1, 1) + timedelta(days=rng.randint(0, 2800))
            users.append(
                (uid, "!", SAMPLE_END - self.minutes(10, 60 * 24 * 30), i < 2,
                 f"mozilla-ldap/{email}", first, last, email, staff, True, joined)
            )  # fmt: skip
        self.out["auth_user"] = users

    # ---- catalogue ---------------------------------------------------------------------

    def catalogue(self) -> None:
        cfgs: list[_Config] = []
        jt_ids: dict[tuple[str, str], int] = {}

        def add(label: str, symbol: str, group: str, kind: str, platform: str, option: str,
                tier: int, suite: _Suite | None, chunk: int, fail: float, minutes: float,
                build_key: str) -> None:  # fmt: skip
            jt = jt_ids.setdefault((label, symbol), 80001 + len(jt_ids))
            plat = _PLATFORMS[platform]
            p_fail = fail * plat.fail_mult * _OPTION_MULT.get(option, 1.0) * _FAIL_SCALE
            slow = {"debug": 1.5, "asan": 1.6}.get(option, 1.0) if kind in ("test", "perf") else 1
            cfgs.append(
                _Config(len(cfgs), label, symbol, group, kind, plat, option, tier, suite, chunk,
                        fail, minutes, build_key, jt, p_fail, minutes * slow)
            )  # fmt: skip

        add("Gecko Decision Task", "D", "?", "decision", "gecko-decision", "opt", 1, None, 0,
            0.002, 3.0, "")  # fmt: skip
        for key, (label, sym, plat, opt, mins, tier) in _BUILDS.items():
            add(label, sym, "?", "build", plat, opt, tier, None, 0, 0.006, mins, key)
        for label, sym in _LINTS:
            add(label, sym, "L", "lint", "lint", "opt", 1, None, 0, 0.01, 6.0, "")
        for plat, by_opt in _TEST_PLATFORMS.items():
            android = plat.startswith("android")
            suites = _ANDROID_SUITES if android else _DESKTOP_SUITES
            for opt, build_key in by_opt.items():
                label_opt = "opt" if opt in ("shippable", "asan") else opt
                for s in suites:
                    n = s.chunks.get(opt, 0)
                    if s.key == "webgpu" and plat.startswith("mac"):
                        n = 0
                    for c in range(1, n + 1):
                        part = s.label.format(c=c)
                        add(
                            f"test-{plat}/{label_opt}-{part}",
                            s.symbol.format(c=c),
                            s.group,
                            "test",
                            plat,
                            opt,
                            s.tier,
                            s,
                            c,
                            s.fail,
                            s.minutes,
                            build_key,
                        )
                if opt == "shippable":
                    for s in _PERF_SUITES:
                        add(f"test-{plat}/opt-{s.label}", s.symbol, s.group, "perf", plat, opt,
                            s.tier, s, 1, s.fail, s.minutes, build_key)  # fmt: skip
        self.cfgs = cfgs
        self.decision_cfg = cfgs[0]
        self.build_cfgs = {c.build_key: c for c in cfgs if c.kind == "build"}
        self.lint_cfgs = [c for c in cfgs if c.kind == "lint"]
        self.test_cfgs = [c for c in cfgs if c.kind == "test"]
        self.perf_cfgs = [c for c in cfgs if c.kind == "perf"]
        self.out["job_type"] = [(i, sym, label, "fill me") for (label, sym), i in jt_ids.items()]
        # worker pools
        rng = self.rng
        self.pools: dict[str, list[tuple[int, str]]] = {}
        mid = 300000
        for pool, n in (("linux", 500), ("windows", 250), ("mac", 80)):
            names = []
            for k in range(n):
                mid += 1
                if pool == "linux":
                    name = f"i-0{rng.getrandbits(64):016x}"
                elif pool == "windows":
                    name = "vm-" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789")
                                           for _ in range(20))  # fmt: skip
                else:
                    name = f"macmini-r8-{k + 1}"
                names.append((mid, name))
            self.pools[pool] = names
        self.unknown_machine = (mid + 1, "unknown")

    # ---- bugs ------------------------------------------------------------------------

    def bugs(self) -> None:
        rng = self.rng
        per_suite = {"bc": 36, "plain": 14, "dt": 14, "xpc": 14, "reftest": 9, "crashtest": 6,
                     "wpt": 28, "gtest": 3, "cpp": 2, "webgpu": 6, "media": 8, "gv": 6,
                     "perf": 6}  # fmt: skip
        suites = {s.key: s for s in (*_DESKTOP_SUITES, *_ANDROID_SUITES)}
        bugs: list[_Bug] = []
        bid = 180000
        used_numbers: set[int] = set()
        for key, n in per_suite.items():
            for _ in range(n):
                bid += rng.randint(1, 300)
                bugs.append(self._make_bug(bid, key, suites.get(key), used_numbers))
        # two "internal issues": no Bugzilla bug (yet)
        for key in ("bc", "wpt"):
            bid += rng.randint(1, 300)
            b = self._make_bug(bid, key, suites[key], used_numbers)
            b.bugzilla_id = None
            b.summary = b.summary.replace("Intermittent", "Internal issue:", 1)
            bugs.append(b)
        # Zipf weights over a shuffled order: a handful of bugs dominate.
        order = list(range(len(bugs)))
        rng.shuffle(order)
        for rank, i in enumerate(order):
            bugs[i].weight = 1.0 / (rank + 1) ** 1.15
        self.bug_list = bugs
        self.bugs_by_suite: dict[str, list[_Bug]] = {}
        for b in bugs:
            self.bugs_by_suite.setdefault(b.suite, []).append(b)

    def _make_bug(self, bid: int, key: str, suite: _Suite | None, used: set[int]) -> _Bug:
        rng = self.rng
        while True:
            number = rng.randint(1_880_000, 1_996_000)
            if number not in used:
                used.add(number)
                break
        w1, w2 = rng.choice(_WORDS), rng.choice(_WORDS)
        crash = ""
        if suite is None:  # perf-job intermittents
            s = rng.choice(_PERF_SUITES)
            test = s.label
            manifest = ""
            message = rng.choice(("Browsertime process timed out", "TEST-UNEXPECTED-ERROR | "
                                  f"{s.label} | timed out waiting for results", "Talos exited "
                                  "with a non-zero return code"))  # fmt: skip
            summary = f"Intermittent {test} | {message}"
        else:
            d = rng.choice(suite.dirs) if suite.dirs else ""
            manifest = (f"{d}/{suite.manifest}" if suite.manifest else d) if d else ""
            if key in ("bc", "dt"):
                test = f"{d}/browser_{w1}_{w2}.js"
            elif key in ("plain", "webgpu", "media"):
                test = f"{d}/test_{w1}_{w2}.html"
            elif key == "xpc":
                test = f"{d}/test_{w1}_{w2}.js"
            elif key in ("reftest", "crashtest"):
                test = f"{d}/{rng.randint(100000, 1990000)}-1.html"
            elif key == "wpt":
                test = f"{d}/{w1}-{w2}-{rng.randint(1, 12):03d}.html"
            elif key == "gv":
                test = f"org.mozilla.geckoview.test.{w1.title()}DelegateTest#{w2}"
            else:
                test = f"{w1.title()}{w2.title()}Test.{rng.choice(_WORDS).title()}"
            kind = rng.random()
            if kind < 0.12 and key not in ("gtest", "cpp", "gv"):
                crash = rng.choice(_CRASH_SIGS)
                message = f"application crashed [@ {crash}]"
            elif kind < 0.40:
                message = "single tracking bug"
            elif kind < 0.60:
                message = "Test timed out"
            elif key == "wpt":
                message = f"{w1} {w2} - assert_equals: expected {rng.randint(0, 9)} but got " \
                          f"{rng.randint(10, 99)}"  # fmt: skip
            elif key == "reftest":
                message = "image comparison, max difference: 255, number of differing pixels: " \
                          f"{rng.randint(1, 4000)}"  # fmt: skip
            else:
                message = f"Uncaught exception - TypeError: this.{w1} is null"
            prefix = "Intermittent TV " if key == "wpt" and rng.random() < 0.3 else "Intermittent "
            summary = f"{prefix}{test} | {message}"
        os_filter: tuple[str, ...] = ()
        r = rng.random()
        if r < 0.25:
            os_filter = ("windows",)
        elif r < 0.35:
            os_filter = ("mac",)
        elif r < 0.45:
            os_filter = ("linux",)
        elif r < 0.50:
            os_filter = ("android",)
        if key in ("media", "gv"):
            os_filter = ("android",)
        active_from = SAMPLE_START - timedelta(days=rng.randint(0, 400))
        active_to = SAMPLE_END + timedelta(days=1)
        status, resolution = rng.choice((("NEW", ""), ("NEW", ""), ("REOPENED", ""),
                                         ("ASSIGNED", "")))  # fmt: skip
        r = rng.random()
        if r < 0.2:  # appeared during the window
            active_from = SAMPLE_START + timedelta(days=rng.uniform(5, 100))
        elif r < 0.35:  # fixed during the window
            active_to = SAMPLE_START + timedelta(days=rng.uniform(20, 110))
            status, resolution = "RESOLVED", rng.choice(("FIXED", "FIXED", "WORKSFORME"))
        return _Bug(bid, number, key, test, manifest, message, summary[:255], os_filter, 1.0,
                    active_from, active_to, status, resolution, crash)  # fmt: skip

    def pick_bug(self, cfg: _Config, t: datetime) -> _Bug | None:
        key = "perf" if cfg.kind == "perf" else cfg.suite.key if cfg.suite else ""
        cands = [
            b for b in self.bugs_by_suite.get(key, ())
            if b.active_from <= t < b.active_to
            and (not b.os_filter or cfg.platform.os in b.os_filter)
        ]  # fmt: skip
        if not cands:
            return None
        return self.rng.choices(cands, weights=[b.weight for b in cands])[0]

    # ---- pushes ----------------------------------------------------------------------

    def push_times(self, repo: _Repo, n: int) -> list[datetime]:
        """``n`` push times over the window: weekday-heavy, day-time-heavy, every day covered."""
        rng = self.rng
        day_w = [(0.35 if (SAMPLE_START + timedelta(days=d)).weekday() >= 5 else 1.0)
                 for d in range(SAMPLE_DAYS)]  # fmt: skip
        total = sum(day_w)
        counts = [int(n * w / total) for w in day_w]
        if repo.name in ("autoland", "try") and n >= SAMPLE_DAYS:
            counts = [max(1, c) for c in counts]
        while sum(counts) < n:
            counts[rng.choices(range(SAMPLE_DAYS), weights=day_w)[0]] += 1
        while sum(counts) > n:
            d = rng.randrange(SAMPLE_DAYS)
            if counts[d] > 1:
                counts[d] -= 1
        if repo.name == "mozilla-central":
            hour_w = [0.05] * 24
            for h in (9, 10, 21, 22):
                hour_w[h] = 1.0
        else:
            hour_w = [0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.4, 0.7, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0,
                      1.0, 1.0, 1.0, 1.0, 0.9, 0.8, 0.7, 0.5, 0.35, 0.25]  # fmt: skip
        times = []
        for d, c in enumerate(counts):
            base = SAMPLE_START + timedelta(days=d)
            for h in rng.choices(range(24), weights=hour_w, k=c):
                times.append(base + timedelta(seconds=h * 3600 + rng.randrange(3600)))
        times.sort()
        return times

    def make_pushes(self) -> None:
        rng = self.rng
        pushes: list[_Push] = []
        for repo in _REPOS:
            n = max(3, round(repo.pushes * self.scale))
            times = self.push_times(repo, n)
            # the latest pushes still have running and pending jobs at the anchor
            recent = {"autoland": (110, 75, 20), "try": (130, 50)}.get(repo.name, ())
            k = min(len(recent), len(times))
            if k:
                times[-k:] = [SAMPLE_END - timedelta(minutes=ago) for ago in recent[-k:]]
                times.sort()
            for t in times:
                if repo.name == "mozilla-central":
                    author = rng.choice(self.devs[:8])[1]  # sheriffs merge
                elif repo.name in ("mozilla-beta", "mozilla-release"):
                    author = rng.choice(("ffxbld", *[d[1] for d in self.devs[:8]]))
                else:
                    author = rng.choice(self.devs)[1]
                regression = None
                if rng.random() < repo.regression_rate:
                    if rng.random() < 0.3:
                        regression = ("build", "", rng.choice(("linux", "windows", "mac",
                                                               "android")))  # fmt: skip
                    else:
                        s = rng.choice(_DESKTOP_SUITES[:7])
                        regression = (s.key, rng.choice(("", "debug", "opt")),
                                      rng.choice(("", "", "windows", "linux", "mac")))  # fmt: skip
                pushes.append(_Push(repo, t, author, rng.random() < repo.perf_share, regression))
        pushes.sort(key=lambda p: (p.time, p.repo.id))
        self.pushes = pushes
        self.repo_pushes: dict[int, list[_Push]] = {r.id: [] for r in _REPOS}
        for i, p in enumerate(pushes):
            p.id = 1_650_001 + i
            lst = self.repo_pushes[p.repo.id]
            p.index = len(lst)
            lst.append(p)
        self.commits()

    def commits(self) -> None:
        rng = self.rng
        rows = self.out["commit"]
        cid = 9_000_000
        landed: list[tuple[str, str, str]] = []  # autoland commits not merged yet
        for p in self.pushes:
            repo = p.repo.name
            commits: list[tuple[str, str, str]] = []
            if repo == "mozilla-central":
                take = landed[-rng.randint(3, 10) :] if landed else []
                landed.clear()
                commits.extend(take)
                sheriff = next(d for d in self.devs if d[1] == p.author)
                commits.append((self.revision(), f"{sheriff[0]} <{sheriff[1]}>",
                                "Merge autoland to mozilla-central. a=merge"))  # fmt: skip
            else:
                name = next((d[0] for d in self.devs if d[1] == p.author), "Mozilla Releng")
                n = 1 + min(int(rng.expovariate(0.8)), 7)
                for _ in range(n):
                    bug = rng.randint(1_880_000, 1_996_000)
                    msg = f"Bug {bug} - {rng.choice(_COMMIT_VERBS)} {rng.choice(_COMMIT_OBJECTS)}."
                    if repo == "try":
                        msg = "try: -b do -p all -u all -t none" if rng.random() < 0.2 else msg
                    elif repo in ("mozilla-beta", "mozilla-release"):
                        msg += " a=dmeehan"
                    else:
                        msg += f" r={rng.choice(self.devs)[1].split('@')[0]}"
                    commits.append((self.revision(), f"{name} <{p.author}>", msg))
                if repo == "autoland":
                    landed.extend(commits)
            p.revision = commits[-1][0]
            for rev, author, msg in commits:
                cid += 1
                rows.append((cid, p.id, rev, author, msg, None))

    # ---- jobs ------------------------------------------------------------------------

    def run_job(
        self,
        cfg: _Config,
        push: _Push,
        submit: datetime,
        *,
        retry_id: int = 0,
        task: tuple[str, str] | None = None,
        retrigger: bool = False,
    ) -> _Job | None:
        """Create one run (plus its automatic rerun after ``retry``); None if not yet submitted."""
        if submit > SAMPLE_END:
            return None
        random_ = self.random
        q_lo, q_hi = cfg.platform.queue
        queued = int((q_lo + (q_hi - q_lo) * random_()) * 60)  # seconds
        ran = int(cfg.run_minutes * (45 + 36 * random_()))
        task_id, uuid = task or self.slug()
        cause = ""
        bug: _Bug | None = None
        r = random_()
        repo = push.repo
        cancel = 0.05 if repo.is_try else 0.003
        reg = push.regression
        if r < 0.012:
            result, cause = "exception", "infra"
            ran = int(ran * (0.05 + 0.85 * random_()))
        elif r < 0.012 + 0.02:
            result = "retry"
            ran = int(ran * (0.05 + 0.65 * random_()))
        elif r < 0.032 + cancel:
            result = "usercancel"
            ran = int(ran * (0.05 + 0.65 * random_()))
        elif reg is not None and not retrigger and self._hit(cfg, reg):
            result, cause = ("busted" if cfg.kind == "build" else "testfailed"), "regression"
        elif random_() < (cfg.p_fail * 1.8 if repo.is_try else cfg.p_fail):
            start = submit + timedelta(0, queued)  # bugs are picked by when they are active
            if cfg.kind == "build" or random_() < 0.04:
                result, cause = "busted", "infra"
            else:
                result, cause = "testfailed", "intermittent"
                if random_() < 0.01:
                    cause = "expected"
                else:
                    bug = self.pick_bug(cfg, start)
                    if bug is None:
                        cause = "new"
        else:
            result = "success"
        start = submit + timedelta(0, queued)
        end = start + timedelta(0, ran)
        if start > SAMPLE_END:
            state, result, start, end, cause, bug = "pending", "unknown", EPOCH, EPOCH, "", None
            machine = self.unknown_machine
        else:
            pool = self.pools[cfg.platform.pool]
            machine = pool[self.below(len(pool))]
            if end > SAMPLE_END:
                state, result, end, cause, bug = "running", "unknown", EPOCH, "", None
            else:
                state = "completed"
        self.machines_used[machine[0]] = machine[1]
        job = _Job(push, cfg, submit, start, end, state, result, task_id, uuid, retry_id,
                   machine[0], cause, bug, len(self.jobs))  # fmt: skip
        self.jobs.append(job)
        if result == "retry":
            rerun = self.run_job(cfg, push, end + self.minutes(0.1, 1.5), retry_id=retry_id + 1,
                                 task=(task_id, uuid), retrigger=retrigger)  # fmt: skip
            return rerun or job
        if cause:
            self.classify(job)
        return job

    @staticmethod
    def _hit(cfg: _Config, reg: tuple[str, str, str]) -> bool:
        what, opt, os_name = reg
        if what == "build":
            return cfg.kind == "build" and cfg.platform.os == os_name
        return (
            cfg.suite is not None
            and cfg.suite.key == what
            and cfg.kind == "test"
            and (not opt or cfg.option == opt)
            and (not os_name or cfg.platform.os == os_name)
        )

    def classify(self, job: _Job) -> None:
        """Decide the job's classification history (notes, bug links) as sheriffs would."""
        if job.state != "completed" or job.result in ("success", "retry", "usercancel"):
            return
        rng = self.rng
        repo = job.push.repo
        sheriff = rng.choice(self.sheriffs)
        cause = job.cause
        r = rng.random()
        auto_delay = self.minutes(2, 12)
        human_delay = self.minutes(15, 60 * 14)
        fc = FC_NOT_CLASSIFIED
        user: int | None = sheriff
        delay = human_delay
        if repo.is_try:
            user = self.try_users.get(job.push.author)
            if cause == "intermittent":
                if r < 0.2:
                    fc, user, delay = FC_AUTOCLASSIFIED, None, auto_delay
                elif r < 0.45 and user is not None:
                    fc = FC_INTERMITTENT
            elif cause in ("regression", "new") and r < 0.3:
                fc, user, delay = FC_NEW_FAILURE, None, auto_delay
        elif job.cfg.tier == 3:
            if cause == "intermittent" and r < 0.1:
                fc = FC_INTERMITTENT
        elif cause == "intermittent":
            if r < 0.35:
                fc, user, delay = FC_AUTOCLASSIFIED, None, auto_delay
            elif r < 0.80:
                fc = FC_INTERMITTENT
            elif r < 0.88:
                fc = FC_NEEDS_BUGID
        elif cause == "new":
            fc, user, delay = ((FC_NEW_FAILURE, None, auto_delay) if r < 0.4 else
                               (FC_NEEDS_BUGID, sheriff, human_delay) if r < 0.8 else
                               (FC_NOT_CLASSIFIED, None, auto_delay))  # fmt: skip
        elif cause == "regression":
            if r < 0.88:
                fc = FC_FIXED_BY_COMMIT
        elif cause == "infra":
            if r < 0.35:
                fc = FC_INFRA
        elif cause == "expected":
            fc = FC_EXPECTED
        if fc == FC_NOT_CLASSIFIED:
            return
        when = job.end + delay
        # sometimes an earlier, superseded note: the job column keeps only the latest one
        earlier = fc == FC_INTERMITTENT and rng.random() < 0.1
        if earlier:
            when = max(when, job.end + auto_delay + timedelta(0, 300))
        if when > SAMPLE_END:
            return  # nobody has looked at it yet
        text = ""
        if fc == FC_FIXED_BY_COMMIT:
            text = f"backout of {self.revision()[:12]}"
        elif fc == FC_INFRA and rng.random() < 0.5:
            text = rng.choice(("worker lost", "claim expired", "max run time exceeded"))
        if earlier:
            job.notes.append((FC_NEW_FAILURE, None, "", job.end + auto_delay))
        job.notes.append((fc, user, text, when))
        job.fc = fc
        if fc in (FC_INTERMITTENT, FC_AUTOCLASSIFIED) and job.bug is not None:
            job.bug_user, job.bug_time = user, when
        elif fc in (FC_INTERMITTENT, FC_AUTOCLASSIFIED):
            job.fc = FC_NEEDS_BUGID
            job.notes[-1] = (FC_NEEDS_BUGID, user, text, when)

    def push_jobs(self, push: _Push) -> None:
        rng = self.rng
        repo = push.repo
        decision = self.run_job(self.decision_cfg, push, push.time + self.minutes(0.3, 1.5))
        if decision is None or decision.state != "completed" or decision.result != "success":
            return
        ready = decision.end
        if repo.is_try:
            chosen = rng.sample(list(_TEST_PLATFORMS), k=rng.choice((1, 1, 2, 2, 3)))
            variants = {bk for plat in chosen for bk in _TEST_PLATFORMS[plat].values()}
            if rng.random() < 0.3:
                variants.add("linux64-asan-fuzzing/opt")
            builds = [self.build_cfgs[k] for k in self.build_cfgs if k in variants]
            tests = [c for c in self.test_cfgs if c.platform.name in chosen]
            perf = [c for c in self.perf_cfgs if c.platform.name in chosen]
            lints = self.lint_cfgs if rng.random() < 0.4 else []
        else:
            fuzzing = repo.name == "mozilla-central"
            builds = [c for k, c in self.build_cfgs.items()
                      if fuzzing or k != "linux64-asan-fuzzing/opt"]  # fmt: skip
            tests = self.test_cfgs
            perf = self.perf_cfgs
            lints = self.lint_cfgs if repo.name == "autoland" else []
        built: dict[str, datetime] = {}
        for cfg in builds:
            job = self.run_job(cfg, push, ready + self.minutes(0.2, 1.0))
            if job is not None and job.state == "completed" and job.result == "success":
                built[cfg.build_key] = job.end
        for cfg in lints:
            self.run_job(cfg, push, ready + self.minutes(0.2, 1.0))
        share = repo.test_share
        for cfg in tests:
            if cfg.build_key in built and (share >= 1.0 or rng.random() < share):
                self.run_job(cfg, push, built[cfg.build_key] + self.minutes(0.5, 3.0))
        if push.perf:
            for cfg in perf:
                if cfg.build_key in built:
                    self.run_job(cfg, push, built[cfg.build_key] + self.minutes(0.5, 3.0))

    def make_jobs(self) -> None:
        for push in self.pushes:
            self.push_jobs(push)
        # sheriffs retrigger classified intermittents on integration branches
        rng = self.rng
        for job in list(self.jobs):
            if (job.fc in (FC_INTERMITTENT, FC_NEEDS_BUGID) and job.cfg.kind == "test"
                    and job.push.repo.name in ("autoland", "mozilla-central")
                    and rng.random() < 0.3):  # fmt: skip
                when = job.notes[-1][3] + self.minutes(1, 5)
                self.run_job(job.cfg, job.push, when, retrigger=True)
        # ids in submission order, like ingestion
        self.jobs.sort(key=lambda j: (j.submit, j.seq))
        for i, job in enumerate(self.jobs):
            job.id = 530_000_001 + i

    def job_tables(self) -> None:
        """job, taskcluster_metadata, reference_data_signatures and every per-job table."""
        rng = self.rng
        random_ = self.random
        o = self.out
        rds: dict[tuple[int, int], int] = {}
        rds_rows = o["reference_data_signatures"]
        jobs_rows, tc_rows, log_rows = o["job"], o["taskcluster_metadata"], o["job_log"]
        note_rows, bjm_rows = o["job_note"], o["bug_job_map"]
        tle_rows, fl_rows, tlem_rows = o["text_log_error"], o["failure_line"], o[
            "text_log_error_metadata"]  # fmt: skip
        gs_rows = o["group_status"]
        group_ids: dict[str, int] = {}
        cf_rows = o["classified_failure"]
        log_id, note_id, bjm_id, tle_id, fl_id, gs_id = (
            980_000_000,
            7_200_000,
            3_100_000,
            1_200_000_000,
            45_000_000,
            150_000_000,
        )
        cf_id = 8_000_000
        repo_names = {r.id: r.name for r in _REPOS}
        for job in self.jobs:
            cfg, push = job.cfg, job.push
            repo_id = push.repo.id
            key = (repo_id, cfg.idx)
            sig_id = rds.get(key)
            if sig_id is None:
                sig_id = 400_001 + len(rds)
                rds[key] = sig_id
                plat = cfg.platform
                gname, gsym = _GROUPS[cfg.group]
                och = self.oc_hash[cfg.option]
                sig = hashlib.sha1(
                    f"{repo_names[repo_id]}|{cfg.label}|{plat.name}|{och}".encode()
                ).hexdigest()
                rds_rows.append(
                    (sig_id, cfg.label, sig, plat.os, plat.name, plat.arch, plat.os, plat.name,
                     plat.arch, gname, gsym, cfg.label, cfg.symbol, och, "taskcluster",
                     repo_names[repo_id], int((job.submit - EPOCH).total_seconds()))
                )  # fmt: skip
            last_modified = job.end if job.state == "completed" else (
                job.start if job.state == "running" else job.submit)  # fmt: skip
            last_modified += timedelta(0, 1 + int(random_() * 90))
            if job.notes:
                last_modified = max(last_modified, job.notes[-1][3])
            last_modified = min(last_modified, SAMPLE_END)
            jobs_rows.append(
                (job.id, repo_id, f"{job.uuid}/{job.retry_id}", None,
                 2 if job.fc == FC_AUTOCLASSIFIED else 0, None, sig_id,
                 cfg.platform.id + _BUILD_PLATFORM_OFFSET, cfg.platform.id, job.machine_id,
                 self.oc_hash[cfg.option], cfg.job_type_id, self.group_ids[cfg.group],
                 cfg.platform.product_id, job.fc, push.author[:50], "scheduled", job.result,
                 job.state, job.submit, job.start, job.end, last_modified, None, cfg.tier,
                 push.id)
            )  # fmt: skip
            tc_rows.append((job.id, job.task_id, job.retry_id))
            if job.state == "pending":
                continue
            base = f"{_TC_ROOT}/api/queue/v1/task/{job.task_id}/runs/{job.retry_id}/artifacts/"
            done = job.state == "completed"
            status = (1 if random_() < 0.97 else 2 + self.below(2)) if done else 0
            log_id += 1
            log_rows.append((log_id, job.id, "live_backing_log",
                             base + "public/logs/live_backing.log", status))  # fmt: skip
            es_log: int | None = None
            if cfg.kind == "test" and done and job.result in ("success", "testfailed"):
                log_id += 1
                es_log = log_id
                log_rows.append((log_id, job.id, "errorsummary_json",
                                 base + "public/test_info/errorsummary.log", 1))  # fmt: skip
            for fc, user, text, when in job.notes:
                note_id += 1
                note_rows.append((note_id, job.id, fc, user, text, when))
            bug = job.bug
            if bug is not None and job.bug_time is not None:
                bjm_id += 1
                bjm_rows.append((bjm_id, job.id, bug.id, job.bug_time, job.bug_user,
                                 bug.resolution == "" or job.bug_time < bug.active_to))  # fmt: skip
            # error lines
            if done and job.result in ("testfailed", "busted"):
                failing = self._failing_tests(job)
                line_no = rng.randint(800, 4000)
                cf: int | None = None
                if bug is not None and bug.bugzilla_id is not None and job.fc in (
                        FC_INTERMITTENT, FC_AUTOCLASSIFIED):  # fmt: skip
                    if not bug.classified_failure_id:
                        cf_id += 1
                        bug.classified_failure_id = cf_id
                        cf_rows.append((cf_id, bug.bugzilla_id, job.end, job.end))
                    cf = bug.classified_failure_id
                for n, (test, status_, message, crash) in enumerate(failing):
                    line_no += rng.randint(5, 900)
                    tle_id += 1
                    if crash:
                        text_line = f"PROCESS-CRASH | application crashed [@ {crash}] | {test}"
                    elif cfg.kind == "build":
                        text_line = message
                    else:
                        text_line = f"TEST-UNEXPECTED-{status_} | {test} | {message}"
                    new = job.cause in ("regression", "new")
                    tle_rows.append((tle_id, job.id, text_line, line_no, new))
                    fl: int | None = None
                    if es_log is not None:
                        fl_id += 1
                        fl = fl_id
                        verified = job.fc == FC_INTERMITTENT and cf is not None and n == 0
                        fl_rows.append(
                            (fl_id, f"{job.uuid}/{job.retry_id}", repo_id, es_log,
                             "crash" if crash else "test_result", n, test, None,
                             "CRASH" if crash else status_,
                             None if crash else ("OK" if cfg.suite and cfg.suite.key == "wpt"
                                                 else "PASS"),
                             message, crash or None, None, None, None, None,
                             cf if n == 0 else None, verified, None, job.end,
                             job.end + timedelta(seconds=rng.randint(0, 600)))
                        )  # fmt: skip
                    tlem_rows.append(
                        (
                            tle_id,
                            fl,
                            cf if n == 0 else None,
                            job.fc == FC_INTERMITTENT and cf is not None and n == 0,
                        )
                    )
            # manifests
            suite = cfg.suite
            if es_log is not None and suite is not None and suite.dirs:
                groups = self._job_groups(job)
                for name, ok in groups:
                    gid = group_ids.get(name)
                    if gid is None:
                        gid = group_ids[name] = 2_000_001 + len(group_ids)
                    gs_id += 1
                    gs_rows.append((gs_id, 1 if ok else 2, None if random_() < 0.02 else
                                    8 + self.below(1500), es_log, gid))  # fmt: skip
        o["group"] = [(gid, name) for name, gid in group_ids.items()]
        o["machine"] = sorted(
            [*self.machines_used.items()] if self.machines_used else [self.unknown_machine]
        )
        # bugscache: every bug that was ever picked, plus some never seen in the window
        rows = []
        for b in self.bug_list:
            modified = min(b.active_to, SAMPLE_END - timedelta(hours=1)) - timedelta(
                hours=rng.randint(0, 72))  # fmt: skip
            rows.append(
                (b.id, b.bugzilla_id, b.status, b.resolution, b.summary, None,
                 f"[@ {b.crash}]" if b.crash else "", "intermittent-failure", modified,
                 "[stockwell needswork]" if b.weight > 0.2 else "", True)
            )  # fmt: skip
        o["bugscache"] = rows

    def _failing_tests(self, job: _Job) -> list[tuple[str, str, str, str]]:
        """(test, status, message, crash signature) for a failed job's error lines."""
        rng = self.rng
        cfg = job.cfg
        if cfg.kind == "build":
            f = rng.choice(("dom/base/Element.cpp", "layout/generic/nsIFrame.cpp",
                            "netwerk/protocol/http/nsHttpChannel.cpp"))  # fmt: skip
            msg = f"/builds/worker/checkouts/gecko/{f}:{rng.randint(10, 9000)}:" \
                  f"{rng.randint(1, 80)}: error: use of undeclared identifier " \
                  f"'{rng.choice(_WORDS)}{rng.choice(_WORDS).title()}'"  # fmt: skip
            return [("", "FAIL", msg, "")]
        bug = job.bug
        if bug is not None:
            status = "TIMEOUT" if "timed out" in bug.message.lower() else "FAIL"
            out = [(bug.test, status, bug.message, bug.crash)]
        else:
            suite = cfg.suite
            d = rng.choice(suite.dirs) if suite is not None and suite.dirs else "testing"
            test = f"{d}/test_{rng.choice(_WORDS)}_{rng.choice(_WORDS)}.js"
            out = [(test, "FAIL", f"assertion failed: {rng.choice(_WORDS)} should be true", "")]
        if rng.random() < 0.25:
            t0 = out[0][0]
            out.append((t0, "FAIL", "This test left a window open", ""))
        return out

    def _job_groups(self, job: _Job) -> list[tuple[str, bool]]:
        """Manifests a test job ran (a few of its chunk's) and whether each passed."""
        cfg = job.cfg
        mine = self.chunk_manifests.get(cfg.idx)
        if mine is None:
            suite = cfg.suite
            assert suite is not None
            n_chunks = suite.chunks.get(cfg.option, 1)
            names = [f"{d}/{suite.manifest}" if suite.manifest else d for d in suite.dirs]
            mine = [m for i, m in enumerate(names) if i % n_chunks == (cfg.chunk - 1) % n_chunks]
            mine = self.chunk_manifests[cfg.idx] = mine or names
        first = self.below(len(mine))
        picked = (mine + mine)[first : first + min(len(mine), 1 + self.below(3))]
        out = [(m, True) for m in picked]
        if job.result == "testfailed":
            failing = job.bug.manifest if job.bug is not None and job.bug.manifest else picked[0]
            out = [(m, True) for m in picked if m != failing] + [(failing, False)]
        return out

    # ---- mozci -----------------------------------------------------------------------

    def mozci(self) -> None:
        rng = self.rng
        last_end: dict[int, datetime] = {}
        busy: set[int] = set()
        for job in self.jobs:
            if job.push.repo.name != "autoland":
                continue
            if job.state != "completed":
                busy.add(job.push.id)
            else:
                last_end[job.push.id] = max(last_end.get(job.push.id, EPOCH), job.end)
        rows = self.out["mozci_classification"]
        for p in self.repo_pushes[77]:
            if p.id in busy or p.id not in last_end:
                continue
            created = last_end[p.id] + self.minutes(5, 40)
            if created > SAMPLE_END:
                continue
            result = "BAD" if p.regression else ("UNKNOWN" if rng.random() < 0.1 else "GOOD")
            rows.append((len(rows) + 1, p.id, result, self.slug()[0], created))

    # ---- perf ------------------------------------------------------------------------

    def perf(self) -> None:
        """Signatures, datum series with real level changes, and alerts on those changes."""
        rng = self.rng
        o = self.out
        sig_rows = o["performance_signature"]
        self.sigs: dict[tuple[int, int], list[_Sig]] = {}  # (repo id, producer cfg) -> sigs
        sid = 5_000_000
        plat_factor = {"linux": 1.0, "windows": 1.15, "mac": 1.3}
        producers = [*self.perf_cfgs, *(c for c in self.build_cfgs.values()
                                        if c.option == "shippable")]  # fmt: skip
        self.perf_producers = producers
        for repo in sorted((r for r in _REPOS if r.perf_share > 0), key=lambda r: r.id):
            for cfg in producers:
                lst: list[_Sig] = []
                if cfg.kind == "build":
                    specs: tuple[tuple[str, int, str, float, bool], ...] = (
                        ("installer size", 0, "bytes", 88e6, True),)  # fmt: skip
                    framework, tags, extra = 2, "", ""
                else:
                    assert cfg.suite is not None
                    specs, framework = cfg.suite.perf, cfg.suite.framework
                    tags = "cold" if framework == 13 else ""
                    extra = "fission webrender" if framework == 13 else "e10s fission"
                fac = plat_factor.get(cfg.platform.os, 1.0)
                for suite, n_sub, unit, base, lower in specs:
                    parent: int | None = None
                    for test in ("", *_PERF_SUBTESTS.get(suite, ())[:n_sub]):
                        sid += 1
                        h = hashlib.sha1(
                            f"{framework}|{cfg.platform.name}|{self.oc_hash[cfg.option]}|{suite}"
                            f"|{test}|{extra}|firefox".encode()
                        ).hexdigest()
                        sub_base, sub_lower, sub_unit = base, lower, unit
                        if test:
                            sub_base = base * rng.uniform(0.2, 1.6)
                            if unit == "score":  # the subtests of a score are times
                                sub_base, sub_lower, sub_unit = rng.uniform(20, 400), True, "ms"
                        has_sub = bool(n_sub) and not test
                        sig = _Sig(sid, repo.id, framework, suite, test, sub_lower,
                                   sub_base * (fac if sub_lower else 1 / fac),
                                   rng.uniform(0.004, 0.02))  # fmt: skip
                        lst.append(sig)
                        sig_rows.append(
                            (sid, h, repo.id, framework, cfg.platform.id,
                             self.oc_row[(cfg.option, "shippable")], suite, test, "firefox",
                             sub_lower, SAMPLE_START, parent, has_sub, None, None, tags, extra,
                             sub_unit, None, None, None, None, None, None, False, None)
                        )  # fmt: skip
                        if not test:
                            parent = sid
                self.sigs[(repo.id, cfg.idx)] = lst
        # a datum per signature for every successful producing job
        producing: list[tuple[_Job, list[_Sig]]] = []
        for job in self.jobs:
            if job.state == "completed" and job.result == "success":
                lst_ = self.sigs.get((job.push.repo.id, job.cfg.idx))
                if lst_ is not None:
                    producing.append((job, lst_))
                    for sig in lst_:
                        sig.points.append(job.push.index)
        self.plan_steps(producing)
        rows = o["performance_datum"]
        did = 4_900_000_000
        os_names = {"linux": ("linux", "18.04"), "windows": ("windows", "10.0.26100"),
                    "mac": ("macos", "10.15.7")}  # fmt: skip
        gauss, random_ = rng.gauss, self.random
        versions: dict[int, str] = {}
        for job, lst_ in producing:
            push = job.push
            pidx, ptime, rid, jid, pid = push.index, push.time, push.repo.id, job.id, push.id
            app_version = versions.get(pid)
            if app_version is None:
                app_version = versions[pid] = _app_version(push.repo.name, ptime)
            os_name, os_version = os_names.get(job.cfg.platform.os, ("", ""))
            for sig in lst_:
                noise = gauss(0.0, sig.cv)
                mult = 1.0
                if sig.steps:
                    for idx, factor in sig.steps:
                        if pidx >= idx:
                            mult *= factor
                elif random_() < 0.015:
                    noise += 0.12 + 0.23 * random_()  # outlier (never near a real step)
                value = sig.base * mult * (1.0 + noise)
                value = round(value, 2) if value < 1e5 else float(round(value))
                did += 1
                sig.values[pidx] = value
                rows.append((did, rid, sig.id, value, ptime, app_version, os_name, os_version,
                             jid, pid))  # fmt: skip
        # last_updated of each signature = its latest datum
        last_seen = {
            sig.id: self.repo_pushes[sig.repo][max(sig.values)].time
            for lst in self.sigs.values()
            for sig in lst
            if sig.values
        }
        i_last = table("performance_signature").index("last_updated")
        o["performance_signature"] = [
            (*r[:i_last], last_seen.get(r[0], r[i_last]), *r[i_last + 1 :]) for r in sig_rows
        ]
        self.alerts()

    def plan_steps(self, producing: list[tuple[_Job, list[_Sig]]]) -> None:
        """Choose culprit pushes and the signatures whose level changes there."""
        rng = self.rng
        self.events: list[_Event] = []
        perf_pushes_of: dict[int, set[int]] = {}
        for job, _ in producing:
            perf_pushes_of.setdefault(job.push.repo.id, set()).add(job.push.index)
        for repo in sorted(_REPOS, key=lambda r: r.id):
            if not repo.alerts:
                continue
            perf_pushes = sorted(perf_pushes_of.get(repo.id, ()))
            n = len(perf_pushes)
            if n < 20:
                continue
            n_events = max(1, round(n / 18))
            families: dict[str, list[list[_Sig]]] = {}
            for cfg in self.perf_producers:
                key = cfg.suite.key if cfg.suite else "build"
                families.setdefault(key, []).append(self.sigs[(repo.id, cfg.idx)])
            family_keys = [k for k, v in families.items() for _ in v]  # weight by platforms
            # the first change is the newest possible one (its alert is still untriaged)
            recent = list(range(n - 8, max(8, n - 40), -1))
            made = tries = 0
            while made < n_events and tries < n_events * 40 + len(recent):
                tries += 1
                first = made == 0 and tries <= len(recent)
                k = recent[tries - 1] if first else rng.randrange(8, n - 8)
                if self._clashes(repo.id, k):
                    continue
                culprit, prev = perf_pushes[k], perf_pushes[k - 1]
                if first and repo.name == "autoland":
                    # the recent change is a browsertime one: the canonical "browsertime alerts
                    # on autoland in the last 30 days" query always has something to show
                    family = families[rng.choice(("amazon", "sp3"))]
                else:
                    family = families[rng.choice(family_keys)]
                chosen: list[_Sig] = []
                for sigs in rng.sample(family, k=rng.randint(1, len(family))):
                    summary = rng.choice([s for s in sigs if not s.test])
                    subs = [s for s in sigs if s.test and s.suite == summary.suite]
                    for s in [summary, *(s for s in subs if rng.random() < 0.5)]:
                        if self._can_step(s, culprit, prev):
                            chosen.append(s)
                if not chosen:
                    continue
                regression = rng.random() < 0.65
                mag = rng.uniform(max(0.05, 6 * max(s.cv for s in chosen)), 0.22)
                ev = _Event(repo.id, k, culprit, prev, chosen, regression, chosen[0].framework)
                self._apply(ev, mag)
                made += 1
                if regression and repo.name == "autoland" and rng.random() < 0.35:
                    kb = k + rng.randint(14, 20)  # backed out a day or so later
                    if kb < n - 8 and not self._clashes(repo.id, kb):
                        b_push, b_prev = perf_pushes[kb], perf_pushes[kb - 1]
                        if all(self._can_step(s, b_push, b_prev) for s in chosen):
                            back = _Event(repo.id, kb, b_push, b_prev, chosen, False,
                                          ev.framework, backout_of=ev)  # fmt: skip
                            self._apply(back, mag, undo=True)

    def _clashes(self, repo_id: int, k: int) -> bool:
        return any(e.repo == repo_id and abs(e.k - k) < 3 for e in self.events)

    @staticmethod
    def _can_step(sig: _Sig, culprit: int, prev: int) -> bool:
        """The series has points at culprit and prev, 8+ on each side, no other step nearby."""
        idxs = sig.points
        try:
            pos = idxs.index(culprit)
        except ValueError:
            return False
        if pos < 8 or len(idxs) - pos < 8 or idxs[pos - 1] != prev:
            return False
        return all(
            step_idx not in idxs or abs(idxs.index(step_idx) - pos) >= 14
            for step_idx, _ in sig.steps
        )

    def _apply(self, ev: _Event, mag: float, undo: bool = False) -> None:
        """Record the level change on each signature (``undo``: revert a regression)."""
        for s in ev.sigs:
            worse = True if undo else ev.regression
            up = worse == s.lower  # a regression raises a lower-is-better series
            factor = 1.0 + mag if up else 1.0 / (1.0 + mag)
            if undo:
                factor = 1.0 / factor
            s.steps.append((ev.push, factor))
            s.steps.sort()
        self.events.append(ev)

    def alerts(self) -> None:
        """One summary per (repository, framework, culprit push); an alert per changed series.

        prev_value/new_value are the means of the series over the windows before and after
        the change (bounded by neighbouring changes), as Perfherder computes them.
        """
        rng = self.rng
        push_at = {(p.repo.id, p.index): p for p in self.pushes}
        sum_rows: list[list[Any]] = []
        alert_rows = self.out["performance_alert"]
        sum_id, alert_id = 48_000, 180_000
        autoland_summaries: list[tuple[int, int]] = []  # (summary id, framework)
        merged: dict[tuple[int, int, int], _Event] = {}
        for ev in sorted(self.events, key=lambda e: (push_at[(e.repo, e.push)].time, e.repo)):
            key = (ev.repo, ev.framework, ev.push)
            if key in merged:
                have = merged[key].sigs
                have += [s for s in ev.sigs if s not in have]
            else:
                merged[key] = _Event(ev.repo, ev.k, ev.push, ev.prev, list(ev.sigs),
                                     ev.regression, ev.framework, ev.backout_of)  # fmt: skip
                ev.merged_into = merged[key]
        for ev in merged.values():
            push = push_at[(ev.repo, ev.push)]
            prev = push_at[(ev.repo, ev.prev)]
            found: list[tuple[_Sig, float, float, float, bool]] = []
            last_fore = push.time
            for s in ev.sigs:
                idxs = sorted(s.values)
                pos = idxs.index(ev.push)
                step_pos = [idxs.index(i) for i, _ in s.steps if i in s.values]
                lo = max([0, pos - 12, *(p for p in step_pos if p < pos)])
                hi = min([len(idxs), pos + 12, *(p for p in step_pos if p > pos)])
                back = [s.values[i] for i in idxs[lo:pos]]
                fore = [s.values[i] for i in idxs[pos:hi]]
                last_fore = max(last_fore, push_at[(ev.repo, idxs[hi - 1])].time)
                pv, nv = _mean(back), _mean(fore)
                var = sum((x - pv) ** 2 for x in back) / max(1, len(back) - 1) / len(back) + sum(
                    (x - nv) ** 2 for x in fore
                ) / max(1, len(fore) - 1) / len(fore)
                t_value = abs(nv - pv) / math.sqrt(var) if var > 0 else 999.0
                found.append((s, pv, nv, t_value, (nv > pv) == s.lower))
            created = min(last_fore + self.minutes(20, 180), SAMPLE_END - timedelta(minutes=5))
            triaged = created + self.minutes(120, 60 * 24 * 4)
            downstream_of: int | None = None
            if push.repo.name == "mozilla-central" and rng.random() < 0.4:
                cands = [sid for sid, fw in autoland_summaries if fw == ev.framework]
                downstream_of = cands[-1] if cands else None
            first_triaged: datetime | None = None
            assignee: int | None = None
            if triaged > SAMPLE_END or created > SAMPLE_END - timedelta(days=2):
                status = alert_status = 0  # untriaged
            else:
                first_triaged = triaged
                assignee = rng.choice(self.perf_sheriffs)
                alert_status = 4  # acknowledged
                if downstream_of is not None:
                    status = alert_status = 1
                elif ev.backout_of is not None or not any(f[4] for f in found):
                    status = 4  # improvement
                else:
                    status = rng.choice((5, 6, 7, 7))  # investigating, won't fix, fixed
            bug_number: int | None = None
            bug_updated: datetime | None = None
            if status in (5, 6, 7):
                bug_number = rng.randint(1_880_000, 1_996_000)
                bug_updated = min(triaged + self.minutes(30, 600), SAMPLE_END)
            sum_id += 1
            ev.summary_id = sum_id
            sum_rows.append(
                [sum_id, ev.repo, ev.framework, prev.id, push.id, push.id, prev.id, False, None,
                 assignee, created, _business_days(created, 3), first_triaged,
                 max(x for x in (created, first_triaged, bug_updated) if x is not None),
                 status, bug_number, None, _business_days(created, 5), bug_updated, 1, True]
            )  # fmt: skip
            if push.repo.name == "autoland":
                autoland_summaries.append((sum_id, ev.framework))
            for s, pv, nv, t_value, regression in found:
                alert_id += 1
                alert_rows.append(
                    (alert_id, sum_id, downstream_of if alert_status == 1 else None, s.id,
                     regression, rng.random() < 0.05, assignee, created, first_triaged,
                     first_triaged or created, alert_status, round(abs(nv - pv) / pv * 100, 2),
                     nv - pv, pv, nv, round(t_value, 2), None, None,
                     rng.choice(("OK", "OK", "OK", "N/A", "SKEWED", "OUTLIERS")), False)
                )  # fmt: skip
        # regressions that were backed out
        row_of = {row[0]: row for row in sum_rows}
        t = table("performance_alert_summary")
        status_i, notes_i, bug_i = t.index("status"), t.index("notes"), t.index("bug_number")
        for ev in merged.values():
            orig = ev.backout_of.merged_into if ev.backout_of is not None else None
            if orig is None:
                continue
            row = row_of[orig.summary_id]
            if row[status_i] not in (0, 1):
                row[status_i] = 8  # backed out
                row[notes_i] = f"Backed out; see improvement alert summary {ev.summary_id}"
                row[bug_i] = row[bug_i] or rng.randint(1_880_000, 1_996_000)
        self.out["performance_alert_summary"] = [tuple(r) for r in sum_rows]

    # ---- all -------------------------------------------------------------------------

    def run(self) -> dict[str, Rows]:
        self.static_tables()
        self.people()
        self.catalogue()
        self.bugs()
        self.make_pushes()
        self.out["push"] = [
            (p.id, p.repo.id, p.revision, p.author, p.time, None) for p in self.pushes
        ]
        self.make_jobs()
        self.job_tables()
        self.mozci()
        self.perf()
        return self.out


def generate(seed: int = DEFAULT_SEED, scale: float = 1.0) -> dict[str, Rows]:
    """Every table's rows, keyed by table name (in schema order)."""
    return _Generator(seed, scale).run()


def iter_tables(seed: int = DEFAULT_SEED, scale: float = 1.0) -> Iterator[tuple[TableDef, Rows]]:
    """``(table definition, rows)`` for every table, parents before children.

    Rows are tuples in the table's column order; any loader (DuckDB, PostgreSQL, MySQL) can
    write them as they come.
    """
    data = generate(seed, scale)
    for t in TABLES:
        yield t, data.pop(t.name)  # release each table once handed over
