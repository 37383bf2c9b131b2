"""The static reference data the sample generator draws from: repositories, platforms and
options, test suites and their manifests, perf frameworks and suites, fixture ids where
Treeherder has fixtures, and the words that make authors, commit messages and bugs.

Kept apart from :mod:`thsources.local.sample` so the generator reads as logic, and so the
catalogue can be checked or extended without touching it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class _Repo:
    id: int
    name: str
    group_id: int
    pushes: int  # at scale 1.0
    regression_rate: float  # share of pushes that break something
    test_share: float  # share of the test catalogue a push runs
    perf_share: float  # share of pushes that run the perf jobs
    alerts: bool
    is_try: bool = False


_REPOS: Final = (
    _Repo(1, "mozilla-central", 1, 240, 0.02, 1.0, 1.0, True),
    _Repo(4, "try", 1, 570, 0.18, 0.5, 0.25, False, is_try=True),
    _Repo(6, "mozilla-beta", 2, 100, 0.02, 0.25, 1.0, True),
    _Repo(7, "mozilla-release", 2, 50, 0.01, 0.25, 0.0, False),
    _Repo(77, "autoland", 1, 640, 0.05, 0.12, 0.5, True),
)

_REPO_GROUPS: Final = (
    (1, "development"),
    (2, "release-stabilization"),
    (3, "project repositories"),
)

_FAILURE_CLASSIFICATIONS: Final = (
    (1, "not classified"),
    (2, "fixed by commit"),
    (3, "expected fail"),
    (4, "intermittent"),
    (5, "infra"),
    (6, "new failure not classified"),
    (7, "autoclassified intermittent"),
    (8, "intermittent needs bugid"),
)
FC_NOT_CLASSIFIED, FC_FIXED_BY_COMMIT, FC_EXPECTED, FC_INTERMITTENT = 1, 2, 3, 4
FC_INFRA, FC_NEW_FAILURE, FC_AUTOCLASSIFIED, FC_NEEDS_BUGID = 5, 6, 7, 8

_FRAMEWORKS: Final = (
    (1, "talos", True),
    (2, "build_metrics", True),
    (4, "awsy", True),
    (13, "browsertime", True),
    (15, "mozperftest", True),
    (16, "fxrecord", False),
    (17, "telemetry", False),
    (18, "mozharness", True),
)

_PRODUCTS: Final = ((1, "firefox"), (2, "mobile"), (3, "unknown"))

# Option collections: key -> options. Hash = sha1 of the sorted, concatenated names.
_OPTION_SETS: Final[dict[str, tuple[str, ...]]] = {
    "opt": ("opt",),
    "debug": ("debug",),
    "asan": ("asan",),
    "shippable": ("shippable",),
    "asan-fuzzing": ("asan", "fuzzing"),
}
_OPTIONS: Final = ("asan", "debug", "fuzzing", "opt", "shippable")


def option_collection_hash(options: Sequence[str]) -> str:
    """Treeherder's ``OptionCollection.calculate_hash``: SHA-1 of sorted joined names."""
    return hashlib.sha1("".join(sorted(options)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Platform:
    id: int
    os: str
    name: str
    arch: str
    product_id: int
    fail_mult: float
    queue: tuple[float, float]  # queue delay range, minutes
    pool: str  # worker pool key


_PLATFORM_LIST: Final = (
    # test platforms
    _Platform(101, "linux", "linux1804-64-qr", "x86_64", 1, 0.7, (0.3, 4.0), "linux"),
    _Platform(102, "linux", "linux1804-64-asan-qr", "x86_64", 1, 1.1, (0.3, 4.0), "linux"),
    _Platform(103, "linux", "linux1804-64-shippable-qr", "x86_64", 1, 0.6, (0.5, 6.0), "linux"),
    _Platform(104, "windows", "windows11-64", "x86_64", 1, 1.3, (1.0, 15.0), "windows"),
    _Platform(105, "windows", "windows11-64-shippable", "x86_64", 1, 1.1, (1.0, 20.0), "windows"),
    _Platform(106, "mac", "macosx1015-64", "x86_64", 1, 1.2, (2.0, 40.0), "mac"),
    _Platform(107, "mac", "macosx1015-64-shippable", "x86_64", 1, 1.0, (2.0, 45.0), "mac"),
    _Platform(108, "android", "android-em-7-0-x86_64", "x86_64", 2, 1.6, (1.0, 10.0), "linux"),
    # build platforms (Treeherder shows builds on these)
    _Platform(111, "linux", "linux64", "x86_64", 1, 1.0, (0.2, 3.0), "linux"),
    _Platform(112, "linux", "linux64-shippable", "x86_64", 1, 1.0, (0.2, 3.0), "linux"),
    _Platform(113, "windows", "windows2012-64", "x86_64", 1, 1.0, (0.2, 3.0), "linux"),
    _Platform(114, "windows", "windows2012-64-shippable", "x86_64", 1, 1.0, (0.2, 3.0), "linux"),
    _Platform(115, "mac", "osx-cross", "x86_64", 1, 1.0, (0.2, 3.0), "linux"),
    _Platform(116, "mac", "osx-shippable", "x86_64", 1, 1.0, (0.2, 3.0), "linux"),
    _Platform(117, "android", "android-5-0-x86_64", "x86_64", 2, 1.0, (0.2, 3.0), "linux"),
    # decision and lint tasks
    _Platform(121, "-", "gecko-decision", "-", 3, 0.3, (0.1, 0.8), "linux"),
    _Platform(122, "-", "lint", "-", 3, 1.0, (0.2, 3.0), "linux"),
)
_PLATFORMS: Final = {p.name: p for p in _PLATFORM_LIST}
_BUILD_PLATFORM_OFFSET: Final = 100  # build_platform.id = machine_platform.id + 100


@dataclass(frozen=True, slots=True)
class _Suite:
    key: str
    label: str  # may contain {c}
    symbol: str  # may contain {c}
    group: str  # key of _GROUPS
    fail: float  # base failure probability of one run
    minutes: float
    chunks: dict[str, int]  # option -> chunk count
    dirs: tuple[str, ...] = ()  # test directories (manifests derive from them)
    manifest: str = ""  # manifest file name appended to a dir ("" = the dir itself)
    tier: int = 1
    framework: int = 0  # perf framework id for perf jobs
    # perf series: (suite, number of subtests, unit, base value, lower_is_better)
    perf: tuple[tuple[str, int, str, float, bool], ...] = ()


_GROUPS: Final = {
    "?": ("unknown", "?"),
    "M": ("Mochitests", "M"),
    "X": ("Xpcshell tests", "X"),
    "R": ("Reftests", "R"),
    "W": ("Web platform tests", "W"),
    "T": ("Talos performance tests", "T"),
    "Btime": ("Browsertime performance tests on Firefox", "Btime"),
    "SY": ("Are we slim yet tests by TaskCluster", "SY"),
    "L": ("Linting", "L"),
}

_BC_DIRS: Final = (
    "browser/base/content/test/tabs",
    "browser/components/urlbar/tests/browser",
    "browser/components/sessionstore/test",
    "browser/components/extensions/test/browser",
    "browser/base/content/test/popupNotifications",
    "browser/components/places/tests/browser",
    "browser/components/downloads/test/browser",
    "toolkit/components/pdfjs/test",
    "browser/base/content/test/general",
    "browser/components/preferences/tests",
)
_PLAIN_DIRS: Final = (
    "dom/base/test",
    "dom/events/test",
    "dom/html/test",
    "dom/indexedDB/test",
    "layout/base/tests",
    "dom/workers/test",
    "dom/serviceworkers/test",
    "editor/libeditor/tests",
)
_DT_DIRS: Final = (
    "devtools/client/inspector/test",
    "devtools/client/netmonitor/test",
    "devtools/client/debugger/test/mochitest",
    "devtools/client/webconsole/test/browser",
    "devtools/server/tests/browser",
)
_XPC_DIRS: Final = (
    "netwerk/test/unit",
    "toolkit/components/places/tests/unit",
    "services/sync/tests/unit",
    "security/manager/ssl/tests/unit",
    "toolkit/modules/tests/xpcshell",
    "dom/push/test/xpcshell",
)
_REFTEST_DIRS: Final = (
    "layout/reftests/bugs",
    "layout/reftests/css-grid",
    "layout/reftests/svg",
    "image/test/reftest",
    "layout/reftests/text",
)
_CRASH_DIRS: Final = ("dom/base/crashtests", "layout/generic/crashtests", "gfx/tests/crashtests")
_WPT_DIRS: Final = (
    "/css/css-grid/grid-items",
    "/webdriver/tests/bidi/browsing_context/navigate",
    "/html/semantics/forms/the-input-element",
    "/fetch/api/request",
    "/service-workers/service-worker",
    "/webrtc",
    "/IndexedDB",
    "/streams/readable-streams",
    "/css/css-view-transitions",
    "/html/browsers/history/the-location-interface",
)
_MEDIA_DIRS: Final = ("dom/media/test", "dom/media/mediasource/test", "dom/media/webrtc/tests")
_GV_DIRS: Final = ("mobile/android/geckoview/src/androidTest",)

_DESKTOP_SUITES: Final = (
    _Suite(
        "bc",
        "mochitest-browser-chrome-{c}",
        "bc{c}",
        "M",
        0.030,
        32,
        {"debug": 4, "opt": 2, "asan": 2, "shippable": 1},
        _BC_DIRS,
        "browser.toml",
    ),
    _Suite(
        "plain",
        "mochitest-plain-{c}",
        "{c}",
        "M",
        0.014,
        22,
        {"debug": 3, "opt": 2, "asan": 1},
        _PLAIN_DIRS,
        "mochitest.toml",
    ),
    _Suite(
        "dt",
        "mochitest-devtools-chrome-{c}",
        "dt{c}",
        "M",
        0.028,
        26,
        {"debug": 2, "opt": 1},
        _DT_DIRS,
        "browser.toml",
    ),
    _Suite(
        "xpc",
        "xpcshell-{c}",
        "X{c}",
        "X",
        0.012,
        18,
        {"debug": 2, "opt": 1, "asan": 1, "shippable": 1},
        _XPC_DIRS,
        "xpcshell.toml",
    ),
    _Suite(
        "reftest",
        "reftest-{c}",
        "R{c}",
        "R",
        0.014,
        22,
        {"debug": 2, "opt": 1},
        _REFTEST_DIRS,
        "reftest.list",
    ),
    _Suite(
        "crashtest",
        "crashtest",
        "C",
        "R",
        0.008,
        12,
        {"debug": 1, "opt": 1, "asan": 1},
        _CRASH_DIRS,
        "crashtests.list",
    ),
    _Suite(
        "wpt",
        "web-platform-tests-{c}",
        "{c}",
        "W",
        0.030,
        36,
        {"debug": 3, "opt": 2, "asan": 1, "shippable": 1},
        _WPT_DIRS,
    ),
    _Suite("gtest", "gtest-1proc", "GTest", "?", 0.004, 18, {"debug": 1, "opt": 1, "asan": 1}),
    _Suite("cpp", "cppunittest-1proc", "Cpp", "?", 0.002, 6, {"debug": 1, "opt": 1}),
    _Suite(
        "webgpu",
        "mochitest-webgpu",
        "webgpu",
        "M",
        0.060,
        14,
        {"debug": 1},
        ("dom/webgpu/tests/mochitest",),
        "mochitest.toml",
        tier=3,
    ),
)
_ANDROID_SUITES: Final = (
    _Suite(
        "media",
        "mochitest-media-{c}",
        "mda{c}",
        "M",
        0.025,
        26,
        {"debug": 2, "opt": 1},
        _MEDIA_DIRS,
        "mochitest.toml",
    ),
    _Suite(
        "xpc",
        "xpcshell-{c}",
        "X{c}",
        "X",
        0.012,
        20,
        {"debug": 1, "opt": 1},
        _XPC_DIRS,
        "xpcshell.toml",
    ),
    _Suite(
        "crashtest",
        "crashtest",
        "C",
        "R",
        0.008,
        14,
        {"debug": 1, "opt": 1},
        _CRASH_DIRS,
        "crashtests.list",
    ),
    _Suite(
        "gv",
        "geckoview-junit",
        "gv-junit",
        "?",
        0.030,
        30,
        {"debug": 1, "opt": 1},
        _GV_DIRS,
        tier=2,
    ),
)
_PERF_SUITES: Final = (
    _Suite("tp5o", "talos-tp5o", "tp", "T", 0.006, 30, {"shippable": 1}, tier=1, framework=1,
           perf=(("tp5o", 12, "ms", 215.0, True),)),
    _Suite("damp", "talos-damp", "damp", "T", 0.010, 45, {"shippable": 1}, tier=1, framework=1,
           perf=(("damp", 10, "ms", 310.0, True),)),
    _Suite("talos-other", "talos-other", "o", "T", 0.006, 20, {"shippable": 1}, tier=1,
           framework=1,
           perf=(("ts_paint", 0, "ms", 298.0, True), ("sessionrestore", 0, "ms", 240.0, True),
                 ("tart", 0, "ms", 2.8, True))),
    _Suite("amazon", "browsertime-tp6-firefox-amazon", "amz", "Btime", 0.012, 25,
           {"shippable": 1}, tier=1, framework=13,
           perf=(("amazon", 6, "ms", 720.0, True),)),
    _Suite("sp3", "browsertime-benchmark-firefox-speedometer3", "sp3", "Btime", 0.008, 35,
           {"shippable": 1}, tier=1, framework=13,
           perf=(("speedometer3", 10, "score", 21.5, False),)),
    _Suite("awsy", "awsy-base", "ab", "SY", 0.006, 25, {"shippable": 1}, tier=2, framework=4,
           perf=(("Base Content Resident Unique Memory", 0, "bytes", 9.4e6, True),
                 ("Base Content Heap Unclassified", 0, "bytes", 1.45e6, True),
                 ("Base Content JS", 0, "bytes", 3.1e6, True))),
)  # fmt: skip

_PERF_SUBTESTS: Final = {
    "tp5o": ("amazon.com", "bbc.co.uk", "cnn.com", "ebay.com", "imdb.com", "msn.com",
             "reddit.com", "wikipedia.org", "yahoo.co.jp", "youtube.com", "twitter.com",
             "dailymail.co.uk"),
    "damp": ("complicated.inspector.open.DAMP", "complicated.netmonitor.reload.DAMP",
             "custom.debugger.open.DAMP", "simple.webconsole.open.DAMP",
             "cold.inspector.open.DAMP", "custom.jsdebugger.pause.DAMP",
             "complicated.styleeditor.open.DAMP", "simple.inspector.reload.DAMP",
             "custom.netmonitor.requestsFinished.DAMP", "simple.jsdebugger.reload.DAMP"),
    "amazon": ("fcp", "loadtime", "largestContentfulPaint", "firstPaint", "dcf", "SpeedIndex"),
    "speedometer3": ("TodoMVC-React-Complex-DOM", "TodoMVC-Vue", "Editor-CodeMirror",
                     "Editor-TipTap", "NewsSite-Next", "NewsSite-Nuxt", "Charts-chartjs",
                     "Charts-observable-plot", "React-Stockcharts-SVG", "Perf-Dashboard"),
}  # fmt: skip

# Build variants: key -> (label, symbol, machine platform, option key, minutes, tier)
_BUILDS: Final = {
    "linux64/opt": ("build-linux64/opt", "B", "linux64", "opt", 30.0, 1),
    "linux64/debug": ("build-linux64/debug", "B", "linux64", "debug", 38.0, 1),
    "linux64-asan/opt": ("build-linux64-asan/opt", "Bo", "linux64", "asan", 48.0, 1),
    "linux64-shippable/opt": ("build-linux64-shippable/opt", "B", "linux64-shippable",
                              "shippable", 55.0, 1),
    "win64/debug": ("build-win64/debug", "B", "windows2012-64", "debug", 42.0, 1),
    "win64-shippable/opt": ("build-win64-shippable/opt", "B", "windows2012-64-shippable",
                            "shippable", 60.0, 1),
    "macosx64/debug": ("build-macosx64/debug", "B", "osx-cross", "debug", 40.0, 1),
    "macosx64-shippable/opt": ("build-macosx64-shippable/opt", "B", "osx-shippable",
                               "shippable", 62.0, 1),
    "android-x86_64/opt": ("build-android-x86_64/opt", "B", "android-5-0-x86_64", "opt", 32.0, 1),
    "android-x86_64/debug": ("build-android-x86_64/debug", "B", "android-5-0-x86_64", "debug",
                             36.0, 1),
    "linux64-asan-fuzzing/opt": ("build-linux64-asan-fuzzing/opt", "Bf", "linux64",
                                 "asan-fuzzing", 50.0, 3),
}  # fmt: skip

# Test platform -> option -> build variant feeding it
_TEST_PLATFORMS: Final = {
    "linux1804-64-qr": {"opt": "linux64/opt", "debug": "linux64/debug"},
    "linux1804-64-asan-qr": {"asan": "linux64-asan/opt"},
    "linux1804-64-shippable-qr": {"shippable": "linux64-shippable/opt"},
    "windows11-64": {"debug": "win64/debug"},
    "windows11-64-shippable": {"shippable": "win64-shippable/opt"},
    "macosx1015-64": {"debug": "macosx64/debug"},
    "macosx1015-64-shippable": {"shippable": "macosx64-shippable/opt"},
    "android-em-7-0-x86_64": {"opt": "android-x86_64/opt", "debug": "android-x86_64/debug"},
}
_OPTION_MULT: Final = {"opt": 1.0, "debug": 1.3, "asan": 1.4, "shippable": 0.8,
                       "asan-fuzzing": 2.0}  # fmt: skip
_LINTS: Final = (("source-test-mozlint-eslint", "ES"), ("source-test-mozlint-flake8", "f8"),
                 ("source-test-clang-format", "clang-format"))  # fmt: skip

_FIRST: Final = (
    "Alex", "Andrea", "Ben", "Camille", "Chris", "Dana", "Daniel", "Emilio", "Eva", "Florian",
    "Gijs", "Hanna", "Ivan", "Jan", "Jonathan", "Julia", "Kris", "Lena", "Marco", "Maria",
    "Matt", "Mike", "Nadia", "Nico", "Olivier", "Paul", "Rachel", "Robin", "Sam", "Sandor",
    "Sofia", "Tom", "Valentin", "Yuki", "Zoe", "Bogdan", "Cosmin", "Iulian", "Norisz", "Sarah",
)  # fmt: skip
_LAST: Final = (
    "Anderson", "Bianchi", "Costa", "Dubois", "Eriksson", "Fischer", "Garcia", "Hansen",
    "Ivanova", "Jensen", "Kowalski", "Lambert", "Moreau", "Nakamura", "Olsen", "Petrov",
    "Quinn", "Rossi", "Schmidt", "Tanaka", "Urban", "Varga", "Weber", "Xu", "Young", "Zhang",
    "Marin", "Popescu", "Szabo", "Tudor",
)  # fmt: skip
_WORDS: Final = (
    "tab", "close", "drag", "focus", "reload", "pinned", "multiselect", "autofill", "search",
    "popup", "context", "menu", "window", "restore", "navigation", "history", "cache", "worker",
    "stream", "fetch", "cookie", "storage", "private", "frame", "scroll", "resize", "video",
    "audio", "seek", "playback", "events", "keyboard", "selection", "clipboard", "print",
    "download", "certificate", "permission", "sandbox", "layout", "animation", "font",
)  # fmt: skip
_CRASH_SIGS: Final = (
    "mozilla::dom::ContentParent::ActorDestroy",
    "mozilla::ipc::MessageChannel::Send",
    "nsThread::ProcessNextEvent",
    "js::gc::GCRuntime::collect",
    "mozilla::layers::CompositorBridgeParent::ShadowLayersUpdated",
    "mozilla::MediaDecoderStateMachine::OnDecodeError",
    "mozilla::net::nsHttpTransaction::Close",
)
_COMMIT_VERBS: Final = (
    "Fix", "Remove", "Add", "Implement", "Update", "Refactor", "Avoid", "Support", "Clean up",
    "Make", "Use", "Don't",
)  # fmt: skip
_COMMIT_OBJECTS: Final = (
    "crash when closing the last tab", "leak in the media decoder", "flaky focus handling",
    "telemetry probe for startup", "unused prefs", "the urlbar results panel layout",
    "a race in the IPC shutdown path", "WebGPU buffer mapping", "scroll anchoring edge case",
    "the devtools inspector highlighter", "service worker navigation preload",
    "fetch priority hints", "CSS nesting serialisation", "HTTP/3 connection reuse",
    "profiler markers for GC", "sandbox policy on Windows", "font fallback on Android",
)  # fmt: skip
